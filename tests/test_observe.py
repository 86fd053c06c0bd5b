"""The pulse backend sees what really happens on PulseAudio and on PipeWire."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from routing.backends.pulse import Change, PulseBackend
from routing.model import Direction, ServerKind, Snapshot
from testbed import sandbox
from tests.conftest import wait_until


async def _observe_until(backend: PulseBackend, check, timeout: float = 5.0) -> Snapshot:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        snap = await backend.observe()
        if check(snap):
            return snap
        assert loop.time() < deadline, f"server never showed the expected state: {snap}"
        await asyncio.sleep(0.01)


def test_plugging_usb_amp_is_observed_with_its_identity(server: sandbox.Stack) -> None:
    async def scenario() -> None:
        async with PulseBackend(server.pulse_server) as backend:
            handle = sandbox.plug(server, sandbox.USB_AMP)
            snap = await _observe_until(backend, lambda s: s.device(sandbox.USB_AMP.name))
            amp = snap.device(sandbox.USB_AMP.name)
            assert amp is not None
            assert amp.usb_id == "30be:1019"
            assert amp.serial == "Schiit_Audio_Schiit_Fulla"
            assert amp.card_name == "Schiit Fulla"
            assert amp.bus == "usb"
            assert amp.channels == ("FL", "FR")
            assert not amp.ours
            expected = ServerKind.PIPEWIRE if server.kind == "pipewire" else ServerKind.PULSEAUDIO
            assert snap.server is expected and snap.server_version
            sandbox.unplug(server, handle)
            await _observe_until(backend, lambda s: s.device(sandbox.USB_AMP.name) is None)

    asyncio.run(scenario())


def test_four_output_interface_shows_its_aux_channels(server: sandbox.Stack) -> None:
    async def scenario() -> None:
        async with PulseBackend(server.pulse_server) as backend:
            sandbox.plug(server, sandbox.INTERFACE)
            snap = await _observe_until(backend, lambda s: s.device(sandbox.INTERFACE.name))
            dev = snap.device(sandbox.INTERFACE.name)
            assert dev is not None and dev.channels == ("AUX0", "AUX1", "AUX2", "AUX3")
            # its monitor is not offered as an input
            assert all(d.monitor_of is None for d in snap.sources())

    asyncio.run(scenario())


def test_change_stream_reports_plug_and_unplug(server: sandbox.Stack) -> None:
    async def scenario() -> None:
        async with PulseBackend(server.pulse_server) as backend:
            seen: list[Change] = []
            plugged = asyncio.Event()
            removed = asyncio.Event()

            async def listen() -> None:
                async for change in backend.changes():
                    seen.append(change)
                    if change.facility == "sink" and change.kind == "new":
                        plugged.set()
                    if change.facility == "sink" and change.kind == "remove":
                        removed.set()

            task = asyncio.create_task(listen())
            await asyncio.sleep(0)  # let the subscription start
            snap = await backend.observe()
            handle = await asyncio.to_thread(sandbox.plug, server, sandbox.USB_AMP)
            await asyncio.wait_for(plugged.wait(), 5)
            await asyncio.to_thread(sandbox.unplug, server, handle)
            await asyncio.wait_for(removed.wait(), 5)
            task.cancel()
            assert snap.device(sandbox.USB_AMP.name) is None
            assert any(c.kind == "new" for c in seen) and any(c.kind == "remove" for c in seen)

    asyncio.run(scenario())


def test_daw_stream_is_observed_with_app_name_and_device(server: sandbox.Stack) -> None:
    sandbox.plug(server, sandbox.INTERFACE)
    sandbox.start_daw(server, sink=sandbox.INTERFACE.name)

    async def scenario() -> None:
        async with PulseBackend(server.pulse_server) as backend:
            snap = await _observe_until(
                backend, lambda s: any(st.app_name == "REAPER" and st.sink for st in s.streams)
            )
            daw = next(st for st in snap.streams if st.app_name == "REAPER")
            assert daw.binary == "reaper"
            assert daw.pid is not None
            assert daw.sink == sandbox.INTERFACE.name

    asyncio.run(scenario())


def _devices_json(env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "routing", "devices", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(out.stdout)


def test_devices_json_selectors_survive_replug(
    server: sandbox.Stack, client_env: dict[str, str]
) -> None:
    sandbox.plug(server, sandbox.INTERFACE)
    handle = sandbox.plug(server, sandbox.USB_AMP)
    first = _devices_json(client_env)
    by_name = {d["name"]: d for d in first["devices"]}
    amp = by_name[sandbox.USB_AMP.name]
    assert amp["selector"] == {"usb": "30be:1019"}
    assert amp["kind"] == "output"
    assert by_name[sandbox.INTERFACE.name]["selector"] == {"usb": "1235:8212"}
    for dev in first["devices"]:
        text = json.dumps(dev["selector"])
        assert "index" not in text and not any(
            ch.isdigit() and f".{ch}" in text for ch in "0123456789"
        )
    sandbox.unplug(server, handle)
    sandbox.plug(server, sandbox.USB_AMP)
    second = _devices_json(client_env)
    again = {d["name"]: d for d in second["devices"]}[sandbox.USB_AMP.name]
    assert again["selector"] == amp["selector"]


def test_devices_without_a_server_says_how_to_fix(tmp_path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "XDG_RUNTIME_DIR": str(tmp_path),
        "PULSE_SERVER": f"unix:{tmp_path}/nothing",
        "PULSE_COOKIE": str(tmp_path / "c"),
    }
    out = subprocess.run(
        [sys.executable, "-m", "routing", "devices"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 8
    assert "no sound server answers" in out.stderr


def test_sources_are_listed_as_inputs(server: sandbox.Stack) -> None:
    sandbox.plug(server, sandbox.INTERFACE_INPUT)

    async def scenario() -> None:
        async with PulseBackend(server.pulse_server) as backend:
            snap = await _observe_until(
                backend, lambda s: s.device(sandbox.INTERFACE_INPUT.name, Direction.SOURCE)
            )
            src = snap.device(sandbox.INTERFACE_INPUT.name, Direction.SOURCE)
            assert src is not None and src in snap.sources()

    asyncio.run(scenario())


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per read of WirePlumber's metadata (a pw-metadata process each)."""
    from routing.backends import pipewire as native

    reads: list[int] = []
    real = native.read_defaults

    async def counting(env: dict[str, str] | None = None) -> dict[str, str]:
        reads.append(1)
        return await real(env)

    monkeypatch.setattr(native, "read_defaults", counting)
    return reads


def test_an_unplugged_default_is_not_asked_about_for_the_rest_of_the_run(
    pipewire: sandbox.Stack, asked: list[int]
) -> None:
    """Once the amp we made the default is gone, observing must not ask WirePlumber's
    metadata (a process start each time) whether our old request took."""
    from routing.model import SetDefault

    async def scenario() -> None:
        async with PulseBackend(pipewire.pulse_server) as backend:
            sandbox.plug(pipewire, sandbox.INTERFACE)
            amp = sandbox.plug(pipewire, sandbox.USB_AMP)
            await _observe_until(backend, lambda s: s.device(sandbox.USB_AMP.name))
            await backend.apply([SetDefault(Direction.SINK, sandbox.USB_AMP.name, "amp")])
            await _observe_until(backend, lambda s: s.default_sink == sandbox.USB_AMP.name)
            sandbox.unplug(pipewire, amp)
            await _observe_until(backend, lambda s: s.device(sandbox.USB_AMP.name) is None)
            asked.clear()
            for _ in range(5):
                await backend.observe()
            assert asked == []

    asyncio.run(scenario())


def test_a_default_just_sent_is_not_asked_about_while_the_server_carries_it_out(
    pipewire: sandbox.Stack, asked: list[int]
) -> None:
    """Right after a switch the server's report of the default lags ours by design:
    asking WirePlumber's metadata then started a process on every switch (7 of the
    daemon's 13 ms before its reply). The snapshot shows ours as sent, marked for a look."""
    from routing.model import SetDefault

    async def scenario() -> None:
        async with PulseBackend(pipewire.pulse_server) as backend:
            sandbox.plug(pipewire, sandbox.INTERFACE)
            sandbox.plug(pipewire, sandbox.USB_AMP)
            await _observe_until(backend, lambda s: s.device(sandbox.USB_AMP.name))
            for name in [sandbox.USB_AMP.name, sandbox.INTERFACE.name] * 3:
                await backend.apply([SetDefault(Direction.SINK, name, name)])
                snap = await backend.observe()
                assert snap.default_sink == name
                assert asked == []
                # the look that follows: once the report agrees, nothing is unconfirmed
                # (under load it may ask after DEFAULT_TRUST, as it should)
                await _observe_until(backend, lambda s: not backend.unconfirmed)
                asked.clear()

    asyncio.run(scenario())


def test_events_keep_the_snapshot_current_without_rereading_everything(
    server: sandbox.Stack,
) -> None:
    """While subscribed, an observe fetches only what the events named — and still sees
    exactly what a full read sees, after plugs, unplugs, moves, level changes and a
    recording starting."""

    async def scenario() -> None:
        async with (
            PulseBackend(server.pulse_server) as live,
            PulseBackend(server.pulse_server) as fresh,
        ):
            events = asyncio.create_task(_drain(live))
            await asyncio.sleep(0.05)
            await live.observe()  # the first one after subscribing reads everything
            lists: list[str] = []
            for name in ("sink_list", "source_list", "sink_input_list", "source_output_list"):
                real = getattr(live.pulse, name)

                async def counted(*a, _real=real, _name=name, **kw):
                    lists.append(_name)
                    return await _real(*a, **kw)

                setattr(live.pulse, name, counted)
            sandbox.plug(server, sandbox.INTERFACE)
            amp = sandbox.plug(server, sandbox.USB_AMP)
            sandbox.start_daw(server, sink=sandbox.INTERFACE.name)
            sandbox.plug(server, sandbox.INTERFACE_INPUT)
            sandbox.start_recorder(server, source=sandbox.INTERFACE_INPUT.name)
            wait_until(
                lambda: sandbox.with_pulse(server, _recording_apps) == ["REAPER"],
                what="the recording",
            )
            sandbox.unplug(server, amp)
            sandbox.plug(server, sandbox.USB_AMP_2)
            sandbox.with_pulse(
                server,
                lambda p: p.volume_set_all_chans(p.get_sink_by_name(sandbox.INTERFACE.name), 0.3),
            )

            def same(snap: Snapshot) -> bool:
                return _comparable(snap) == expected[0]

            expected: list[object] = [None]
            for _ in range(200):
                expected[0] = _comparable(await fresh.observe())
                if same(await live.observe()):
                    break
                await asyncio.sleep(0.02)
            snap = await live.observe()
            assert _comparable(snap) == _comparable(await fresh.observe())
            assert [r.source for r in snap.recordings if r.app_name == "REAPER"] == [
                sandbox.INTERFACE_INPUT.name
            ]
            assert lists == [], f"full re-reads while subscribed: {lists}"
            events.cancel()

    asyncio.run(scenario())


def _recording_apps(p) -> list[str]:
    apps = [o.proplist.get("application.name") for o in p.source_output_list()]
    return [a for a in apps if a == "REAPER"]


async def _drain(backend: PulseBackend) -> None:
    async for _ in backend.changes():
        pass


def _comparable(snap: Snapshot) -> tuple:
    return (
        sorted((d.name, d.direction, d.volume, d.channels) for d in snap.devices),
        sorted((s.index, s.app_name, s.sink) for s in snap.streams),
        sorted((r.index, r.app_name, r.source) for r in snap.recordings),
        snap.default_sink,
    )


def test_a_switch_is_seen_at_once_by_the_observe_after_it(pulseaudio: sandbox.Stack) -> None:
    """The pass re-observes right after applying, and the server sends the events about our
    own ops only later: what it reads must already show them — or the next pass sends the
    default and the removal of the old sink again, and both fail (seen in CI)."""
    from routing.model import (
        LoadVirtual,
        MoveStream,
        SetDefault,
        SetVolume,
        UnloadVirtual,
        VirtualSink,
    )

    sandbox.plug(pulseaudio, sandbox.INTERFACE)
    sandbox.start_daw(pulseaudio, sink=sandbox.INTERFACE.name)
    iface = sandbox.INTERFACE.name
    a = VirtualSink("dawroute.test-a", "test a", "a", iface, ("AUX0", "AUX1"))
    b = VirtualSink("dawroute.test-b", "test b", "b", iface, ("AUX2", "AUX3"))

    async def scenario() -> None:
        async with PulseBackend(pulseaudio.pulse_server) as backend:
            listening = asyncio.create_task(_drain(backend))
            await asyncio.sleep(0.05)  # subscribed: observe now reads only what changed
            snap = await _observe_until(
                backend, lambda s: any(st.app_name == "REAPER" for st in s.streams)
            )
            daw = next(st for st in snap.streams if st.app_name == "REAPER")
            for sink in (a, b):
                await backend.apply(
                    [
                        LoadVirtual(sink),
                        MoveStream(daw.index, "REAPER", sink.name, sink.description),
                        SetDefault(Direction.SINK, sink.name, sink.description),
                        SetVolume(sink.name, sink.description, 40.0, 50.0, 100.0),
                    ]
                )
                seen = await backend.observe()  # at once: no event has arrived yet
                assert seen.default_sink == sink.name
                assert next(st for st in seen.streams if st.index == daw.index).sink == sink.name
                ours = seen.device(sink.name)
                assert ours is not None and abs(ours.volume - 40.0) < 1.0
            old = snap.device(a.name) or (await backend.observe()).device(a.name)
            assert old is not None and old.module is not None
            await backend.apply([UnloadVirtual(a.name, old.module)])
            assert (await backend.observe()).device(a.name) is None
            listening.cancel()

    asyncio.run(scenario())

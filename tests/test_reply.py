"""A `switch` is answered once the server has taken the changes, not after the look that
checks they show. The daemon runs in this process against a real PulseAudio, so the test
can hold that look: with 100 DAW streams moved on PipeWire 1.4.2 it waited 160-400 ms on
a pipewire-pulse busy relinking them, and the answer waited with it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from routing.backends.pulse import PulseBackend
from routing.daemon import Daemon, Settings
from routing.policy import Cause, Intent
from testbed import sandbox

AMP = sandbox.USB_AMP
PROFILES = f"""
profiles:
  - name: iface
    fallback: true
    output: {{name: "{sandbox.INTERFACE.name}", volume: 60%}}
  - name: amp
    priority: 90
    auto: false
    output: {{usb: "{AMP.usb}", volume: 45%, max_volume: 60%}}
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var, sub in (
        ("HOME", "home"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_RUNTIME_DIR", "run"),
    ):
        (tmp_path / sub).mkdir(mode=0o700)
        monkeypatch.setenv(var, str(tmp_path / sub))
    return tmp_path


def test_a_switch_is_answered_while_the_server_has_not_shown_it_yet(
    pulseaudio: sandbox.Stack, home: Path
) -> None:
    sandbox.plug(pulseaudio, sandbox.INTERFACE)
    sandbox.plug(pulseaudio, AMP)
    sandbox.start_daw(pulseaudio, sink=sandbox.INTERFACE.name)
    profiles = home / "profiles.yaml"
    profiles.write_text(PROFILES)
    settings = Settings(
        [profiles], None, home / "state" / "state.json", home / "run" / "control.sock",
        server=pulseaudio.pulse_server,
    )  # fmt: skip
    asyncio.run(_switch_with_the_look_held(Daemon(settings)))


async def _switch_with_the_look_held(daemon: Daemon) -> None:
    running = asyncio.create_task(daemon.run())
    try:
        await _until(lambda: daemon.passes.state.active == "iface", "the daemon to route")
        backend = daemon.connections.pulse.backend
        assert isinstance(backend, PulseBackend)
        looks_held, release = _hold_looks_after_an_apply(backend)
        answer: Any = await asyncio.wait_for(daemon.passes.request(Intent(Cause.SWITCH, "amp")), 5)
        assert answer["profile"] == "amp"
        assert any("move" in done for done in answer["done"]), answer
        assert looks_held, "the look after the moves had not started: nothing was held"
        assert not release.is_set()
        # what `status` shows is already the switch's outcome
        assert daemon.passes.shown.state.active == "amp"
        release.set()
        await _until(lambda: daemon.passes.snapshot is not None and _on_amp(daemon), "the look")
    finally:
        daemon.stop()
        await asyncio.wait_for(running, 10)


def _hold_looks_after_an_apply(backend: PulseBackend) -> tuple[list[int], asyncio.Event]:
    """Every observe after the first apply waits for `release`: a server slow to show."""
    applied, held, release = [False], [], asyncio.Event()
    apply, observe = backend.apply, backend.observe

    async def apply_then_hold(ops: Any) -> Any:
        applied[0] = True
        return await apply(ops)

    async def held_observe(sources: bool = True) -> Any:
        if applied[0]:
            held.append(1)
            await release.wait()
        return await observe(sources)

    backend.apply = apply_then_hold  # type: ignore[method-assign]
    backend.observe = held_observe  # type: ignore[method-assign]
    return held, release


def _on_amp(daemon: Daemon) -> bool:
    snapshot = daemon.passes.snapshot
    assert snapshot is not None
    return all(s.sink == AMP.name for s in snapshot.streams if s.app_name == "REAPER")


async def _until(check: Any, what: str, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)

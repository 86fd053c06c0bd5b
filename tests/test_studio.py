"""The classic home studio (profiles/studio/studio.yaml) on real PulseAudio and PipeWire:
monitors on outputs 1-2, a headphone amp on 3-4, a USB DAC, and a browser that stays on the
monitors while the DAW follows the headphones."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from routing import policy, reconcile
from routing.apply import apply_plan
from routing.backends.composite import Backends
from routing.backends.pulse import PulseBackend
from routing.format.config import check_all
from routing.format.profiles import load_profiles_or_raise
from routing.policy import Intent
from routing.profile import Profile
from routing.state import State
from testbed import sandbox
from tests.conftest import wait_until

STUDIO = Path(__file__).resolve().parent.parent / "profiles" / "studio"
IFACE, AMP = sandbox.INTERFACE, sandbox.USB_AMP


def studio() -> tuple[Profile, ...]:
    return tuple(lp.profile for lp in load_profiles_or_raise([STUDIO]).profiles)


def test_the_studio_example_loads_clean_and_carries_the_schema_line() -> None:
    profiles, _, issues = check_all([STUDIO], None)
    assert issues == []
    assert [lp.profile.name for lp in profiles.profiles] == [
        "monitors", "phones", "monitors-and-phones", "usb-dac",
    ]  # fmt: skip
    for path in STUDIO.glob("*.yaml"):
        first = path.read_text().splitlines()[0]
        target = (path.parent / first.split("$schema=")[1]).resolve()
        assert first.startswith("# yaml-language-server: $schema=") and target.exists()


def where(stack: sandbox.Stack) -> dict[str, str]:
    """application name → the sink its stream plays on."""

    def read(p):
        sinks = {s.index: s.name for s in p.sink_list()}
        apps = ("REAPER", "Firefox")  # not our remap sinks' own streams
        return {
            i.proplist["application.name"]: sinks[i.sink]
            for i in p.sink_input_list()
            if i.proplist.get("application.name") in apps
        }

    return sandbox.with_pulse(stack, read)


async def converge(backend: Backends, state: State, trigger: Intent) -> State:
    for _ in range(60):
        snap = await backend.observe()
        d = policy.decide(studio(), snap, state, trigger)
        assert d.plan is not None
        state, trigger = State(active=d.profile, manual=d.manual), Intent()
        todo = reconcile.ops(d.plan, snap)
        if not todo:
            return state
        assert (await apply_plan(backend, todo)).ok
        await asyncio.sleep(0.02)
    pytest.fail("did not converge")


def test_the_browser_stays_on_the_monitors_while_the_daw_follows_the_headphones(
    server, monkeypatch
) -> None:
    if "PIPEWIRE_RUNTIME_DIR" in server.env:
        monkeypatch.setenv("PIPEWIRE_RUNTIME_DIR", server.env["PIPEWIRE_RUNTIME_DIR"])
    sandbox.plug(server, IFACE)
    sandbox.start_daw(server, sink=IFACE.name)
    sandbox.start_daw(server, app="Firefox", binary="firefox")  # on the default sink
    wait_until(lambda: set(where(server)) == {"REAPER", "Firefox"}, what="both streams")

    async def scenario() -> tuple[str, str]:
        async with PulseBackend(server.pulse_server) as pulse:
            backend = Backends(pulse)
            state = await converge(backend, State(), Intent())  # the fallback
            monitors = where(server)["REAPER"]
            assert monitors.startswith("dawroute.monitors.")
            assert where(server)["Firefox"] == monitors
            await asyncio.to_thread(sandbox.plug, server, AMP)
            state = await converge(backend, state, Intent())
            assert state.active == "usb-dac"
            return monitors, state.active or ""

    monitors, _ = asyncio.run(scenario())
    assert where(server) == {"REAPER": AMP.name, "Firefox": monitors}
    time.sleep(1.0)  # the session manager had a second to drag it to the new default
    assert where(server) == {"REAPER": AMP.name, "Firefox": monitors}


def test_a_kept_app_is_pinned_before_the_default_changes_and_only_once() -> None:
    from routing.model import MoveStream, SetDefault, Snapshot
    from tests.fakeworld import apply_op, daw, sink

    iface = sink("scarlett", usb="1235:8212", channels=("AUX0", "AUX1", "AUX2", "AUX3"))
    amp = sink("fulla", usb="30be:1019")
    w = Snapshot(
        devices=(iface, amp),
        streams=(daw(1, "scarlett"), daw(2, "scarlett", app="Firefox")),
        default_sink="scarlett",
    )
    d = policy.decide(studio(), w, State(active="monitors"), Intent())
    assert d.profile == "usb-dac" and d.plan is not None
    todo = reconcile.ops(d.plan, w)
    moves = [o for o in todo if isinstance(o, MoveStream)]
    assert [(o.app, o.sink) for o in moves] == [
        ("REAPER", "fulla"),
        ("Firefox", d.plan.kept[0][1]),  # the monitors' sink, kept alive for it
    ]
    assert d.plan.kept[0][1].startswith("dawroute.monitors.")
    kinds = [type(o) for o in todo]
    assert max(i for i, k in enumerate(kinds) if k is MoveStream) < kinds.index(SetDefault)
    for op in todo:
        w = apply_op(w, op)
    d = policy.decide(studio(), w, State(active="usb-dac"), Intent())
    assert d.plan is not None and reconcile.ops(d.plan, w) == []

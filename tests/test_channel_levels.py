"""A level and a cap per output pair, on real PulseAudio and PipeWire: outputs 1-2 and 3-4
of one interface keep their own levels, and a second client sampling the server every
~2 ms never sees a channel above its own cap."""

from __future__ import annotations

import asyncio
import time

import pytest

from routing import policy, reconcile
from routing.apply import apply_plan
from routing.backends.composite import Backends
from routing.backends.pulse import PulseBackend
from routing.policy import Cause, Intent
from routing.state import State
from testbed import sandbox
from testbed.sampler import Sampler
from tests.conftest import wait_until
from tests.daemonrun import server_state
from tests.test_channels import profiles

IFACE, AMP = sandbox.INTERFACE, sandbox.USB_AMP
CHANNEL_CAPS = {IFACE.name: {"aux0": 85.0, "aux1": 85.0, "aux2": 65.0, "aux3": 65.0}}


def channel_levels(stack: sandbox.Stack) -> list[float]:
    def read(p):
        sink = p.get_sink_by_name(IFACE.name)
        return [round(v * 100, 1) for v in sink.volume.values]

    return sandbox.with_pulse(stack, read)


def set_levels(stack: sandbox.Stack, levels: list[float]) -> None:
    import pulsectl

    def write(p):
        sink = p.get_sink_by_name(IFACE.name)
        p.sink_volume_set(sink.index, pulsectl.PulseVolumeInfo([v / 100 for v in levels]))

    sandbox.with_pulse(stack, write)
    wait_until(lambda: channel_levels(stack) == levels, what="the levels")


async def converge(stack: sandbox.Stack, state: State, trigger: Intent) -> str | None:
    """Passes until nothing is left to do; the active profile."""
    studio = tuple(p for p in profiles() if p.name != "whole-interface")
    async with PulseBackend(stack.pulse_server) as pulse:
        backend = Backends(pulse)
        for _ in range(50):
            snap = await backend.observe()
            d = policy.decide(studio, snap, state, trigger)
            assert d.plan is not None
            todo = reconcile.ops(d.plan, snap)
            if not todo:
                return d.profile
            await apply_plan(backend, todo)  # a failed op (a node not ready yet): next pass
            state, trigger = State(active=d.profile, manual=d.manual), Intent()
            await asyncio.sleep(0.02)
    pytest.fail("did not converge")


def test_monitors_and_phones_keep_their_own_level_and_cap(server, monkeypatch) -> None:
    if "PIPEWIRE_RUNTIME_DIR" in server.env:
        monkeypatch.setenv("PIPEWIRE_RUNTIME_DIR", server.env["PIPEWIRE_RUNTIME_DIR"])
    sandbox.plug(server, IFACE)
    sandbox.start_daw(server, sink=IFACE.name)
    wait_until(lambda: server_state(server)[0] == [IFACE.name], what="the DAW")
    set_levels(server, [30.0, 30.0, 30.0, 30.0])
    with Sampler(server.pulse_server, {}, channel_caps=CHANNEL_CAPS) as sampler:
        # monitors and phones at once: 70 % on 1-2, 50 % on 3-4 (not all four at 50 %)
        active = asyncio.run(converge(server, State(), Intent(Cause.SWITCH, "both")))
        assert active == "both"
        assert channel_levels(server) == [70.0, 70.0, 50.0, 50.0]
        # the phones' pair turned up past its cap by hand (a violation we cause, from here…
        raised = time.time()
        set_levels(server, [80.0, 80.0, 90.0, 90.0])
        sandbox.plug(server, AMP)
        active = asyncio.run(converge(server, State(active="both"), Intent()))
        lowered = time.time()  # … to here), then the amp arrives: lowered alone
        assert active == "usb-amp"
        # the monitors keep 80 % (within their 85 %), not the phones' 65 %
        assert channel_levels(server) == [80.0, 80.0, 65.0, 65.0]
    print(sampler.report.summary())
    assert sampler.report.samples > 0
    # no channel above its cap, but for the pair we turned up, until dawroute lowered it
    ours = [
        v
        for v in sampler.report.violations
        if not (v.device.endswith(("aux2", "aux3")) and raised <= v.at <= lowered)
    ]
    assert ours == [], f"raised {raised:.3f}, lowered {lowered:.3f}\n{sampler.report.summary()}"

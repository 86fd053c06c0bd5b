"""A move on PipeWire is carried out by WirePlumber after pipewire-pulse has answered it.
The daemon must tell a move still on its way from one WirePlumber dropped: only the
dropped one is sent again through our silent sink (a few ms of silence, and up to 0.5 s
when that sink does not start). Both generations, WirePlumber's stock policy and state."""

from __future__ import annotations

import time
from pathlib import Path

from testbed import sandbox, soak
from testbed.sampler import Sampler
from tests.conftest import wait_until
from tests.daemonrun import WATCH_THE_SILENT_SINK, assert_never_through_the_silent_sink, soak_studio

ROUNDS = 12


def test_a_plugged_amp_takes_the_daw_directly_not_through_the_silent_sink(
    pipewire: sandbox.Stack, tmp_path: Path
) -> None:
    """As the hot-plug benchmark does it: the DAW starts, the amp is plugged the moment the
    DAW plays, then pulled. Before, a pass that had read the DAW before its move went out
    (or while WirePlumber still linked it) took the move as stuck: 27 of 60 such rounds
    on 0.3.65 went through the silent sink, 3 of them waiting 0.5 s. And a pass that read
    the amp just before its removal sent the DAW towards it through the silent sink."""
    with soak_studio(pipewire, tmp_path) as running:
        with Sampler(pipewire.pulse_server, WATCH_THE_SILENT_SINK) as sampler:
            for _ in range(ROUNDS):
                _one_round(pipewire)
        assert_never_through_the_silent_sink(sampler.report, running)


def _one_round(stack: sandbox.Stack) -> None:
    daw = sandbox.start_daw(stack, sink=soak.IFACE.name)
    try:
        wait_until(lambda: soak.daw_on(stack, soak.IFACE.name), what="the DAW")
        amp = sandbox.plug(stack, soak.AMP)
        wait_until(lambda: soak.daw_on(stack, soak.AMP.name), what="the DAW on the amp")
        time.sleep(0.05)  # a detour after arrival is sampled too
        sandbox.unplug(stack, amp)
        wait_until(lambda: soak.daw_on(stack, soak.IFACE.name), what="the DAW back")
        time.sleep(0.05)
    finally:
        daw.terminate()
        daw.wait()
        stack.procs = [(n, p) for n, p in stack.procs if p is not daw]

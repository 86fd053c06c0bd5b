"""Hearing safety between events: a sampler polls the server every ~2 ms while the amp is
re-plugged and flaps, and must never see the DAW on a device above that device's cap.

Runs on PulseAudio as a desktop has it (stock restore modules) and bare, and on both
PipeWire generations with WirePlumber's stock policy and state files. The long soak is
`./scripts/bench --only safety`; docs/safety.md has the figures.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from testbed import sandbox, soak
from testbed.sampler import Sampler
from tests.conftest import PIPEWIRE_PARAMS, _start, _stop, hermetic_env, wait_until
from tests.daemonrun import Running, server_state

REPLUGS = 5
FLAPS = int(os.environ.get("DAWROUTE_FLAPS", "100"))  # the soak: 1,000


@pytest.fixture(
    params=[
        pytest.param("bare", id="pulseaudio-bare"),
        pytest.param("stock", id="pulseaudio-stock"),
        *PIPEWIRE_PARAMS,
    ]
)
def stack(request: pytest.FixtureRequest) -> Iterator[sandbox.Stack]:
    if request.param in ("bare", "stock"):  # through _start: its pids join the leak check
        sandbox_stack = _start("pulseaudio", stock=request.param == "stock")
    else:
        sandbox_stack = _start("pipewire", request.param)
    yield sandbox_stack
    _stop(sandbox_stack)


@pytest.fixture
def studio(stack: sandbox.Stack, tmp_path: Path) -> Iterator[Running]:
    env = hermetic_env(stack.env, tmp_path)
    soak.write_profiles(Path(env["XDG_CONFIG_HOME"]))
    sandbox.plug(stack, soak.IFACE)
    sandbox.start_daw(stack, sink=soak.IFACE.name)
    wait_until(lambda: server_state(stack)[0] == [soak.IFACE.name], what="the DAW")
    running = Running(stack, env)
    running.start()
    yield running
    print("DAEMON LOG\n" + running.log_text()[-6000:])
    assert running.stop() == 0


def wait(check: Callable[[], bool], what: str) -> None:
    wait_until(check, what=what)


def test_replugged_amp_never_plays_above_its_cap(studio: Running, stack: sandbox.Stack) -> None:
    """Plugged, routed, pulled, fallen back: the server's own moves (a preferred sink, a
    configured default, a remembered target) must not carry the DAW to the amp first."""
    with Sampler(stack.pulse_server, soak.CAPS) as sampler:
        soak.replugs(stack, REPLUGS, wait)
    assert_safe(sampler)


def test_flapping_amp_never_plays_above_its_cap(studio: Running, stack: sandbox.Stack) -> None:
    """A worn cable: the amp comes and goes faster than a pass (0-30 ms apart)."""
    arrived: Exception | None = None
    with Sampler(stack.pulse_server, soak.CAPS) as sampler:
        try:
            soak.flaps(stack, FLAPS, wait)
        except sandbox.SandboxError as exc:  # judged below, after safety
            arrived = exc
    assert_safe(sampler)  # never above a cap: asserted on every stack, whatever follows
    if arrived is not None and stack.label == "pipewire-0.3.65":
        # WirePlumber 0.4.13 gives up linking a stream to a node whose links failed more
        # than 5 times ("tried to link on last rescan, not retrying"); after fast flaps the
        # re-created amp's links keep failing, so the DAW stays — safely — on the
        # interface (docs/safety.md). Seen in about 1 run in 3.
        pytest.xfail(f"WirePlumber 0.4.13 stopped linking after the flaps: {arrived}")
    assert arrived is None, f"the DAW never reached the amp after the flaps: {arrived}"


def assert_safe(sampler: Sampler) -> None:
    report = sampler.report
    print(report.summary())
    assert report.samples > 100 and report.on_watched[soak.AMP.name] > 0  # it did look
    assert report.violations == [], report.summary()

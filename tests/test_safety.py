"""Hearing safety between events: a sampler polls the server every ~2 ms while the amp is
re-plugged and flaps, and must never see the DAW on a device above that device's cap.

Runs on PulseAudio as a desktop has it (stock restore modules) and bare, and on both
PipeWire generations with WirePlumber's stock policy and state files.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from routing import sandbox
from testbed.sampler import Sampler
from tests.conftest import PIPEWIRE_PARAMS, _start, _stop, hermetic_env, wait_until
from tests.daemonrun import Running, server_state

AMP, IFACE = sandbox.USB_AMP, sandbox.INTERFACE
AMP_CAP, IFACE_CAP = 40.0, 70.0

PROFILES = {
    "phones.yaml": f"""
name: phones
priority: 90
output: {{usb: "30be:1019", volume: 30%, max_volume: {AMP_CAP:g}%}}
""",
    "desk.yaml": f"""
name: desk
priority: 10
fallback: true
output: {{usb: "1235:8212", volume: 60%, max_volume: {IFACE_CAP:g}%}}
""",
}

REPLUGS = 5
FLAPS = 100


@pytest.fixture(
    params=[
        pytest.param("bare", id="pulseaudio-bare"),
        pytest.param("stock", id="pulseaudio-stock"),
        *PIPEWIRE_PARAMS,
    ]
)
def stack(request: pytest.FixtureRequest) -> Iterator[sandbox.Stack]:
    if request.param in ("bare", "stock"):
        sandbox_stack = sandbox.start_pulseaudio(stock=request.param == "stock")
    else:
        sandbox_stack = _start("pipewire", request.param)
    yield sandbox_stack
    _stop(sandbox_stack)


@pytest.fixture
def studio(stack: sandbox.Stack, tmp_path: Path) -> Iterator[Running]:
    env = hermetic_env(stack.env, tmp_path)
    profiles = Path(env["XDG_CONFIG_HOME"]) / "dawroute" / "profiles"
    profiles.mkdir(parents=True)
    for name, text in PROFILES.items():
        (profiles / name).write_text(text)
    sandbox.plug(stack, IFACE)
    sandbox.start_daw(stack, sink=IFACE.name)
    wait_until(lambda: server_state(stack)[0] == [IFACE.name], what="the DAW")
    running = Running(stack, env)
    running.start()
    yield running
    print("DAEMON LOG\n" + running.log_text()[-6000:])
    assert running.stop() == 0


def daw_on(stack: sandbox.Stack, device: str) -> bool:
    return server_state(stack)[0] == [device]


def test_replugged_amp_never_plays_above_its_cap(studio: Running, stack: sandbox.Stack) -> None:
    rng = random.Random(12)
    with Sampler(stack.pulse_server, {AMP.name: AMP_CAP, IFACE.name: IFACE_CAP}) as sampler:
        for _ in range(REPLUGS):
            amp = sandbox.plug(stack, AMP)
            wait_until(lambda: daw_on(stack, AMP.name), what="the DAW on the amp")
            sandbox.unplug(stack, amp)
            wait_until(lambda: daw_on(stack, IFACE.name), what="the DAW back on the interface")
        for _ in range(FLAPS):  # a worn USB cable: plugged and pulled faster than a pass
            amp = sandbox.plug(stack, AMP)
            time.sleep(rng.uniform(0, 0.03))
            sandbox.unplug(stack, amp)
            time.sleep(rng.uniform(0, 0.03))
        sandbox.plug(stack, AMP)
        wait_until(lambda: daw_on(stack, AMP.name), what="the DAW on the amp after the flaps")
    report = sampler.report
    print(report.summary())
    assert report.samples > 100 and report.on_watched[AMP.name] > 0  # it did look
    assert report.violations == [], report.summary()

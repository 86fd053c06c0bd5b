"""The hearing-safety soak: the amp re-plugged and flapping while the sampler watches.

The same scenario for the CI tests (tests/test_safety.py, short) and the soak benchmark
(`./scripts/bench --only safety`, long): a USB amp profile with a cap, the interface as
the capped fallback, the DAW playing, the real daemon running.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testbed import sandbox

AMP, IFACE = sandbox.USB_AMP, sandbox.INTERFACE
AMP_CAP, IFACE_CAP = 40.0, 70.0
CAPS = {AMP.name: AMP_CAP, IFACE.name: IFACE_CAP}
HOLD = 0.2  # seconds plugged and unplugged in a re-plug (a user re-plugs ~0.4 s apart)
MAX_FLAP_GAP = 0.03  # a flap's plug and pull are 0-30 ms apart: faster than a pass

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

Wait = Callable[[Callable[[], bool], str], None]


def write_profiles(config_home: Path) -> None:
    """The soak's profiles into a dawroute config dir (XDG_CONFIG_HOME)."""
    profiles = config_home / "dawroute" / "profiles"
    profiles.mkdir(parents=True)
    for name, text in PROFILES.items():
        (profiles / name).write_text(text)


def daw_on(stack: sandbox.Stack, device: str, app: str = "REAPER") -> bool:
    def read(p: Any) -> bool:
        sinks = {s.index: s.name for s in p.sink_list()}
        daw = [
            sinks.get(i.sink)
            for i in p.sink_input_list()
            if i.proplist.get("application.name") == app
        ]
        return daw == [device]

    return bool(sandbox.with_pulse(stack, read))


def replugs(stack: sandbox.Stack, n: int, wait: Wait) -> None:
    """Plug → routed → held → pulled → fell back → held, `n` times."""
    for _ in range(n):
        amp = sandbox.plug(stack, AMP)
        wait(lambda: daw_on(stack, AMP.name), "the DAW on the amp")
        time.sleep(HOLD)  # listening: whatever the server does later is sampled too
        sandbox.unplug(stack, amp)
        wait(lambda: daw_on(stack, IFACE.name), "the DAW back on the interface")
        time.sleep(HOLD)


def flaps(stack: sandbox.Stack, n: int, wait: Wait, seed: int = 12) -> None:
    """A worn cable: plugged and pulled `n` times, 0-30 ms apart; then plugged for good."""
    rng = random.Random(seed)
    for _ in range(n):
        amp = sandbox.plug(stack, AMP)
        time.sleep(rng.uniform(0, MAX_FLAP_GAP))
        sandbox.unplug(stack, amp)
        time.sleep(rng.uniform(0, MAX_FLAP_GAP))
    sandbox.plug(stack, AMP)
    wait(lambda: daw_on(stack, AMP.name), "the DAW on the amp after the flaps")

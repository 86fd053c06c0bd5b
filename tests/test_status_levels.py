"""`status`: latency in ms, and why a level is below the profile's (pure)."""

from __future__ import annotations

from typing import Any, cast

from routing.contract import Status
from routing.model import Clock, OutputPlan, Plan, Snapshot
from routing.status import latency, render_status
from tests.fakeworld import sink


def base_status(**extra: Any) -> dict[str, Any]:
    st: dict[str, Any] = {
        "active": "speakers", "manual": None, "manual_since": None, "active_since": None,
        "reason": None, "server": {"available": True, "kind": "pipewire", "version": "1.4.2"},
        "outputs": [], "streams": [], "problems": [], "state": {},
        "config": {"errors": []}, "events": [],
    }  # fmt: skip
    st.update(extra)
    return st


def test_latency_is_the_period_in_ms_and_the_devices_own() -> None:
    dev = sink("amp")
    from dataclasses import replace

    dev = replace(dev, latency_ms=21.33, configured_latency_ms=20.0)
    snap = Snapshot(devices=(dev,), clock=Clock(48000, 64))
    plan = Plan("p", "amp", (OutputPlan("amp", None, 60.0),), clock=Clock(48000, 64))
    lat = latency(snap, plan)
    assert lat == {
        "rate": 48000, "quantum": 64, "period_ms": 1.333, "forced": True,
        "device_ms": 21.33, "configured_ms": 20.0,
    }  # fmt: skip
    text = render_status(cast(Status, base_status(latency=lat)))
    assert (
        "latency:  quantum 64 at 48000 Hz = 1.33 ms per period (forced); "
        "device 21.3 ms (configured 20.0 ms)"
    ) in text


PROFILES = """
profiles:
  - name: speakers
    fallback: true
    output: {usb: "1235:8212", volume: 70%, max_volume: 85%}
  - name: loud-start
    auto: false
    raise_at_startup: true
    output: {usb: "1235:8212", volume: 70%, max_volume: 85%}
"""


def _profiles():
    from routing.format.profiles import parse_profiles

    loaded, issues = parse_profiles(PROFILES, "p.yaml")
    assert not issues
    return tuple(lp.profile for lp in loaded)


def test_start_up_never_raises_a_level_unless_the_profile_says_so() -> None:
    from routing.policy import Cause, Intent, decide
    from routing.reconcile import ops
    from routing.state import State
    from tests.fakeworld import apply_op, daw

    iface = sink("scarlett", volume=30.0, usb="1235:8212")
    w = Snapshot(devices=(iface,), streams=(daw(1, "scarlett"),), default_sink="scarlett")
    d = decide(_profiles(), w, State(active="speakers"), Intent(Cause.STARTUP))
    assert d.plan is not None and ops(d.plan, w) == []  # 30 % stays 30 %
    d = decide(
        _profiles(), w, State(active="loud-start", manual="loud-start"), Intent(Cause.STARTUP)
    )
    assert d.plan is not None
    for op in ops(d.plan, w):
        w = apply_op(w, op)
    scarlett = w.device("scarlett")
    assert scarlett is not None and scarlett.volume == 70.0


def test_status_says_why_a_level_is_below_the_profiles() -> None:
    out = {
        "label": "Scarlett outputs 1-2", "present": True, "volume": 30.0,
        "max_volume": 85.0, "profile_volume": 70.0, "below_profile": True,
    }  # fmt: skip
    text = render_status(cast(Status, base_status(outputs=[out])))
    assert (
        "below the profile's 70 %: start-up never raises a level, and your own changes "
        "below the cap are kept; `dawroute switch speakers` applies it "
        "(or `raise_at_startup: true`)"
    ) in text

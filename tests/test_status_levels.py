"""`status`: latency in ms, and why a level is below the profile's (pure)."""

from __future__ import annotations

from typing import Any

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
    text = render_status(base_status(latency=lat))
    assert (
        "latency:  quantum 64 at 48000 Hz = 1.33 ms per period (forced); "
        "device 21.3 ms (configured 20.0 ms)"
    ) in text

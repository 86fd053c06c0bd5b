"""Pure: the caps the sound server enforces by itself, before dawroute hears of a device.

A re-plugged device can be linked to by the session manager before any client knows it
exists (docs/safety.md). The server-side cap guard holds such a link until the device is
within its cap; this module says which devices it guards and at what cap: every output
of the decided plan and every standby output, per channel. Devices not present keep the
cap they had when last seen: that is exactly when the guard matters.
"""

from __future__ import annotations

from collections.abc import Mapping

from routing.model import Plan, Snapshot

ALL = "*"  # every channel of the device

# device node name -> channel (the server's name, or ALL) -> cap in percent
GuardCaps = Mapping[str, Mapping[str, float]]


def guard_caps(plan: Plan | None, snapshot: Snapshot, previous: GuardCaps) -> GuardCaps:
    """The caps after this decision: the plan's outputs and standby outputs on present
    devices, the previous caps for devices that are gone. No plan: nothing changes."""
    if plan is None:
        return previous
    present = {d.name for d in snapshot.sinks()}
    caps: dict[str, dict[str, float]] = {
        name: dict(per) for name, per in previous.items() if name not in present
    }
    for out in plan.outputs + plan.standby:
        dev = snapshot.device(out.device)
        if dev is None or dev.ours:
            continue
        per = caps.setdefault(out.device, {})
        for channel in out.channels or (ALL,):
            per[channel] = min(per.get(channel, out.max_volume), out.max_volume)
    return {name: _tightened(per) for name, per in sorted(caps.items())}


def _tightened(per: Mapping[str, float]) -> dict[str, float]:
    """A channel's own cap never exceeds the whole device's (the guard looks the channel
    up first)."""
    whole = per.get(ALL)
    if whole is None:
        return dict(sorted(per.items()))
    return {ch: min(cap, whole) for ch, cap in sorted(per.items())}

"""Pure: which DAW output port goes to which device channel (profiles with `daw.ports`).

Device ports are found by JACK client name: PipeWire's JACK names a sink's client after
its description ("Scarlett 4i4 USB Pro:playback_AUX2"); jackd's hardware is the
physical "system" client whose playback_N ports we call AUX0…AUX(N-1) (FL/FR when
there are exactly two). On jackd alone a card carries the name of its client
(`Device.jack_client`: "system", or the bridge dawroute runs for it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from routing.matching import text_matches
from routing.model import Device, Link, Snapshot


def device_ports(snapshot: Snapshot, device: Device) -> dict[str, str]:
    """channel → port name of the device's playback ports."""
    return {
        p.channel: p.name
        for p in snapshot.ports or ()
        if not p.output
        and p.channel
        and p.client in (device.description, device.name, device.jack_client)
    }


def _natural(name: str) -> list[object]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def daw_ports(snapshot: Snapshot, pattern: str) -> list[str]:
    """DAW output ports matching a name or `~regex`, in natural order (out_2 < out_10)."""
    found = [
        p.name
        for p in snapshot.ports or ()
        if p.output and not p.physical and text_matches(pattern, p.name)
    ]
    return sorted(found, key=_natural)


def plan_links(
    mapping: Mapping[str, str | tuple[str, ...]], device: Device, snapshot: Snapshot
) -> tuple[tuple[Link, ...], tuple[str, ...], list[str]]:
    """(links, the DAW ports they start from, problems) for one profile's `daw.ports`."""
    targets_by_channel = device_ports(snapshot, device)
    links: list[Link] = []
    sources: list[str] = []
    problems: list[str] = []
    for pattern, channels in mapping.items():
        srcs = daw_ports(snapshot, pattern)
        sources += srcs
        chans = _channels(channels, list(targets_by_channel))
        if not targets_by_channel and device.jack_client:
            problems.append(
                f"'{device.label}' has no JACK ports yet: waiting for '{device.jack_client}'"
            )
            continue
        missing = [c for c in chans if c not in targets_by_channel]
        if missing:
            problems.append(f"'{device.label}' has no JACK port for {', '.join(missing)}")
            continue
        targets = [targets_by_channel[c] for c in chans]
        if channels == "mono":  # both DAW outputs summed, to both sides
            links += [Link(s, t) for s in srcs for t in targets]
        else:
            links += [Link(s, t) for s, t in _pair(srcs, targets)]
    return tuple(dict.fromkeys(links)), tuple(dict.fromkeys(sources)), problems


def _channels(spec: str | tuple[str, ...], available: list[str]) -> list[str]:
    if isinstance(spec, tuple):
        return list(spec)
    ordered = sorted(available, key=_order)
    return ordered[:2] if spec in ("stereo", "mono") else ordered


def _order(channel: str) -> tuple[int, int]:
    fixed = {"FL": 0, "FR": 1, "MONO": 0}
    if channel in fixed:
        return (0, fixed[channel])
    m = re.fullmatch(r"AUX(\d+)", channel)
    return (1, int(m.group(1))) if m else (2, 0)


def _pair(srcs: list[str], targets: list[str]) -> list[tuple[str, str]]:
    """Equal counts pair up; one target sums all sources; one source feeds every target."""
    if len(targets) == 1:
        return [(s, targets[0]) for s in srcs]
    if len(srcs) == 1:
        return [(srcs[0], t) for t in targets]
    return list(zip(srcs, targets, strict=False))

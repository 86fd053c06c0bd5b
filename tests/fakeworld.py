"""A pure simulation of what a sound server does with our Ops (for the pure-layer tests only).

Integration tests use real servers; this exists so property tests can run thousands
of op sequences and check the hearing-safety invariants after every single op.
"""

from __future__ import annotations

from dataclasses import replace

from routing.model import (
    Device,
    Direction,
    LoadVirtual,
    MoveRecording,
    MoveStream,
    Op,
    ReassertStream,
    Recording,
    SetCardProfile,
    SetDefault,
    SetPort,
    SetSourceVolume,
    SetStreamVolume,
    SetVolume,
    Snapshot,
    Stream,
    UnloadVirtual,
)
from routing.profile import Profile


def sink(
    name: str,
    volume: float = 100.0,
    usb: str | None = None,
    channels=("FL", "FR"),
    description: str | None = None,
    serial: str | None = None,
) -> Device:
    vid, pid = usb.split(":") if usb else (None, None)
    return Device(
        name=name,
        description=description or name.title(),
        direction=Direction.SINK,
        vendor_id=vid,
        product_id=pid,
        serial=serial,
        volume=volume,
        channels=tuple(channels),
        bus="usb" if usb else "pci",
    )


def source(name: str, volume: float = 100.0, usb: str | None = None) -> Device:
    return replace(sink(name, volume, usb), direction=Direction.SOURCE)


def recording(index: int, on: str | None, app: str = "REAPER") -> Recording:
    return Recording(index=index, app_name=app, binary=app.lower(), pid=200 + index, source=on)


def daw(index: int, on: str | None, app: str = "REAPER", volume: float = 100.0) -> Stream:
    return Stream(
        index=index, app_name=app, binary=app.lower(), pid=100 + index, sink=on, volume=volume
    )


# our remap sinks' device channels, by sink name (a name is a hash of its definition)
REMAPS: dict[str, tuple[str, ...]] = {}


def apply_op(world: Snapshot, op: Op) -> Snapshot:
    devices = list(world.devices)
    streams = list(world.streams)
    default = world.default_sink
    match op:
        case LoadVirtual(sink=v):
            REMAPS[v.name] = v.master_channels
            module = 1000 + len(devices)
            devices.append(
                Device(
                    name=v.name,
                    description=v.description,
                    direction=Direction.SINK,
                    ours=True,
                    virtual=True,
                    module=module,
                    feeds=v.slaves or (v.master or "",),
                )
            )
        case UnloadVirtual(name=name):
            devices = [d for d in devices if d.name != name]
            streams = [replace(s, sink=default if s.sink == name else s.sink) for s in streams]
        case SetVolume(device=name, volume=vol, channels=chans):
            devices = [d.with_level(vol, chans) if d.name == name else d for d in devices]
        case SetStreamVolume(stream=idx, volume=vol):
            streams = [replace(s, volume=vol) if s.index == idx else s for s in streams]
        case MoveStream(stream=idx, sink=name):
            assert any(d.name == name for d in devices), f"moved to missing sink {name}"
            streams = [replace(s, sink=name, pinned=name) if s.index == idx else s for s in streams]
        case ReassertStream(stream=idx, sink=name):
            streams = [replace(s, sink=name, pinned=name) if s.index == idx else s for s in streams]
        case SetDefault(direction=Direction.SINK, device=name):
            default = name
        case SetDefault(direction=Direction.SOURCE, device=name):
            return replace(world, default_source=name)
        case SetSourceVolume(device=name, volume=vol):
            devices = [
                d.with_level(vol) if d.name == name and d.direction is Direction.SOURCE else d
                for d in devices
            ]
        case SetCardProfile(card=name, profile=profile):
            cards = tuple(replace(c, active=profile) if c.name == name else c for c in world.cards)
            return replace(world, cards=cards)
        case SetPort(device=name, direction=direction, port=port):
            devices = [
                replace(d, port=port) if d.name == name and d.direction is direction else d
                for d in devices
            ]
        case MoveRecording(recording=idx, source=name):
            assert world.device(name, Direction.SOURCE), f"moved to missing source {name}"
            recs = tuple(replace(r, source=name) if r.index == idx else r for r in world.recordings)
            return replace(world, recordings=recs)
    return replace(world, devices=tuple(devices), streams=tuple(streams), default_sink=default)


def physical_outputs(world: Snapshot, sink_name: str | None) -> set[str]:
    """The hardware a stream on `sink_name` really plays through (following our sinks)."""
    dev = world.device(sink_name or "")
    if dev is None:
        return set()
    if not dev.ours:
        return {dev.name}
    out: set[str] = set()
    for fed in dev.feeds:
        out |= physical_outputs(world, fed)
    return out


def physical_channels(
    world: Snapshot, sink_name: str | None, channels: tuple[str, ...] = ()
) -> set[tuple[str, str]]:
    """(device, channel) pairs a stream on `sink_name` really plays through: a device's
    own channels, or the ones our remap sinks feed."""
    dev = world.device(sink_name or "")
    if dev is None:
        return set()
    if not dev.ours:
        return {(dev.name, c) for c in dev.channels if not channels or c in channels}
    out: set[tuple[str, str]] = set()
    for fed in dev.feeds:
        out |= physical_channels(
            world, fed, REMAPS.get(dev.name, ()) if len(dev.feeds) == 1 else ()
        )
    return out


def parsed(yaml_text: str) -> tuple[Profile, ...]:
    """The profiles of a test's YAML, which must have no errors."""
    from routing.format.profiles import parse_profiles

    loaded, issues = parse_profiles(yaml_text, "p.yaml")
    assert not [i for i in issues if i.severity == "error"]
    return tuple(lp.profile for lp in loaded)

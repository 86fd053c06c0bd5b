"""Pure: the minimal ops that turn the snapshot into the plan; [] when it already matches.

Order is the hearing-safety contract (property-tested):
  set levels → create our sinks → move the DAW → set defaults → remove our stale sinks.
Levels come first, so a too-loud output is lowered before anything else happens and
the DAW never lands on an output above its cap.
"""

from __future__ import annotations

from routing.model import (
    LEVEL_TOLERANCE,
    Connect,
    Device,
    Direction,
    Disconnect,
    LoadVirtual,
    MoveRecording,
    MoveStream,
    Op,
    Plan,
    ReassertStream,
    ServerKind,
    SetCardProfile,
    SetClock,
    SetDefault,
    SetPort,
    SetSourceVolume,
    SetStreamVolume,
    SetVolume,
    Snapshot,
    UnloadVirtual,
)

# a re-observed 44.99 % is not "changed" from 45 % (idempotence)
TOLERANCE = LEVEL_TOLERANCE


def ops(plan: Plan, snapshot: Snapshot) -> list[Op]:
    cards = _cards(plan, snapshot)
    if plan.pending:
        return cards
    ours = {d.name: d for d in snapshot.sinks() if d.ours}
    wanted = {v.name for v in plan.virtual}
    result: list[Op] = cards + _levels(plan, snapshot)
    result += [LoadVirtual(v) for v in plan.virtual if v.name not in ours]
    result += _moves(plan, snapshot)
    result += _defaults(plan, snapshot)
    result += _links(plan, snapshot)
    if snapshot.clock is not None and snapshot.clock != plan.clock:
        result.append(SetClock(plan.clock))
    result += [
        UnloadVirtual(name, dev.module)
        for name, dev in ours.items()
        if name not in wanted and dev.module is not None
    ]
    return result


def _cards(plan: Plan, snapshot: Snapshot) -> list[Op]:
    """Card profiles, then ports: what the devices are, before their levels and routes."""
    out: list[Op] = []
    for name, profile in plan.cards:
        card = snapshot.card(name)
        if card is not None and card.active != profile:
            out.append(SetCardProfile(name, card.label, profile))
    for device, direction, port in plan.ports:
        dev = snapshot.device(device, direction)
        if dev is not None and dev.port != port:
            out.append(SetPort(device, direction, dev.label, port))
    return out


def _links(plan: Plan, snapshot: Snapshot) -> list[Op]:
    """New links first, then (exclusive) the DAW ports' other links: no gap in the sound."""
    if snapshot.ports is None:
        return []
    existing = {p.name for p in snapshot.ports}
    out: list[Op] = [
        Connect(link)
        for link in plan.links
        if link not in snapshot.links and link.source in existing and link.target in existing
    ]
    if plan.exclusive:
        wanted = set(plan.links)
        out += [
            Disconnect(link)
            for link in sorted(snapshot.links, key=lambda x: (x.source, x.target))
            if link.source in plan.daw_ports and link not in wanted
        ]
    return out


def landing(plan: Plan, snapshot: Snapshot) -> bool:
    """Is the DAW arriving on the plan's target (a switch), rather than already there?"""
    daw = [s for s in snapshot.streams if s.index in plan.daw_streams]
    if plan.set_default_sink and snapshot.default_sink != plan.target:
        return True
    return bool(daw) and not any(s.sink == plan.target for s in daw)


def _levels(plan: Plan, snapshot: Snapshot) -> list[Op]:
    switching = plan.switching or landing(plan, snapshot)
    out: list[Op] = []
    for o in plan.outputs:
        dev = snapshot.device(o.device)
        if dev is None:
            continue
        if switching and o.volume is not None and plan.raise_volume:
            # a switch sets the profile's own level: never inherit the previous output's
            group = o.channels or dev.channels
            if any(abs(dev.level((c,)) - o.volume) > TOLERANCE for c in group):
                now = dev.level(o.channels)
                out.append(
                    SetVolume(dev.name, dev.label, o.volume, o.max_volume, now, o.channels or ())
                )
            continue
        # start-up (never raise): down to the profile's level; otherwise: down to the cap
        limit = o.volume if switching and o.volume is not None else o.max_volume
        out += _lower(dev, o.channels, limit, o.max_volume)
    for o in plan.standby:  # where the server would put the DAW if this output vanished
        dev = snapshot.device(o.device)
        if dev is not None:
            out += _lower(dev, o.channels, o.max_volume, o.max_volume)
    for v in plan.virtual:  # our own sinks pass the signal at unity, never boost it
        dev = snapshot.device(v.name)
        if dev is not None and dev.volume > 100.0 + TOLERANCE:
            out.append(SetVolume(dev.name, dev.label, 100.0, 100.0, dev.volume))
    for s in snapshot.streams:
        if s.index in plan.daw_streams and s.volume > 100.0 + TOLERANCE:
            out.append(SetStreamVolume(s.index, s.app_name, 100.0))
    return out + _input_level(plan, snapshot)


def _input_level(plan: Plan, snapshot: Snapshot) -> list[Op]:
    """The input's level by the outputs' rules: the profile's own when the DAW arrives on
    it (a switch), else down to the cap (start-up: down to the profile's level)."""
    inp = plan.input
    dev = snapshot.device(inp.device, Direction.SOURCE) if inp is not None else None
    if inp is None or dev is None:
        return []
    arriving = plan.switching or _recording_lands(plan, snapshot)
    if arriving and inp.volume is not None and plan.raise_volume:
        if abs(dev.volume - inp.volume) <= TOLERANCE:
            return []
        return [SetSourceVolume(dev.name, dev.label, inp.volume, inp.max_volume, dev.volume)]
    limit = inp.volume if arriving and inp.volume is not None else inp.max_volume
    if limit is None or dev.volume <= limit + TOLERANCE:
        return []
    return [SetSourceVolume(dev.name, dev.label, limit, inp.max_volume, dev.volume)]


def _recording_lands(plan: Plan, snapshot: Snapshot) -> bool:
    """Is the DAW's recording arriving on the plan's input, rather than already there?"""
    assert plan.input is not None
    source = plan.input.device
    daw = [r for r in snapshot.recordings if r.index in plan.daw_recordings]
    if snapshot.default_source != source:
        return True
    return bool(daw) and not any(r.source == source for r in daw)


def _lower(
    dev: Device, channels: tuple[str, ...] | None, limit: float, cap: float
) -> list[SetVolume]:
    """Lower the channels of `channels` (None: the device's) that are above `limit` to it;
    the quieter ones keep their level (lowering never raises a channel)."""
    group = channels or dev.channels
    above = tuple(c for c in group if dev.level((c,)) > limit + TOLERANCE)
    if not above:
        return []
    which = (channels or ()) if len(above) == len(group) else above
    return [SetVolume(dev.name, dev.label, limit, cap, dev.level(above), which)]


def _moves(plan: Plan, snapshot: Snapshot) -> list[Op]:
    """Move the DAW's streams; a stream the server already moved there (a rescue) whose
    own choice still names another device gets this one as its choice (hearing safety:
    else that device re-appearing pulls the DAW back before any client can cap it)."""
    label = _label(plan.target, snapshot, plan)
    out: list[Op] = []
    for s in snapshot.streams:
        if s.index not in plan.daw_streams:
            continue
        if s.sink != plan.target:
            out.append(MoveStream(s.index, s.app_name, plan.target, label))
        elif s.preferred not in (None, plan.target):
            out.append(ReassertStream(s.index, s.app_name, plan.target, label, s.preferred))
    return out + _recordings(plan, snapshot) + _pins(plan, snapshot)


def _recordings(plan: Plan, snapshot: Snapshot) -> list[Op]:
    """The DAW's recording streams to the profile's input."""
    if plan.input is None:
        return []
    source = plan.input.device
    dev = snapshot.device(source, Direction.SOURCE)
    label = dev.label if dev is not None else source
    return [
        MoveRecording(r.index, r.app_name, source, label)
        for r in snapshot.recordings
        if r.index in plan.daw_recordings and r.source != source
    ]


def _pins(plan: Plan, snapshot: Snapshot) -> list[Op]:
    """Apps that stay put (`others.keep`), before the default changes: an explicit move is
    the stream's own choice (PipeWire: its target, so WirePlumber stops moving it with the
    default; PulseAudio: its preferred sink). PulseAudio ignores a move to the sink a
    stream is on: it passes through a silent sink of ours and back."""
    streams = {s.index: s for s in snapshot.streams}
    out: list[Op] = []
    for index, sink in plan.kept:
        s = streams.get(index)
        if s is None:
            continue
        label = _label(sink, snapshot, plan)
        if s.sink != sink:
            out.append(MoveStream(s.index, s.app_name, sink, label))
        elif s.pinned != sink and snapshot.server is ServerKind.PULSEAUDIO:
            out.append(ReassertStream(s.index, s.app_name, sink, label, sink))
        elif s.pinned != sink:
            out.append(MoveStream(s.index, s.app_name, sink, label))
    return out


def _defaults(plan: Plan, snapshot: Snapshot) -> list[Op]:
    """The default, also when the server shows ours already but would return to another
    device (the one we configured before it was unplugged) the moment it re-appears."""
    out: list[Op] = []
    configured = snapshot.configured_default_sink
    if plan.set_default_sink and (
        snapshot.default_sink != plan.target or configured not in (None, plan.target)
    ):
        out.append(SetDefault(Direction.SINK, plan.target, _label(plan.target, snapshot, plan)))
    src = plan.default_source
    if src is not None and snapshot.default_source != src:
        dev = snapshot.device(src, Direction.SOURCE)
        out.append(SetDefault(Direction.SOURCE, src, dev.label if dev else src))
    return out


def _label(name: str, snapshot: Snapshot, plan: Plan) -> str:
    dev = snapshot.device(name)
    if dev is not None:
        return dev.label
    virt = next((v for v in plan.virtual if v.name == name), None)
    return virt.description if virt else name


def nudge(plan: Plan, snapshot: Snapshot, delta: float) -> list[Op]:
    """Volume up/down by `delta` percent on the plan's outputs, never past their caps."""
    out: list[Op] = []
    for o in plan.outputs:
        dev = snapshot.device(o.device)
        if dev is None:
            continue
        now = dev.level(o.channels)
        want = min(max(now + delta, 0.0), o.max_volume)
        if abs(want - now) > TOLERANCE:
            out.append(SetVolume(dev.name, dev.label, want, o.max_volume, now, o.channels or ()))
    return out

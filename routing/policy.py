"""Pure: which profile should be active, and the Plan that realises it.

Precedence lives here and only here:
  manual choice (until its device leaves, or `auto`)
  → the current profile while it still matches and nothing better arrived (no flapping)
  → the highest-priority `auto` profile whose devices are present
  → a `fallback` profile.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import Enum, StrEnum

from routing import cardplan
from routing.matching import Found, Resolution, resolve, text_matches
from routing.model import Clock as ClockState
from routing.model import (
    Device,
    Direction,
    InputPlan,
    Link,
    OutputPlan,
    Plan,
    ServerKind,
    Snapshot,
    State,
    VirtualSink,
)
from routing.portmap import plan_links
from routing.profile import AlsoOutput, Input, Output, Profile
from routing.refusal import Refusal


class Cause(StrEnum):
    STARTUP = "startup"  # restore; never raise a volume
    EVENT = "event"  # something changed on the server or in the config
    SWITCH = "switch"  # user asked for a profile (CLI, MIDI)
    AUTO = "auto"  # user dropped the manual choice
    NEXT = "next"
    PREVIOUS = "previous"


@dataclass(frozen=True, slots=True)
class Intent:
    """What a pass decides for: a server event, start-up, or what the user asked (a
    switch to `profile`, auto, next, previous). Not a MIDI trigger (routing.settings)."""

    cause: Cause = Cause.EVENT
    profile: str | None = None  # for SWITCH


@dataclass(frozen=True, slots=True)
class Decision:
    profile: str | None
    plan: Plan | None
    reason: str
    manual: str | None  # the manual choice after this decision
    error: Refusal | None = None  # why the request cannot be honoured (routing.errors.REFUSED)
    problems: tuple[str, ...] = ()  # things the user should know (ambiguous selectors, …)


class Unmet(Enum):
    """Why a profile has no plan now: what decisions and refusals branch on."""

    ABSENT = "a device it names is not connected"  # normal: not worth a `problem:` line
    AMBIGUOUS = "a selector matches several devices"
    UNUSABLE = "the devices cannot play it"  # a channel missing, an unknown `also` profile


@dataclass(frozen=True, slots=True)
class Candidate:
    profile: Profile
    plan: Plan | None
    device: Device | None
    problem: str | None
    unmet: Unmet | None = None  # set with `problem`


DEFAULT_CAP = 100.0


def decide(
    profiles: Sequence[Profile],
    snapshot: Snapshot,
    state: State,
    intent: Intent,
    default_cap: float = DEFAULT_CAP,
) -> Decision:
    cands = {p.name: candidate(p, profiles, snapshot, default_cap) for p in profiles}
    problems = snapshot.notes + tuple(
        sorted(
            {
                f"{c.profile.name}: {c.problem}"
                for c in cands.values()
                if c.problem and c.unmet is not Unmet.ABSENT
            }
        )
    )
    raise_volume = intent.cause is not Cause.STARTUP
    decision = _choose(cands, state, intent)
    plan = decision.plan
    if plan is not None:
        chosen = cands.get(decision.profile or "")
        startup_raise = False
        if chosen is not None and not plan.pending:
            plan = _keep(plan, chosen.profile, cands, snapshot)
            startup_raise = not raise_volume and chosen.profile.raise_at_startup
        plan = replace(
            plan,
            # raise_at_startup: start-up applies the profile's own levels, like a switch
            raise_volume=raise_volume or startup_raise,
            switching=decision.profile != state.active or startup_raise,
            standby=_standby(plan, cands.values(), snapshot),
        )
        problems = tuple(dict.fromkeys(problems + plan.notes))
    return replace(decision, plan=plan, problems=problems)


def _keep(plan: Plan, profile: Profile, cands: dict[str, Candidate], snapshot: Snapshot) -> Plan:
    """`others.keep`: the apps that stay put, each with the sink it is pinned to — the
    `others.to` profile's output (whose sinks the plan then keeps), else where it plays
    (or where we pinned it before the server dragged it away)."""
    rule = profile.others
    streams = [
        s
        for s in snapshot.streams
        if s.index not in plan.daw_streams
        and any(text_matches(p, s.app_name) or text_matches(p, s.binary) for p in rule.keep)
    ]
    if not streams:
        return plan
    virtual = plan.virtual
    target = None
    other = cands.get(rule.to or "")
    if other is not None and other.plan is not None:
        target = other.plan.target
        names = {v.name for v in virtual}
        virtual += tuple(v for v in other.plan.virtual if v.name not in names)
    present = {d.name for d in snapshot.sinks()} | {v.name for v in virtual}
    kept = []
    for s in streams:
        where = target or (s.pinned if s.pinned in present else s.sink)
        if where is not None:
            kept.append((s.index, where))
    return replace(plan, kept=tuple(kept), virtual=virtual)


def _standby(plan: Plan, cands: Iterable[Candidate], snapshot: Snapshot) -> tuple[OutputPlan, ...]:
    """Every other present profile's outputs, each channel at the lowest cap any of them
    gives it; channels the active plan plays on are its own (its cap applies there)."""
    active: dict[str, set[str]] = {}
    for o in plan.outputs:
        dev = snapshot.device(o.device)
        active.setdefault(o.device, set()).update(o.channels or (dev.channels if dev else ()))
        if dev is None or o.channels is None:
            active[o.device] = {"*"}  # the whole device
    caps: dict[str, dict[str, float]] = {}
    for c in cands:
        for o in c.plan.outputs if c.plan else ():
            dev = snapshot.device(o.device)
            if dev is None or "*" in active.get(o.device, set()):
                continue
            per = caps.setdefault(o.device, {})
            for ch in o.channels or dev.channels:
                if ch not in active.get(o.device, set()):
                    per[ch] = min(per.get(ch, o.max_volume), o.max_volume)
    out: list[OutputPlan] = []
    for name in sorted(caps):
        dev = snapshot.device(name)
        assert dev is not None
        by_cap: dict[float, list[str]] = {}
        for ch in dev.channels:
            if ch in caps[name]:
                by_cap.setdefault(caps[name][ch], []).append(ch)
        for cap, chans in sorted(by_cap.items()):
            whole = len(chans) == len(dev.channels) and name not in active
            out.append(OutputPlan(name, None, cap, None if whole else tuple(chans)))
    return tuple(out)


def _choose(cands: dict[str, Candidate], state: State, intent: Intent) -> Decision:
    if intent.cause is Cause.SWITCH:
        return _switch(cands, intent.profile or "", state)
    if intent.cause in (Cause.NEXT, Cause.PREVIOUS):
        return _step(cands, state, 1 if intent.cause is Cause.NEXT else -1)
    manual = None if intent.cause is Cause.AUTO else state.manual
    if manual is not None:
        c = cands.get(manual)
        if c is not None and c.plan is not None:
            return _pick(c, "manual choice", manual)
        # the manual profile's device left (or the profile was removed): back to automatic
    current = cands.get(state.active or "") if intent.cause is not Cause.AUTO else None
    best = _best_auto(cands)
    if (
        current is not None
        and current.plan is not None
        and (current.profile.auto or current.profile.fallback)
    ) and (best is None or best.profile.priority <= current.profile.priority):
        return _pick(current, "still present, kept", None)
    if best is not None:
        return _pick(best, f"auto, priority {best.profile.priority}", None)
    fallback = _best([c for c in cands.values() if c.profile.fallback and c.plan])
    if fallback is not None:
        return _pick(fallback, "fallback, no automatic profile's device is present", None)
    return Decision(None, None, "no profile's device is present; the DAW is left where it is", None)


def _switch(cands: dict[str, Candidate], name: str, state: State) -> Decision:
    c = cands.get(name)
    if c is None:
        return _refuse(state, Refusal.NO_SUCH_PROFILE, f"no profile named '{name}'")
    if c.plan is None:
        ambiguous = c.unmet is Unmet.AMBIGUOUS
        return _refuse(
            state, Refusal.AMBIGUOUS if ambiguous else Refusal.NOT_MATCHED, f"{name}: {c.problem}"
        )
    return _pick(c, "manual choice", name)


def _step(cands: dict[str, Candidate], state: State, direction: int) -> Decision:
    usable = sorted((c for c in cands.values() if c.plan), key=_rank)
    if not usable:
        return _refuse(state, Refusal.NOT_MATCHED, "no profile's device is present")
    names = [c.profile.name for c in usable]
    here = names.index(state.active) if state.active in names else -direction
    chosen = usable[(here + direction) % len(usable)]
    return _pick(chosen, "manual choice", chosen.profile.name)


def _refuse(state: State, error: Refusal, message: str) -> Decision:
    return Decision(state.active, None, message, state.manual, error=error)


def _pick(c: Candidate, why: str, manual: str | None) -> Decision:
    present = f", '{c.device.label}' present" if c.device else ""
    return Decision(c.profile.name, c.plan, f"{c.profile.name}: {why}{present}", manual)


def _rank(c: Candidate) -> tuple[int, str]:
    return (-c.profile.priority, c.profile.name)


def _best(cs: list[Candidate]) -> Candidate | None:
    return min(cs, key=_rank) if cs else None


def _best_auto(cands: dict[str, Candidate]) -> Candidate | None:
    return _best(
        [c for c in cands.values() if c.profile.auto and not c.profile.fallback and c.plan]
    )


# ---------------------------------------------------------------- plans


def candidate(
    profile: Profile, profiles: Sequence[Profile], snapshot: Snapshot, default_cap: float
) -> Candidate:
    """Can this profile be realised on what is connected now? If so, its Plan."""
    main = resolve(profile.output, snapshot.devices, Direction.SINK)
    source = None
    if profile.input is not None:
        source = resolve(profile.input, snapshot.devices, Direction.SOURCE).device
    specs: list[tuple[Output | Input, Device | None, Direction]] = [
        (profile.output, main.device, Direction.SINK)
    ]
    specs += [(profile.input, source, Direction.SOURCE)] if profile.input is not None else []
    cards = cardplan.settings(specs, snapshot)
    if cards.problem is not None:
        return Candidate(profile, None, main.device, cards.problem, Unmet.UNUSABLE)
    if cards.switching:
        # the card changes its profile first; its devices (re)appear and the next pass
        # routes to them
        pending = Plan(
            profile.name, "", (), set_default_sink=False, cards=cards.cards, pending=True
        )
        return Candidate(profile, pending, main.device, None)
    if main.device is None:
        return Candidate(profile, None, None, main.problem, _unmet(main))
    outputs: list[tuple[Output | AlsoOutput, Device]] = [(profile.output, main.device)]
    for also in profile.output.also:
        spec = _also_spec(also, profiles)
        if spec is None:
            why = f"also: no profile '{also.profile}'"
            return Candidate(profile, None, main.device, why, Unmet.UNUSABLE)
        found = resolve(spec, snapshot.devices, Direction.SINK)
        if found.device is None:
            return Candidate(profile, None, main.device, f"also: {found.problem}", _unmet(found))
        outputs.append((spec, found.device))
    missing = _missing_channels(outputs)
    if missing:
        return Candidate(profile, None, main.device, missing, Unmet.UNUSABLE)
    plan = replace(
        _plan(profile, outputs, snapshot, default_cap), cards=cards.cards, ports=cards.ports
    )
    return Candidate(profile, plan, main.device, None)


def _unmet(found: Resolution) -> Unmet:
    return Unmet.AMBIGUOUS if found.found is Found.SEVERAL else Unmet.ABSENT


def _also_spec(also: AlsoOutput, profiles: Sequence[Profile]) -> Output | AlsoOutput | None:
    if also.profile is None:
        return also
    ref = next((p for p in profiles if p.name == also.profile), None)
    return ref.output if ref else None


def _missing_channels(outputs: list[tuple[Output | AlsoOutput, Device]]) -> str | None:
    for spec, dev in outputs:
        if isinstance(spec.channels, tuple):
            absent = [c for c in spec.channels if c not in dev.channels]
            if absent:
                return (
                    f"'{dev.label}' has no channel {', '.join(absent)} "
                    f"(it has {', '.join(dev.channels)})"
                )
    return None


def _plan(
    profile: Profile,
    outputs: list[tuple[Output | AlsoOutput, Device]],
    snapshot: Snapshot,
    default_cap: float,
) -> Plan:
    jack_only = outputs[0][1].api == "jack"  # jackd hardware: only DAW ports reach it
    bare_alsa = outputs[0][1].api == "alsa"  # no sound server: the ALSA default, no sinks
    alsa_notes = _alsa_notes(profile, outputs, snapshot) if bare_alsa else ()
    if jack_only:
        outputs = outputs[:1]
    virtual: list[VirtualSink] = []
    leaves: list[str] = []
    # several cards at once: a combined sink on a sound server; on bare ALSA the managed
    # file's `multi` (routing.alsaconf), on jackd links to each card (below)
    several = len(outputs) > 1 and not bare_alsa
    for i, (spec, dev) in enumerate(outputs):
        remap = (
            None
            if jack_only or bare_alsa
            else _remap(profile, spec, dev, f".{i}" if several else "")
        )
        if remap is None:
            leaves.append(dev.name)
        else:
            virtual.append(remap)
            leaves.append(remap.name)
    target = leaves[0]
    if several:
        combine = _named(
            VirtualSink(
                name="",
                description=f"dawroute: {profile.name}",
                profile=profile.name,
                slaves=tuple(leaves),
            )
        )
        virtual.append(combine)
        target = combine.name
    links, daw_ports, notes = _links(profile, outputs, snapshot)
    source = _input(profile, snapshot)  # bare ALSA: the capture default (routing.alsaconf)
    return Plan(
        profile=profile.name,
        target=target,
        outputs=() if jack_only else _levels(outputs, default_cap),
        virtual=tuple(virtual),
        daw_streams=()
        if jack_only or bare_alsa
        else tuple(s.index for s in snapshot.streams if is_daw(profile, s.app_name, s.binary)),
        set_default_sink=profile.daw.set_default and not jack_only,
        default_source=source.device if source else None,
        input=source,
        daw_recordings=tuple(
            r.index for r in snapshot.recordings if is_daw(profile, r.app_name, r.binary)
        )
        if source
        else (),
        links=links,
        daw_ports=daw_ports,
        exclusive=profile.daw.exclusive,
        clock=ClockState(profile.clock.rate or 0, profile.clock.quantum or 0),
        notes=tuple(notes) + _clock_note(profile, snapshot) + alsa_notes,
    )


def _alsa_notes(
    profile: Profile,
    outputs: list[tuple[Output | AlsoOutput, Device]],
    snapshot: Snapshot,
) -> tuple[str, ...]:
    """What the user must know on bare ALSA: a program playing on another card keeps it
    until it reopens its device (nothing can move it), a mixer that does not exist, the
    outputs that cannot play at the same time without a sound server."""
    notes: list[str] = []
    for spec, dev in outputs:
        controls = [name for name, _ in dev.mixers]
        if spec.mixer is not None and not any(
            c.casefold() == spec.mixer.casefold() for c in controls
        ):
            have = ", ".join(controls) or "none"
            notes.append(
                f"output.mixer: '{dev.label}' has no volume control '{spec.mixer}' (it has: {have})"
            )
        elif not controls:
            notes.append(f"'{dev.label}' has no playback volume control: its level cannot be set")
    dev = outputs[0][1]
    if profile.daw.set_default:
        for s in snapshot.streams:
            if s.sink is not None and s.sink != dev.name:
                where = snapshot.device(s.sink)
                notes.append(
                    f"'{s.app_name}' (pid {s.pid}) still plays on "
                    f"'{where.label if where else s.sink}': on bare ALSA a program keeps the "
                    f"device it opened — make it reopen its output (stop and start playback, "
                    f"or reselect the device) to play on '{dev.label}'"
                )
    return tuple(notes)


def _links(
    profile: Profile,
    outputs: list[tuple[Output | AlsoOutput, Device]],
    snapshot: Snapshot,
) -> tuple[tuple[Link, ...], tuple[str, ...], list[str]]:
    """The DAW's port links: to the first output's device, and on jackd alone (no sink to
    combine them) to each `also` card as well — with that output's `channels` when it
    names them, else the same `daw.ports` channels."""
    if not profile.daw.ports:
        return (), (), []
    if snapshot.ports is None:
        return (), (), ["daw.ports: no JACK server reachable, DAW ports not linked"]
    first = outputs[0][1]
    links, sources, notes = plan_links(profile.daw.ports, first, snapshot)
    if snapshot.server is not ServerKind.JACK:
        return links, sources, notes
    for spec, dev in outputs[1:]:
        mapping = profile.daw.ports
        if isinstance(spec.channels, tuple):
            mapping = {pattern: spec.channels for pattern in mapping}
        more, more_sources, more_notes = plan_links(mapping, dev, snapshot)
        links += more
        sources += more_sources
        notes += more_notes
    return tuple(dict.fromkeys(links)), tuple(dict.fromkeys(sources)), notes


def _clock_note(profile: Profile, snapshot: Snapshot) -> tuple[str, ...]:
    rate = profile.clock.rate
    if rate and snapshot.allowed_rates and rate not in snapshot.allowed_rates:
        allowed = ", ".join(map(str, snapshot.allowed_rates))
        return (
            f"clock: {rate} Hz is not among the rates the graph allows ({allowed}); add "
            "it to default.clock.allowed-rates in pipewire.conf",
        )
    if (rate or profile.clock.quantum) and snapshot.server is not ServerKind.PIPEWIRE:
        return (
            "clock: rate/quantum are applied on PipeWire only; on PulseAudio or jackd "
            "they need a server restart with the new settings",
        )
    return ()


def _remap(
    profile: Profile, spec: Output | AlsoOutput, dev: Device, suffix: str
) -> VirtualSink | None:
    if spec.channels == "stereo":
        return None
    mono = spec.channels == "mono" or len(spec.channels) == 1
    chans = () if spec.channels == "mono" else tuple(spec.channels)
    return _named(
        VirtualSink(
            name="",
            description=f"dawroute: {profile.name}{suffix}",
            profile=profile.name,
            master=dev.name,
            master_channels=chans,
            mono=mono,
        )
    )


def _named(v: VirtualSink) -> VirtualSink:
    """A stable name that changes when the definition changes (so a stale sink is replaced)."""
    spec = f"{v.master}|{','.join(v.master_channels)}|{v.mono}|{','.join(v.slaves)}"
    digest = hashlib.sha1(spec.encode()).hexdigest()[:6]
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in v.profile)
    return replace(v, name=f"dawroute.{safe}.{digest}")


def _levels(
    outputs: list[tuple[Output | AlsoOutput, Device]], default_cap: float
) -> tuple[OutputPlan, ...]:
    """One entry per device and group of channels. Outputs that share a channel of a device
    share the lower level and cap (the channel has one level); outputs on disjoint channels
    of one device — monitors on 1-2, a headphone amp on 3-4 — keep their own."""
    entries: list[tuple[frozenset[str], OutputPlan]] = []
    for spec, dev in outputs:
        cap = spec.max_volume if spec.max_volume is not None else default_cap
        vol = None if spec.volume is None else min(spec.volume, cap)
        chans = None if spec.channels in ("stereo", "mono") else tuple(spec.channels)
        new = OutputPlan(dev.name, vol, cap, chans, spec.channels == "mono", spec.mixer)
        covered = frozenset(chans or dev.channels)
        kept: list[tuple[frozenset[str], OutputPlan]] = []
        for cov, old in entries:
            if old.device == dev.name and cov & covered:
                new = _merged(old, new, dev)
                covered |= cov
            else:
                kept.append((cov, old))
        entries = [*kept, (covered, new)]
    return tuple(o for _, o in entries)


def _merged(a: OutputPlan, b: OutputPlan, dev: Device) -> OutputPlan:
    """Two outputs sharing channels of `dev`: the union of their channels at the lower
    level and cap."""
    vols = [v for v in (a.volume, b.volume) if v is not None]
    chans = None
    if a.channels is not None and b.channels is not None:
        union = set(a.channels) | set(b.channels)
        chans = tuple(c for c in dev.channels if c in union)
    return replace(
        b,
        channels=chans,
        volume=min(vols) if vols else None,
        max_volume=min(a.max_volume, b.max_volume),
    )


def _input(profile: Profile, snapshot: Snapshot) -> InputPlan | None:
    """The profile's recording device when it is present, with its level and cap."""
    spec = profile.input
    if spec is None:
        return None
    found = resolve(spec, snapshot.devices, Direction.SOURCE)
    if found.device is None:
        return None
    cap = spec.max_volume
    volume = spec.volume if cap is None or spec.volume is None else min(spec.volume, cap)
    return InputPlan(found.device.name, volume, cap)


def is_daw(profile: Profile, app_name: str, binary: str | None) -> bool:
    return any(text_matches(p, app_name) or text_matches(p, binary) for p in profile.daw.apps)

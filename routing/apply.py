"""apply_plan: the one path from ops to the sound servers (daemon, `dawroute apply`, tests).

Every op goes to the backend that owns its type (`owner`: a `match` over the Op union, so
an op type without an owner is a type error). Ops run in reconcile's order, in phases: a
run of ops for one backend is sent at once — the pulse connection executes commands in
the order they are sent, so a phase costs one round trip, not one per op — except that
the levels are a phase of their own, and so is each sink we create.

The stop rule lives here and nowhere else: a failure in a phase that sets levels or
creates sinks stops the run — the DAW must not land on an output whose level could not
be set. The ops after it, and the ops whose backend is absent (JACK not running), come
back as `skipped` with the reason; nothing is dropped silently.

On bare ALSA (no sound server) the ALSA backend owns the levels (`SetMixer`) and the
default (`WriteAlsaConfig`); see routing.alsaplan. On jackd alone the levels are the
same `SetMixer`, and the bridge backend starts and stops the bridges that bring a card
into the JACK graph (`StartBridge`, a stage of its own like creating a sink; see
routing.jackplan).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from enum import Enum
from typing import assert_never

from routing import alsaplan, jackplan, paths
from routing.backends.composite import Backends
from routing.model import (
    ApplyResult,
    Connect,
    Disconnect,
    LoadVirtual,
    MoveRecording,
    MoveStream,
    Op,
    Plan,
    ReassertStream,
    SetCardProfile,
    SetClock,
    SetDefault,
    SetMixer,
    SetPort,
    SetSourceVolume,
    SetStreamVolume,
    SetVolume,
    Snapshot,
    StartBridge,
    StopBridge,
    UnloadVirtual,
    WriteAlsaConfig,
)

log = logging.getLogger(__name__)


class Owner(Enum):
    PULSE = "the pulse server"
    JACK = "JACK"
    CLOCK = "PipeWire's clock"
    ALSA = "bare ALSA"
    BRIDGE = "the JACK bridges"


class Stage(Enum):
    LEVELS = "levels"  # stops the run when one fails
    CREATE = "create"  # one of our sinks, alone; stops the run when it fails
    OTHER = "other"


def owner(op: Op) -> Owner:
    match op:
        case (
            SetVolume()
            | SetStreamVolume()
            | LoadVirtual()
            | MoveStream()
            | ReassertStream()
            | MoveRecording()
            | SetSourceVolume()
            | SetCardProfile()
            | SetPort()
            | SetDefault()
            | UnloadVirtual()
        ):
            return Owner.PULSE
        case Connect() | Disconnect():
            return Owner.JACK
        case SetClock():
            return Owner.CLOCK
        case SetMixer() | WriteAlsaConfig():
            return Owner.ALSA
        case StartBridge() | StopBridge():
            return Owner.BRIDGE
        case _:
            assert_never(op)


def stage(op: Op) -> Stage:
    # a card profile or port that cannot be set stops the run like a level: the DAW must
    # not land on a device that is not what the profile says
    levels = SetVolume | SetStreamVolume | SetSourceVolume | SetMixer
    if isinstance(op, SetVolume) and not op.guards:
        # the device already shows a level within its cap: the DAW is safe there at that
        # level, so the profile's own level goes out with the moves, pipelined (waiting
        # for pipewire-pulse's deferred answer cost 2-5 ms a hot-plug)
        return Stage.OTHER
    if isinstance(op, levels | SetCardProfile | SetPort):
        return Stage.LEVELS
    return Stage.CREATE if isinstance(op, LoadVirtual | StartBridge) else Stage.OTHER


def phases(ops: Sequence[Op]) -> list[list[Op]]:
    """Consecutive ops with one owner and one stage; each sink we create on its own."""
    out: list[list[Op]] = []
    for op in ops:
        last = out[-1][0] if out else None
        if (
            last is None
            or owner(last) is not owner(op)
            or stage(last) is not stage(op)
            or stage(op) is Stage.CREATE
        ):
            out.append([op])
        else:
            out[-1].append(op)
    return out


def plan_ops(backends: Backends, plan: Plan, snapshot: Snapshot) -> list[Op]:
    """The ops that turn `snapshot` into `plan` on the backends in use: routing.reconcile's,
    with bare ALSA's in place of the pulse ones when ALSA is the backend (routing.alsaplan),
    and jackd's when it runs alone (routing.jackplan)."""
    if backends.jackd:
        return jackplan.ops(plan, snapshot)
    alsa = backends.alsa
    config = alsa.config_path if alsa is not None else paths.alsa_config_file()
    return alsaplan.ops_for(plan, snapshot, str(config))


async def apply_plan(backends: Backends, ops: Sequence[Op]) -> ApplyResult:
    done: list[Op] = []
    failed: list[tuple[Op, str]] = []
    skipped: list[tuple[Op, str]] = []
    stopped: str | None = None  # why the rest is not attempted
    for phase in phases(ops):
        who = owner(phase[0])
        why = stopped or _absent(backends, who)
        if why is not None:
            for op in phase:
                log.warning("skipped: %s: %s", op.describe(), why)
            skipped += [(op, why) for op in phase]
            continue
        result = await _run(backends, who, phase)
        if (
            who is Owner.PULSE
            and backends.pulse is not None
            and stage(phase[0]) is Stage.LEVELS
            and not result.failed
        ):
            # hearing safety: a level must show on the server before anything moves
            unconfirmed = await backends.pulse.confirm_levels(phase)
            result = ApplyResult(
                tuple(op for op in result.done if op not in {o for o, _ in unconfirmed}),
                tuple(unconfirmed),
            )
        done += result.done
        failed += result.failed
        skipped += result.skipped
        if result.failed and stage(phase[0]) is not Stage.OTHER:
            stopped = f"not attempted: {result.failed[0][0].describe()} failed first"
    late = await _levels_shown(backends, done)
    done = [op for op in done if op not in {o for o, _ in late}]
    return ApplyResult(tuple(done), tuple(failed + late), tuple(skipped))


async def _levels_shown(backends: Backends, done: list[Op]) -> list[tuple[Op, str]]:
    """The levels that went out with the moves (the device was within its cap already):
    shown by now, or failed. Not waited for before the moves, but the pass still ends
    with the profile's own level shown, re-sent meanwhile (WirePlumber can restore an
    older level over it)."""
    within = [op for op in done if isinstance(op, SetVolume) and not op.guards]
    if not within or backends.pulse is None:
        return []
    return await backends.pulse.confirm_levels(within)


def _absent(backends: Backends, who: Owner) -> str | None:
    match who:
        case Owner.PULSE:
            return None if backends.pulse is not None else "no pulse server connected"
        case Owner.ALSA:
            return None if backends.alsa is not None else "not on bare ALSA"
        case Owner.JACK:
            if backends.jack is None or not backends.jack.alive:
                return "no JACK server connected"
            return None
        case Owner.CLOCK:
            return None if backends.clock is not None else "no PipeWire clock backend"
        case Owner.BRIDGE:
            if backends.bridge is None:
                return "a card joins the JACK graph only while the daemon runs"
            return None
        case _:
            assert_never(who)


async def _run(backends: Backends, who: Owner, phase: list[Op]) -> ApplyResult:
    match who:
        case Owner.PULSE:
            assert backends.pulse is not None
            return await backends.pulse.apply(phase)
        case Owner.ALSA:
            # the backend reads each level back: it fails the ones the card did not take
            assert backends.alsa is not None
            return backends.alsa.apply(phase)
        case Owner.JACK:
            assert backends.jack is not None
            return backends.jack.apply(phase)
        case Owner.CLOCK:
            assert backends.clock is not None
            return await backends.clock.apply(phase)
        case Owner.BRIDGE:
            assert backends.bridge is not None
            return backends.bridge.apply(phase)
        case _:
            assert_never(who)

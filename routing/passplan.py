"""Pure: the rules of one daemon pass that are decisions, not wiring — which requests are
decided, the ops a request adds, the state a decision or an `off` leaves, the `list` rows.

routing.passes runs the pass (observe, apply, save, publish); what it does with the
results is decided here, from values alone, so it can be tested without a server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from routing import alsaplan, policy
from routing.contract import ProfileRow
from routing.model import Connect, Disconnect, Link, Op, Plan, SetVolume, Snapshot, State
from routing.policy import Cause, Decision
from routing.profile import Profile

OFF_REASON = (
    "off: dawroute's routing undone; `dawroute auto` or `dawroute switch NAME` turns it back on"
)
STOPPED_REASON = "stopped: dawroute's routing undone (on_stop: restore)"


def decides(state: State, stopping: bool, cause: Cause) -> bool:
    """Off (or stopping): no decisions until `auto` or `switch` — events, the start-up and
    MIDI volume steps (which come as events) are not decided."""
    return not ((state.off or stopping) and cause in (Cause.EVENT, Cause.STARTUP))


def with_nudge(ops: list[Op], plan: Plan, snapshot: Snapshot, step: float) -> list[Op]:
    """A MIDI volume step on top of the plan's ops: each output's level moves by `step`
    (within its cap), except where the plan itself sets that output's level."""
    if not step:
        return ops
    touched = {op.device for op in ops if isinstance(op, SetVolume)}
    nudges = alsaplan.nudge_for(plan, snapshot, step)
    return ops + [op for op in nudges if isinstance(op, SetVolume) and op.device not in touched]


def original_default(state: State, snapshot: Snapshot) -> str | None:
    """Before dawroute's first change: the user's default sink, for `off` to restore;
    None when it is already known or there is nothing to restore."""
    if state.original_default is not None:
        return None
    dev = snapshot.device(snapshot.default_sink or "")
    if dev is None or dev.ours:  # ours: left by an earlier run; nothing to restore
        return None
    return dev.name


def links_after(
    links: tuple[tuple[str, str], ...], done: Sequence[Op]
) -> tuple[tuple[str, str], ...]:
    """The JACK links dawroute made, after the ops in `done` (for `off` to remove)."""
    made = dict.fromkeys(links)
    for op in done:
        if isinstance(op, Connect):
            made[(op.link.source, op.link.target)] = None
        elif isinstance(op, Disconnect):
            made.pop((op.link.source, op.link.target), None)
    return tuple(made)


def committed(
    old: State,
    d: Decision,
    now: float,
    default: str | None = None,
    links: tuple[tuple[str, str], ...] | None = None,
) -> State:
    """The state after a decision: its profile active (since now, if it changed), the
    manual choice it leaves, not off; the user's default and our links once learnt."""
    return replace(
        old,
        active=d.profile,
        active_since=old.active_since if d.profile == old.active else now,
        manual=d.manual,
        manual_since=old.manual_since if d.manual == old.manual else (now if d.manual else None),
        off=False,
        off_since=None,
        original_default=old.original_default if default is None else default,
        links=old.links if links is None else links,
    )


def after_off(
    old: State,
    snapshot: Snapshot,
    done: Sequence[Op],
    failed: bool,
    stay_off: bool,
    now: float,
) -> State:
    """The state after undoing the routing: nothing active; remembered as off unless it
    is the stop of the daemon (`stay_off` False keeps the manual choice for the next
    start); the default to restore kept only while restoring it failed."""
    links = links_after(old.links, done)
    return replace(
        old,
        active=None,
        active_since=now,
        manual=None if stay_off else old.manual,
        manual_since=None if stay_off else old.manual_since,
        off=stay_off,
        off_since=now if stay_off else None,
        original_default=old.original_default if failed else None,
        links=tuple(x for x in links if Link(*x) in snapshot.links),
    )


def reason_shown(current: str | None, d: Decision, old: State, new: State, cause: Cause) -> str:
    """Why the active profile is active, for `status`: an event that keeps the profile
    keeps the reason it became active for."""
    if new.active != old.active or current is None or cause not in (Cause.EVENT, Cause.STARTUP):
        return d.reason
    return current


def rows(
    profiles: Sequence[Profile], snapshot: Snapshot, cap: float, active: str | None
) -> list[ProfileRow]:
    """`dawroute list`: each profile, whether it could be used now (or why not)."""
    out: list[ProfileRow] = []
    for p in profiles:
        c = policy.candidate(p, profiles, snapshot, cap)
        out.append(
            {
                "name": p.name,
                "description": p.description,
                "priority": p.priority,
                "auto": p.auto,
                "fallback": p.fallback,
                "present": c.plan is not None,
                "problem": c.problem,
                "active": p.name == active,
            }
        )
    return out

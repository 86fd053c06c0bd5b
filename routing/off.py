"""Pure: the ops that undo dawroute's routing (`dawroute off`, and `on_stop: restore`).

In this order: the default sink the user had before dawroute's first change, the streams
on dawroute's own sinks moved there, the JACK links dawroute made removed, a forced clock
released, and dawroute's own sinks removed. No level is changed: every output keeps the
level it has (within the caps dawroute kept), and nothing is raised.
"""

from __future__ import annotations

from routing.model import (
    Clock,
    Direction,
    Disconnect,
    Link,
    MoveStream,
    Op,
    SetClock,
    SetDefault,
    Snapshot,
    UnloadVirtual,
)


def undo_ops(
    snapshot: Snapshot, original_default: str | None, links: tuple[tuple[str, str], ...]
) -> tuple[list[Op], list[str]]:
    """The ops, and notes for what cannot be undone (e.g. the original default is gone)."""
    ops: list[Op] = []
    notes: list[str] = []
    ours = {d.name: d for d in snapshot.sinks() if d.ours}
    restore = snapshot.device(original_default) if original_default else None
    if original_default and restore is None:
        notes.append(f"the default sink before dawroute, {original_default}, is not connected")
    if restore is not None and restore.ours:
        restore = None
    # where the streams on our sinks go: the restored default, else the current one if it
    # is not ours; else the server picks when our sinks are removed
    current = snapshot.device(snapshot.default_sink or "")
    landing = restore or (current if current is not None and not current.ours else None)
    if restore is not None and (
        snapshot.default_sink != restore.name
        or snapshot.configured_default_sink not in (None, restore.name)
    ):
        ops.append(SetDefault(Direction.SINK, restore.name, restore.label))
    if landing is not None:
        ops += [
            MoveStream(s.index, s.app_name, landing.name, landing.label)
            for s in snapshot.streams
            if s.sink in ours
        ]
    made = {Link(a, b) for a, b in links}
    ops += [
        Disconnect(link)
        for link in sorted(snapshot.links, key=lambda x: (x.source, x.target))
        if link in made
    ]
    if snapshot.clock is not None and snapshot.clock != Clock():
        ops.append(SetClock(Clock()))
    ops += [UnloadVirtual(name, dev.module) for name, dev in ours.items() if dev.module is not None]
    return ops, notes

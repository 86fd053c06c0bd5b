"""The daemon's memory: active profile and the user's manual choice, written atomically."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

from routing.model import State

__all__ = [
    "State",
    "load",
    "remove_stale_temps",
    "save",
]  # State lives with the model; this is its store

log = logging.getLogger(__name__)


def load(path: Path) -> State:
    """The saved state; a missing or unreadable file means a fresh start, never a crash."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return State(
            active=_str(raw.get("active")),
            active_since=_num(raw.get("active_since")),
            manual=_str(raw.get("manual")),
            manual_since=_num(raw.get("manual_since")),
            off=raw.get("off") is True,
            off_since=_num(raw.get("off_since")),
            original_default=_str(raw.get("original_default")),
            links=_links(raw.get("links")),
        )
    except FileNotFoundError:
        return State()
    except (OSError, ValueError, AttributeError) as exc:
        log.warning("state file %s unreadable (%s); starting without saved state", path, exc)
        return State()


TEMP_PREFIX = ".state-"


def remove_stale_temps(path: Path) -> int:
    """Temp files a killed save left next to `path` (kill -9 between write and rename);
    only one daemon runs (its lock), so none of them is being written. Returns how many."""
    removed = 0
    try:
        leftovers = [p for p in path.parent.iterdir() if p.name.startswith(TEMP_PREFIX)]
    except OSError:
        return 0
    for p in leftovers:
        try:
            p.unlink()
            removed += 1
        except OSError as exc:
            log.warning("cannot remove stale %s: %s", p, exc.strerror)
    return removed


def save(path: Path, state: State) -> None:
    """Write to a temp file in the same directory, fsync, rename: old or new, never torn."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(asdict(state), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _str(v: object) -> str | None:
    return v if isinstance(v, str) else None


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _links(v: object) -> tuple[tuple[str, str], ...]:
    if not isinstance(v, list):
        return ()
    return tuple(
        (x[0], x[1])
        for x in v
        if isinstance(x, list) and len(x) == 2 and all(isinstance(y, str) for y in x)
    )

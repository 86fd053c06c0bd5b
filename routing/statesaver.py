"""Saves the State after each change; a failure (disk full, EMFILE, read-only) is logged
once per cause and kept for `status`, and never stops the pass that changed it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from routing import state as state_store
from routing.model import State

log = logging.getLogger("routing.daemon")  # the daemon's log name, as users know it

Record = Callable[[str, str], None]


class StateSaver:
    def __init__(self, path: Path, record: Record, problem: Callable[[str], None]) -> None:
        self.path = path
        self.error: str | None = None  # why the last save failed, if it did
        self._record = record
        self._problem = problem

    def save(self, state: State) -> None:
        try:
            state_store.save(self.path, state)
        except OSError as exc:
            why = f"cannot save state to {self.path}: {exc.strerror or exc}"
            if why != self.error:
                log.error("%s; the active profile is kept in memory only", why)
                self._record("state", why)
                self._problem(why)
            self.error = why
            return
        if self.error is not None:
            log.info("state saved again to %s", self.path)
            self._record("state", "state saved again")
        self.error = None

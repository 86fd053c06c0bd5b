"""Coalesces pokes into passes: a burst of events becomes one pass, never a fixed sleep.

Sources call `poke()` (cheap, never blocks, safe inside any callback). One task runs
passes: it takes everything pending, runs a pass, and if something was poked while the
pass ran it runs again at once. So a burst of 50 plug events costs a few passes, the
last of which sees the final state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, run_pass: Callable[[list[str]], Awaitable[None]]) -> None:
        self._run_pass = run_pass
        self._reasons: list[str] = []
        self._wake = asyncio.Event()
        self._stopping = False
        self.passes = 0

    def poke(self, reason: str) -> None:
        if len(self._reasons) < 64:  # reasons are for the log; the pass re-observes anyway
            self._reasons.append(reason)
        self._wake.set()

    def stop(self) -> None:
        """Finish the pass in progress (never cut an apply in half), then return from run()."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            reasons, self._reasons = self._reasons, []
            self.passes += 1
            try:
                await self._run_pass(reasons)
            except asyncio.CancelledError:
                raise
            except Exception:
                # a pass must never take the daemon down; the next poke tries again
                log.exception("pass failed (reasons: %s)", ", ".join(reasons[:5]))

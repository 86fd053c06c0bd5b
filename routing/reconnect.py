"""One way to try a connection again: after a delay that doubles up to a limit, reset
once it holds. Used by every connection the daemon keeps — the pulse server, JACK, MIDI —
so a server that is not there is retried slowly, never spun on, and each says the same
thing in its log ("retrying in N s")."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Reconnect:
    def __init__(self, first: float, limit: float) -> None:
        self.first = first
        self.limit = limit
        self._delay = first
        self._timer: asyncio.TimerHandle | None = None

    @property
    def delay(self) -> float:
        """How long the next attempt will wait."""
        return self._delay

    @property
    def pending(self) -> bool:
        """An attempt is scheduled (later()) and has not run yet."""
        return self._timer is not None

    def _step(self) -> float:
        delay = self._delay
        self._delay = min(delay * 2, self.limit)
        return delay

    async def wait(self) -> None:
        """For a connection kept by a loop: sleep before its next attempt."""
        await asyncio.sleep(self._step())

    def later(
        self, loop: asyncio.AbstractEventLoop, attempt: Callable[..., object], *args: object
    ) -> float:
        """For a connection tried on demand: run `attempt(*args)` after the delay; returns
        the delay (for the log)."""
        self.cancel()
        delay = self._step()

        def fire() -> None:
            self._timer = None
            attempt(*args)

        self._timer = loop.call_later(delay, fire)
        return delay

    def cancel(self) -> None:
        """Drop a scheduled attempt; the delay stays where it is."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def reset(self) -> None:
        """It holds (or must be tried again at once): the next failure starts from `first`."""
        self.cancel()
        self._delay = self.first

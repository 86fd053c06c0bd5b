"""What happened, for `status` (the last events) and `watch` (each one as it happens)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, cast

from routing.contract import Event

HISTORY = 50


class Events:
    def __init__(self, keep: int = HISTORY) -> None:
        self._history: deque[Event] = deque(maxlen=keep)
        self._watchers: set[asyncio.Queue[Event]] = set()

    def record(self, kind: str, message: str, **extra: Any) -> None:
        # extra: the optional keys of contract.Event (profile, cause, done, …)
        event = cast(Event, {"time": time.time(), "kind": kind, "message": message, **extra})
        self._history.append(event)
        for q in self._watchers:
            q.put_nowait(event)

    def recent(self, count: int) -> tuple[Event, ...]:
        return tuple(self._history)[-count:]

    async def follow(self, hello: Event) -> AsyncIterator[Event]:
        """`hello`, then every event recorded after it: a client knows when it is
        subscribed (and nothing it sees afterwards happened before)."""
        q: asyncio.Queue[Event] = asyncio.Queue()
        self._watchers.add(q)
        yield hello
        try:
            while True:
                yield await q.get()
        finally:
            self._watchers.discard(q)

"""Answers the `Control` contract: `status` and `list` from a View (routing.view), the
changes by handing a request to the daemon's next pass, `watch` from the events."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

from routing import passplan, status
from routing.contract import Changed, Event, Listing, Reloaded, Status
from routing.events import Events
from routing.model import Snapshot
from routing.policy import Cause, Intent
from routing.view import View

Request = Callable[[Intent], Awaitable[Changed]]


class Service:
    """Implements routing.contract.Control."""

    def __init__(
        self,
        view: Callable[[], View],
        request: Request,
        off: Callable[[], Awaitable[Changed]],
        reload: Callable[[], Awaitable[Reloaded]],
        events: Events,
    ) -> None:
        self._view = view
        self._request = request
        self._off = off
        self._reload = reload
        self._events = events

    async def status(self) -> Status:
        return status.report(self._view())

    async def list(self) -> Listing:
        v = self._view()
        rows = passplan.rows(v.profiles, v.snapshot or Snapshot(), v.max_volume, v.state.active)
        return {"profiles": rows}

    async def switch(self, profile: str) -> Changed:
        return await self._request(Intent(Cause.SWITCH, profile))

    async def auto(self) -> Changed:
        return await self._request(Intent(Cause.AUTO))

    async def off(self) -> Changed:
        return await self._off()

    async def next(self) -> Changed:
        return await self._request(Intent(Cause.NEXT))

    async def previous(self) -> Changed:
        return await self._request(Intent(Cause.PREVIOUS))

    async def reload(self) -> Reloaded:
        return await self._reload()

    def watch(self) -> AsyncIterator[Event]:
        state = self._view().state
        active = "off" if state.off else (state.active or "none")
        hello: Event = {
            "time": time.time(),
            "kind": "watching",
            "message": f"active profile: {active}",
        }
        return self._events.follow(hello)

"""Keeps the server-side cap guard (WirePlumber 0.5, routing/backends/capguard.py) told
the caps it must hold links to: new caps go out at once, off the pass, and only to
PipeWire."""

from __future__ import annotations

import asyncio
import logging

from routing.backends import capguard
from routing.guard import GuardCaps, guard_caps
from routing.model import Plan, ServerKind, Snapshot
from routing.tasks import Tasks

log = logging.getLogger("routing.daemon")


class GuardPublisher:
    def __init__(self, tasks: Tasks) -> None:
        self._tasks = tasks
        self._caps: GuardCaps = capguard.installed_caps()  # what it knew last run
        self._sent: GuardCaps | None = None  # None: send again, e.g. after a reconnect
        self._delivered: GuardCaps | None = None  # what the last finished send carried
        # one send at a time: two pw-metadata processes could finish in either order and
        # leave the guard with the older caps
        self._lock = asyncio.Lock()
        self.running: bool | None = None  # did the last send reach a guard?

    def forget_sent(self) -> None:
        """A restarted WirePlumber's guard knows only its file: send the caps again."""
        self._sent = self._delivered = None

    def update(self, plan: Plan | None, snapshot: Snapshot) -> None:
        """Before the next re-plug can need them."""
        self._caps = guard_caps(plan, snapshot, self._caps)
        if snapshot.server is ServerKind.PIPEWIRE and self._caps != self._sent:
            self._sent = self._caps
            self._tasks.spawn(self._publish())

    async def _publish(self) -> None:
        async with self._lock:
            caps = self._sent  # the newest wanted, whatever was asked while we waited
            if caps is None or caps == self._delivered:
                return
            running = await capguard.publish(caps)
            self._delivered = caps
        if running:
            log.debug("cap guard: %d device(s) guarded", len(caps))
        elif self.running is not False:
            log.info(
                "no server-side cap guard is running (WirePlumber 0.5 with `dawroute init`"
                " and a WirePlumber restart): caps are kept by dawroute alone"
            )
        self.running = running

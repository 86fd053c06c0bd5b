"""Desktop notifications (config `notifications: true`): a profile change and a problem,
through the freedesktop Notifications D-Bus interface on the session bus.

jeepney speaks D-Bus in pure Python (no libdbus, no GLib main loop, no compiler) and is
small and maintained; the daemon sends one method call now and then, from a worker thread
so a slow or stuck notification server never holds up routing.

Rate limits, so a flapping cable or a broken file cannot flood the desktop:
- per kind ("profile", "problem") at most one notification per `interval` seconds; what
  arrives meanwhile is held and the newest is sent when the interval ends (the last word
  is always shown);
- a problem is shown once until a different problem is reported or `clear_problem()`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

BUS_NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
INTERFACE = "org.freedesktop.Notifications"
APP_NAME = "dawroute"
INTERVAL = 3.0  # seconds between two notifications of one kind
TIMEOUT = 2.0  # a notification server that does not answer within this is skipped
URGENCY = {"profile": 1, "problem": 2}  # normal, critical


class Unavailable(Exception):
    """No session bus or no notification server."""


def send(summary: str, body: str, kind: str, replaces: int = 0) -> int:
    """One Notify call (blocking); the id the server gave it."""
    from jeepney import DBusAddress, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    try:
        conn = open_dbus_connection(bus=session_bus())
    except (OSError, KeyError, ValueError, StopIteration) as exc:
        raise Unavailable(f"cannot connect to the session bus: {exc}") from exc
    try:
        addr = DBusAddress(PATH, bus_name=BUS_NAME, interface=INTERFACE)
        hints: dict[str, tuple[str, Any]] = {
            "urgency": ("y", URGENCY.get(kind, 1)),
            "category": ("s", "device" if kind == "profile" else "device.error"),
            "desktop-entry": ("s", APP_NAME),
        }
        msg = new_method_call(
            addr,
            "Notify",
            "susssasa{sv}i",
            (APP_NAME, replaces, "audio-card", summary, body, [], hints, -1),
        )
        try:
            reply = conn.send_and_get_reply(msg, timeout=TIMEOUT)
        except TimeoutError as exc:
            raise Unavailable("the notification server did not answer") from exc
        if reply.header.message_type.name == "error":
            raise Unavailable(f"the notification server refused: {reply.body}")
        return int(reply.body[0])
    finally:
        conn.close()


def session_bus() -> str:
    """$DBUS_SESSION_BUS_ADDRESS, else the user bus systemd keeps at $XDG_RUNTIME_DIR/bus."""
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.exists(os.path.join(runtime, "bus")):
        return f"unix:path={os.path.join(runtime, 'bus')}"
    raise Unavailable("no session bus (DBUS_SESSION_BUS_ADDRESS is not set)")


@dataclass
class _Slot:
    last_sent: float = float("-inf")
    pending: tuple[str, str] | None = None
    timer: asyncio.TimerHandle | None = None


class Notifier:
    """Rate-limited notifications from the daemon's loop; sending runs in a thread."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        interval: float = INTERVAL,
        sender: Callable[[str, str, str, int], int] = send,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._loop = loop
        self._interval = interval
        self._send = sender
        self._clock = clock
        self._slots: dict[str, _Slot] = {}
        self._problem: str | None = None
        self._warned: str | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self.sent: list[tuple[str, str, str]] = []  # (kind, summary, body), for status/tests

    def profile(self, profile: str | None, reason: str) -> None:
        self._post("profile", f"dawroute: {profile or 'no profile'}", reason)

    def problem(self, message: str) -> None:
        if message == self._problem:
            return
        self._problem = message
        self._post("problem", "dawroute: problem", message)

    def clear_problem(self) -> None:
        self._problem = None

    def _post(self, kind: str, summary: str, body: str) -> None:
        slot = self._slots.setdefault(kind, _Slot())
        wait = slot.last_sent + self._interval - self._clock()
        if wait <= 0 and slot.timer is None:
            self._dispatch(kind, summary, body)
            return
        slot.pending = (summary, body)  # the newest wins
        if slot.timer is None:
            slot.timer = self._loop.call_later(max(wait, 0.0), self._flush, kind)

    def _flush(self, kind: str) -> None:
        slot = self._slots[kind]
        slot.timer = None
        if slot.pending is not None:
            summary, body = slot.pending
            slot.pending = None
            self._dispatch(kind, summary, body)

    def _dispatch(self, kind: str, summary: str, body: str) -> None:
        slot = self._slots[kind]
        slot.last_sent = self._clock()
        # a new notification each time (no replaces_id): a server may already have
        # closed the previous one, and what replacing a closed one does differs
        job = self._loop.run_in_executor(None, self._send, summary, body, kind, 0)
        task = asyncio.ensure_future(self._finish(job, kind, summary, body), loop=self._loop)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _finish(self, job: asyncio.Future[int], kind: str, summary: str, body: str) -> None:
        try:
            await job
        except Unavailable as exc:
            if str(exc) != self._warned:  # once per cause, not per notification
                log.warning("desktop notification not shown: %s", exc)
                self._warned = str(exc)
            return
        except Exception as exc:  # a D-Bus quirk must never reach the daemon
            log.warning("desktop notification failed: %s: %s", type(exc).__name__, exc)
            return
        self._warned = None
        self.sent.append((kind, summary, body))
        log.debug("notified: %s: %s", summary, body)

    def close(self) -> None:
        for slot in self._slots.values():
            if slot.timer is not None:
                slot.timer.cancel()
                slot.timer = None

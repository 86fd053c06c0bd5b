"""The JACK side the daemon keeps: the JACK client (jackd or PipeWire's JACK) while a
profile maps DAW ports or jackd may be the backend, retried with the one Reconnect
policy; and, while jackd runs alone, the bridges that bring the other cards into it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from routing.backends.bridge import BridgeBackend
from routing.backends.jack import JackBackend, JackUnavailable
from routing.reconnect import Reconnect

log = logging.getLogger("routing.daemon")  # the daemon's log lines keep their name


class JackConnection:
    def __init__(self, changed: Callable[[str], None], poke: Callable[[str], None]) -> None:
        self.backend: JackBackend | None = None
        self._changed = changed  # JACK's graph changed: the next pass must re-observe
        self._poke = poke
        self._reset = False  # PipeWire restarted: its JACK is a new server too
        self._retry = Reconnect(0.5, 10.0)

    @property
    def alive(self) -> bool:
        return self.backend is not None and self.backend.alive

    def server_restarted(self) -> None:
        """PipeWire's libjack does not always report the restart to a JACK client (seen on
        0.3.65: no shutdown callback), so reconnect JACK with the pulse server."""
        self._reset = True
        self._retry.cancel()

    def ensure(self, wanted: bool, ports_mapped: bool) -> None:
        """Keep a connection while `wanted`; retry slowly without one (a warning when a
        profile maps DAW ports, which stay unlinked meanwhile)."""
        if not wanted:
            self.close()
            return
        if self.alive and not self._reset:
            return
        self._reset = False
        if self._retry.pending:
            return
        if self.backend is not None:
            self.backend.close()
        loop = asyncio.get_running_loop()
        self.backend = JackBackend(self._changed, loop.call_soon_threadsafe)
        try:
            self.backend.connect()
            self._retry.reset()
            self._look_again(loop)
        except JackUnavailable as exc:
            delay = self._retry.later(loop, self._poke, "jack retry")
            level = logging.WARNING if ports_mapped else logging.DEBUG
            log.log(level, "DAW ports not linked: %s; retrying in %.1f s", exc, delay)

    def _look_again(self, loop: asyncio.AbstractEventLoop) -> None:
        """Observe JACK's graph again shortly after connecting. A DAW that registered its
        ports while we connected to a restarted PipeWire 0.3.65 was never seen: no port
        callback came and the first observe did not list the ports yet (one CI run, the
        DAW stayed unlinked for 15 s). Two looks, no spin."""
        for delay in (0.25, 1.0):
            loop.call_later(delay, self._changed, "jack graph after connecting")

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
            self.backend = None


class Bridges:
    """The zita-j2a bridges while jackd runs alone; ended when another backend takes over."""

    def __init__(self, changed: Callable[[str], None]) -> None:
        self.backend: BridgeBackend | None = None
        self._changed = changed

    def for_pass(self, jackd: bool) -> BridgeBackend | None:
        if not jackd:
            self.close()
            return None
        if self.backend is None:
            self.backend = BridgeBackend()
            self.backend.watch(asyncio.get_running_loop(), self._changed)
        return self.backend

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
            self.backend = None

"""The pulse server connection (PulseAudio or pipewire-pulse), kept by a loop: connect,
follow its changes, and when it goes away — which is normal — try again with the one
Reconnect policy. The loop starts again when config.yaml's `backend` changes.

A lost connection is not closed here: a pass may be awaiting on it, and libpulse aborts
the process on a call into a freed context (context.c assertion, seen when PipeWire
stopped mid-pass). `close_dead()` closes it between passes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from routing.backends.composite import uses_pulse
from routing.backends.pulse import Disconnected, PulseBackend, ServerError
from routing.reconnect import Reconnect
from routing.settings import Config

log = logging.getLogger("routing.daemon")  # the daemon's log lines keep their name

# `backend: auto`: a pulse server that was connected and went away gets this long to come
# back (a restart) before bare ALSA takes over — ALSA clients opening the hardware
# directly meanwhile would keep the server from opening it
ALSA_GRACE_SECONDS = 2.0


class PulseConnection:
    def __init__(
        self,
        address: str | None,
        config: Callable[[], Config],
        poke: Callable[[str], None],
        changed: Callable[[str], None],
        connected: Callable[[], None],
        record: Callable[[str, str], None],
        problem: Callable[[str], None],
    ) -> None:
        self.address = address  # PULSE_SERVER-style; None = the default
        self.backend: PulseBackend | None = None
        self.down_since: float | None = time.time()
        self._config = config
        self._poke = poke  # a pass soon
        self._changed = changed  # the server changed: the next pass must re-observe
        self._connected = connected
        self._record = record
        self._problem = problem
        self._tried = False  # the first connection attempt has been made
        self._seen = False  # a pulse server was connected in this daemon's life
        self._choice_changed = asyncio.Event()
        self._dead: list[PulseBackend] = []

    def choice_changed(self) -> None:
        """config.yaml's `backend` changed: the loop starts again with the new choice."""
        self._choice_changed.set()

    async def supervise(self) -> None:
        """The server loop, started again when config.yaml's `backend` changes."""
        while True:
            self._choice_changed.clear()
            inner = asyncio.create_task(self._loop(), name="server-loop")
            changed = asyncio.create_task(self._choice_changed.wait())
            try:
                await asyncio.wait({inner, changed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in (inner, changed):
                    t.cancel()
                await asyncio.gather(inner, changed, return_exceptions=True)
            self._tried = False
            self._poke("backend choice changed")

    async def _loop(self) -> None:
        """Stay connected: a server that goes away is normal; reconnect with backoff."""
        if not uses_pulse(self._config().backend):
            self._poke("backend: alsa")  # no pulse server wanted: bare ALSA now
            await asyncio.Event().wait()  # until the supervisor restarts us
        retry = Reconnect(0.05, 5.0)
        while True:
            backend = PulseBackend(self.address)
            try:
                await backend.connect(timeout=2.0)
            except (ServerError, TimeoutError, OSError) as exc:
                backend.close()
                self._lost(f"cannot connect: {exc}")
                if not self._tried:  # bare ALSA may take over now (backend: auto)
                    self._tried = True
                    self._poke("no sound server answers")
                await retry.wait()
                continue
            except asyncio.CancelledError:
                backend.close()
                raise
            retry.reset()
            await self._follow(backend)

    async def _follow(self, backend: PulseBackend) -> None:
        self._tried = self._seen = True
        if self._config().safety.level_memory:
            await self._level_memory(backend)
        self.backend = backend
        self.down_since = None
        self._record("server", "sound server connected")
        self._connected()
        self._changed("server connected")  # full resync
        try:
            async for change in backend.changes():
                self._changed(f"{change.facility} {change.kind} #{change.index}")
        except (Disconnected, ServerError) as exc:
            self._lost(f"connection lost: {exc}")
        finally:
            self.backend = None
            self._dead.append(backend)
            self._poke("server connection lost")

    async def _level_memory(self, backend: PulseBackend) -> None:
        try:
            if await backend.ensure_level_memory():
                self._record("server", "loaded module-device-restore (safety.level_memory)")
        except ServerError as exc:
            log.warning("could not load module-device-restore: %s", exc)

    def _lost(self, why: str) -> None:
        if self.down_since is None:
            self.down_since = time.time()
            log.warning("sound server unavailable: %s", why)
            self._record("server", f"sound server unavailable ({why})")
            self._problem(f"sound server unavailable ({why})")

    def given_up(self) -> bool:
        """No pulse server to wait for: not wanted, or the first attempt failed and one that
        was connected has been gone for the grace period (a restarting server)."""
        if not uses_pulse(self._config().backend):
            return True
        if not self._tried:
            return False  # the first connection attempt decides
        down = time.time() - (self.down_since or time.time())
        if self._seen and down < ALSA_GRACE_SECONDS:
            loop = asyncio.get_running_loop()
            loop.call_later(ALSA_GRACE_SECONDS - down, self._poke, "ALSA grace")
            return False
        return True

    def close_dead(self) -> None:
        while self._dead:
            self._dead.pop().close()

    def close(self) -> None:
        self.close_dead()
        if self.backend is not None:
            self.backend.close()
            self.backend = None

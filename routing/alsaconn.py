"""Bare ALSA as the daemon keeps it: the cards (their udev and mixer events watched) while
no pulse server runs, and the ALSA default handed back when one does."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from routing import alsaconf, paths
from routing.backends.alsa import AlsaBackend, write_atomically

log = logging.getLogger("routing.daemon")  # the daemon's log lines keep their name


class AlsaConnection:
    def __init__(
        self,
        changed: Callable[[str], None],
        opened: Callable[[], None],
        record: Callable[[str, str], None],
    ) -> None:
        self.backend: AlsaBackend | None = None
        self._changed = changed  # a card or mixer changed: the next pass must re-observe
        self._opened = opened  # a snapshot from before must not be reused
        self._record = record

    def open(self) -> AlsaBackend:
        """Opened (and watched) on first use."""
        if self.backend is None:
            self.backend = AlsaBackend(paths.alsa_config_file())
            self.backend.watch(asyncio.get_running_loop(), self._changed)
            self._opened()
            self._record("server", "no pulse server: dawroute watches the ALSA cards")
        return self.backend

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
            self.backend = None

    def release_default(self) -> None:
        """A pulse server runs: the ALSA default must be its own again (PipeWire's and
        PulseAudio's ALSA plugins), not the card dawroute pointed it at without one."""
        path = paths.alsa_config_file()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            return
        if alsaconf.target_of(text) is None:
            return
        why = "a sound server runs (it carries the ALSA default)"
        try:
            write_atomically(path, alsaconf.neutral(str(path), why))
        except OSError as exc:
            log.warning("could not release the ALSA default in %s: %s", path, exc)
            return
        self._record("server", "released the ALSA default: a sound server runs")

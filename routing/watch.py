"""Changes in directories via inotify (ctypes; no polling, no extra dependency): the
configuration files, and on bare ALSA the playback devices programs open and close.

Editors save in many ways (write in place, write temp + rename, delete + create), so we
watch the directories and report any change to a .yaml file; the daemon's scheduler
coalesces the burst into one reload.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
import struct
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

IN_MODIFY = 0x002
IN_CLOSE_WRITE = 0x008
IN_CLOSE_NOWRITE = 0x010
IN_OPEN = 0x020
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_MASK = IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
_EVENT = struct.Struct("iIII")


def config_file(directory: Path, name: str) -> bool:
    """A profile or config file, or a directory that may come to hold them."""
    return name.endswith((".yaml", ".yml")) or bool(name and (directory / name).is_dir())


class DirectoryWatch:
    """Calls `on_change(path)` on the loop for the events in `mask` on the entries of the
    given directories that `wanted` picks (by default: changes to profile files)."""

    def __init__(
        self,
        directories: list[Path],
        on_change: Callable[[str], None],
        mask: int = _MASK,
        wanted: Callable[[Path, str], bool] = config_file,
        without: str = "reload with SIGHUP",  # what the user does when inotify is missing
    ) -> None:
        self._dirs = directories
        self._on_change = on_change
        self._mask = mask
        self._wanted = wanted
        self._without = without
        self._fd = -1
        self._libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._wd: dict[int, Path] = {}

    def start(self, loop: asyncio.AbstractEventLoop) -> bool:
        self._fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self._fd < 0:
            log.warning(
                "inotify unavailable (%s); %s", os.strerror(ctypes.get_errno()), self._without
            )
            return False
        self.rewatch()
        loop.add_reader(self._fd, self._read)
        return True

    def rewatch(self) -> None:
        """(Re)add watches; a directory created later (e.g. profiles/) is picked up."""
        for d in self._dirs:
            if d.is_dir() and d not in self._wd.values():
                wd = self._libc.inotify_add_watch(self._fd, os.fsencode(d), self._mask)
                if wd >= 0:
                    self._wd[wd] = d

    def _read(self) -> None:
        try:
            data = os.read(self._fd, 65536)
        except BlockingIOError:
            return
        offset = 0
        while offset + _EVENT.size <= len(data):
            wd, _mask, _cookie, length = _EVENT.unpack_from(data, offset)
            raw = data[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0")
            offset += _EVENT.size + length
            name = os.fsdecode(raw)
            directory = self._wd.get(wd)  # None for IN_IGNORED after a watched dir vanished
            if directory is None:
                continue
            if self._wanted(directory, name):
                self._on_change(str(directory / name))
        self.rewatch()

    def close(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._fd >= 0:
            loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1

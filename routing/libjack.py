"""Keeps libjack's own messages off the user's terminal and out of the journal.

libjack writes to stderr by itself whenever a client cannot reach a server —
"Cannot connect to server socket err = …", "jack server is not running or cannot be
started", "JackShmReadWritePtr::~JackShmReadWritePtr - Init not done …" — five lines
per attempt: on every `dawroute midi ports` and `daws` without JACK, and on each of the
daemon's retries. dawroute already says in its own words what is missing.

Two copies of libjack can be loaded at once: the system's (or PipeWire's), which
JACK-Client opens, and the one python-rtmidi's wheel bundles under a hashed name. Both
are found in the process's memory map and given a message handler that ignores its text.
That handler is a C function (libc's `strlen`, which only reads the string), not a Python
callback: libjack also prints from its own threads and from destructors that run at
process exit, after the interpreter has gone, where calling into Python would crash.

With debug logging (`dawroute daemon -v`, `log_level: debug`) the messages are kept.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
from pathlib import Path

_SETTERS = ("jack_set_error_function", "jack_set_info_function")
_silenced: set[str] = set()


def loaded_copies(maps: str | None = None) -> list[str]:
    """Paths of the client libjack copies mapped into this process (not libjackserver or
    libjacknet, which a client does not use)."""
    if maps is None:
        try:
            maps = Path("/proc/self/maps").read_text()
        except OSError:
            return []
    found: dict[str, None] = {}
    for line in maps.splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or not fields[5].startswith("/") or fields[5].endswith(" (deleted)"):
            continue
        name = os.path.basename(fields[5])
        if (
            name.startswith("libjack")
            and ".so" in name
            and not name.startswith(("libjackserver", "libjacknet"))
        ):
            found[fields[5]] = None
    return list(found)


def share_system_copy() -> None:
    """Load the libjack the dynamic linker finds (`pw-jack`'s, PipeWire's, through
    LD_LIBRARY_PATH; else the system's) into the global symbol scope, before python-rtmidi
    is imported: the library the wheel bundles then resolves its JACK calls there, so
    MIDI reaches the same server as the port links. Without a system libjack the wheel's
    own copy serves, as before."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libjack.so.0", mode=os.RTLD_GLOBAL | os.RTLD_NOW)


def silence() -> None:
    """Give every loaded libjack a handler that drops its messages (once per copy); call
    after importing `jack` or `rtmidi`, which load theirs."""
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        return
    ignore = ctypes.cast(ctypes.CDLL(None).strlen, ctypes.c_void_p)
    for path in loaded_copies():
        if path in _silenced:
            continue
        _silenced.add(path)
        try:
            lib = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_NOW)
        except OSError:  # unmapped since /proc/self/maps was read
            continue
        for name in _SETTERS:
            setter = getattr(lib, name, None)
            if setter is not None:
                setter.argtypes = [ctypes.c_void_p]
                setter.restype = None
                setter(ignore)

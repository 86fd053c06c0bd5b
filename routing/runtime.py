"""What keeps one daemon process healthy and alone: descriptor limits, a quiet asyncio
exception handler, the private runtime directory and the single-instance lock."""

from __future__ import annotations

import asyncio
import fcntl
import gc
import logging
import math
import os
import resource
import stat
import time
from pathlib import Path
from typing import Any

from routing.errors import AlreadyRunning, PermissionDenied

log = logging.getLogger(__name__)

REPEAT_SECONDS = 60.0  # the same loop error is logged at most once a minute


def freeze_startup_objects() -> None:
    """Keep what start-up made (modules, the profile format's validators, ~41,000 objects)
    out of the cyclic garbage collector's full collections: each took ~5.5 ms (10 ms the
    first time), a stall in whatever pass it fell on — a hot-plug's p99. The passes'
    own short-lived objects are still collected."""
    gc.collect()
    gc.freeze()


def raise_fd_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (the usual 1024 is low for a server);
    returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def connection_cap(fd_limit: int, wanted: int = 64) -> int:
    """Control connections allowed with `fd_limit` descriptors: leave ~100 for the sound
    server, MIDI, inotify, state saves and reloads, and take half of the rest at most."""
    return max(4, min(wanted, (fd_limit - 100) // 2))


def install_exception_handler(loop: asyncio.AbstractEventLoop) -> None:
    """Errors asyncio reports itself (e.g. accept() failing with EMFILE, retried every
    second) are logged as one line, once a minute per kind, with a count of repeats:
    running out of descriptors must not fill the disk with tracebacks."""
    last: dict[str, float] = {}
    repeats: dict[str, int] = {}

    def handler(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, asyncio.CancelledError):  # connections cut at shutdown
            return
        message = str(context.get("message") or "event loop error")
        key = f"{message}|{type(exc).__name__}"
        now = time.monotonic()
        if now - last.get(key, -math.inf) < REPEAT_SECONDS:
            repeats[key] = repeats.get(key, 0) + 1
            return
        last[key] = now
        n = repeats.pop(key, 0)
        more = f" ({n} more in the last minute)" if n else ""
        detail = f": {exc}" if exc is not None else ""
        if isinstance(exc, OSError) or exc is None:
            log.error("%s%s%s", message, detail, more)
        else:  # a bug: the first one gets its traceback
            log.error("%s%s%s", message, detail, more, exc_info=exc)

    loop.set_exception_handler(handler)


def ensure_private_dir(path: Path) -> None:
    """Create `path` 0700, or check an existing one is a real directory of ours that no
    one else can enter; PermissionDenied with a sentence otherwise."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise PermissionDenied(f"cannot create {path}: {exc.strerror}") from exc
    st = os.lstat(path)
    fix = "remove it (or set XDG_RUNTIME_DIR to a private directory) and start again"
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise PermissionDenied(f"{path} is not a directory (a symlink or a file) — {fix}")
    if st.st_uid != os.getuid():
        raise PermissionDenied(
            f"{path} belongs to uid {st.st_uid}, not to you (uid {os.getuid()}): another user "
            f"could answer in the daemon's place — {fix}"
        )
    if st.st_mode & 0o077:
        raise PermissionDenied(
            f"{path} has mode {stat.S_IMODE(st.st_mode):04o}: other users can enter it; "
            f"it must be 0700 — `chmod 700 {path}`, or {fix}"
        )


LOCK_NAME = "daemon.lock"


def acquire_lock(directory: Path) -> int:
    """flock() `directory`/daemon.lock for this process's lifetime and write our pid in
    it; AlreadyRunning naming the holder's pid when another daemon has it. The kernel
    drops the lock when the process ends, however it ends."""
    path = directory / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise AlreadyRunning(
            f"another dawroute daemon is already running (pid {holder}, lock {path}) — "
            "use it (`dawroute status`), or stop it first (`systemctl --user stop dawroute` "
            f"or `kill {holder}`)"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd

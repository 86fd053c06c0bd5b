"""`Control` over the control socket, for the CLI — without asyncio.

Importing asyncio costs ~60 ms, most of a `dawroute status` (measured with
`python -X importtime`, see docs/benchmarks.md), so the client talks over a blocking
socket. Its methods are still coroutines (they implement the same `Control` protocol as
the daemon) that never suspend: `run()` drives one to completion without an event loop,
and they work unchanged under asyncio.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import time
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, TypeVar, cast

from routing.contract import MAX_REPLY, Changed, Event, Listing, Reloaded, Status
from routing.errors import (
    ERRORS_BY_NAME,
    DaemonNotResponding,
    DaemonNotRunning,
    DawrouteError,
    PermissionDenied,
    clean_all,
)

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (ControlClient's) to its result."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("ControlClient coroutines must not suspend")


def follow(agen: AsyncIterator[T]) -> Any:
    """Iterate ControlClient.watch() without an event loop."""
    while True:
        try:
            yield run(agen.__anext__())  # type: ignore[arg-type]
        except StopAsyncIteration:
            return


class ControlClient:
    """Implements routing.contract.Control over the socket."""

    def __init__(self, path: Path | str, timeout: float = 30.0) -> None:
        self._path = str(path)
        self._timeout = timeout
        self._next_id = 0

    def _open(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        sock.settimeout(self._timeout)
        try:
            self._connect(sock)
        except PermissionError as exc:
            sock.close()
            raise PermissionDenied(f"cannot open {self._path}: it belongs to another user") from exc
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            sock.close()
            raise DaemonNotRunning(
                "daemon not running — start it with `systemctl --user start dawroute` "
                "(or `dawroute daemon`)"
            ) from exc
        except (BlockingIOError, TimeoutError) as exc:
            sock.close()
            raise DaemonNotResponding(
                f"the daemon is not accepting connections (tried for {self._timeout:g} s) — "
                "it may be overloaded; `systemctl --user restart dawroute` restarts it"
            ) from exc
        self._check_peer(sock)
        return sock

    def _check_peer(self, sock: socket.socket) -> None:
        """Only our own user's daemon may answer: anyone who could create the socket
        file first (a shared /tmp) could otherwise tell us anything."""
        try:
            creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
            pid, uid, _gid = struct.unpack("3i", creds)
        except OSError as exc:
            sock.close()
            raise PermissionDenied(f"cannot tell who answers on {self._path}: {exc}") from exc
        if uid != os.getuid():
            sock.close()
            raise PermissionDenied(
                f"{self._path} is answered by a process of uid {uid} (pid {pid}), not by your "
                "daemon — refusing to talk to it; remove the socket's directory and start "
                "dawroute again"
            )

    def _connect(self, sock: socket.socket) -> None:
        """connect(); a full listen queue fails at once with EAGAIN on a Unix socket, so
        retry that until the timeout instead of giving up on the first try."""
        deadline = time.monotonic() + self._timeout
        delay = 0.01
        while True:
            try:
                sock.connect(self._path)
                return
            except BlockingIOError:
                if time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def _call(self, method: str, **params: Any) -> dict[str, Any]:
        """The result object of one call. Its shape is the contract's (the methods below
        cast it): the daemon builds it from the same TypedDicts."""
        self._next_id += 1
        with self._open() as sock:
            try:
                sock.sendall(_line({"id": self._next_id, "method": method, "params": params}))
                reply = _read_line(sock.makefile("rb"))
            except TimeoutError:
                raise DaemonNotResponding(
                    f"the daemon did not answer within {self._timeout:g} s — it may be stuck; "
                    "`systemctl --user restart dawroute` restarts it (DAWROUTE_TIMEOUT waits longer)"
                ) from None
            except (ConnectionResetError, BrokenPipeError):
                reply = b""  # closed on us: said below
        return _unwrap(reply)

    async def status(self) -> Status:
        return cast(Status, self._call("status"))

    async def list(self) -> Listing:
        return cast(Listing, self._call("list"))

    async def switch(self, profile: str) -> Changed:
        return cast(Changed, self._call("switch", profile=profile))

    async def auto(self) -> Changed:
        return cast(Changed, self._call("auto"))

    async def off(self) -> Changed:
        return cast(Changed, self._call("off"))

    async def next(self) -> Changed:
        return cast(Changed, self._call("next"))

    async def previous(self) -> Changed:
        return cast(Changed, self._call("previous"))

    async def reload(self) -> Reloaded:
        return cast(Reloaded, self._call("reload"))

    async def watch(self) -> AsyncIterator[Event]:
        with self._open() as sock:
            sock.settimeout(None)  # events come when they come
            sock.sendall(_line({"id": 1, "method": "watch", "params": {}}))
            reader = sock.makefile("rb")
            while line := _read_line_or_eof(reader):
                msg = _parse(line)
                if "error" in msg:
                    _unwrap(line)
                event = msg.get("event")
                if not isinstance(event, dict):
                    raise DawrouteError("the daemon sent an event that is not an object")
                yield cast(Event, event)


def _line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def _read_line(reader: Any) -> bytes:
    """One reply line of any size the daemon sends (up to MAX_REPLY)."""
    line: bytes = reader.readline(MAX_REPLY + 1)
    if line and not line.endswith(b"\n"):
        if len(line) > MAX_REPLY:
            raise DawrouteError(f"the daemon's reply is longer than {MAX_REPLY} bytes")
        raise DaemonNotRunning("the daemon closed the connection in the middle of its reply")
    return line


def _read_line_or_eof(reader: Any) -> bytes:
    try:
        return _read_line(reader)
    except (ConnectionResetError, BrokenPipeError):
        return b""


def _parse(line: bytes) -> dict[str, Any]:
    try:
        msg = json.loads(line)
    except (ValueError, RecursionError):
        msg = None
    if not isinstance(msg, dict):
        raise DawrouteError("the daemon's reply is not a JSON object")
    cleaned: dict[str, Any] = clean_all(msg)  # it is printed to a terminal
    return cleaned


def _unwrap(line: bytes) -> dict[str, Any]:
    if not line:
        raise DaemonNotRunning("the daemon closed the connection without answering")
    msg = _parse(line)
    if "error" in msg:
        err = msg["error"] if isinstance(msg["error"], dict) else {}
        cls = ERRORS_BY_NAME.get(str(err.get("name")), DawrouteError)
        raise cls(str(err.get("message", "unknown error")))
    result = msg.get("result")
    if not isinstance(result, dict):
        raise DawrouteError("the daemon's reply has no result")
    return result

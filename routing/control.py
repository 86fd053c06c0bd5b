"""The control socket's server side: serves a `Control` (routing.contract) to the CLI.

`Control` is the one contract. The daemon implements it; `routing.client.ControlClient`
implements it over the socket; errors cross as names (errors.ERRORS_BY_NAME) and come
back as the same exception types.

Request:  {"id": 1, "method": "switch", "params": {"profile": "usb-amp"}}
Reply:    {"id": 1, "result": {...}}  or  {"id": 1, "error": {"name": "...", "message": "..."}}
`watch` replies with one {"id": 1, "event": {...}} line per decision until the client leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import struct
import time
from pathlib import Path
from typing import Any

from routing.contract import MAX_LINE, MAX_REPLY, METHODS, Control
from routing.errors import BadRequest, DawrouteError, PermissionDenied

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 64  # beyond this the longest-idle connection is closed for a new one
IDLE_SECONDS = 60.0  # a connection that sends no complete request for this long is closed


# ---------------------------------------------------------------- server


class ControlServer:
    """Serves a `Control` on a Unix socket (mode 0600, peer uid checked)."""

    def __init__(
        self,
        handler: Control,
        path: Path,
        *,
        max_connections: int = MAX_CONNECTIONS,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self._handler = handler
        self._path = path
        self._server: asyncio.AbstractServer | None = None
        self._max = max_connections
        self._idle_seconds = idle_seconds
        # open connections → when they started waiting for a request (None: busy/watching)
        self._conns: dict[asyncio.StreamWriter, float | None] = {}
        self._refused_logged = 0.0

    async def start(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()  # a stale socket from a killed daemon
        old = os.umask(0o177)  # the socket is born 0600: no window where others can connect
        try:
            self._server = await asyncio.start_unix_server(self._serve, self._path, limit=MAX_LINE)
        finally:
            os.umask(old)
        os.chmod(self._path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()

    def _make_room(self) -> bool:
        """At the cap, close the connection idle longest; False if every one is busy."""
        if len(self._conns) < self._max:
            return True
        idle = [(since, w) for w, since in self._conns.items() if since is not None]
        if not idle:
            return False
        _, oldest = min(idle, key=lambda t: t[0])
        self._conns.pop(oldest, None)
        oldest.close()  # its readline() sees EOF and its handler ends
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._make_room():
            now = time.monotonic()
            if now - self._refused_logged > 60:
                self._refused_logged = now
                log.warning("control socket: %d connections busy; refusing more", self._max)
            with contextlib.suppress(Exception):
                busy = DawrouteError(f"the daemon is serving {self._max} connections; try again")
                await _send(writer, {"id": None, "error": _error(busy)})
            writer.close()
            return
        self._conns[writer] = time.monotonic()
        try:
            if not _same_user(writer):
                await _send(
                    writer,
                    {
                        "id": None,
                        "error": _error(PermissionDenied("the daemon belongs to another user")),
                    },
                )
                return
            while True:
                self._conns[writer] = time.monotonic()
                try:
                    line = await asyncio.wait_for(reader.readline(), self._idle_seconds)
                except TimeoutError:
                    return  # idle: close quietly, the client reconnects when it wants
                except (ValueError, asyncio.LimitOverrunError):
                    await _send(
                        writer,
                        {
                            "id": None,
                            "error": _error(BadRequest(f"request larger than {MAX_LINE} bytes")),
                        },
                    )
                    return
                if not line:
                    return
                self._conns[writer] = None
                await self._answer(line, writer)
        except (ConnectionError, BrokenPipeError):
            pass
        finally:
            self._conns.pop(writer, None)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, line: bytes, writer: asyncio.StreamWriter) -> None:
        """One request line → one reply line; whatever the line holds, never an exception."""
        rid: Any = None
        try:
            req = _decode(line)
            rid = _request_id(req.get("id"))
            method = req.get("method")
            params = req.get("params") or {}
            if not isinstance(params, dict):
                raise BadRequest("params must be an object")
            if method == "watch":
                async for event in self._handler.watch():
                    await _send(writer, {"id": rid, "event": event})
                return
            if not isinstance(method, str) or method not in METHODS:
                shown = repr(method) if len(repr(method)) <= 80 else repr(method)[:77] + "…"
                raise BadRequest(f"unknown method {shown}")
            if method == "switch":
                profile = params.get("profile")
                if not isinstance(profile, str):
                    raise BadRequest("switch needs params.profile (a string)")
                result = await self._handler.switch(profile)
            else:
                result = await getattr(self._handler, method)()
            await _send(writer, {"id": rid, "result": result})
        except DawrouteError as exc:
            await _send(writer, {"id": rid, "error": _error(exc)})
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug, not the client's fault: one log line, an answer
            log.error("control request failed: %s: %s", type(exc).__name__, exc)
            await _send(
                writer, {"id": rid, "error": _error(DawrouteError(f"internal error: {exc}"))}
            )


MAX_ID_CHARS = 128


def _decode(line: bytes) -> dict[str, Any]:
    """A request object from one line, or BadRequest saying what is wrong with it."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"not UTF-8 text (bad byte at offset {exc.start})") from None
    try:
        req = json.loads(text)
    except RecursionError:
        raise BadRequest("not JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and int() refusing a 5,000-digit number
        raise BadRequest(f"not JSON: {str(exc)[:200]}") from None
    if not isinstance(req, dict):
        raise BadRequest("a request is a JSON object")
    return req


def _request_id(rid: Any) -> int | str | None:
    """The id to echo back: a number or a short string (anything else is refused)."""
    if rid is None or (isinstance(rid, int) and not isinstance(rid, bool) and abs(rid) < 2**53):
        return rid
    if isinstance(rid, str) and len(rid) <= MAX_ID_CHARS:
        return rid
    raise BadRequest(
        f"id must be null, an integer below 2**53 or a string of at most {MAX_ID_CHARS} characters"
    )


def _same_user(writer: asyncio.StreamWriter) -> bool:
    sock = writer.get_extra_info("socket")
    if sock is None:
        return False
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return False
    _pid, uid, _gid = struct.unpack("3i", creds)
    return bool(uid == os.getuid())


def _error(exc: DawrouteError) -> dict[str, str]:
    return {"name": exc.name, "message": exc.message}


def _encode(obj: dict[str, Any]) -> bytes:
    """One reply line, never longer than MAX_REPLY (the CLI reads up to that)."""
    data = json.dumps(obj).encode() + b"\n"
    if len(data) > MAX_REPLY:
        log.warning("reply of %d bytes not sent: over the %d byte limit", len(data), MAX_REPLY)
        too_big = DawrouteError(
            f"the reply would be {len(data)} bytes, over the limit of {MAX_REPLY}"
        )
        data = json.dumps({"id": obj.get("id"), "error": _error(too_big)}).encode() + b"\n"
    return data


async def _send(writer: asyncio.StreamWriter, obj: dict[str, Any]) -> None:
    writer.write(_encode(obj))
    await writer.drain()

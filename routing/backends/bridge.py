"""Bridges that bring a card into a running jackd: one `zita-j2a` process per card the
active profile plays on besides jackd's own (Debian package `zita-ajbridge`). It starts
and stops them when told (StartBridge, StopBridge) and says which are running; it never
decides which card needs one (routing.jackplan does).

A bridge is a child of the daemon: it ends with it (the parent-death signal, through
util-linux's `setpriv`, also when the daemon is killed). Its output goes to the log; its
end (the card unplugged, jackd gone, a PCM it cannot open) pokes the caller, which
re-observes. A bridge that ended is not started again for RETRY_SECONDS: a card that
cannot be opened is reported as a failed op, not restarted in a loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from routing.model import ApplyResult, Op, StartBridge, StopBridge

log = logging.getLogger(__name__)

COMMAND = "zita-j2a"
RETRY_SECONDS = 5.0
STOP_SECONDS = 2.0


@dataclass
class _Running:
    proc: subprocess.Popen[bytes]
    op: StartBridge
    tail: bytes = b""  # the last output, for the reason it ended


class BridgeBackend:
    def __init__(self, command: str = COMMAND) -> None:
        self.command = command
        self._running: dict[str, _Running] = {}
        self._ended: dict[str, tuple[float, str]] = {}  # client → (when, why), recently
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poke: Callable[[str], None] = lambda _why: None

    def watch(self, loop: asyncio.AbstractEventLoop, poke: Callable[[str], None]) -> None:
        """A bridge that ends pokes `poke`."""
        self._loop, self._poke = loop, poke

    def running(self) -> tuple[str, ...]:
        """The JACK clients of the bridges started and not ended."""
        return tuple(c for c, r in self._running.items() if r.proc.poll() is None)

    @staticmethod
    def available(command: str = COMMAND) -> bool:
        return shutil.which(command) is not None

    # ------------------------------------------------------------ apply

    def apply(self, ops: Sequence[Op]) -> ApplyResult:
        done: list[Op] = []
        failed: list[tuple[Op, str]] = []
        for op in ops:
            try:
                match op:
                    case StartBridge():
                        self._start(op)
                    case StopBridge():
                        self._stop(op.client)
                    case _:
                        raise TypeError(f"not a bridge op: {op.describe()}")
            except (OSError, LookupError) as exc:
                log.warning("could not %s: %s", op.describe(), exc)
                failed.append((op, str(exc) or type(exc).__name__))
            else:
                log.info("%s", op.describe())
                done.append(op)
        return ApplyResult(tuple(done), tuple(failed))

    def _start(self, op: StartBridge) -> None:
        current = self._running.get(op.client)
        if current is not None and current.proc.poll() is None:
            return
        ended = self._ended.get(op.client)
        if ended is not None and time.monotonic() - ended[0] < RETRY_SECONDS:
            raise LookupError(f"it ended {ended[1]}; trying again in a few seconds")
        exe = shutil.which(self.command)
        if exe is None:
            raise LookupError(
                f"{self.command} is not installed (Debian package zita-ajbridge): the card "
                "cannot join the JACK graph"
            )
        argv = [exe, "-d", op.pcm, "-j", op.client, "-c", str(op.channels)]
        setpriv = shutil.which("setpriv")
        if setpriv is not None:  # the bridge ends with the daemon, even a killed one
            argv = [setpriv, "--pdeathsig", "TERM", *argv]
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._running[op.client] = _Running(proc, op)
        self._ended.pop(op.client, None)
        if self._loop is not None and proc.stdout is not None:
            os.set_blocking(proc.stdout.fileno(), False)
            self._loop.add_reader(proc.stdout.fileno(), self._output, op.client)

    def _output(self, client: str) -> None:
        r = self._running.get(client)
        if r is None or r.proc.stdout is None:
            return
        try:
            data = os.read(r.proc.stdout.fileno(), 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            r.tail = (r.tail + data)[-2000:]
            for line in data.decode(errors="replace").splitlines():
                if line.strip():
                    log.info("bridge %s: %s", client, line.strip())
            return
        self._forget(client, r)
        code = r.proc.wait()
        why = f"(exit status {code}: {_last_line(r.tail)})"
        self._ended[client] = (time.monotonic(), why)
        log.warning("the JACK bridge '%s' for %s ended %s", client, r.op.label, why)
        if self._loop is not None:
            self._loop.call_later(RETRY_SECONDS, self._poke, f"bridge {client} retry")
        self._poke(f"bridge {client} ended")

    def _forget(self, client: str, r: _Running) -> None:
        if self._running.get(client) is r:
            del self._running[client]
        if self._loop is not None and r.proc.stdout is not None:
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_reader(r.proc.stdout.fileno())
        if r.proc.stdout is not None:
            with contextlib.suppress(OSError):
                r.proc.stdout.close()

    def _stop(self, client: str) -> None:
        r = self._running.get(client)
        if r is None:
            return
        self._forget(client, r)
        if r.proc.poll() is None:
            r.proc.send_signal(signal.SIGTERM)  # our own child, by its PID
            try:
                r.proc.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                r.proc.kill()
                r.proc.wait(STOP_SECONDS)
        self._ended.pop(client, None)

    def close(self) -> None:
        """End every bridge (the daemon stops)."""
        for client in list(self._running):
            self._stop(client)


def _last_line(tail: bytes) -> str:
    lines = [x.strip() for x in tail.decode(errors="replace").splitlines() if x.strip()]
    return lines[-1] if lines else "no output"

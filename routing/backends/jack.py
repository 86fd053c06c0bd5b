"""JACK port graph (jackd, or PipeWire's JACK) through JACK-Client: observe ports and
links, connect and disconnect. It never decides which links should exist.

JACK calls back on its own thread; callbacks only hand a poke to the asyncio loop.
On PipeWire the process must load PipeWire's libjack (run under `pw-jack`, or with
LD_LIBRARY_PATH pointing at pipewire-0.3/jack): JACK-Client finds libjack by name.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from typing import Any

from routing import libjack
from routing.model import (
    ApplyResult,
    Connect,
    Device,
    Direction,
    Disconnect,
    Link,
    Op,
    Port,
)

log = logging.getLogger(__name__)

CLIENT_NAME = "dawroute"


# reads of the port graph while ports come and go under it, READ_PAUSE seconds apart: a
# client registering ports in a loop failed three reads in a row in one CI run; a DAW
# loading a session registers them in bursts of milliseconds
READ_TRIES = 10
READ_PAUSE = 0.001


class JackUnavailable(RuntimeError):
    pass


class JackBackend:
    def __init__(
        self, poke: Callable[[str], None], call_soon_threadsafe: Callable[..., Any]
    ) -> None:
        self._poke = poke
        self._hand_over = call_soon_threadsafe
        self._client: Any = None
        self.alive = False
        self.version = ""  # the JACK library's version, once connected

    def connect(self) -> None:
        os.environ.setdefault("JACK_NO_START_SERVER", "1")
        try:
            import jack
        except OSError as exc:  # libjack missing
            raise JackUnavailable(str(exc)) from exc
        libjack.silence()
        try:
            client = jack.Client(CLIENT_NAME, no_start_server=True)
        except jack.JackError as exc:
            raise JackUnavailable(f"no JACK server: {exc}") from exc
        poke = self._hand_over
        client.set_port_registration_callback(
            lambda _p, _r: poke(self._poke, "jack port"), only_available=False
        )
        client.set_port_connect_callback(
            lambda _a, _b, _c: poke(self._poke, "jack link"), only_available=False
        )
        client.set_shutdown_callback(lambda _s, _r: poke(self._lost))
        client.activate()
        self._client = client
        self.alive = True
        self.version = jack.version_string()
        log.info("connected to JACK (%s)", self.version)

    def _lost(self) -> None:
        log.warning("JACK server went away")
        self.alive = False
        self._poke("jack gone")

    def observe(self) -> tuple[tuple[Port, ...], frozenset[Link], tuple[Device, ...]]:
        """Ports, links, and jackd's hardware as devices (PipeWire's are pulse sinks)."""
        c = self._client
        if c is None or not self.alive:
            raise JackUnavailable("not connected")
        import jack  # loaded already: connect() imported it

        last: Exception | None = None
        for _ in range(READ_TRIES):
            try:
                return self._read(c)
            except jack.JackError as exc:
                # a port went away between listing the names and looking each one up
                # (seen in CI: a pass died on it and a switch timed out); its own
                # unregistration event follows, and a second read is consistent
                log.debug("JACK ports changed while read (%s): reading again", exc)
                last = exc
                time.sleep(READ_PAUSE)  # off the common path: only while ports churn
        raise JackUnavailable(f"JACK ports kept changing while read: {last}") from last

    def _read(self, c: Any) -> tuple[tuple[Port, ...], frozenset[Link], tuple[Device, ...]]:
        raw = [p for p in c.get_ports(is_audio=True) if not p.name.startswith(f"{CLIENT_NAME}:")]
        playback: dict[str, list[Any]] = {}
        for p in raw:
            if _is_playback(p):
                playback.setdefault(p.name.split(":", 1)[0], []).append(p)
        ports: list[Port] = []
        for p in raw:
            client = p.name.split(":", 1)[0]
            channel = _channel(p, playback.get(client, [])) if _is_playback(p) else None
            ports.append(Port(p.name, client, p.is_output, p.is_physical, channel))
        links = frozenset(
            Link(p.name, q.name) for p in raw if p.is_output for q in c.get_all_connections(p)
        )
        devices = tuple(
            Device(
                name=client,
                description=client,
                direction=Direction.SINK,
                bus="jack",
                channels=tuple(_channel(p, members) or "?" for p in members),
                api="jack",
            )
            for client, members in playback.items()
            if client == "system"
        )
        return tuple(ports), links, devices

    def apply(self, ops: list[Op]) -> ApplyResult:
        done: list[Op] = []
        failed: list[tuple[Op, str]] = []
        for op in ops:
            try:
                if isinstance(op, Connect):
                    self._client.connect(op.link.source, op.link.target)
                elif isinstance(op, Disconnect):
                    self._client.disconnect(op.link.source, op.link.target)
                else:
                    failed.append((op, "not a JACK operation"))
                    continue
                log.info("%s", op.describe())
                done.append(op)
            except Exception as exc:  # jack.JackError and friends: the port went away
                log.warning("could not %s: %s", op.describe(), exc)
                failed.append((op, str(exc)))
        return ApplyResult(tuple(done), tuple(failed))

    def close(self) -> None:
        if self._client is not None:
            try:
                if self.alive:
                    self._client.deactivate()
                self._client.close()
            except Exception:  # the server may be gone already
                pass
            self._client = None
        self.alive = False


def _is_playback(port: Any) -> bool:
    """A device's playback port. PipeWire >= 1.0 flags only ALSA nodes' ports physical (a
    virtual or network sink's are not); its sinks' inputs are all named playback_*."""
    return bool(port.is_input and (port.is_physical or port.shortname.startswith("playback_")))


def _channel(port: Any, siblings: list[Any]) -> str | None:
    """PipeWire names the channel ("playback_AUX2"); jackd numbers it ("playback_3")."""
    short = port.shortname
    m = re.fullmatch(r"playback_([A-Z]+\d*)", short)
    if m and not m.group(1).isdigit():
        return m.group(1)
    m = re.fullmatch(r"playback_(\d+)", short)
    if not m:
        return None
    n = int(m.group(1))
    if len(siblings) == 2:
        return ("FL", "FR")[n - 1] if n in (1, 2) else None
    return f"AUX{n - 1}"

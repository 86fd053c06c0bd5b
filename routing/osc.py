"""Open Sound Control: commands in over UDP, the daemon's state out to feedback clients.

Commands (what MIDI triggers do, through the same daemon request path):
  /dawroute/switch NAME   /dawroute/toggle A B   /dawroute/auto   /dawroute/next
  /dawroute/previous      /dawroute/volume_up    /dawroute/volume_down
  /dawroute/refresh       (send the feedback again)
Feedback, after every change and on /dawroute/refresh:
  /dawroute/active s NAME ("" for none)   /dawroute/manual i 0|1
  /dawroute/profile/NAME i 1|0 (one per profile: for buttons)
  /dawroute/problems i COUNT              /dawroute/problem s TEXT (one per problem)

OSC has no authentication: the config only allows loopback addresses unless
`allow_remote: true`. A datagram that is not OSC, or not one of our commands, is ignored
and counted; the log gets at most one line about them per LOG_EVERY seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket

from routing.format.endpoint import parse_endpoint
from routing.settings import Osc
from routing.triggers import Action, Do

log = logging.getLogger(__name__)

PREFIX = "/dawroute/"
LOG_EVERY = 10.0  # seconds between two log lines about ignored datagrams
MAX_MESSAGES = 16  # per datagram (a bundle); the rest is ignored
SIMPLE = {
    "auto": Do.AUTO,
    "next": Do.NEXT,
    "previous": Do.PREVIOUS,
    "volume_up": Do.VOLUME_UP,
    "volume_down": Do.VOLUME_DOWN,
}


# ---------------------------------------------------------------- addresses (pure)


# ---------------------------------------------------------------- messages (pure)


def action_for(address: str, args: Sequence[Any], active: str | None) -> Action | str:
    """The action an OSC message asks for, or why it is ignored."""
    if not address.startswith(PREFIX):
        return f"not a dawroute address: {address[:60]}"
    what = address[len(PREFIX) :]
    texts = [a for a in args if isinstance(a, str)]
    if what == "switch":
        if len(args) != 1 or len(texts) != 1 or not texts[0]:
            return "/dawroute/switch takes one string: the profile name"
        return Action(Do.SWITCH, texts[0])
    if what == "toggle":
        if len(args) != 2 or len(texts) != 2:
            return "/dawroute/toggle takes two strings: two profile names"
        a, b = texts
        return Action(Do.SWITCH, b if active == a else a)
    if what in SIMPLE:
        # buttons send 1 on press and 0 on release: only the press acts
        if args and not _pressed(args[0]):
            return "released"
        return Action(SIMPLE[what])
    return f"unknown command {address[:60]}"


def _pressed(value: Any) -> bool:
    return bool(value) if isinstance(value, int | float | bool) else True


@dataclass(frozen=True, slots=True)
class View:
    """What the feedback shows."""

    active: str | None
    manual: bool
    profiles: tuple[str, ...]
    problems: tuple[str, ...]


def feedback_messages(view: View) -> list[tuple[str, list[Any]]]:
    out: list[tuple[str, list[Any]]] = [
        (f"{PREFIX}active", [view.active or ""]),
        (f"{PREFIX}manual", [int(view.manual)]),
    ]
    out += [(f"{PREFIX}profile/{name}", [int(name == view.active)]) for name in view.profiles]
    out.append((f"{PREFIX}problems", [len(view.problems)]))
    out += [(f"{PREFIX}problem", [p]) for p in view.problems]
    return out


def encode(address: str, args: Sequence[Any]) -> bytes:
    builder = OscMessageBuilder(address=address)
    for a in args:
        builder.add_arg(a)
    return builder.build().dgram


def decode(data: bytes) -> list[tuple[str, list[Any]]]:
    """(address, args) of every message in a datagram (bundles flattened, their time
    tags ignored: a command acts now), or ValueError if it is not OSC."""
    try:
        packet = OscPacket(data)
        return [(m.message.address, list(m.message.params)) for m in packet.messages]
    except Exception as exc:  # python-osc raises more than ParseError on garbage
        raise ValueError(f"{type(exc).__name__}: {str(exc)[:80]}") from None


# ---------------------------------------------------------------- the socket


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Callable[[bytes, Any], None]) -> None:
        self._on_datagram = on_datagram

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self._on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:  # e.g. ICMP port unreachable
        log.debug("OSC socket: %s", exc)


OnAction = Callable[[Action, str], None]


class OscControl:
    """Listens for commands and sends feedback. I/O only: actions go to `on_action`
    (the daemon), which asks for them like the CLI and MIDI do."""

    def __init__(self, config: Osc, on_action: OnAction, active: Callable[[], str | None]) -> None:
        self.config = config
        self._on_action = on_action
        self._active = active
        self._transport: asyncio.DatagramTransport | None = None
        self._targets = [parse_endpoint(t) for t in config.feedback]
        self._last: View | None = None  # what was sent
        self._shown: View | None = None  # what the daemon last showed us
        self.problem: str | None = None  # why it is not listening, for status and logs
        self.ignored = 0  # datagrams and messages ignored since start
        self._unlogged = 0
        self._last_log = -LOG_EVERY

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.config.listen is not None:
            ep = parse_endpoint(self.config.listen)
            where = (ep.host, ep.port)
        else:  # feedback only: an ephemeral port on the right interface
            first = self._targets[0]
            where = ("::1" if ":" in first.host else "127.0.0.1", 0)
            if not all(t.loopback for t in self._targets):
                where = ("::" if ":" in first.host else "0.0.0.0", 0)
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Protocol(self._datagram), local_addr=where
            )
        except OSError as exc:
            self.problem = f"OSC cannot listen on {where[0]}:{where[1]}: {exc.strerror or exc}"
            log.error("%s", self.problem)
            return
        self._transport = transport
        if self.config.listen is not None:
            log.info("OSC listening on %s", self.config.listen)

    def status(self) -> dict[str, Any]:
        return {
            "listen": self.config.listen if self._transport is not None else None,
            "feedback": list(self.config.feedback),
            "ignored": self.ignored,
            "problems": [self.problem] if self.problem else [],
        }

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    # ------------------------------------------------------------ in

    def _datagram(self, data: bytes, addr: Any) -> None:
        try:
            messages = decode(data)
        except ValueError as exc:
            self._ignore(f"not an OSC packet from {_peer(addr)} ({exc})")
            return
        if len(messages) > MAX_MESSAGES:
            self._ignore(f"{len(messages)} messages in one packet, the first {MAX_MESSAGES} used")
            messages = messages[:MAX_MESSAGES]
        for address, args in messages:
            if address == f"{PREFIX}refresh":
                self._last = None
                self.update(self._view_again())
                continue
            action = action_for(address, args, self._active())
            if isinstance(action, str):
                if action != "released":
                    self._ignore(f"{action} (from {_peer(addr)})")
                continue
            self._on_action(action, _peer(addr))

    def _ignore(self, why: str) -> None:
        """Count it; log at most one line per LOG_EVERY seconds (a flood costs no disk)."""
        self.ignored += 1
        self._unlogged += 1
        now = time.monotonic()
        if now - self._last_log >= LOG_EVERY:
            more = f" (and {self._unlogged - 1} more ignored)" if self._unlogged > 1 else ""
            log.warning("OSC: ignored %s%s", why, more)
            self._last_log = now
            self._unlogged = 0

    # ------------------------------------------------------------ out

    def _view_again(self) -> View:
        return self._shown or View(self._active(), False, (), ())

    def update(self, view: View) -> None:
        """Send the feedback when it changed (or was asked for again)."""
        self._shown = view
        if view == self._last or self._transport is None or not self._targets:
            return
        self._last = view
        packets = [encode(a, args) for a, args in feedback_messages(view)]
        for target in self._targets:
            for packet in packets:
                try:
                    self._transport.sendto(packet, (target.host, target.port))
                except OSError as exc:  # nobody listening is not an error for UDP
                    log.debug("OSC feedback to %s: %s", target.text, exc)
                    break


def _peer(addr: Any) -> str:
    try:
        return f"{addr[0]}:{addr[1]}"
    except (TypeError, IndexError):
        return "?"

"""The one interface between the daemon and its clients (the CLI, MIDI, tests).

Kept free of asyncio and the daemon's imports: the CLI imports it on every call. The
results are TypedDicts: they are the JSON objects on the wire (docs/cli.md), key for
key, so a typo in a key is a type error on both sides and the shape cannot drift.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, NotRequired, Protocol, TypedDict

MAX_LINE = 64 * 1024  # a request larger than this is refused; the daemon carries on
MAX_REPLY = 1024 * 1024  # the daemon never sends a longer line; the CLI reads up to this
METHODS = ("status", "list", "switch", "auto", "off", "next", "previous", "reload")


class Changed(TypedDict):
    """What `switch`, `auto`, `off`, `next` and `previous` did."""

    profile: str | None
    reason: str
    done: list[str]
    skipped: NotRequired[list[str]]  # absent when dawroute is off and decided nothing
    manual: NotRequired[bool]


class Reloaded(TypedDict):
    profiles: list[str]
    warnings: list[str]


class ProfileRow(TypedDict):
    name: str
    description: str
    priority: int
    auto: bool
    fallback: bool
    present: bool
    problem: str | None
    active: bool


class Listing(TypedDict):
    profiles: list[ProfileRow]


class Event(TypedDict):
    """One line of `watch` and of `status`'s events."""

    time: float
    kind: str  # decision, server, config, state, midi, osc, watching
    message: str
    profile: NotRequired[str | None]  # decision
    cause: NotRequired[str]  # decision
    done: NotRequired[list[str]]
    failed: NotRequired[list[str]]
    skipped: NotRequired[list[str]]
    errors: NotRequired[list[str]]  # config


class Server(TypedDict):
    available: bool
    unavailable_since: float | None
    backend: str | None  # "pulse", "jack" (jackd alone) or "alsa": what the last pass used
    kind: NotRequired[str]
    version: NotRequired[str | None]
    # PipeWire only: whether WirePlumber runs dawroute's cap guard (docs/safety.md)
    cap_guard: NotRequired[bool]


class OutputRow(TypedDict):
    device: str
    channels: list[str]
    label: str
    present: bool
    volume: float | None
    max_volume: float
    profile_volume: float | None
    below_profile: bool
    card: str | None  # the ALSA card's name (alsa.card_name), as Ardour's ALSA backend lists it


class StreamRow(TypedDict):
    index: int
    app: str
    sink: str | None
    label: str | None
    on_target: bool | None  # None: no profile active (off, or no device present)


class InputRow(TypedDict):
    """The profile's input: the source the DAW records from."""

    device: str
    label: str
    present: bool
    volume: float | None
    max_volume: float | None  # None: no cap
    profile_volume: float | None


class RecordingRow(TypedDict):
    index: int
    app: str
    source: str | None
    label: str | None
    on_target: bool | None  # None: the active profile has no input (or none is active)


class CardRow(TypedDict):
    """A card profile or a port the active profile sets, and what the server shows."""

    kind: str  # "card_profile" or "port"
    label: str  # the card's or the device's
    active: str | None
    wanted: str


class Latency(TypedDict, total=False):
    rate: int
    quantum: int
    period_ms: float
    forced: bool
    device_ms: float | None
    configured_ms: float | None


class ConfigReport(TypedDict):
    profiles: int
    loaded_at: float | None
    errors: list[str]
    warnings: list[str]


class StateReport(TypedDict):
    file: str
    error: str | None


class Status(TypedDict):
    latency: Latency
    active: str | None
    active_since: float | None
    manual: str | None
    manual_since: float | None
    off: bool
    off_since: float | None
    reason: str | None
    problems: list[str]
    target: str | None
    outputs: list[OutputRow]
    streams: list[StreamRow]
    # older daemons: absent; recordings are observed while a profile has an `input`
    input: NotRequired[InputRow | None]
    recordings: NotRequired[list[RecordingRow]]
    cards: NotRequired[list[CardRow]]
    server: Server
    config: ConfigReport
    state: StateReport
    events: list[Event]
    midi: dict[str, Any] | None  # routing.midi.MidiControl.status()
    osc: dict[str, Any] | None  # routing.osc.OscControl.status()


class Control(Protocol):
    async def status(self) -> Status: ...
    async def list(self) -> Listing: ...
    async def switch(self, profile: str) -> Changed: ...
    async def auto(self) -> Changed: ...
    async def off(self) -> Changed: ...
    async def next(self) -> Changed: ...
    async def previous(self) -> Changed: ...
    async def reload(self) -> Reloaded: ...
    def watch(self) -> AsyncIterator[Event]: ...

"""What the daemon shows, taken at one moment as one immutable value: `status` and `list`
are answered from it, never from the daemon's live fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from routing.contract import Event
from routing.errors import ConfigIssue
from routing.model import Snapshot, State
from routing.policy import Decision
from routing.profile import Profile


@dataclass(frozen=True, slots=True)
class View:
    state: State
    snapshot: Snapshot | None
    decision: Decision | None
    active_reason: str | None  # why the active profile became active
    profiles: tuple[Profile, ...]
    max_volume: float  # config.yaml's safety.max_volume: the cap where a profile sets none
    backend: str | None  # "pulse" or "alsa": what the last pass used
    server_available: bool
    server_down_since: float | None
    cap_guard: bool | None  # WirePlumber runs dawroute's cap guard; None: not asked (not PipeWire)
    loaded_at: float | None
    errors: tuple[ConfigIssue, ...]  # of the last reload that failed (config kept)
    warnings: tuple[ConfigIssue, ...]
    state_file: str
    state_error: str | None  # why the last state save failed, if it did
    events: tuple[Event, ...]  # the last few
    midi: dict[str, Any] | None
    osc: dict[str, Any] | None

"""config.yaml's settings as the daemon and the pure core see them: plain frozen values.
The format layer (routing.format.config) checks what users write and converts it to these at
load time. Field names and defaults are the format's (tests/test_plain_model.py checks
they stay the same)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SimpleAction = Literal["next", "previous", "auto", "volume_up", "volume_down"]


@dataclass(frozen=True)
class Safety:
    max_volume: float = 100.0  # cap for outputs whose profile sets none
    volume_step: float = 3.0  # percent, for MIDI volume actions
    level_memory: bool = True  # load module-device-restore (docs/safety.md)


@dataclass(frozen=True)
class Trigger:
    """One MIDI message → one action. Exactly one of note / cc / program."""

    port: str = "~."  # port name, exact or `~regex`
    channel: int | None = None  # 1-16; any channel when omitted
    note: int | None = None
    cc: int | None = None
    program: int | None = None
    threshold: int = 64  # cc: value >= threshold is "pressed"
    mode: Literal["press", "momentary"] = "press"  # momentary: release switches back
    switch: str | None = None
    toggle: tuple[str, str] | None = None
    action: SimpleAction | None = None

    def message_key(self) -> tuple[str, int | None, str, int]:
        kind = "note" if self.note is not None else "cc" if self.cc is not None else "program"
        number = self.note if self.note is not None else self.cc if self.cc is not None else 0
        number = self.program if kind == "program" and self.program is not None else number
        return (self.port, self.channel, kind, number)

    def profiles(self) -> tuple[str, ...]:
        return (self.switch,) if self.switch else tuple(self.toggle or ())


@dataclass(frozen=True)
class Led:
    note: int | None = None
    cc: int | None = None
    channel: int = 1
    value_on: int = 127  # velocity / CC value for the active profile
    value_off: int = 0


@dataclass(frozen=True)
class Feedback:
    port: str  # output port to the controller, exact or `~regex`
    profiles: dict[str, Led] = field(default_factory=dict)


@dataclass(frozen=True)
class Midi:
    api: Literal["auto", "jack", "alsa"] = "auto"
    triggers: tuple[Trigger, ...] = ()
    feedback: Feedback | None = None
    debounce_ms: int = 40


@dataclass(frozen=True)
class Osc:
    """Open Sound Control: commands in on `listen`, the state out to `feedback`."""

    listen: str | None = None  # host:port, normalised
    feedback: tuple[str, ...] = ()
    allow_remote: bool = False


@dataclass(frozen=True)
class Config:
    backend: Literal["auto", "pulse", "pipewire", "jack", "alsa"] = "auto"
    safety: Safety = field(default_factory=Safety)
    midi: Midi = field(default_factory=Midi)
    osc: Osc | None = None
    notifications: bool = False
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    on_stop: Literal["keep", "restore"] = "keep"  # what the daemon leaves when it stops

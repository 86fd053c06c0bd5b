"""A profile as the pure core sees it: plain frozen values. The format layer
(routing.format.profiles: YAML, validation, defaults, the JSON Schema) checks what users write
and converts it to these at load time, so policy, matching and the pass planner never
import pydantic or YAML. Field names and defaults are the format's
(tests/test_plain_model.py checks they stay the same)."""

from __future__ import annotations

from dataclasses import dataclass, field

Channels = str | tuple[str, ...]  # "stereo", "mono", or device channels like ("AUX2", "AUX3")

SELECTOR_KEYS = ("usb", "serial", "card", "name", "description")

DEFAULT_DAW_APPS = (
    "REAPER", "~^ardour", "~bitwig", "Renoise", "Qtractor", "LMMS",
    "~waveform|tracktion", "MusE", "Zrythm",
)  # fmt: skip


@dataclass(frozen=True)
class Selector:
    """Which device: every key given must match (none of them is a per-boot index)."""

    usb: str | None = None  # vendor:product, lower case
    serial: str | None = None
    card: str | None = None  # text, or `~regex`
    name: str | None = None  # glob on the node/sink name
    description: str | None = None  # text, or `~regex`

    def keys(self) -> tuple[tuple[str, str], ...]:
        return tuple((f, v) for f in SELECTOR_KEYS if (v := getattr(self, f)) is not None)


@dataclass(frozen=True)
class AlsoOutput(Selector):
    """A further output playing at the same time; `profile` reuses another's output."""

    profile: str | None = None
    channels: Channels = "stereo"
    volume: float | None = None  # percent
    max_volume: float | None = None
    boost: bool = False
    mixer: str | None = None  # bare ALSA: the card's volume control


@dataclass(frozen=True)
class Output(Selector):
    channels: Channels = "stereo"
    volume: float | None = None  # percent
    max_volume: float | None = None
    boost: bool = False
    mixer: str | None = None  # bare ALSA: the card's volume control
    also: tuple[AlsoOutput, ...] = ()
    card_profile: str | None = None  # the card's profile, e.g. "pro-audio"
    port: str | None = None  # the device's port, e.g. "analog-output-headphones"


@dataclass(frozen=True)
class Input(Selector):
    """The recording device: the default source, and where the DAW's recordings move."""

    volume: float | None = None  # percent
    max_volume: float | None = None  # none: no cap (safety.max_volume is for outputs)
    boost: bool = False
    card_profile: str | None = None
    port: str | None = None


@dataclass(frozen=True)
class Daw:
    """Which applications are the DAW (presets already merged into `apps` and `ports`)."""

    preset: tuple[str, ...] = ()
    apps: tuple[str, ...] = DEFAULT_DAW_APPS
    set_default: bool = True
    ports: dict[str, Channels] = field(default_factory=dict)
    master: Channels | None = None
    exclusive: bool = False


@dataclass(frozen=True)
class Others:
    """Applications other than the DAW that must stay put (reference players)."""

    keep: tuple[str, ...] = ()
    to: str | None = None  # play them on this profile's output (else: where they are)


@dataclass(frozen=True)
class Clock:
    rate: int | None = None
    quantum: int | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    output: Output
    description: str = ""
    priority: int = 50
    auto: bool = True
    fallback: bool = False
    input: Input | None = None
    daw: Daw = field(default_factory=Daw)
    clock: Clock = field(default_factory=Clock)
    others: Others = field(default_factory=Others)
    # daemon start-up sets this profile's own levels (raising them) instead of only
    # lowering what is above them
    raise_at_startup: bool = False

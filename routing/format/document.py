"""The profile format, declared once as pydantic dataclasses: validation, defaults and
the exported JSON Schema come from the same source."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    Field,
    WithJsonSchema,
    model_validator,
)
from pydantic.dataclasses import dataclass as pdataclass

from routing import profile as plain_model
from routing.errors import ConfigIssue
from routing.format import presets, yamlsource
from routing.format.invalid import Invalid
from routing.format.values import (
    KNOWN_RATES,
    QUANTUM_MAX,
    QUANTUM_MIN,
    STRICT,
    Channels,
    MixerControl,
    Pattern,
    ProfileName,
    UsbId,
    Volume,
    _parse_channels,
)
from routing.profile import DEFAULT_DAW_APPS, SELECTOR_KEYS


@pdataclass(frozen=True, config=STRICT)
class Selector:
    """Which device: every key given must match (none of them is a per-boot index)."""

    usb: UsbId | None = None
    serial: str | None = None
    card: Pattern | None = None
    name: str | None = None  # glob on the node/sink name
    description: Pattern | None = None

    @model_validator(mode="after")
    def _needs_one(self) -> Selector:
        _require_selector(self)
        return self

    def keys(self) -> tuple[tuple[str, str], ...]:
        return tuple((f, v) for f in SELECTOR_KEYS if (v := getattr(self, f)) is not None)


def no_selector() -> Invalid:
    return Invalid(
        "no device selector",
        "add one of `usb`, `serial`, `card`, `name` "
        "or `description` (`dawroute devices` prints ready-made ones)",
    )


def profile_or_selector() -> Invalid:
    return Invalid("use either `profile:` or device selector keys, not both")


def _require_selector(sel: Selector) -> None:
    if not sel.keys():
        raise no_selector()


def _level_problems(volume: float | None, cap: float | None, boost: bool) -> list[Invalid]:
    """Each mistake in an output's levels, with the key it is about."""
    problems = []
    if volume is not None and volume > 100.0 and not boost:
        problems.append(
            Invalid(
                f"volume {volume:g} % is above 100 %",
                "lower it, or add `boost: true` if you really want software amplification",
                key="volume",
            )
        )
    if cap is not None and cap > 100.0 and not boost:
        problems.append(
            Invalid(
                f"max_volume {cap:g} % is above 100 %",
                "lower it, or add `boost: true`",
                key="max_volume",
            )
        )
    if volume is not None and cap is not None and volume > cap:
        problems.append(
            Invalid(
                f"volume {volume:g} % is above max_volume {cap:g} %",
                "lower `volume` or raise `max_volume`",
                key="volume",
            )
        )
    return problems


def _volume_within_cap(volume: float | None, cap: float | None, boost: bool) -> None:
    problems = _level_problems(volume, cap, boost)
    if problems:
        raise problems[0]


CardPart = Annotated[
    str,
    Field(min_length=1, max_length=200),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 200}),
]


@pdataclass(frozen=True, config=STRICT)
class AlsoOutput(Selector):
    """A further output playing at the same time (a second headphone amp).

    Either a device selector with its own levels, or `profile: NAME` to reuse
    another profile's output.
    """

    profile: ProfileName | None = None
    channels: Channels = "stereo"
    volume: Volume | None = None
    max_volume: Volume | None = None
    boost: bool = False
    mixer: MixerControl | None = None

    @model_validator(mode="after")
    def _needs_one(self) -> AlsoOutput:
        if self.profile is not None:
            if self.keys():
                raise profile_or_selector()
            return self
        _require_selector(self)
        _volume_within_cap(self.volume, self.max_volume, self.boost)
        return self


@pdataclass(frozen=True, config=STRICT)
class Output(Selector):
    channels: Channels = "stereo"
    volume: Volume | None = None
    max_volume: Volume | None = None
    boost: bool = False
    mixer: MixerControl | None = None
    also: tuple[AlsoOutput, ...] = ()
    # the card's profile ("pro-audio") and the device's port ("analog-output-headphones"),
    # as `dawroute devices` lists them
    card_profile: CardPart | None = None
    port: CardPart | None = None

    @model_validator(mode="after")
    def _levels(self) -> Output:
        _require_selector(self)
        _volume_within_cap(self.volume, self.max_volume, self.boost)
        return self


@pdataclass(frozen=True, config=STRICT)
class Input(Selector):
    """The recording device: the default source, and where the DAW's recordings move."""

    volume: Volume | None = None
    max_volume: Volume | None = None  # none: no cap (safety.max_volume is for outputs)
    boost: bool = False
    card_profile: CardPart | None = None
    port: CardPart | None = None

    @model_validator(mode="after")
    def _levels(self) -> Input:
        _require_selector(self)
        _volume_within_cap(self.volume, self.max_volume, self.boost)
        return self


def _parse_presets(value: Any) -> tuple[str, ...]:
    names = presets.names_of(value)
    if names is None:
        raise Invalid(
            "expected a DAW preset or a list of them",
            "e.g. `preset: ardour` or "
            f"`preset: [ardour, reaper]` (known: {', '.join(presets.NAMES)})",
        )
    for name in names:
        if name.lower() not in presets.PRESETS:
            raise presets.unknown(name)
    return tuple(dict.fromkeys(n.lower() for n in names))


PresetNames = Annotated[
    tuple[str, ...],
    BeforeValidator(_parse_presets),
    WithJsonSchema({
        "anyOf": [
            {"enum": list(presets.NAMES)},
            {"type": "array", "items": {"enum": list(presets.NAMES)}},
        ],
        "description": "DAW presets: their streams' application names and master JACK outputs",
    }),
]  # fmt: skip


@pdataclass(frozen=True, config=STRICT)
class Daw:
    """Which applications are the DAW. `preset` names DAWs dawroute knows: their streams
    become `apps` (with any `apps` you list) and, with `master`, their master outputs are
    linked to those device channels (merged into `ports`; a `ports` entry you write for
    the same pattern wins). After validation `apps` and `ports` hold the merged values."""

    preset: PresetNames = ()
    apps: tuple[Pattern, ...] = DEFAULT_DAW_APPS
    set_default: bool = True
    ports: dict[str, Channels] = Field(default_factory=dict)
    master: Channels | None = None
    exclusive: bool = False

    @model_validator(mode="before")
    @classmethod
    def _expand_presets(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        chosen = presets.names_of(data.get("preset"))
        if "master" in data and not chosen:
            raise Invalid(
                "`master` links a preset's master outputs, but no `preset` is given",
                f"add `preset:` ({', '.join(presets.NAMES)}), or map the DAW's ports with `ports:`",
                key="master",
            )
        known = [presets.PRESETS[n.lower()] for n in chosen or () if n.lower() in presets.PRESETS]
        if not known or len(known) != len(chosen or ()):
            return data  # nothing to merge, or the `preset` field reports the mistake
        data = dict(data)
        apps = data.get("apps", ())
        if isinstance(apps, list | tuple):  # yours first: their errors keep their index
            data["apps"] = tuple(dict.fromkeys([*apps, *(a for p in known for a in p.apps)]))
        ports = data.get("ports", {})
        if "master" in data and isinstance(ports, dict):
            try:
                _parse_channels(data["master"])
            except ValueError:
                return data  # reported at `master`
            data["ports"] = {**{p.master: data["master"] for p in known}, **ports}
        return data


@pdataclass(frozen=True, config=STRICT)
class Others:
    """Applications other than the DAW that must stay put (reference players): they never
    follow the default sink to the DAW's output."""

    keep: tuple[Pattern, ...] = ()
    to: ProfileName | None = None  # play them on this profile's output (else: where they are)


def _check_rate(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value not in KNOWN_RATES:
        near = min(KNOWN_RATES, key=lambda r: abs(r - value))
        raise Invalid(f"{value} is not a sample rate audio devices use", f"did you mean {near}?")
    return value


def _check_quantum(value: Any) -> Any:
    ok = isinstance(value, int) and QUANTUM_MIN <= value <= QUANTUM_MAX and not value & (value - 1)
    if isinstance(value, int) and not isinstance(value, bool) and not ok:
        raise Invalid(
            f"quantum {value} is not a power of two between {QUANTUM_MIN} and {QUANTUM_MAX}",
            "use e.g. 64, 128 or 256",
        )
    return value


Rate = Annotated[int, BeforeValidator(_check_rate), WithJsonSchema({"enum": list(KNOWN_RATES)})]
Quantum = Annotated[
    int,
    BeforeValidator(_check_quantum),
    WithJsonSchema({"type": "integer", "minimum": QUANTUM_MIN, "maximum": QUANTUM_MAX}),
]


@pdataclass(frozen=True, config=STRICT)
class Clock:
    rate: Rate | None = None
    quantum: Quantum | None = None


@pdataclass(frozen=True, config=STRICT)
class Profile:
    name: ProfileName
    output: Output
    description: str = ""
    priority: Annotated[int, Field(ge=0, le=1000)] = 50
    auto: bool = True
    fallback: bool = False
    input: Input | None = None
    daw: Daw = Field(default_factory=Daw)
    clock: Clock = Field(default_factory=Clock)
    others: Others = Field(default_factory=Others)
    # daemon start-up sets this profile's own levels (raising them) instead of only
    # lowering what is above them
    raise_at_startup: bool = False


@pdataclass(frozen=True, config=STRICT)
class ProfileFile:
    """A file holding several profiles under `profiles:`."""

    profiles: tuple[Profile, ...]


@dataclass(frozen=True, slots=True)
class Source:
    """Where a loaded profile came from (for error messages and `status`)."""

    file: str
    line: int
    column: int
    doc: yamlsource.Located | None = field(default=None, compare=False, repr=False)
    prefix: yamlsource.Path_ = ()

    def issue(self, key: str, message: str, fix: str, name: str) -> ConfigIssue:
        """An issue at `key` (dotted, with [i] indexes) inside this profile."""
        if self.doc is None:
            return ConfigIssue(self.file, self.line, self.column, f"{name}.{key}", message, fix)
        path = (*self.prefix, *_split_key(key))
        line, col = self.doc.where(path)
        return ConfigIssue(self.file, line, col, f"{name}.{key}", message, fix)


def _split_key(key: str) -> yamlsource.Path_:
    parts: list[str | int] = []
    for chunk in re.findall(r"[^.\[\]]+|\[\d+\]", key):
        parts.append(int(chunk[1:-1]) if chunk.startswith("[") else chunk)
    return tuple(parts)


@dataclass(frozen=True, slots=True)
class LoadedProfile:
    profile: plain_model.Profile  # converted from the format's Profile once validated
    source: Source


@dataclass(frozen=True, slots=True)
class Unloaded:
    """A profile that has errors, or a file that could not be read: what it says about
    itself (None: cannot tell), so that checks across files neither miss it nor blame
    another file for its absence."""

    name: str | None = None
    fallback: bool | None = None

    @classmethod
    def claimed_by(cls, raw: Any) -> Unloaded:
        if not isinstance(raw, dict):
            return cls()
        name, fallback = raw.get("name"), raw.get("fallback", False)
        return cls(
            name if isinstance(name, str) else None,
            fallback if isinstance(fallback, bool) else None,
        )


@dataclass(frozen=True, slots=True)
class ProfileSet:
    profiles: tuple[LoadedProfile, ...]
    warnings: tuple[ConfigIssue, ...] = ()
    unloaded: tuple[Unloaded, ...] = ()

    def names(self) -> tuple[str, ...]:
        return tuple(p.profile.name for p in self.profiles)

    def declared_names(self) -> set[str]:
        """Every profile name the files declare, including those of profiles with errors."""
        return set(self.names()) | {u.name for u in self.unloaded if u.name is not None}

    def get(self, name: str) -> plain_model.Profile | None:
        return next((p.profile for p in self.profiles if p.profile.name == name), None)

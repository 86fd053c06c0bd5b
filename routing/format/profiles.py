"""Profiles: the YAML format, its validation, and loading files into frozen Profile values.

The format is declared once, as pydantic dataclasses: that gives validation,
defaults and the exported JSON Schema from the same source. Locations come from
`yamlsource` (PyYAML node marks), so every error reads
`file:line:col: key.path: what is wrong — how to fix`.
"""

from __future__ import annotations

import difflib
import functools
import math
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin, get_type_hints

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic.dataclasses import dataclass as pdataclass

from routing import profile as plain_model
from routing.errors import ConfigInvalid, ConfigIssue
from routing.format import plain, presets, yamlsource
from routing.format.invalid import Invalid
from routing.model import channel_label
from routing.positions import short_position
from routing.profile import DEFAULT_DAW_APPS, SELECTOR_KEYS

STRICT = ConfigDict(extra="forbid")
CONFIG_NAME = "config.yaml"
MAX_FILE_BYTES = 256 * 1024  # per file; the example profiles are under 1 KiB

# ---------------------------------------------------------------- value types

KNOWN_RATES = (22050, 32000, 44100, 48000, 88200, 96000, 176400, 192000, 352800, 384000)
QUANTUM_MIN, QUANTUM_MAX = 16, 8192
BOOST_MAX = 150.0


def _parse_volume(value: Any) -> float:
    """45, 45.5, '45%', '-12dB' → percent of the device's nominal (100 %) level.

    dB uses PulseAudio's cubic volume mapping, as pavucontrol displays it.
    """
    if isinstance(value, bool):
        raise Invalid("expected a volume, got true/false", "write e.g. `45%` or `-12dB`")
    if isinstance(value, int | float):
        pct = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        m = re.fullmatch(r"(-?\d+(?:\.\d+)?)%?", text)
        d = re.fullmatch(r"(-?\d+(?:\.\d+)?|-inf)dB", text, re.IGNORECASE)
        if m:
            pct = float(m.group(1))
        elif d:
            db = float(d.group(1))
            pct = 0.0 if db == -math.inf else 100.0 * (10 ** (db / 20.0)) ** (1 / 3)
        else:
            raise Invalid(
                f"'{value}' is not a volume", "write a percentage like `45%` or dB like `-12dB`"
            )
    else:
        raise Invalid("expected a volume", "write a percentage like `45%` or dB like `-12dB`")
    if not 0.0 <= pct <= BOOST_MAX:
        raise Invalid(
            f"{pct:g} % is out of range", "use 0 % to 100 % (or up to 150 % with `boost: true`)"
        )
    return round(pct, 2)


Volume = Annotated[
    float,
    BeforeValidator(_parse_volume),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": BOOST_MAX},
                {"type": "string", "pattern": r"^\s*-?\d+(\.\d+)?\s*(%|[dD][bB])?\s*$"},
            ],
            "description": "percent (45, '45%') or dB ('-12dB', cubic like pavucontrol)",
        }
    ),
]


def _parse_channels(value: Any) -> str | tuple[str, ...]:
    if isinstance(value, str):
        if value in ("stereo", "mono"):
            return value
        raise Invalid(
            f"'{value}' is not a channel layout",
            "use `stereo`, `mono` or a list of device channels like `[AUX2, AUX3]`",
        )
    if isinstance(value, list | tuple):
        if not 1 <= len(value) <= 2:
            raise Invalid(
                "a channel list has one entry (mono into that output) or two (left, right)",
                "e.g. `[FL]` or `[AUX2, AUX3]`",
            )
        out = []
        for item in value:
            pos = short_position(str(item)) if isinstance(item, str) else None
            if pos is None:
                raise Invalid(
                    f"'{item}' is not a channel",
                    "use FL, FR, FC, RL, RR, SL, SR, MONO or AUX0…AUX63 (AUX2 = output 3)",
                )
            out.append(pos)
        if len(set(out)) != len(out):
            raise Invalid("the same channel is listed twice", "list two different outputs")
        return tuple(out)
    raise Invalid("expected `stereo`, `mono` or a list of channels like `[AUX2, AUX3]`")


Channels = Annotated[
    str | tuple[str, ...],
    BeforeValidator(_parse_channels),
    WithJsonSchema({
        "anyOf": [
            {"enum": ["stereo", "mono"]},
            {"type": "array", "minItems": 1, "maxItems": 2,
             "items": {"type": "string", "pattern": r"^(?i:FL|FR|FC|LFE|RL|RR|SL|SR|RC|MONO|AUX\d{1,2}|[a-z-]+)$"}},
        ],
        "description": "stereo, mono (sum to both sides) or device channels: [AUX2, AUX3] = outputs 3-4, [FL] = left only",
    }),
]  # fmt: skip


def _parse_usb(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-fA-F]{4}:[0-9a-fA-F]{4}", value):
        raise Invalid(
            f"'{value}' is not a USB id",
            'write vendor:product as 4+4 hex digits, e.g. `usb: "1235:8210"` '
            "(see `dawroute devices`)",
        )
    return value.lower()


UsbId = Annotated[
    str,
    BeforeValidator(_parse_usb),
    WithJsonSchema({"type": "string", "pattern": "^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$"}),
]


def _parse_pattern(value: Any) -> str:
    """A plain string (exact, case-insensitive) or `~regex` (searched, case-insensitive)."""
    if not isinstance(value, str):
        raise Invalid("expected text, or `~regex`")
    if value.startswith("~"):
        try:
            re.compile(value[1:])
        except re.error as exc:
            raise Invalid(
                f"invalid regular expression: {exc}",
                "fix the pattern after `~`, or drop the `~` to match the text exactly",
            ) from None
    return value


Pattern = Annotated[str, BeforeValidator(_parse_pattern)]


def _check_name(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", value):
        raise Invalid(
            f"'{value}' is not a usable profile name",
            "use letters, digits, `-`, `_` or `.`, e.g. `usb-amp`",
        )
    return value


# Bare ALSA: the card's volume control that carries the level (`amixer scontrols` names);
# chosen per card when not given (see routing.alsaconf.MIXER_ORDER)
MixerControl = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="bare ALSA only: the card's volume control to set and cap, as "
        "`amixer scontrols` names it (e.g. PCM); chosen per card when omitted",
    ),
]

ProfileName = Annotated[
    str,
    BeforeValidator(_check_name),
    WithJsonSchema({"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"}),
]

# ---------------------------------------------------------------- the format


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


# ---------------------------------------------------------------- validation


@functools.cache
def adapter(model: type) -> TypeAdapter[Any]:
    """The validator for one of the format's dataclasses, built on first use (not at import:
    the CLI imports this module for `check` only)."""
    return TypeAdapter(model)


def validate_document(doc: yamlsource.Located, adapter: TypeAdapter[Any], root: type) -> Any:
    """Validate located data with a pydantic adapter; issues go into `doc.issues`."""
    try:
        return adapter.validate_python(doc.data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            doc.issues.append(_issue_from(doc, err, root))
        return None


def _data_path(doc: yamlsource.Located, loc: Iterable[Any]) -> yamlsource.Path_:
    """pydantic's loc mixes data keys with validator names; keep the data keys."""
    path: list[str | int] = []
    for part in loc:
        probe = (*path, part)
        if probe in doc.values or probe in doc.keys:
            path.append(part)
    return tuple(path)


def _issue_from(doc: yamlsource.Located, err: Any, root: type) -> ConfigIssue:
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        parent = _data_path(doc, loc[:-1])
        key = str(loc[-1])
        valid = _fields_at(root, parent)
        guess = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
        fix = f"did you mean `{guess[0]}`?" if guess else f"valid keys here: {', '.join(valid)}"
        return doc.issue((*parent, key), f"unknown key '{key}'", fix, key=True)
    path = _data_path(doc, loc)
    if kind == "missing":
        field_name = str(loc[-1])
        return doc.issue(
            path, f"required key '{field_name}' is missing", f"add `{field_name}:` here", key=True
        )
    error = err.get("ctx", {}).get("error") if kind == "value_error" else None
    if isinstance(error, Invalid):
        # a check over a whole mapping names the key it is about
        return doc.issue((*path, error.key) if error.key else path, error.message, error.fix)
    message, fix = _explain(err)
    return doc.issue(path, message, fix)


def _value_issue(doc: yamlsource.Located, path: yamlsource.Path_, inv: Invalid) -> ConfigIssue:
    """A model-level check at `path`, on its key when it names one (as pydantic would)."""
    return doc.issue((*path, inv.key) if inv.key else path, inv.message, inv.fix)


def _lenient_volume(value: Any) -> float | None:
    """A volume as the format reads it; None when absent or wrong (reported on its own)."""
    try:
        return None if value is None else _parse_volume(value)
    except ValueError:
        return None


def block_checks(doc: yamlsource.Located, profile: yamlsource.Path_) -> list[ConfigIssue]:
    """The checks across one output's (or input's) keys, run on the raw data of the profile
    at `profile`. pydantic skips a model's own checks once one of its fields is wrong, so
    these would otherwise wait for the next `check`: one mistake must not hide another."""
    raw = doc.data
    for part in profile:
        raw = raw[part]
    if not isinstance(raw, dict):
        return []
    blocks: list[tuple[yamlsource.Path_, Any, bool]] = [
        ((*profile, "output"), raw.get("output"), True),
        ((*profile, "input"), raw.get("input"), True),
    ]
    also = raw["output"].get("also") if isinstance(raw.get("output"), dict) else None
    if isinstance(also, list):
        blocks += [((*profile, "output", "also", i), a, True) for i, a in enumerate(also)]
    issues = []
    for path, block, has_levels in blocks:
        if not isinstance(block, dict):
            continue
        selects = any(block.get(k) is not None for k in SELECTOR_KEYS)
        if block.get("profile") is not None and path[-2:-1] == ("also",):
            if selects:
                issues.append(_value_issue(doc, path, profile_or_selector()))
            continue
        if not selects:
            issues.append(_value_issue(doc, path, no_selector()))
        if has_levels:
            volume = _lenient_volume(block.get("volume"))
            cap = _lenient_volume(block.get("max_volume"))
            for inv in _level_problems(volume, cap, block.get("boost") is True):
                issues.append(_value_issue(doc, path, inv))
    return issues


def _explain(err: Any) -> tuple[str, str]:
    kind = err["type"]
    got = err.get("input")
    shown = f"'{got}'" if isinstance(got, str) else repr(got)
    if len(shown) > 60:  # a 20,000-item list would otherwise be repeated in the message
        shown = shown[:57] + "…"
    if kind == "value_error":  # a ValueError that is not ours (Invalid is read above)
        return str(err["ctx"]["error"]), ""
    table = {
        "int_type": ("expected a whole number", "write digits without quotes, e.g. `50`"),
        "int_parsing": ("expected a whole number", "write digits without quotes, e.g. `50`"),
        "int_from_float": ("expected a whole number", "drop the decimals"),
        "bool_type": ("expected true or false", "write `true` or `false`"),
        "bool_parsing": ("expected true or false", "write `true` or `false`"),
        "string_type": ("expected text", "put the value in quotes"),
        "dict_type": ("expected a mapping of keys", "indent `key: value` lines under this key"),
        "tuple_type": ("expected a list", "write `[a, b]` or one `- item` per line"),
        "dataclass_type": ("expected a mapping of keys", "indent `key: value` lines here"),
        "model_type": ("expected a mapping of keys", "indent `key: value` lines here"),
        "literal_error": (
            f"{shown} is not allowed",
            "use one of: " + str(err.get("ctx", {}).get("expected", "")),
        ),
        "greater_than_equal": (
            f"{shown} is too small",
            f"use at least {err.get('ctx', {}).get('ge')}",
        ),
        "less_than_equal": (f"{shown} is too large", f"use at most {err.get('ctx', {}).get('le')}"),
    }
    what, fix = table.get(kind, (err["msg"], ""))
    if kind.endswith(("_type", "_parsing")):
        what = f"{what}, got {shown}"
    return what, fix


def _fields_at(root: type, path: yamlsource.Path_) -> list[str]:
    """Valid keys of the dataclass reached by following `path` from `root`."""
    current: Any = root
    for part in path:
        current = _unwrap(current)
        if isinstance(part, int):
            continue  # a list element: _unwrap already stepped into the item type
        if is_dataclass(current) and isinstance(current, type):
            hint = get_type_hints(current, include_extras=True).get(part)
            if hint is None:
                return []
            current = hint
    current = _unwrap(current)
    return [f.name for f in fields(current)] if is_dataclass(current) else []


def _unwrap(tp: Any) -> Any:
    """Optional[X] / tuple[X, ...] / Annotated[X, …] → X (the first dataclass inside)."""
    for _ in range(6):
        if is_dataclass(tp) or tp is None:
            return tp
        args = [a for a in get_args(tp) if a is not type(None) and a is not Ellipsis]
        if get_origin(tp) is dict and len(args) == 2:
            args = [args[1]]
        found = next((a for a in args if is_dataclass(a)), None)
        tp = found if found is not None else (args[0] if args else None)
    return tp


# ---------------------------------------------------------------- loading


def profile_files(paths: Sequence[Path]) -> list[Path]:
    """Files named directly, plus *.yaml / *.yml inside named directories, sorted.

    A `config.yaml` inside a directory holds daemon settings, not profiles."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(
                sorted(
                    q
                    for q in p.iterdir()
                    if q.suffix in (".yaml", ".yml") and q.name != CONFIG_NAME
                )
            )
        else:
            out.append(p)
    return out


def profile_names(directory: Path) -> list[str]:
    """Profile names in the files of `directory` (one profile or `profiles: [...]` each);
    unreadable or invalid files are passed over — `dawroute check` is for those."""
    import yaml

    names: list[str] = []
    for path in profile_files([directory]) if directory.is_dir() else []:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, yaml.YAMLError):
            continue
        items = doc.get("profiles") if isinstance(doc, dict) and "profiles" in doc else [doc]
        for item in items if isinstance(items, list) else []:
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str) and name not in names:
                names.append(name)
    return names


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def read_text(path: Path) -> tuple[str, ConfigIssue | None]:
    """A regular file's text, at most MAX_FILE_BYTES. Pipes, devices and sockets are
    refused without reading them (a FIFO would block until someone writes to it,
    /dev/zero never ends), so reading a file never hangs."""

    def problem(what: str, fix: str) -> tuple[str, ConfigIssue]:
        return "", ConfigIssue(str(path), 1, 1, "", what, fix)

    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return problem(
                f"{_kind(st.st_mode)}, not a regular file",
                "profiles and config.yaml must be ordinary files; move it out of the way",
            )
        # O_NONBLOCK: if it was swapped for a FIFO since the stat, open does not wait
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                return problem(
                    f"{_kind(st.st_mode)}, not a regular file",
                    "profiles and config.yaml must be ordinary files; move it out of the way",
                )
            data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            return problem(
                f"file too large: {max(st.st_size, len(data))} bytes, the limit is "
                f"{MAX_FILE_BYTES} ({MAX_FILE_BYTES // 1024} KiB)",
                "profiles are a few KiB; split it or remove what is not needed",
            )
        # as text mode would: \r\n and \r become \n
        return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n"), None
    except FileNotFoundError:
        return problem("file not found", "check the path, or create it")
    except UnicodeDecodeError as exc:
        return problem(f"not UTF-8 text ({exc.reason})", "save the file as UTF-8")
    except OSError as exc:
        return problem(f"cannot read: {exc.strerror}", "check the file's permissions")


@dataclass(frozen=True, slots=True)
class ParsedFile:
    loaded: list[LoadedProfile]
    issues: list[ConfigIssue]
    unloaded: list[Unloaded]


def parse_profiles(text: str, file: str) -> tuple[list[LoadedProfile], list[ConfigIssue]]:
    """One file's profiles, or its issues. A file holds one profile or `profiles: [...]`."""
    parsed = parse_profile_file(text, file)
    return parsed.loaded, parsed.issues


def parse_profile_file(text: str, file: str) -> ParsedFile:
    """One file's valid profiles, every issue in it, and what its invalid profiles claim.
    In a `profiles:` list each profile stands alone: one with a mistake does not keep the
    others out of the checks across files."""
    doc = yamlsource.load(text, file)
    if doc.syntax_error:
        return ParsedFile([], doc.issues, [Unloaded()])
    data = doc.data
    if data is None:
        empty = doc.issue(
            (), "the file is empty", "add a profile, see docs/profiles.md", severity="warning"
        )
        return ParsedFile([], [empty], [])
    if not isinstance(data, dict):
        wrong = doc.issue(
            (),
            "expected a profile (a mapping with `name:` and `output:`)",
            "see profiles/*.yaml for examples",
        )
        return ParsedFile([], [wrong], [Unloaded()])
    found: list[tuple[Profile, yamlsource.Path_]] = []
    unloaded: list[Unloaded] = []
    extra: list[ConfigIssue] = []
    if "profiles" in data:
        parsed = validate_document(doc, adapter(ProfileFile), ProfileFile)
        raw = data["profiles"]
        if parsed is not None:
            found = [(p, ("profiles", i)) for i, p in enumerate(parsed.profiles)]
        elif isinstance(raw, list):
            for i, item in enumerate(raw):
                one = _valid_or_none(adapter(Profile), item)
                if one is None:
                    unloaded.append(Unloaded.claimed_by(item))
                else:
                    found.append((one, ("profiles", i)))
        else:
            unloaded.append(Unloaded())
        if isinstance(raw, list):
            for i in range(len(raw)):
                extra += block_checks(doc, ("profiles", i))
    else:
        parsed = validate_document(doc, adapter(Profile), Profile)
        if parsed is None:
            unloaded.append(Unloaded.claimed_by(data))
        else:
            found = [(parsed, ())]
        extra += block_checks(doc, ())
    loaded = []
    for prof, path in found:
        line, col = doc.where((*path, "name"))
        converted = plain.convert(prof, plain_model, plain_model.Profile)
        loaded.append(LoadedProfile(converted, Source(file, line, col, doc, path)))
    issues = list(dict.fromkeys([*doc.issues, *extra]))  # the block checks repeat pydantic's
    return ParsedFile(loaded, sorted(issues, key=lambda i: (i.line, i.column)), unloaded)


def _valid_or_none(validator: TypeAdapter[Any], data: Any) -> Any:
    try:
        return validator.validate_python(data)
    except ValidationError:
        return None


def cross_check(
    profiles: Sequence[LoadedProfile], unloaded: Sequence[Unloaded] = ()
) -> list[ConfigIssue]:
    """Problems only visible across files: duplicates, dangling references, dead profiles.
    `unloaded`: the profiles with errors, reported on their own — a reference to one is not
    dangling, and the fallback may be among them."""
    issues: list[ConfigIssue] = []
    first: dict[str, LoadedProfile] = {}
    for lp in profiles:
        name = lp.profile.name
        if name in first:
            s = first[name].source
            issues.append(
                _at(
                    lp,
                    "name",
                    f"profile '{name}' is already defined at {s.file}:{s.line}",
                    "rename one of them",
                )
            )
        else:
            first[name] = lp
    names = set(first) | {u.name for u in unloaded if u.name is not None}
    for lp in profiles:
        for i, also in enumerate(lp.profile.output.also):
            if also.profile is not None and also.profile not in names:
                issues.append(
                    _at(
                        lp,
                        f"output.also[{i}].profile",
                        f"no profile named '{also.profile}'",
                        did_you_mean(also.profile, names),
                    )
                )
            if also.profile == lp.profile.name:
                issues.append(
                    _at(
                        lp,
                        f"output.also[{i}].profile",
                        "a profile cannot play on itself again",
                        "name another profile",
                    )
                )
        to = lp.profile.others.to
        if to is not None and to not in names:
            issues.append(_at(lp, "others.to", f"no profile named '{to}'", did_you_mean(to, names)))
    issues.extend(_never_winning(profiles))
    issues.extend(_shared_channels(profiles))
    issues.extend(_card_profiles(profiles))
    fallback_unknown = any(u.fallback is not False for u in unloaded)
    if profiles and not any(lp.profile.fallback for lp in profiles) and not fallback_unknown:
        lp = profiles[0]
        issues.append(
            ConfigIssue(
                lp.source.file,
                lp.source.line,
                lp.source.column,
                "",
                "no profile has `fallback: true`",
                "mark the profile to use "
                "when nothing else matches (e.g. your speakers) as fallback",
                "warning",
            )
        )
    return issues


def _never_winning(profiles: Sequence[LoadedProfile]) -> list[ConfigIssue]:
    seen: dict[tuple[Any, ...], LoadedProfile] = {}
    issues = []
    for lp in profiles:
        p = lp.profile
        if not p.auto:
            continue
        key = (p.output.keys(), p.priority)
        if key in seen and seen[key].profile.name != p.name:
            other = seen[key].profile.name
            issues.append(
                _at(
                    lp,
                    "priority",
                    f"can never be chosen automatically: '{other}' "
                    "has the same device selector and priority",
                    "give one of them a different priority, or `auto: false`",
                )
            )
        seen.setdefault(key, lp)
    return issues


def _drives(
    lp: LoadedProfile,
) -> list[tuple[str, tuple[Any, ...], frozenset[str] | None, float | None]]:
    """(key, device selector, channels or None for all, cap) of each output a profile sets
    levels on itself (`also: {profile: …}` is that profile's own output)."""
    out = lp.profile.output
    specs: list[tuple[str, plain_model.Output | plain_model.AlsoOutput]] = [("output", out)]
    specs += [(f"output.also[{i}]", a) for i, a in enumerate(out.also) if a.profile is None]
    return [
        (
            key,
            spec.keys(),
            frozenset(spec.channels) if isinstance(spec.channels, tuple) else None,
            spec.max_volume,
        )
        for key, spec in specs
    ]


def _shared_channels(profiles: Sequence[LoadedProfile]) -> list[ConfigIssue]:
    """Two profiles driving the same channels of one device with different caps: a channel
    has one level, so which cap holds there depends on which profile is active."""
    issues = []
    seen: list[tuple[LoadedProfile, tuple[Any, ...], frozenset[str] | None, float | None]] = []
    for lp in profiles:
        for key, sel, chans, cap in _drives(lp):
            for other, osel, ochans, ocap in seen:
                if other.profile.name == lp.profile.name or osel != sel or ocap == cap:
                    continue
                if chans is not None and ochans is not None and not chans & ochans:
                    continue
                shared = sorted(chans & ochans) if chans and ochans else None
                where = (
                    channel_label(tuple(sorted(shared, key=_channel_order)))
                    if shared
                    else "channels"
                )
                issues.append(
                    _at(
                        lp,
                        f"{key}.max_volume" if cap is not None else key,
                        f"drives the same {where} of this device as '{other.profile.name}' with "
                        f"another cap ({_cap(cap)} here, {_cap(ocap)} there): a channel has one "
                        "level, so its cap is the active profile's",
                        "give both the same `max_volume`, or use different `channels`",
                    )
                )
                issues[-1] = issues[-1]._replace(severity="warning")
                break
        seen += [(lp, sel, chans, cap) for _, sel, chans, cap in _drives(lp)]
    return issues


CARD_KEYS = ("usb", "serial", "card")  # what names a card (`name`, `description`: a device)


def _card_wants(lp: LoadedProfile) -> list[tuple[str, tuple[Any, ...], str]]:
    """(key, card selector, card profile) of each card this profile sets a profile on."""
    specs: list[tuple[str, plain_model.Output | plain_model.Input]] = [
        ("output", lp.profile.output)
    ]
    if lp.profile.input is not None:
        specs.append(("input", lp.profile.input))
    out = []
    for key, spec in specs:
        selector = spec.keys()  # (key, value) pairs, not a mapping
        card = tuple((k, v) for k, v in selector if k in CARD_KEYS)
        if spec.card_profile is not None and card:
            out.append((f"{key}.card_profile", card, spec.card_profile))
    return out


def _card_profiles(profiles: Sequence[LoadedProfile]) -> list[ConfigIssue]:
    """Two profiles wanting different profiles on one card: a card is in one profile at a
    time, so switching between them switches the card (its devices go and come back)."""
    issues = []
    seen: list[tuple[LoadedProfile, tuple[Any, ...], str]] = []
    for lp in profiles:
        wants = _card_wants(lp)
        for key, card, wanted in wants:
            other = next((o for o, c, w in seen if c == card and w != wanted and o is not lp), None)
            if other is None:
                continue
            theirs = next(w for o, c, w in seen if o is other and c == card)
            issues.append(
                _at(
                    lp,
                    key,
                    f"wants the card in profile '{wanted}' and '{other.profile.name}' wants "
                    f"'{theirs}': a card is in one profile at a time, so switching between "
                    "them switches the card, and its devices go and come back",
                    "give both the same `card_profile` (e.g. the one with every channel "
                    "both use), or leave it out of one",
                )._replace(severity="warning")
            )
        seen += [(lp, card, wanted) for _, card, wanted in wants]
    return issues


def _cap(cap: float | None) -> str:
    return f"{cap:g} %" if cap is not None else "the default"


def _channel_order(channel: str) -> tuple[int, str]:
    return (int(channel[3:]), "") if channel.startswith("AUX") else (-1, channel)


def _at(lp: LoadedProfile, key: str, message: str, fix: str) -> ConfigIssue:
    return lp.source.issue(key, message, fix, lp.profile.name)


def did_you_mean(name: str, names: Iterable[str]) -> str:
    guess = difflib.get_close_matches(name, sorted(names), n=1, cutoff=0.5)
    return f"did you mean `{guess[0]}`?" if guess else f"known profiles: {', '.join(sorted(names))}"


def load_profiles(paths: Sequence[Path]) -> tuple[ProfileSet, list[ConfigIssue]]:
    """All profiles from files/dirs, and every issue found (errors and warnings)."""
    loaded: list[LoadedProfile] = []
    issues: list[ConfigIssue] = []
    unloaded: list[Unloaded] = []
    for path in profile_files(paths):
        text, problem = read_text(path)
        if problem:
            issues.append(problem)
            unloaded.append(Unloaded())
            continue
        parsed = parse_profile_file(text, str(path))
        loaded.extend(parsed.loaded)
        issues.extend(parsed.issues)
        unloaded.extend(parsed.unloaded)
    issues.extend(cross_check(loaded, unloaded))
    warnings = tuple(i for i in issues if i.severity == "warning")
    return ProfileSet(tuple(loaded), warnings, tuple(unloaded)), issues


def load_profiles_or_raise(paths: Sequence[Path]) -> ProfileSet:
    profile_set, issues = load_profiles(paths)
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise ConfigInvalid(errors)
    return profile_set


def profile_schema() -> dict[str, Any]:
    """JSON Schema for a profile file (one profile, or `profiles: [...]`)."""
    single = adapter(Profile).json_schema()
    many = adapter(ProfileFile).json_schema()
    defs = {**single.pop("$defs", {}), **many.pop("$defs", {})}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "dawroute profile file",
        "anyOf": [single, many],
        "$defs": defs,
    }

"""The format's value types: levels, channels, USB ids, patterns, names — each parsed
from what users write, with the error that says how to fix it."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
)

from routing.format.invalid import Invalid
from routing.positions import short_position

STRICT = ConfigDict(extra="forbid")

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

"""Pure: bare ALSA's pieces — which mixer control carries a card's level, how a level in
percent maps to the control's dB, and the text of dawroute's managed ALSA configuration
that points the ALSA default (`pcm.!default`, `ctl.!default`) at the active profile's card.

The managed file is dawroute's alone (rewritten on every switch); the user's own
~/.asoundrc includes it with one line (`include_line`) and is never written by dawroute.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from routing.model import Device, Direction, Plan, Snapshot

# The first of these a card has with a playback volume carries the profile's level; a
# card with none of them uses its first playback volume control (ALSA's own order).
# `output.mixer` in a profile overrides the choice.
MIXER_ORDER = ("Master", "PCM", "Headphone", "Speaker", "Front", "Line Out", "Line", "Digital")

TARGET_MARK = "# dawroute-target: "
NO_TARGET = "none"


# ---------------------------------------------------------------- mixer choice


def choose_mixer(controls: Sequence[str], override: str | None = None) -> str | None:
    """The control for a card's level, from its controls with a playback volume (in ALSA's
    order). With `override`, that control (matched ignoring case) or None if the card has
    no such control: never another one in its place."""
    if override is not None:
        return next((c for c in controls if c.casefold() == override.casefold()), None)
    for name in MIXER_ORDER:
        if name in controls:
            return name
    return controls[0] if controls else None


def order_mixers(controls: Sequence[str]) -> tuple[str, ...]:
    """The controls with the automatic choice first, then the others in ALSA's order."""
    first = choose_mixer(controls)
    return tuple(dict.fromkeys([first, *controls])) if first else ()


# ---------------------------------------------------------------- levels

# Levels are percent everywhere in dawroute, and 100 % = 0 dB with PulseAudio's cubic
# mapping (45 % ≈ -20.8 dB), so `volume: 40%` is the same loudness on a bare ALSA card
# as on PulseAudio or PipeWire, whatever the control's raw range is.


def db_to_percent(db: float) -> float:
    if db == -math.inf:
        return 0.0
    return round(100.0 * math.pow(10.0, db / 60.0), 2)


def percent_to_db(percent: float) -> float:
    if percent <= 0.0:
        return -math.inf
    return 60.0 * math.log10(percent / 100.0)


def raw_to_percent(raw: int, lo: int, hi: int) -> float:
    """A control without dB information: its raw range, linearly."""
    if hi <= lo:
        return 100.0
    return round(100.0 * (raw - lo) / (hi - lo), 2)


def percent_to_raw(percent: float, lo: int, hi: int) -> int:
    """The highest raw value not above `percent` of the range."""
    return lo + math.floor((hi - lo) * min(max(percent, 0.0), 100.0) / 100.0 + 1e-9)


def db_to_raw(db: float, db_range: tuple[float, float], raw_range: tuple[int, int]) -> int:
    """The raw value for a dB level on a control linear in dB, rounded down (quieter)."""
    (db_lo, db_hi), (lo, hi) = db_range, raw_range
    if db <= db_lo or db_hi <= db_lo:
        return lo
    if db >= db_hi:
        return hi
    return lo + math.floor((hi - lo) * (db - db_lo) / (db_hi - db_lo) + 1e-9)


# ---------------------------------------------------------------- channels


def channels_for(count: int) -> tuple[str, ...]:
    """How an ALSA PCM's channels are named: numbered AUX0…AUXn-1 (AUX2 = output 3), the
    first two also as FL and FR (a mono device's one channel as MONO)."""
    if count <= 1:
        return ("MONO", "AUX0")
    return ("FL", "FR", *(f"AUX{i}" for i in range(count)))


def channel_count(dev: Device) -> int:
    return sum(1 for c in dev.channels if re.fullmatch(r"AUX\d+", c)) or 2


_SURROUND = {"MONO": 0, "FL": 0, "FR": 1, "RL": 2, "RR": 3, "FC": 4, "LFE": 5, "SL": 6, "SR": 7}


def channel_index(position: str) -> int:
    """ALSA's channel number for a position: AUXn = n, FL/FR = 0/1, the rest in ALSA's
    default surround order (FL FR RL RR FC LFE SL SR)."""
    m = re.fullmatch(r"AUX(\d+)", position)
    if m:
        return int(m.group(1))
    return _SURROUND.get(position, 0)


# ---------------------------------------------------------------- the managed file


def include_line(path: str) -> str:
    """The one line the user's ~/.asoundrc needs."""
    return f"<{path}>"


def target_of(text: str | None) -> str | None:
    """The device the managed file points the default at, or None."""
    for line in (text or "").splitlines():
        if line.startswith(TARGET_MARK):
            value = line[len(TARGET_MARK) :].strip()
            return None if value == NO_TARGET else value
    return None


def _header(path: str, target: str | None, about: str) -> list[str]:
    return [
        "# dawroute's ALSA configuration: written by the dawroute daemon and rewritten on",
        "# every switch; do not edit (your own settings belong in ~/.asoundrc). Include it",
        "# from ~/.asoundrc with this line, see docs/alsa.md:",
        f"#   {include_line(path)}",
        f"{TARGET_MARK}{target or NO_TARGET}",
        f"# {about}",
    ]


def neutral(path: str, why: str) -> str:
    """A valid file that leaves the ALSA default alone (ALSA's own, or a sound server's)."""
    return "\n".join([*_header(path, None, f"the ALSA default is not managed: {why}"), ""])


def render(plan: Plan, snapshot: Snapshot, path: str) -> str:
    """The managed file for a plan: the ALSA default on the plan's first output (through
    `route` for a channel pair or mono), capture on the profile's input when it has one."""
    out = plan.outputs[0] if plan.outputs else None
    dev = snapshot.device(out.device) if out is not None else None
    if out is None or dev is None or dev.card_id is None:
        return neutral(path, f"profile '{plan.profile}' has no ALSA output present")
    playback = _playback(dev, out.channels, out.mono)
    source = snapshot.device(plan.default_source, Direction.SOURCE) if plan.default_source else None
    description = _quote(f"dawroute: {plan.profile} ({dev.label})")
    lines = _header(path, plan.target, f"profile: {plan.profile}")
    lines += ["", "pcm.!default {"]
    if source is not None and source.card_id is not None:
        lines += [
            "\ttype asym",
            "\tplayback.pcm {",
            *(f"\t{line}" for line in playback),
            "\t}",
            "\tcapture.pcm {",
            "\t\ttype plug",
            f'\t\tslave.pcm "{_hw(source)}"',
            "\t}",
        ]
    else:
        lines += playback
    lines += [
        "\thint {",
        "\t\tshow on",
        f'\t\tdescription "{description}"',
        "\t}",
        "}",
        "",
        "ctl.!default {",
        "\ttype hw",
        f'\tcard "{dev.card_id}"',
        "}",
        "",
    ]
    return "\n".join(lines)


def _hw(dev: Device) -> str:
    return f"hw:CARD={dev.card_id},DEV={dev.pcm_device}"


def _playback(dev: Device, channels: tuple[str, ...] | None, mono: bool) -> list[str]:
    """`plug` straight onto the card, or `plug` → `route` → `plughw` for outputs 3-4 or
    mono (route picks the device channels; plughw adapts format and rate)."""
    if channels is None and not mono:
        return ["\ttype plug", f'\tslave.pcm "{_hw(dev)}"']
    targets = [channel_index(c) for c in channels] if channels else [0, 1]
    count = max(channel_count(dev), *(t + 1 for t in targets))
    table: list[str] = []
    if mono or len(targets) == 1:  # both inputs summed onto each target channel
        for t in targets:
            table += [f"\t\tttable.0.{t} 0.5", f"\t\tttable.1.{t} 0.5"]
    else:
        table += [f"\t\tttable.0.{targets[0]} 1", f"\t\tttable.1.{targets[1]} 1"]
    return [
        "\ttype plug",
        "\tslave.pcm {",
        "\t\ttype route",
        f'\t\tslave.pcm "plug{_hw(dev)}"',
        f"\t\tslave.channels {count}",
        *table,
        "\t}",
    ]


def _quote(text: str) -> str:
    """Safe inside an ALSA configuration string: no quotes, backslashes or controls."""
    return "".join(ch for ch in text.replace('"', "'").replace("\\", "/") if ch.isprintable())

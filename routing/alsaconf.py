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

from routing.model import Device, Direction, OutputPlan, Plan, Snapshot

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
    """The managed file for a plan: the ALSA default on the plan's output (through `route`
    for a channel pair or mono; on several cards at once through `multi`, `also:`),
    capture on the profile's input when it has one."""
    parts = [
        (o, dev)
        for o in plan.outputs
        if (dev := snapshot.device(o.device)) is not None and dev.card_id is not None
    ]
    if not parts:
        return neutral(path, f"profile '{plan.profile}' has no ALSA output present")
    out, dev = parts[0]
    playback = _playback(dev, out.channels, out.mono) if len(parts) == 1 else _multi(parts)
    source = snapshot.device(plan.default_source, Direction.SOURCE) if plan.default_source else None
    labels = " + ".join(d.label for _, d in parts)
    description = _quote(f"dawroute: {plan.profile} ({labels})")
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
    targets, count = _targets(dev, channels)
    return [
        "\ttype plug",
        "\tslave.pcm {",
        "\t\ttype route",
        f'\t\tslave.pcm "plug{_hw(dev)}"',
        f"\t\tslave.channels {count}",
        *_table(targets, mono),
        "\t}",
    ]


def _multi(parts: Sequence[tuple[OutputPlan, Device]]) -> list[str]:
    """Several cards at once: `plug` → `route` → `multi` over each card's `plughw` (each
    card adapts format and rate on its own). multi's channels are the cards' channels one
    after the other; route puts the stereo input on each output's own channels."""
    slaves: list[str] = []
    bindings: list[str] = []
    table: list[str] = []
    base = 0
    for i, (o, dev) in enumerate(parts):
        name = chr(ord("a") + i)
        targets, count = _targets(dev, o.channels)
        slaves += [
            f'\t\t\tslaves.{name}.pcm "plug{_hw(dev)}"',
            f"\t\t\tslaves.{name}.channels {count}",
        ]
        for ch in range(count):
            bindings += [
                f"\t\t\tbindings.{base + ch}.slave {name}",
                f"\t\t\tbindings.{base + ch}.channel {ch}",
            ]
        table += _table([base + t for t in targets], o.mono)
        base += count
    return [
        "\ttype plug",
        "\tslave.pcm {",
        "\t\ttype route",
        "\t\tslave.pcm {",
        "\t\t\ttype multi",
        *slaves,
        *bindings,
        "\t\t}",
        f"\t\tslave.channels {base}",
        *table,
        "\t}",
    ]


def _targets(dev: Device, channels: tuple[str, ...] | None) -> tuple[list[int], int]:
    """The device channels an output plays on (default: the first two) and how many
    channels the device is opened with."""
    targets = [channel_index(c) for c in channels] if channels else [0, 1]
    return targets, max(channel_count(dev), *(t + 1 for t in targets))


def _table(targets: Sequence[int], mono: bool) -> list[str]:
    """route's table from the stereo input to the target channels."""
    if mono or len(targets) == 1:  # both inputs summed onto each target channel
        return [
            line for t in targets for line in (f"\t\tttable.0.{t} 0.5", f"\t\tttable.1.{t} 0.5")
        ]
    return [f"\t\tttable.0.{targets[0]} 1", f"\t\tttable.1.{targets[1]} 1"]


def _quote(text: str) -> str:
    """Safe inside an ALSA configuration string: no quotes, backslashes or controls."""
    return "".join(ch for ch in text.replace('"', "'").replace("\\", "/") if ch.isprintable())

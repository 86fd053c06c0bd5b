"""Pure: how each DAW shows itself to the sound server — its stream's application name or
process binary (pulse) and its master outputs' JACK port names — for `daw: {preset: …}`
and `dawroute daws`.

Sources (docs/daw.md lists them with the details):
- Ardour: the backend client name defaults to `ardour` (`-c/--name` changes it;
  gtk2_ardour/opts.cc); the master bus's ports are `Master/audio_out 1`, `… 2`. A headless
  session (`ardourN-lua`) whose script starts JACK with no name has no client name at
  all: `:Master/audio_out 1` (measured with Ardour 7.3 on jackd and PipeWire's JACK).
- Mixbus: Harrison's build of Ardour: same port names, its own program name.
- REAPER: JACK client `REAPER`, outputs `out1` … `outN`.
- Qtractor: client `Qtractor`, a bus's outputs `<bus>/out_<n>` (qtractorAudioEngine.cpp).
- LMMS: client `lmms` (configurable), outputs `master out L1`, `master out R1`
  (src/core/audio/AudioJack.cpp).
- Bitwig Studio and Renoise: client `Bitwig Studio` / `renoise`; their output ports are
  named after the DAW's own output configuration, so the preset takes the client's
  outputs in natural order (the first two are the master pair).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from routing.format.invalid import Invalid


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    title: str
    apps: tuple[str, ...]  # application.name or process binary: exact (any case) or ~regex
    master: str  # the master outputs' JACK port names, ~regex


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("ardour", "Ardour", ("~^ardour",), r"~^(ardour[^:]*)?:Master/audio_out [12]$"),
        Preset("mixbus", "Harrison Mixbus", ("~mixbus",), r"~^mixbus[^:]*:Master/audio_out [12]$"),
        Preset("reaper", "REAPER", ("REAPER",), r"~^REAPER[^:]*:out[12]$"),
        Preset("bitwig", "Bitwig Studio", ("~bitwig",), r"~^Bitwig Studio[^:]*:"),
        Preset("renoise", "Renoise", ("~^renoise",), r"~^renoise[^:]*:"),
        Preset("qtractor", "Qtractor", ("Qtractor",), r"~^Qtractor[^:]*:Master/out_[12]$"),
        Preset("lmms", "LMMS", ("LMMS",), r"~^lmms[^:]*:master out [LR]1$"),
    )
}
NAMES = tuple(PRESETS)


def unknown(name: str) -> Invalid:
    """The error for a name that is not a preset."""
    guess = difflib.get_close_matches(name.lower(), NAMES, n=1, cutoff=0.6)
    hint = f"did you mean `{guess[0]}`? " if guess else ""
    return Invalid(f"unknown DAW preset '{name}'", f"{hint}known presets: {', '.join(NAMES)}")


def names_of(value: object) -> list[str] | None:
    """`preset: ardour` or `preset: [ardour, reaper]` → the names; None if neither shape."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _matches(pattern: str, value: str | None) -> bool:
    if value is None:
        return False
    if pattern.startswith("~"):
        return re.search(pattern[1:], value, re.IGNORECASE) is not None
    return pattern.casefold() == value.casefold()


def for_stream(app_name: str, binary: str | None) -> Preset | None:
    """The preset whose apps match a pulse stream (application name or binary)."""
    return next(
        (
            p
            for p in PRESETS.values()
            if any(_matches(a, app_name) or _matches(a, binary) for a in p.apps)
        ),
        None,
    )


def for_ports(ports: Iterable[str]) -> Preset | None:
    """The preset whose master pattern matches one of these JACK port names."""
    names = list(ports)
    return next((p for p in PRESETS.values() if any(_matches(p.master, n) for n in names)), None)


def port_selector(ports: Sequence[str]) -> str:
    """A `daw.ports` key for a client's first two outputs (natural order), exact names."""
    chosen = sorted(ports, key=_natural)[:2]
    return "~^(" + "|".join(_escape(p) for p in chosen) + ")$"


def _escape(text: str) -> str:
    """Regex metacharacters only (re.escape would also escape spaces, `\\ ` in YAML)."""
    return re.sub(r"([.^$*+?{}\[\]\\|()])", r"\\\1", text)


def _natural(name: str) -> list[object]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]

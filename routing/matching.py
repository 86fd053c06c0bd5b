"""Pure: does a profile's selector pick this device? Never by index, never by guessing."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from routing.model import Device, Direction
from routing.profile import Selector


def text_matches(pattern: str, value: str | None) -> bool:
    """`~regex` is searched case-insensitively; plain text must equal, ignoring case."""
    if value is None:
        return False
    if pattern.startswith("~"):
        return re.search(pattern[1:], value, re.IGNORECASE) is not None
    return pattern.casefold() == value.casefold()


def matches(selector: Selector, device: Device) -> bool:
    """Every key the selector sets must hold for the device."""
    if device.ours or device.monitor_of is not None:
        return False
    checks = (
        selector.usb is None or selector.usb == device.usb_id,
        selector.serial is None or selector.serial == device.serial,
        selector.card is None or text_matches(selector.card, device.card_name),
        selector.name is None or fnmatch.fnmatchcase(device.name, selector.name),
        selector.description is None or text_matches(selector.description, device.description),
    )
    return all(checks)


class Found(Enum):
    """What a selector found: decisions branch on this, never on the problem's words."""

    ONE = "one device"
    NONE = "no device"
    SEVERAL = "several devices"


@dataclass(frozen=True, slots=True)
class Resolution:
    """The device a selector picks, or why it picks none."""

    device: Device | None
    ambiguous: tuple[Device, ...] = ()

    @property
    def found(self) -> Found:
        if self.ambiguous:
            return Found.SEVERAL
        return Found.ONE if self.device else Found.NONE

    @property
    def problem(self) -> str | None:
        if self.ambiguous:
            names = " and ".join(f"'{d.label}' ({d.name})" for d in self.ambiguous)
            return (
                f"selector matches {len(self.ambiguous)} devices: {names} — add `serial` or `name`"
            )
        return None if self.device else "no connected device matches"


def resolve(selector: Selector, devices: Iterable[Device], direction: Direction) -> Resolution:
    found = tuple(d for d in devices if d.direction is direction and matches(selector, d))
    if len(found) == 1:
        return Resolution(found[0])
    return Resolution(None, found if len(found) > 1 else ())


def suggest_selector(device: Device, all_devices: Iterable[Device]) -> dict[str, str]:
    """The smallest stable selector that picks only this device (for `dawroute devices`).

    Prefers USB ids, then the ALSA card name, then the node name and description;
    adds the serial when two identical units are connected.
    """
    others = [d for d in all_devices if d is not device and d.direction is device.direction]
    candidates: list[dict[str, str]] = []
    if device.usb_id:
        candidates.append({"usb": device.usb_id})
        if device.serial:
            candidates.append({"usb": device.usb_id, "serial": device.serial})
    if device.card_name:
        candidates.append({"card": device.card_name})
    candidates.append({"name": _stable_name(device.name)})
    if device.description:
        candidates.append({"description": device.description})
    for cand in candidates:
        sel = Selector(**cand)
        if matches(sel, device) and not any(matches(sel, o) for o in others):
            return cand
    return candidates[0]


def _stable_name(name: str) -> str:
    """Drop the per-plug numeric suffix PipeWire/PulseAudio add (`.2`, `-01`) as a glob."""
    trimmed = re.sub(r"(\.\d+)$", "", name)
    return trimmed + "*" if trimmed != name else name

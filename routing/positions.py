"""Channel positions: the short names users write (FL, AUX2) and PulseAudio's channel-map
names (front-left, aux2)."""

from __future__ import annotations

import re

_POSITIONS = {
    "FL": "front-left", "FR": "front-right", "FC": "front-center", "LFE": "lfe",
    "RL": "rear-left", "RR": "rear-right", "SL": "side-left", "SR": "side-right",
    "RC": "rear-center", "FLC": "front-left-of-center", "FRC": "front-right-of-center",
    "MONO": "mono",
}  # fmt: skip
_LONG_TO_SHORT = {v: k for k, v in _POSITIONS.items()}


def short_position(name: str) -> str | None:
    """'front-left' / 'fl' / 'aux2' → 'FL' / 'AUX2'; None if not a channel position."""
    n = name.strip()
    up = n.upper()
    if up in _POSITIONS:
        return up
    if n.lower() in _LONG_TO_SHORT:
        return _LONG_TO_SHORT[n.lower()]
    m = re.fullmatch(r"AUX(\d{1,2})", up)
    if m and int(m.group(1)) < 64:
        return f"AUX{int(m.group(1))}"
    return None


def pulse_position(short: str) -> str:
    """'FL' → 'front-left', 'AUX2' → 'aux2' (PulseAudio channel-map names)."""
    return _POSITIONS.get(short) or short.lower()

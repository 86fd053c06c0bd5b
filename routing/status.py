"""`dawroute status` as text (pure: a status dict in, lines out)."""

from __future__ import annotations

import time
from typing import Any


def _clock(ts: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts)) if ts else "?"


def render_status(st: dict[str, Any]) -> str:
    lines = []
    mode = f"manual since {_clock(st['manual_since'])}" if st["manual"] else "automatic"
    active = st["active"] or "none"
    lines.append(f"active:   {active} ({mode}), since {_clock(st['active_since'])}")
    if st["reason"]:
        lines.append(f"why:      {st['reason']}")
    srv = st["server"]
    if srv["available"]:
        lines.append(f"server:   {srv.get('kind', '?')} {srv.get('version', '')}")
    else:
        lines.append(f"server:   sound server unavailable since {_clock(srv['unavailable_since'])}")
    for o in st["outputs"]:
        if o["present"]:
            lines.append(
                f"output:   {o['label']}: {o['volume']:.0f} % (cap {o['max_volume']:.0f} %)"
            )
        else:
            lines.append(f"output:   {o['label']}: gone")
    for s in st["streams"]:
        arrow = "→" if s["on_target"] else "→ (not yet moved)"
        lines.append(f"DAW:      '{s['app']}' stream {s['index']} {arrow} {s['label']}")
    if not st["streams"]:
        lines.append("DAW:      no DAW stream playing")
    for p in st["problems"]:
        lines.append(f"problem:  {p}")
    cfg = st["config"]
    for e in cfg["errors"]:
        lines.append(f"config:   {e}")
    if cfg["errors"]:
        lines.append("config:   the last good configuration is still in use")
    if st["events"]:
        lines.append("events:")
        for ev in st["events"]:
            lines.append(f"  {_clock(ev['time'])}  {ev['kind']:<8} {ev['message']}")
    return "\n".join(lines)

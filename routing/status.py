"""`dawroute status`: the daemon's report as plain data, and that data as text.

Imported by the CLI for `render_status`, so the view (and the model behind it) is only
imported for type checking.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from routing.contract import (
    CardRow,
    Event,
    InputRow,
    Latency,
    OutputRow,
    RecordingRow,
    Server,
    Status,
    StreamRow,
)
from routing.errors import issue_lines

if TYPE_CHECKING:
    from routing.model import Plan, Snapshot
    from routing.view import View


def _clock(ts: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts)) if ts else "?"


def _server(srv: Server) -> str:
    if not srv["available"]:
        return f"sound server unavailable since {_clock(srv['unavailable_since'])}"
    if srv.get("backend") == "alsa":
        return f"none — bare ALSA (driver {srv.get('version') or '?'})"
    if srv.get("backend") == "jack":
        return f"jackd alone, no pulse server (JACK {srv.get('version') or '?'})"
    return f"{srv.get('kind', '?')} {srv.get('version') or ''}"


def _guard(running: bool) -> str:
    if running:
        return "WirePlumber holds links to a capped device until it is within its cap"
    return (
        "not running (WirePlumber 0.5: `dawroute init`, then "
        "`systemctl --user restart wireplumber`); caps are kept by dawroute alone"
    )


def render_status(st: Status) -> str:
    lines = []
    mode = f"manual since {_clock(st['manual_since'])}" if st["manual"] else "automatic"
    active = st["active"] or "none"
    if st.get("off"):
        lines.append(f"active:   off, since {_clock(st.get('off_since'))}")
    else:
        lines.append(f"active:   {active} ({mode}), since {_clock(st['active_since'])}")
    if st["reason"]:
        lines.append(f"why:      {st['reason']}")
    srv = st["server"]
    lines.append(f"server:   {_server(srv)}")
    if srv.get("backend"):
        lines.append(f"backend:  {srv['backend']}")
    if "cap_guard" in srv:
        lines.append(f"guard:    {_guard(srv['cap_guard'])}")
    for o in st["outputs"]:
        if o["present"]:
            lines.append(
                f"output:   {o['label']}: {o['volume']:.0f} % (cap {o['max_volume']:.0f} %)"
            )
            if o.get("below_profile"):
                lines.append(
                    f"{'':10}below the profile's {o['profile_volume']:.0f} %: start-up never "
                    f"raises a level, and your own changes below the cap are kept; "
                    f"`dawroute switch {active}` applies it (or `raise_at_startup: true`)"
                )
        else:
            lines.append(f"output:   {o['label']}: gone")
    lines += _input_lines(st)
    lines += _card_lines(st)
    lat = st.get("latency") or {}
    parts = []
    if lat.get("period_ms") is not None:
        forced = " (forced)" if lat.get("forced") else ""
        parts.append(
            f"quantum {lat['quantum']} at {lat['rate']} Hz = {lat['period_ms']:.2f} ms per "
            f"period{forced}"
        )
    if lat.get("device_ms") is not None:
        conf = lat.get("configured_ms")
        parts.append(
            f"device {lat['device_ms']:.1f} ms"
            + (f" (configured {conf:.1f} ms)" if conf is not None else "")
        )
    if parts:
        lines.append("latency:  " + "; ".join(parts))
    for s in st["streams"]:
        arrow = "→ (not yet moved)" if s["on_target"] is False else "→"
        lines.append(f"DAW:      '{s['app']}' stream {s['index']} {arrow} {s['label']}")
    if not st["streams"]:
        lines.append("DAW:      no DAW stream playing")
    lines += _recording_lines(st)
    for p in st["problems"]:
        lines.append(f"problem:  {p}")
    state_error = st["state"].get("error") if "state" in st else None  # older daemons: none
    if state_error:
        lines.append(f"state:    {state_error} — the choice is not remembered across restarts")
    cfg = st["config"]
    for e in cfg["errors"]:
        lines.append(f"config:   {e}")
    if cfg["errors"]:
        lines.append("config:   the last good configuration is still in use")
    if st["events"]:
        lines.append("events:")
        for ev in st["events"]:
            lines.append(f"  {_clock(ev['time'])}  {ev['kind']:<8} {ev['message']}")
            lines += [f"{'':20}{line}" for line in event_details(ev)]
    return "\n".join(lines)


def _input_lines(st: Status) -> list[str]:
    inp = st.get("input")
    if not inp:
        return []
    cap = f" (cap {inp['max_volume']:.0f} %)" if inp["max_volume"] is not None else ""
    level = f"{inp['volume']:.0f} %{cap}" if inp["volume"] is not None else "gone"
    return [f"input:    {inp['label']}: {level}"]


def _card_lines(st: Status) -> list[str]:
    lines = []
    for c in st.get("cards", []):
        key = "card:" if c["kind"] == "card_profile" else "port:"
        now = c["active"] or "none"
        state = now if now == c["wanted"] else f"{now}, to be {c['wanted']}"
        what = "profile " if c["kind"] == "card_profile" else ""
        lines.append(f"{key:<10}{c['label']}: {what}{state}")
    return lines


def _recording_lines(st: Status) -> list[str]:
    """Where the DAW records from."""
    lines = []
    for r in st.get("recordings", []):
        arrow = "← (not yet moved)" if r["on_target"] is False else "←"
        lines.append(f"DAW:      '{r['app']}' recording {r['index']} {arrow} {r['label']}")
    return lines


def event_details(ev: Event) -> list[str]:
    """The ops of a decision that failed or were skipped (not attempted), with why;
    `dawroute status` and `watch` show them under the event."""
    return [f"failed: {f}" for f in ev.get("failed", [])] + [
        f"skipped: {s}" for s in ev.get("skipped", [])
    ]


def latency(snap: Snapshot | None, plan: Plan | None) -> Latency:
    """The clock's period in ms (quantum / rate) and what the server reports for the
    device the DAW plays on."""
    out: Latency = {}
    clock = snap.clock if snap is not None and snap.clock is not None else None
    wanted = plan.clock if plan is not None else None
    use = clock if clock and clock.rate and clock.quantum else wanted
    if use is not None and use.rate and use.quantum:
        out["rate"], out["quantum"] = use.rate, use.quantum
        out["period_ms"] = round(use.quantum / use.rate * 1000.0, 3)
        out["forced"] = bool(clock and clock.rate)
    if snap is not None and plan is not None:
        devs = [snap.device(plan.target)] + [snap.device(o.device) for o in plan.outputs]
        dev = next((d for d in devs if d is not None and d.latency_ms is not None), None)
        if dev is not None:
            out["device_ms"], out["configured_ms"] = dev.latency_ms, dev.configured_latency_ms
    return out


def _cards(snap: Snapshot | None, plan: Plan | None) -> list[CardRow]:
    """The card profiles and ports the active profile sets, against the server's."""
    if snap is None or plan is None:
        return []
    rows: list[CardRow] = []
    for name, profile in plan.cards:
        card = snap.card(name)
        label = card.label if card else name
        active = card.active if card else None
        rows.append({"kind": "card_profile", "label": label, "active": active, "wanted": profile})
    for device, direction, port in plan.ports:
        dev = snap.device(device, direction)
        label = dev.label if dev else device
        rows.append(
            {"kind": "port", "label": label, "active": dev.port if dev else None, "wanted": port}
        )
    return rows


def _input_row(snap: Snapshot | None, plan: Plan | None) -> InputRow | None:
    inp = plan.input if plan is not None else None
    if snap is None or inp is None:
        return None
    from routing.model import Direction  # the daemon's side only: the CLI stays light

    dev = snap.device(inp.device, Direction.SOURCE)
    return {
        "device": inp.device,
        "label": dev.label if dev else inp.device,
        "present": dev is not None,
        "volume": dev.volume if dev else None,
        "max_volume": inp.max_volume,
        "profile_volume": inp.volume,
    }


def _recordings(d: View, snap: Snapshot | None, plan: Plan | None) -> list[RecordingRow]:
    """Where the DAW records from (observed while a profile has an `input`)."""
    if snap is None or not snap.recordings:
        return []
    from routing.model import Direction  # the daemon's side only: the CLI stays light
    from routing.policy import is_daw

    target = plan.input.device if plan is not None and plan.input is not None else None
    ids = set(plan.daw_recordings) if plan is not None and plan.input is not None else None
    rows: list[RecordingRow] = []
    for r in snap.recordings:
        if ids is not None and r.index not in ids:
            continue
        if ids is None and not any(is_daw(p, r.app_name, r.binary) for p in d.profiles):
            continue
        dev = snap.device(r.source or "", Direction.SOURCE)
        rows.append(
            {
                "index": r.index,
                "app": r.app_name,
                "source": r.source,
                "label": dev.label if dev else r.source,
                "on_target": r.source == target if target is not None else None,
            }
        )
    return rows


def _daw_streams(d: View, snap: Snapshot) -> set[int]:
    """With no profile active the DAW still plays somewhere (on the default, or on a sink
    dawroute left): its streams are those any profile counts as the DAW."""
    from routing.policy import is_daw  # the daemon's side only: the CLI stays light

    return {
        s.index for s in snap.streams if any(is_daw(p, s.app_name, s.binary) for p in d.profiles)
    }


def report(d: View) -> Status:
    """Everything `dawroute status` shows, as plain data."""
    # the daemon's side only: the CLI renders what this returns without the model, whose
    # frozen dataclasses took 25-35 ms to import, a third of `dawroute status` (measured)
    from routing.model import channel_label

    snap = d.snapshot
    plan = d.decision.plan if d.decision else None
    server: Server = {
        "available": d.server_available,
        "unavailable_since": d.server_down_since,
        # "pulse", "jack" (jackd alone) or "alsa" (bare ALSA): what the last pass used
        "backend": d.backend,
    }
    if snap is not None:
        server["kind"], server["version"] = snap.server.value, snap.server_version
    if d.cap_guard is not None:
        server["cap_guard"] = d.cap_guard
    outputs: list[OutputRow] = []
    streams: list[StreamRow] = []
    if snap is not None and plan is not None:
        for o in plan.outputs:
            dev = snap.device(o.device)
            label = f"{dev.label if dev else o.device} {channel_label(o.channels)}".rstrip()
            outputs.append(
                {
                    "device": o.device,
                    "channels": list(o.channels or ()),
                    "label": label,
                    "present": dev is not None,
                    "volume": dev.level(o.channels) if dev else None,
                    "max_volume": o.max_volume,
                    "profile_volume": o.volume,
                    "below_profile": dev is not None
                    and o.volume is not None
                    and dev.level(o.channels) < o.volume - 0.6,
                    "card": dev.card_name if dev else None,
                }
            )
    if snap is not None:
        daw_ids = set(plan.daw_streams) if plan else _daw_streams(d, snap)
        for s in snap.streams:
            if s.index in daw_ids:
                dev = snap.device(s.sink or "")
                streams.append(
                    {
                        "index": s.index,
                        "app": s.app_name,
                        "sink": s.sink,
                        "label": dev.label if dev else s.sink,
                        # None: no profile active (off, or no device present), no target
                        "on_target": s.sink == plan.target if plan is not None else None,
                    }
                )
    return {
        "input": _input_row(snap, plan),
        "recordings": _recordings(d, snap, plan),
        "cards": _cards(snap, plan),
        "latency": latency(snap, plan),
        "active": d.state.active,
        "active_since": d.state.active_since,
        "manual": d.state.manual,
        "manual_since": d.state.manual_since,
        "off": d.state.off,
        "off_since": d.state.off_since,
        "reason": d.active_reason,
        "problems": list(d.decision.problems) if d.decision else [],
        "target": plan.target if plan else None,
        "outputs": outputs,
        "streams": streams,
        "server": server,
        "config": {
            "profiles": len(d.profiles),
            "loaded_at": d.loaded_at,
            "errors": issue_lines(d.errors),
            "warnings": issue_lines(d.warnings),
        },
        "state": {"file": d.state_file, "error": d.state_error},
        "events": list(d.events),
        "midi": d.midi,
        "osc": d.osc,
    }

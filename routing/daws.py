"""`dawroute daws`: the applications playing (pulse streams) and the JACK clients with audio
outputs, each with the preset or selector to paste into a profile's `daw:` (pure: rows
from what was observed)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from routing.format import presets
from routing.model import Port, Stream


@dataclass(frozen=True, slots=True)
class Seen:
    kind: str  # "stream" (pulse) or "jack"
    name: str  # application name, or JACK client name
    binary: str | None  # streams: the process binary
    where: tuple[str, ...]  # streams: devices they play on; JACK: the output ports
    preset: str | None
    paste: str  # a `daw:` line for a profile

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "name": self.name,
            "binary": self.binary,
            "where": list(self.where),
            "preset": self.preset,
            "paste": self.paste,
        }


def streams(found: Iterable[Stream]) -> list[Seen]:
    """One row per application (name, binary), DAWs with a preset first."""
    grouped: dict[tuple[str, str | None], list[str]] = {}
    for s in found:
        devices = grouped.setdefault((s.app_name, s.binary), [])
        if s.sink and s.sink not in devices:
            devices.append(s.sink)
    rows = []
    for (app, binary), devices in grouped.items():
        preset = presets.for_stream(app, binary)
        paste = (
            f"daw: {{preset: {preset.name}}}"
            if preset
            else f"daw: {{apps: [{json.dumps(app or binary or '')}]}}"
        )
        rows.append(
            Seen("stream", app, binary, tuple(devices), preset.name if preset else None, paste)
        )
    return sorted(rows, key=lambda r: (r.preset is None, r.name.casefold()))


def jack_clients(ports: Iterable[Port]) -> list[Seen]:
    """One row per JACK client with audio outputs that is not a device (no playback
    ports, not only a sink's monitor outputs)."""
    outputs: dict[str, list[str]] = {}
    devices: set[str] = set()
    for p in ports:
        if p.channel is not None or p.physical:
            devices.add(p.client)
        elif p.output and not p.name.split(":", 1)[-1].startswith("monitor_"):
            outputs.setdefault(p.client, []).append(p.name)
    rows = []
    for client, names in outputs.items():
        if client in devices:
            continue
        preset = presets.for_ports(names)
        if preset is not None:
            paste = f"daw: {{preset: {preset.name}, master: stereo}}"
        else:
            paste = f"daw: {{ports: {{{json.dumps(presets.port_selector(names))}: stereo}}}}"
        rows.append(
            Seen("jack", client, None, tuple(names), preset.name if preset else None, paste)
        )
    return sorted(rows, key=lambda r: (r.preset is None, r.name.casefold()))

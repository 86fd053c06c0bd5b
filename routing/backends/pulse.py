"""PulseAudio / pipewire-pulse backend: observe a Snapshot, execute Ops. It never decides.

Both servers speak the same protocol through pulsectl-asyncio. PipeWire applies
moves and default changes asynchronously (0.5-5 ms later, measured in the
project's server probe), so callers wait on events or re-observe; nothing here sleeps.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import pulsectl
import pulsectl_asyncio

from routing.backends import pipewire
from routing.model import (
    OWNER_PROPERTY,
    OWNER_VALUE,
    PROFILE_PROPERTY,
    VIRTUAL_PREFIX,
    ApplyResult,
    Device,
    Direction,
    LoadVirtual,
    MoveStream,
    Op,
    ServerKind,
    SetDefault,
    SetStreamVolume,
    SetVolume,
    Snapshot,
    Stream,
    UnloadVirtual,
    VirtualSink,
)
from routing.profiles import pulse_position, short_position

log = logging.getLogger(__name__)

FEEDS_PROPERTY = "dawroute.feeds"
_NO_INDEX = 0xFFFFFFFF
Disconnected = pulsectl.PulseDisconnected
ServerError = pulsectl.PulseError


@dataclass(frozen=True, slots=True)
class Change:
    """One change notification from the server (only a poke: the daemon re-observes)."""

    facility: str
    kind: str  # new / change / remove
    index: int


class PulseBackend:
    def __init__(self, server: str | None = None, client_name: str = "dawroute") -> None:
        self._server = server
        self._client_name = client_name
        self._pulse: Any = None
        self._sinks: dict[str, tuple[int, int]] = {}  # name → (index, channels), last observe
        self._defaults: dict[Direction, str | None] = {}  # as last observed
        self._sent_defaults: dict[Direction, str] = {}  # what we last asked for

    async def connect(self, timeout: float = 2.0) -> None:
        self._pulse = pulsectl_asyncio.PulseAsync(self._client_name, server=self._server)
        await self._pulse.connect(timeout=timeout)

    def close(self) -> None:
        if self._pulse is not None:
            self._pulse.close()
            self._pulse = None

    async def __aenter__(self) -> PulseBackend:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    @property
    def pulse(self) -> Any:
        if self._pulse is None:
            raise Disconnected("not connected")
        return self._pulse

    # ------------------------------------------------------------ observe

    async def observe(self, sources: bool = True) -> Snapshot:
        """Everything, or without the sources when nobody needs them (the daemon, when no
        profile has an `input`): source_list is ~30 % of an observe (monitors double it)."""
        p = self.pulse

        async def no_sources() -> list[Any]:
            return []

        info, sinks, sources_, inputs = await asyncio.gather(
            p.server_info(),
            p.sink_list(),
            p.source_list() if sources else no_sources(),
            p.sink_input_list(),
        )
        sink_names = {s.index: s.name for s in sinks}
        self._sinks = {s.name: (int(s.index), len(s.volume.values)) for s in sinks}
        devices = [device_from(s, Direction.SINK) for s in sinks]
        devices += [device_from(s, Direction.SOURCE, sink_names) for s in sources_]
        streams = [stream_from(i, sink_names) for i in inputs]
        name = info.server_name or ""
        kind = (
            ServerKind.PIPEWIRE
            if "PipeWire" in name
            else (ServerKind.PULSEAUDIO if "pulse" in name.lower() else ServerKind.UNKNOWN)
        )
        version = info.server_version or ""
        if kind is ServerKind.PIPEWIRE and "PipeWire" in name:
            version = name.rsplit(" ", 1)[-1].rstrip(")")
        self._defaults = {
            Direction.SINK: _default(info.default_sink_name),
            Direction.SOURCE: _default(info.default_source_name),
        }
        self._forget_gone_defaults(devices, sources)
        if kind is ServerKind.PIPEWIRE:
            await self._confirm_defaults()
        return Snapshot(
            devices=tuple(devices),
            streams=tuple(streams),
            default_sink=self._defaults[Direction.SINK],
            default_source=self._defaults[Direction.SOURCE],
            server=kind,
            server_version=version,
        )

    def _forget_gone_defaults(self, devices: list[Device], sources: bool) -> None:
        """A default we sent whose device is gone can never show again: without this,
        every later observe asked pw-metadata (25 ms median, 515 ms under load) for the
        rest of the daemon's life once the amp it had made the default was unplugged."""
        present = {(d.direction, d.name) for d in devices}
        for direction, name in list(self._sent_defaults.items()):
            known = sources or direction is Direction.SINK
            if known and (direction, name) not in present:
                del self._sent_defaults[direction]

    async def _confirm_defaults(self) -> None:
        """pipewire-pulse 0.3.65 can keep reporting the previous default after WirePlumber
        switched to the one we asked for (WirePlumber's "default" metadata showed ours while
        server_info showed the old one, ~1 in 10 test runs, for seconds). When the report
        disagrees with our last request, ask the metadata itself (pw-metadata, ~3 ms)."""
        keys = {Direction.SINK: "audio.sink", Direction.SOURCE: "audio.source"}
        stale = [d for d, sent in self._sent_defaults.items() if self._defaults.get(d) != sent]
        if not stale:
            return
        native = await pipewire.read_defaults()
        for direction in stale:
            if keys[direction] in native:
                self._defaults[direction] = native[keys[direction]]

    async def changes(self) -> AsyncIterator[Change]:
        """Server change notifications until the connection drops (then PulseDisconnected)."""
        async for ev in self.pulse.subscribe_events(
            "sink", "source", "sink_input", "server", "module"
        ):
            yield Change(str(ev.facility._value), str(ev.t._value), int(ev.index))

    # ------------------------------------------------------------ apply

    async def apply(self, ops: list[Op]) -> ApplyResult:
        """Run every op, in order, pipelined; the stop rule is routing.apply's.

        One connection's commands are executed by the server in the order they are sent
        (PulseAudio and pipewire-pulse alike), so a phase of ops goes out at once, in
        order, without one round trip per op. Loading one of our sinks is awaited on its
        own: later ops refer to it by name.
        """
        done: list[Op] = []
        failed: list[tuple[Op, str]] = []
        for phase in _phases(ops):
            results = await asyncio.gather(*(self._run(op) for op in phase), return_exceptions=True)
            for op, res in zip(phase, results, strict=True):
                if isinstance(res, Disconnected | asyncio.CancelledError):
                    raise res
                if isinstance(res, BaseException):
                    log.warning("could not %s: %s", op.describe(), res)
                    failed.append((op, str(res) or type(res).__name__))
                else:
                    log.info("%s", op.describe())
                    done.append(op)
        return ApplyResult(tuple(done), tuple(failed))

    async def _sink(self, name: str) -> tuple[int, int]:
        """(index, channel count) of a sink: from the last snapshot when we have it (no
        round trip), else asked for (a sink we created a moment ago)."""
        known = self._sinks.get(name)
        if known is not None:
            return known
        sink = await self.pulse.get_sink_by_name(name)
        return int(sink.index), len(sink.volume.values)

    async def _run(self, op: Op) -> None:
        p = self.pulse
        match op:
            case LoadVirtual(sink=v):
                await p.module_load(*module_args(v))
            case UnloadVirtual(module=m):
                await p.module_unload(m)
            case SetVolume(device=name, volume=vol):
                index, channels = await self._sink(name)
                await p.sink_volume_set(index, pulsectl.PulseVolumeInfo(vol / 100.0, channels))
            case SetStreamVolume(stream=idx, volume=vol):
                stream = await p.sink_input_info(idx)
                await p.sink_input_volume_set(idx, _volume(stream, vol))
            case MoveStream(stream=idx, sink=name):
                index, _ = await self._sink(name)
                await p.sink_input_move(idx, index)
            case SetDefault(direction=direction, device=name):
                await self._set_default(direction, name)

    async def _set_default(self, direction: Direction, name: str) -> None:
        """Set the default; if the same request already went out and did not take, bounce.

        WirePlumber 0.4 picks the configured default once when it changes; if our sink was
        not ready for it at that moment it keeps the old default, and pipewire-pulse does
        not pass on a request for the value already configured — so re-sending alone never
        helps (seen in ~1 of 10 test runs). Configuring the current default first makes the
        metadata change twice and WirePlumber look again.
        """
        p = self.pulse
        setter = p.sink_default_set if direction is Direction.SINK else p.source_default_set
        current = self._defaults.get(direction)
        if self._sent_defaults.get(direction) == name and current not in (None, name):
            log.debug("default %s %s did not take; re-configuring via %s", direction, name, current)
            await setter(current)
        await setter(name)
        self._sent_defaults[direction] = name


def _phases(ops: list[Op]) -> list[list[Op]]:
    """Split at each LoadVirtual (awaited alone, in order); everything else is pipelined."""
    phases: list[list[Op]] = []
    for op in ops:
        if isinstance(op, LoadVirtual) or not phases or isinstance(phases[-1][0], LoadVirtual):
            phases.append([op])
        else:
            phases[-1].append(op)
    return phases


def _volume(obj: Any, percent: float) -> Any:
    return pulsectl.PulseVolumeInfo(percent / 100.0, len(obj.volume.values))


def _default(name: str | None) -> str | None:
    # pipewire-pulse reports the literal "@DEFAULT_SINK@" until WirePlumber chose one
    return None if not name or name.startswith("@DEFAULT_") else name


def module_args(v: VirtualSink) -> tuple[str, str]:
    """module-remap-sink / module-combine-sink arguments for one of our sinks.

    Quoting: outer single quotes, inner double quotes; the reverse breaks on
    pipewire-pulse (it ends the description at the first space).
    """
    feeds = ",".join(v.slaves) if v.slaves else (v.master or "")
    props = (
        f'device.description="{v.description}" {OWNER_PROPERTY}={OWNER_VALUE} '
        f'{PROFILE_PROPERTY}="{v.profile}" {FEEDS_PROPERTY}="{feeds}"'
    )
    if v.slaves:
        return "module-combine-sink", (
            f"sink_name={v.name} slaves={','.join(v.slaves)} sink_properties='{props}'"
        )
    args = [f"sink_name={v.name}", f"master={v.master}", f"sink_properties='{props}'"]
    if v.mono:
        args += ["channels=1", "channel_map=mono"]
    elif v.master_channels:
        args += ["channels=2", "channel_map=front-left,front-right"]
    if v.master_channels:
        args += [
            "master_channel_map=" + ",".join(pulse_position(c) for c in v.master_channels),
            "remix=no",
        ]
    return "module-remap-sink", " ".join(args)


def device_from(
    obj: Any, direction: Direction, sink_names: Mapping[int, str] | None = None
) -> Device:
    props: dict[str, str] = dict(obj.proplist)
    monitor = getattr(obj, "monitor_of_sink", _NO_INDEX)
    monitor_of = (sink_names or {}).get(monitor) if monitor not in (None, _NO_INDEX) else None
    if (
        direction is Direction.SOURCE
        and monitor_of is None
        and props.get("device.class") == "monitor"
    ):
        monitor_of = props.get("device.description", "?")
    ours = props.get(OWNER_PROPERTY) == OWNER_VALUE or obj.name.startswith(VIRTUAL_PREFIX)
    module = getattr(obj, "owner_module", _NO_INDEX)
    feeds = props.get(FEEDS_PROPERTY, "")
    return Device(
        name=obj.name,
        description=obj.description or props.get("device.description", obj.name),
        direction=direction,
        index=obj.index,
        bus=props.get("device.bus"),
        vendor_id=_hex4(props.get("device.vendor.id")),
        product_id=_hex4(props.get("device.product.id")),
        serial=props.get("device.serial"),
        card_name=props.get("alsa.card_name"),
        channels=tuple(short_position(c) or c.upper() for c in obj.channel_list),
        volume=round(max(obj.volume.values or [0.0]) * 100.0, 2),
        muted=bool(obj.mute),
        virtual=props.get("device.bus") is None and "alsa.card" not in props,
        ours=ours,
        module=None if module in (None, _NO_INDEX) else int(module),
        monitor_of=monitor_of,
        feeds=tuple(f for f in feeds.split(",") if f),
    )


def stream_from(obj: Any, sink_names: Mapping[int, str]) -> Stream:
    props: dict[str, str] = dict(obj.proplist)
    pid = props.get("application.process.id", "")
    return Stream(
        index=obj.index,
        app_name=props.get("application.name") or obj.name or "",
        binary=props.get("application.process.binary"),
        pid=int(pid) if pid.isdigit() else None,
        sink=sink_names.get(obj.sink),
        volume=round(max(obj.volume.values or [0.0]) * 100.0, 2),
    )


def _hex4(value: str | None) -> str | None:
    if not value:
        return None
    v = value.lower().removeprefix("0x")
    try:
        return f"{int(v, 16):04x}"
    except ValueError:
        return None

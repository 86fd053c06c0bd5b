"""PulseAudio / pipewire-pulse backend: observe a Snapshot, execute Ops. It never decides.

Both servers speak the same protocol through pulsectl-asyncio. PipeWire applies
moves and default changes asynchronously (0.5-5 ms later, measured in the
project's server probe), so callers wait on events or re-observe; nothing here sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import pulsectl
import pulsectl_asyncio

from routing.backends import pipewire
from routing.model import (
    LEVEL_TOLERANCE,
    OWNER_PROPERTY,
    OWNER_VALUE,
    PROFILE_PROPERTY,
    VIRTUAL_PREFIX,
    ApplyResult,
    Card,
    Device,
    Direction,
    LoadVirtual,
    MoveRecording,
    MoveStream,
    Op,
    ReassertStream,
    Recording,
    ServerKind,
    SetCardProfile,
    SetDefault,
    SetPort,
    SetSourceVolume,
    SetStreamVolume,
    SetVolume,
    Snapshot,
    Stream,
    UnloadVirtual,
    VirtualSink,
)
from routing.positions import pulse_position, short_position

log = logging.getLogger(__name__)

FEEDS_PROPERTY = "dawroute.feeds"
HOLD_SINK = "dawroute.hold"  # silent, ours, exists for a few ms while a stream passes
_NO_INDEX = 0xFFFFFFFF
# seconds a move on PipeWire may take before it counts as stuck: the cap guard's 20 ms
# settle (1.x) and WirePlumber's linking, with room for a loaded machine; the pass's
# verify look (routing.passes.VERIFY_SECONDS, 0.1 s) comes after it
IN_FLIGHT = 0.1
# seconds a default we sent is shown as taken before the server reports it; shorter than
# routing.passes.VERIFY_SECONDS, so the look that follows asks WirePlumber's metadata
DEFAULT_TRUST = 0.05
Disconnected = pulsectl.PulseDisconnected
ServerError = pulsectl.PulseError
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Change:
    """One change notification from the server (only a poke: the daemon re-observes)."""

    facility: str
    kind: str  # new / change / remove
    index: int


class _PulseAsync(pulsectl_asyncio.PulseAsync):  # type: ignore[misc]
    def _pulse_state_cb(self, ctx: Any, userdata: Any) -> None:
        """pulsectl-asyncio 1.2 fails every waiting call at once when the context fails —
        also calls whose answer is already queued on the loop (its own
        call_soon_threadsafe(set_result)) or done: InvalidStateError tracebacks in the
        daemon's log on server restarts (~1 in 10). Fail them after what is queued, and
        only the ones still waiting."""
        futures: set[asyncio.Future[Any]] = getattr(self, "waiting_futures", set())
        self.waiting_futures = set()
        try:
            super()._pulse_state_cb(ctx, userdata)
        finally:
            self.waiting_futures = futures
        if self._disconnected.is_set():
            for future in futures:
                future.get_loop().call_soon(_fail_if_waiting, future)


def _fail_if_waiting(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_exception(Disconnected())


class PulseBackend:
    def __init__(self, server: str | None = None, client_name: str = "dawroute") -> None:
        self._server = server
        self._client_name = client_name
        self._pulse: Any = None
        self._sinks: dict[str, tuple[int, int]] = {}  # name → (index, channels), last observe
        self._sources: dict[str, tuple[int, int]] = {}  # the same for sources
        # name → (channel positions, levels 0..1): the last observed levels, with every
        # level we set since; a per-channel set sends the whole vector from here
        self._levels: dict[str, tuple[tuple[str, ...], list[float]]] = {}
        self._defaults: dict[Direction, str | None] = {}  # as last observed
        self._sent_defaults: dict[Direction, str] = {}  # what we last asked for
        self._sent_default_at: dict[Direction, float] = {}  # when (the loop's clock)
        # the last observe showed a default we sent just now as taken, before the server
        # reported it: the caller looks again (see _confirm_defaults)
        self.unconfirmed = False
        self._moved: dict[int, str] = {}  # stream index → the sink we last moved it to
        self._stream_sinks: dict[int, str | None] = {}  # stream index → its sink, observed
        # stream index → (sink, when our move to it first went out), until it shows there
        self._sent_at: dict[int, tuple[str, float]] = {}
        # when an observe last saw one of our moves arrive: the server is still working
        # through a batch of them (see _in_flight)
        self._progress_at = 0.0
        # our silent sink while an apply sends streams through it: (module, sink index)
        self._hold: asyncio.Future[tuple[int, int]] | None = None
        self._generation = 0  # PipeWire's major version (1: WirePlumber 0.5's generation)
        # streams whose target sink was removed after our move to it went out (_dropped)
        self._target_gone: set[int] = set()
        self._removed: set[int] = set()  # sinks removed since the last observe read
        # the server's objects as last read, by facility and index; kept current from
        # events while `changes()` runs (see observe)
        self._raw: dict[str, dict[int, Any]] = {
            _SINK: {}, _SOURCE: {}, _INPUT: {}, _OUTPUT: {}, _CARD: {}
        }  # fmt: skip
        self._info: Any = None
        self._tracking = False
        self._full = True
        self._have_sources = False
        self._dirty: set[tuple[str, int]] = set()
        self._dirty_info = False
        self._unloading: set[int] = set()  # modules we unloaded that may still list
        # (facility, index) → (the server's object, what it names, our value): see _make
        self._made: dict[tuple[str, int], tuple[Any, object, Any]] = {}
        self._kind = ServerKind.UNKNOWN

    async def connect(self, timeout: float = 2.0) -> None:
        """Connect, or raise with nothing left open: a context that failed to connect
        still holds its socket and libpulse's shared-memory pool (memfd) — one leaked per
        attempt while the server was down, ~1 per restart before this closed it."""
        self._pulse = _PulseAsync(self._client_name, server=self._server)
        # a restarted server numbers its modules and streams anew: what we noted of our
        # moves would match new streams
        self._unloading = set()
        self._moved, self._sent_at, self._target_gone = {}, {}, set()
        try:
            await self._pulse.connect(timeout=timeout)
        except BaseException:
            self.close()
            raise

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
        """Everything, or without the sources and recording streams when nobody needs them
        (the daemon, when no profile has an `input`): source_list is ~30 % of a full observe.

        While `changes()` runs, the server's events say which objects changed: only those
        are fetched again (a full read only after connecting and after a missed event).
        A full read costs ~0.34 ms per sink, 82 % of it pulsectl building property lists,
        so a hot-plug with 64 devices present took twice as long as with 16."""
        self.unconfirmed = False
        await self._refresh(sources)
        info = self._info
        sinks = self._live(_SINK)
        sink_names = {s.index: s.name for s in sinks}
        made, self._made = self._made, {}
        cards = [self._make(made, _CARD, c, None, card_from) for c in self._raw[_CARD].values()]
        card_names = {c.index: c.name for c in cards}
        self._sinks = {s.name: (int(s.index), len(s.volume.values)) for s in sinks}
        self._levels = {s.name: (_positions(s), list(s.volume.values)) for s in sinks}
        devices = [
            self._make(made, _SINK, s, card_names.get(s.card), _sink_device(card_names))
            for s in sinks
        ]
        recordings: list[Recording] = []
        if sources:
            raw_sources = self._live(_SOURCE)
            self._sources = {s.name: (int(s.index), len(s.volume.values)) for s in raw_sources}
            devices += [
                self._make(
                    made,
                    _SOURCE,
                    s,
                    (card_names.get(s.card), sink_names.get(s.monitor_of_sink)),
                    _source_device(sink_names, card_names),
                )
                for s in raw_sources
            ]
            source_names = {int(s.index): s.name for s in raw_sources}
            recordings = [
                self._make(made, _OUTPUT, o, source_names.get(o.source), _recording(source_names))
                for o in self._raw[_OUTPUT].values()
            ]
        streams = [
            self._make(made, _INPUT, i, sink_names.get(i.sink), _stream(sink_names))
            for i in self._raw[_INPUT].values()
        ]
        self._stream_sinks = {st.index: st.sink for st in streams}
        if any(self._stream_sinks.get(i) == sent[0] for i, sent in self._sent_at.items()):
            self._progress_at = asyncio.get_running_loop().time()
        self._sent_at = {
            i: sent
            for i, sent in self._sent_at.items()
            if i in self._stream_sinks and self._stream_sinks[i] != sent[0]
        }
        self._target_gone &= self._sent_at.keys()  # only moves still on their way matter
        streams = self._with_preferences(streams)
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
        self._kind = kind
        self._generation = _major(version) if kind is ServerKind.PIPEWIRE else 0
        if kind is ServerKind.PIPEWIRE:
            await self._confirm_defaults({d.name for d in devices})
        return Snapshot(
            devices=tuple(devices),
            streams=tuple(streams),
            default_sink=self._defaults[Direction.SINK],
            default_source=self._defaults[Direction.SOURCE],
            configured_default_sink=self._sent_defaults.get(Direction.SINK),
            server=kind,
            server_version=version,
            recordings=tuple(recordings),
            cards=tuple(cards),
        )

    def _make(
        self,
        made: dict[tuple[str, int], tuple[Any, object, Any]],
        facility: str,
        obj: Any,
        context: object,
        build: Callable[[Any], T],
    ) -> T:
        """The value for a server object, converted again only when the object was fetched
        again or what it names changed (`context`: its card's, sink's or source's name).
        Converting every sink on every observe cost ~20 µs a sink: 1.3 ms a pass with 64
        devices present, for objects that had not changed."""
        key = (facility, int(obj.index))
        hit = made.get(key)
        if hit is not None and hit[0] is obj and hit[1] == context:
            value: T = hit[2]
        else:
            value = build(obj)
        self._made[key] = (obj, context, value)
        return value

    def _live(self, facility: str) -> list[Any]:
        """The sinks or sources as read, without those of a module we already unloaded."""
        objs = list(self._raw[facility].values())
        if not self._unloading:
            return objs
        listed = {o.owner_module for f in (_SINK, _SOURCE) for o in self._raw[f].values()}
        self._unloading &= listed  # gone everywhere: forget it (indices are not reused)
        return [o for o in objs if o.owner_module not in self._unloading]

    def note(self, change: Change) -> None:
        """Remember what an event says changed (no I/O: the next observe fetches it)."""
        if change.facility == "server":
            self._dirty_info = True
        elif change.facility in self._raw:
            self._dirty.add((change.facility, change.index))
        if change.facility == _SINK and change.kind == "remove":
            self._removed.add(change.index)
            self._target_gone |= {
                idx for idx, (sink, _) in self._sent_at.items() if self._index(sink) == change.index
            }

    async def _refresh(self, sources: bool) -> None:
        p = self.pulse
        self._removed.clear()
        if not self._tracking or self._full or (sources and not self._have_sources):
            self._full, self._dirty_info, self._dirty = False, False, set()
            info, sinks, sources_, inputs, outputs, cards = await asyncio.gather(
                p.server_info(),
                p.sink_list(),
                p.source_list() if sources else _nothing(),
                p.sink_input_list(),
                p.source_output_list() if sources else _nothing(),
                p.card_list(),
            )
            self._info, self._have_sources = info, sources
            self._raw = {
                _SINK: {int(o.index): o for o in sinks},
                _SOURCE: {int(o.index): o for o in sources_ or ()},
                _INPUT: {int(o.index): o for o in inputs},
                _OUTPUT: {int(o.index): o for o in outputs or ()},
                _CARD: {int(o.index): o for o in cards},
            }
            return
        dirty, self._dirty = self._dirty, set()
        info_dirty, self._dirty_info = self._dirty_info, False
        if not sources:
            dirty = {(f, i) for f, i in dirty if f not in (_SOURCE, _OUTPUT)}
        fetched = await asyncio.gather(
            p.server_info() if info_dirty else _nothing(),
            *(self._fetch(f, i) for f, i in dirty),
        )
        if info_dirty:
            self._info = fetched[0]
        for (facility, index), obj in zip(dirty, fetched[1:], strict=True):
            if obj is None:
                self._raw[facility].pop(index, None)
            else:
                self._raw[facility][index] = obj

    async def _fetch(self, facility: str, index: int) -> Any:
        """One object, or None when it is gone (removed, or removed since its event)."""
        getter = {
            _SINK: self.pulse.sink_info,
            _SOURCE: self.pulse.source_info,
            _INPUT: self.pulse.sink_input_info,
            _OUTPUT: self.pulse.source_output_info,
            _CARD: self.pulse.card_info,
        }[facility]
        try:
            return await getter(index)
        except ServerError:  # PulseIndexError / operation failed: it no longer exists
            return None

    def _with_preferences(self, streams: list[Stream]) -> list[Stream]:
        """PulseAudio >= 14 keeps the sink a client last moved a stream to as its preferred
        sink, through a rescue to another sink on unplug, and moves it back the moment that
        sink re-appears — at the sink's fresh level (up to 100 %), inside the server, before
        any client hears of the sink. Our moves are the only ones we know of: report them.
        (pipewire-pulse keeps no such preference that relinks: the mover there is the
        configured default, see `configured_default_sink`.)"""
        live = {s.index for s in streams}
        self._moved = {i: sink for i, sink in self._moved.items() if i in live}
        streams = [replace(s, pinned=self._moved.get(s.index)) for s in streams]
        if self._kind is not ServerKind.PULSEAUDIO:
            return streams
        return [replace(s, preferred=self._moved.get(s.index)) for s in streams]

    async def _confirm_defaults(self, present: set[str]) -> None:
        """pipewire-pulse 0.3.65 can keep reporting the previous default after WirePlumber
        switched to the one we asked for (WirePlumber's "default" metadata showed ours while
        server_info showed the old one, ~1 in 10 test runs, for seconds). When the report
        disagrees with our last request, ask the metadata itself (pw-metadata, ~3 ms)."""
        keys = {Direction.SINK: "audio.sink", Direction.SOURCE: "audio.source"}
        # A sent default whose device is gone cannot show: asking about it would start
        # pw-metadata on every observe (25 ms median, 515 ms under load) until the next
        # SetDefault — for the rest of the daemon's life after an unplug.
        stale = [
            d
            for d, sent in self._sent_defaults.items()
            if self._defaults.get(d) != sent and sent in present
        ]
        # Right after we sent it the report lags by design (WirePlumber carries it out,
        # then pipewire-pulse tells): asking then started pw-metadata on every switch, 7 of
        # the daemon's 13 ms before its reply (measured on 0.3.65). A default sent less
        # than DEFAULT_TRUST ago is shown as taken and marked unconfirmed; the look that
        # follows (routing.passes' verify, VERIFY_SECONDS later) asks as before if the
        # report still disagrees then.
        now = asyncio.get_running_loop().time()
        for d in [d for d in stale if now - self._sent_default_at.get(d, -1e9) < DEFAULT_TRUST]:
            self._defaults[d] = self._sent_defaults[d]
            self.unconfirmed = True
            stale.remove(d)
        if not stale:
            return
        native = await pipewire.read_defaults()
        for direction in stale:
            if keys[direction] in native:
                self._defaults[direction] = native[keys[direction]]

    async def changes(self) -> AsyncIterator[Change]:
        """Server change notifications until the connection drops (then PulseDisconnected).
        From here on, observe() fetches only what the events named (see `note`); the
        first observe after subscribing reads everything, so nothing before it is missed."""
        events = self.pulse.subscribe_events(
            "sink", "source", "sink_input", "source_output", "card", "server"
        )
        self._tracking, self._full = True, True
        try:
            async for ev in events:
                change = Change(str(ev.facility._value), str(ev.t._value), int(ev.index))
                self.note(change)
                yield change
        finally:
            self._tracking = False

    # ------------------------------------------------------------ apply

    async def apply(self, ops: list[Op]) -> ApplyResult:
        """Run every op, in order, pipelined; the stop rule is routing.apply's.

        One connection's commands are executed by the server in the order they are sent
        (PulseAudio and pipewire-pulse alike), so a phase of ops goes out at once, in
        order, without one round trip per op. Loading one of our sinks is awaited on its
        own: later ops refer to it by name.
        """
        try:
            return await self._apply(ops)
        finally:
            await self._drop_hold()

    async def _apply(self, ops: list[Op]) -> ApplyResult:
        done: list[Op] = []
        failed: list[tuple[Op, str]] = []
        skipped: list[tuple[Op, str]] = []
        for phase in _phases(ops):
            results = await asyncio.gather(*(self._run(op) for op in phase), return_exceptions=True)
            for op, res in zip(phase, results, strict=True):
                if isinstance(res, Disconnected | asyncio.CancelledError):
                    raise res
                if isinstance(res, BaseException) and self._unplugged(op):
                    # its removal is noted: the pass that event starts decides again
                    log.info("skipped: %s: the device was unplugged meanwhile", op.describe())
                    skipped.append((op, "the device was unplugged meanwhile"))
                elif isinstance(res, BaseException):
                    reason = str(res) or type(res).__name__  # pulsectl's are often empty
                    log.warning("could not %s: %s", op.describe(), reason)
                    failed.append((op, reason))
                else:
                    log.info("%s", op.describe())
                    done.append(op)
                    self._touched(op)
        return ApplyResult(tuple(done), tuple(failed), tuple(skipped))

    def _unplugged(self, op: Op) -> bool:
        """Was the sink this op is for removed since the observe it was planned on? The
        pass after an unplug can still plan a move to the device from a read taken before
        its removal reached us (15 unplugs in 60 on 0.3.65): not a failure to report, retry
        and notify about, since the removal's own pass decides again at once."""
        match op:
            case (
                MoveStream(sink=name)
                | SetVolume(device=name)
                | SetPort(device=name, direction=Direction.SINK)
                | SetDefault(direction=Direction.SINK, device=name)
            ):
                return self._index(name) in self._removed
        return False

    def _touched(self, op: Op) -> None:
        """Mark what our own op changed for the next observe, as its event would. The
        server sends those events after its replies (PulseAudio defers them), so the
        re-observe right after an apply read the state from before it: in CI the pass
        after a switch sent the default and the removal of the old sink again, and both
        failed. Commands on one connection run in order, so fetching them now is exact.

        Not on PipeWire: it carries moves and defaults out asynchronously, so reading them
        back at once showed them half done (with 64 devices present, 2 of 15 hot-plugs
        then took 0.5 s). There its own events say when they are done."""
        if isinstance(op, UnloadVirtual):
            # PulseAudio answers an unload before it unloads (it defers the work), so for
            # a moment the sink still lists: hide it until it is gone
            self._unloading.add(op.module)
        if self._kind is not ServerKind.PULSEAUDIO:
            return
        match op:
            case LoadVirtual(sink=v) if v.name in self._sinks:
                self._dirty.add((_SINK, self._sinks[v.name][0]))
            case UnloadVirtual(module=m):
                self._dirty |= self._owned_by(m)
            case SetVolume(device=name) | SetPort(device=name, direction=Direction.SINK):
                if name in self._sinks:
                    self._dirty.add((_SINK, self._sinks[name][0]))
            case SetSourceVolume(device=name) | SetPort(device=name):
                if name in self._sources:
                    self._dirty.add((_SOURCE, self._sources[name][0]))
            case SetStreamVolume(stream=idx) | MoveStream(stream=idx) | ReassertStream(stream=idx):
                self._dirty.add((_INPUT, idx))
            case MoveRecording(recording=idx):
                self._dirty.add((_OUTPUT, idx))
            case SetCardProfile():
                self._full = True  # devices come and go with a card profile: read all
            case SetDefault():
                self._dirty_info = True

    def _owned_by(self, module: int) -> set[tuple[str, int]]:
        """A module's sink and its monitor, and the streams the server moves off them."""
        sinks = {i for i, o in self._raw[_SINK].items() if o.owner_module == module}
        sources = {i for i, o in self._raw[_SOURCE].items() if o.owner_module == module}
        streams = {i for i, o in self._raw[_INPUT].items() if o.sink in sinks}
        return (
            {(_SINK, i) for i in sinks}
            | {(_SOURCE, i) for i in sources}
            | {(_INPUT, i) for i in streams}
        )

    async def _sink(self, name: str) -> tuple[int, int]:
        """(index, channel count) of a sink: from the last snapshot when we have it (no
        round trip), else asked for (a sink we created a moment ago)."""
        known = self._sinks.get(name)
        if known is not None:
            return known
        sink = await self.pulse.get_sink_by_name(name)
        return int(sink.index), len(sink.volume.values)

    async def _until_listed(self, name: str, timeout: float = 2.0) -> None:
        """pipewire-pulse 0.3.65 answers a module load before it lists the sink: under
        load a move to it right after failed with "no such sink" (seen in CI with both
        cores busy). Wait until it is there (PulseAudio lists it at once), and keep its
        index: the ops that follow refer to it without asking again."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                sink = await self.pulse.get_sink_by_name(name)
                self._sinks[name] = (int(sink.index), len(sink.volume.values))
                return
            except (pulsectl.PulseIndexError, pulsectl.PulseOperationFailed):
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.005)

    async def _source(self, name: str) -> tuple[int, int]:
        """(index, channel count) of a source, as `_sink`."""
        known = self._sources.get(name)
        if known is not None:
            return known
        source = await self.pulse.get_source_by_name(name)
        return int(source.index), len(source.volume.values)

    async def _run(self, op: Op) -> None:
        p = self.pulse
        match op:
            case LoadVirtual(sink=v):
                await p.module_load(*module_args(v))
                await self._until_listed(v.name)
            case UnloadVirtual(module=m):
                await p.module_unload(m)
            case SetVolume(device=name, volume=vol, channels=()):
                index, channels = await self._sink(name)
                self._levels.pop(name, None)
                await p.sink_volume_set(index, pulsectl.PulseVolumeInfo(vol / 100.0, channels))
            case SetVolume(device=name, volume=vol, channels=chans):
                index, _ = await self._sink(name)
                await p.sink_volume_set(index, await self._channel_levels(name, chans, vol))
            case SetStreamVolume(stream=idx, volume=vol):
                stream = await p.sink_input_info(idx)
                await p.sink_input_volume_set(idx, _volume(stream, vol))
            case MoveStream(stream=idx, sink=name) if self._stuck(idx, name):
                await self._via_hold(idx, name)
            case MoveStream(stream=idx, sink=name):
                index, _ = await self._sink(name)
                await p.sink_input_move(idx, index)
                self._sent(idx, name)
            case ReassertStream(stream=idx, sink=name):
                await self._reassert(idx, name)
            case MoveRecording(recording=idx, source=name):
                index, _ = await self._source(name)
                await p.source_output_move(idx, index)
            case SetCardProfile(card=name, profile=profile):
                await p.card_profile_set(await p.get_card_by_name(name), profile)
            case SetPort(device=name, direction=Direction.SINK, port=port):
                index, _ = await self._sink(name)
                await p.sink_port_set(index, port)
            case SetPort(device=name, port=port):
                index, _ = await self._source(name)
                await p.source_port_set(index, port)
            case SetSourceVolume(device=name, volume=vol):
                index, channels = await self._source(name)
                await p.source_volume_set(index, pulsectl.PulseVolumeInfo(vol / 100.0, channels))
            case SetDefault(direction=direction, device=name):
                await self._set_default(direction, name)

    async def _channel_levels(self, name: str, channels: tuple[str, ...], percent: float) -> Any:
        """The sink's whole volume vector with `channels` at `percent`, the others as last
        observed or set: the protocol sets all channels at once, and the ops of one phase
        go out together, so each op's vector carries the ones before it."""
        known = self._levels.get(name)
        if known is None:
            sink = await self.pulse.get_sink_by_name(name)
            known = (_positions(sink), list(sink.volume.values))
            self._levels[name] = known
        positions, levels = known
        for i, pos in enumerate(positions):
            if pos in channels:
                levels[i] = percent / 100.0
        return pulsectl.PulseVolumeInfo(list(levels))

    async def ensure_level_memory(self) -> bool:
        """On PulseAudio, load module-device-restore unless loaded: the server then gives a
        re-plugged device the level it last had (dawroute keeps that within the cap)
        before the device exists for anyone — before the server itself moves the DAW
        back to it (its preferred sink or configured default), which no client can
        precede. Measured: 0 samples above the cap over 20 re-plugs + 100 flaps with it,
        ~1,100 of ~4,400 without. PipeWire keeps levels itself (WirePlumber's state).
        True when it was loaded now."""
        p = self.pulse
        info = await p.server_info()
        if (
            "PipeWire" in (info.server_name or "")
            or "pulse" not in (info.server_name or "").lower()
        ):
            return False
        if any(m.name == "module-device-restore" for m in await p.module_list()):
            return False
        await p.module_load(
            "module-device-restore", "restore_volume=true restore_muted=true restore_port=false"
        )
        log.info("loaded module-device-restore: re-plugged devices keep their capped level")
        return True

    def _sent(self, stream: int, sink: str, restart: bool = False) -> None:
        """Remember a move of ours. The same move re-sent keeps the clock and what was
        noted of the first, unless `restart` (a detour: a new move)."""
        self._moved[stream] = sink
        if not restart and self._sent_at.get(stream, ("", 0.0))[0] == sink:
            return
        self._sent_at[stream] = (sink, asyncio.get_running_loop().time())
        self._target_gone.discard(stream)

    def _index(self, sink: str) -> int:
        return self._sinks.get(sink, (_NO_INDEX, 0))[0]

    def _stuck(self, stream: int, sink: str) -> bool:
        """The same move again, after it did not show on PipeWire. pipewire-pulse passes a
        move on as the stream's target metadata; when WirePlumber could not link it (the
        node re-created meanwhile: "some node was destroyed before the link was created")
        or the target is a reused node id (0.3.65), the value does not change and
        WirePlumber never looks again (seen after 1,000 fast flaps: the move re-sent for
        seconds, the DAW never arrived). A pass while WirePlumber is still linking a move
        takes it as stuck too (with 64 devices present 2 of 15 plugs took a 0.5 s detour
        through the silent sink); waiting 0.3 s before any detour made WirePlumber 0.4.13's
        give-up after fast flaps (test_safety) far more frequent, 7 runs in 9 against 1 in
        4 — when it waited on a re-created node. On 1.x a move is first given time
        (`_in_flight`); on 0.3.65 it is detoured once WirePlumber has dropped it
        (`_dropped`)."""
        if not (
            self._kind is ServerKind.PIPEWIRE
            and self._moved.get(stream) == sink
            and self._stream_sinks.get(stream) != sink
        ):
            return False
        if self._generation >= 1:
            return not self._in_flight(stream, sink)
        return self._dropped(stream, sink)

    def _dropped(self, stream: int, sink: str) -> bool:
        """Has WirePlumber 0.4 dropped our move (0.3.65)? Detouring every move that had not
        shown yet sent the DAW through the silent sink in 27 of 60 hot-plugs, 3 of them
        waiting 0.5 s for it (p99 443 ms): the pass that re-planned the move had read the
        stream before the move went out, or while WirePlumber still linked it (no sink
        shown yet).

        So: the target removed since the move — dropped (a re-created node keeps its id
        on 0.3.65: the same target again would never reach it, and waiting there lets
        WirePlumber give up after its fifth failed link). Otherwise it is in flight for
        IN_FLIGHT (re-sent meanwhile, as before); the pass's verify look comes after that.
        A read that shows the stream elsewhere does not cut that short: it can have been
        answered before pipewire-pulse had the move's target back from WirePlumber."""
        if stream in self._target_gone:
            # gone since this pass read it: the move fails at once, and the pass the
            # removal starts decides (a detour there left the DAW on our silent sink for
            # ~10 ms on an unplug, 9 times in 60)
            return self._index(sink) not in self._removed
        return not self._in_flight(stream, sink)

    def _in_flight(self, stream: int, sink: str) -> bool:
        """Is our move still on its way? On PipeWire 1.x pipewire-pulse shows a stream
        on a sink only once it is linked there, and WirePlumber 0.5's cap guard holds a link
        to a capped device until its level has shown for 20 ms: a pass in between took
        every such move as stuck and detoured it through the silent sink (~30 ms, and a
        0.5 s wait when the silent sink did not start; 9 detours in 15 hot-plugs on 1.4.2,
        the DAW's own start included). The move counts as in flight for IN_FLIGHT after it
        first went out; a look follows (the pass's verify) and detours it if it still has
        not arrived. A re-sent move does not restart the clock. On 0.3.65 a move whose
        target was re-created is detoured at once (`_dropped`): its WirePlumber gives up
        relinking after a wait on a re-created node, whose id is reused.

        The clock runs from the later of the move and the last arrival of any move of
        ours: WirePlumber links a batch one stream after another (100 DAW streams: the
        last link 0.5-0.8 s after the moves on 1.4.2, ~5 ms a stream), and taking the
        rest as stuck after 0.1 s sent 22 of them through the silent sink, one module
        each, which took 1.8 s."""
        sent = self._sent_at.get(stream)
        if sent is None or sent[0] != sink:
            return True  # no move of ours to it is on its way: this one is a first send
        started = max(sent[1], self._progress_at)
        return asyncio.get_running_loop().time() - started < IN_FLIGHT

    async def _reassert(self, stream: int, sink: str) -> None:
        """Make `sink` the stream's own choice although it already plays there.

        A move to the sink a stream is on is a no-op in PulseAudio (pa_sink_input_move_to
        returns before it records the preference), so the stream passes through a silent
        sink of ours and back: a few ms of silence on an unplug, instead of the old device
        taking the DAW back at 100 % when it re-appears (measured: 930 of ~4,400 samples
        above the cap over 20 re-plugs without this, 0 with it and the default re-set)."""
        await self._via_hold(stream, sink)

    async def _via_hold(self, stream: int, sink: str) -> None:
        """Move the stream to `sink` through a silent sink of ours: the server sees two
        real moves, whatever it remembered of the stream before."""
        p = self.pulse
        # the target asked for by name first: a sink being removed (WirePlumber rescued the
        # stream from it before its removal reached us) fails here, before the stream
        # moves (9 unplugs in 60 put the DAW on our silent sink for ~10 ms)
        index = int((await p.get_sink_by_name(sink)).index)
        log.info("stream %d to %s through our silent sink", stream, sink)
        hold = await self._hold_sink()
        await p.sink_input_move(stream, hold)
        await self._arrived(stream, hold)
        await p.sink_input_move(stream, index)
        self._sent(stream, sink, restart=True)

    async def _hold_sink(self) -> int:
        """Our silent sink's index, loaded once for every stream an apply sends through it
        (a DAW with several streams rescued on an unplug: one detour each, at once). One
        sink each collided on its name, and each detour's unload could take the sink from
        under another stream still on it. `apply` unloads it when it ends."""
        if self._hold is None:
            self._hold = asyncio.ensure_future(self._load_hold())
        _, index = await asyncio.shield(self._hold)
        return index

    async def _load_hold(self) -> tuple[int, int]:
        p = self.pulse
        module = await p.module_load(
            "module-null-sink",
            f'sink_name={HOLD_SINK} sink_properties=\'device.description="dawroute hold" '
            f"{OWNER_PROPERTY}={OWNER_VALUE}'",
        )
        try:
            return int(module), int((await p.get_sink_by_name(HOLD_SINK)).index)
        except BaseException:
            await p.module_unload(module)
            raise

    async def _drop_hold(self) -> None:
        load, self._hold = self._hold, None
        if load is None:
            return
        try:
            module, _ = await load
        except (ServerError, Disconnected):
            return  # never loaded
        with contextlib.suppress(ServerError, Disconnected):
            await self.pulse.module_unload(module)
            self._unloading.add(module)  # as an UnloadVirtual: hidden until it is gone

    async def _arrived(self, stream: int, sink: int, timeout: float = 0.5) -> None:
        """Until the stream plays on `sink` (at once on PulseAudio). WirePlumber 0.4 links
        asynchronously and, once a link to a node failed, refuses that node for the stream
        ("tried to link on last rescan, not retrying") until it has linked it elsewhere:
        two moves in a row would reach it as one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while int((await self.pulse.sink_input_info(stream)).sink) != sink:
            if loop.time() > deadline:
                return
            await asyncio.sleep(0.005)
        if self._kind is ServerKind.PIPEWIRE:
            # pipewire-pulse reports the target before WirePlumber has linked it; the sink
            # runs once the link carries the stream
            while (await self.pulse.sink_info(sink)).state._value != "running":
                if loop.time() > deadline:
                    return
                await asyncio.sleep(0.005)

    async def confirm_levels(self, ops: Sequence[Op], timeout: float = 1.0) -> list[tuple[Op, str]]:
        """Wait until the server reports each level we set, re-sending it meanwhile; the
        ones it never showed come back as failed (and stop the run before any move).

        pipewire-pulse acknowledges a volume before the node has it: the stream then
        shows on the new sink 5-40 ms before the sink shows its new level (measured on
        1.4.2), and WirePlumber may restore an older level over ours meanwhile. PulseAudio
        has applied it when it answers: nothing to wait for there. routing.apply waits for
        the levels that make a device safe before the moves, and for the others after."""
        levels = [op for op in ops if isinstance(op, SetVolume)]
        if self._kind is not ServerKind.PIPEWIRE or not levels:
            return []
        loop = asyncio.get_running_loop()
        start = sent = loop.time()
        pending = levels
        while True:
            try:
                pending = [op for op in pending if not await self._shows(op)]
            except ServerError as exc:  # a device gone, its removal not heard of yet
                return [(op, f"the device went away: {exc}") for op in pending]
            if not pending:
                return []
            now = loop.time()
            if now > start + timeout:
                return [(op, "the server did not show the level in time") for op in pending]
            # a look every ms at first (the level shows 2-15 ms after it is sent on 1.4.2,
            # and a 5 ms sleep between looks added up to 5 ms to that), then every 5 ms: a
            # pipewire-pulse busy with 100 streams is not asked 1,000 times a second
            await asyncio.sleep(0.001 if now - start < 0.02 else 0.005)
            if loop.time() - sent >= 0.005:
                sent = loop.time()
                for op in pending:
                    await self._run(op)

    async def _shows(self, op: SetVolume) -> bool:
        try:
            sink = await self.pulse.get_sink_by_name(op.device)
        except ServerError:
            if self._unplugged(op):
                return True  # nothing plays there any more; the removal's pass decides
            raise
        values = [
            v
            for pos, v in zip(_positions(sink), sink.volume.values, strict=False)
            if not op.channels or pos in op.channels
        ]  # the op's own channels: outputs 1-2 and 3-4 have levels of their own
        return bool(max(values or [0.0]) * 100.0 <= op.volume + LEVEL_TOLERANCE)

    async def _set_default(self, direction: Direction, name: str) -> None:
        """Set the default; if the same request already went out and did not take, bounce.

        WirePlumber 0.4 picks the configured default once when it changes; if our sink was
        not ready for it at that moment it keeps the old default, and pipewire-pulse does
        not pass on a request for the value already configured — so re-sending alone never
        helps (seen in ~1 of 10 test runs). Configuring the current default first makes the
        metadata change twice and WirePlumber look again.

        Not on 1.x: WirePlumber 0.5 elects the configured default again on every change
        of the graph. There a default only slow to show (WirePlumber busy linking 100
        moved streams) was bounced, which took 0.6-1.0 s more and moved the default away
        and back.
        """
        p = self.pulse
        setter = p.sink_default_set if direction is Direction.SINK else p.source_default_set
        current = self._defaults.get(direction)
        if (
            self._generation == 0
            and self._sent_defaults.get(direction) == name
            and current not in (None, name)
        ):
            log.debug("default %s %s did not take; re-configuring via %s", direction, name, current)
            with contextlib.suppress(ServerError):  # the old default is gone: no bounce
                await setter(current)
        await setter(name)
        self._sent_defaults[direction] = name
        self._sent_default_at[direction] = asyncio.get_running_loop().time()


# pulsectl's facility names
_SINK, _SOURCE, _INPUT, _OUTPUT, _CARD = "sink", "source", "sink_input", "source_output", "card"


async def _nothing() -> Any:
    return None


def _phases(ops: list[Op]) -> list[list[Op]]:
    """Split at each LoadVirtual (awaited alone, in order); everything else is pipelined."""
    phases: list[list[Op]] = []
    for op in ops:
        if isinstance(op, LoadVirtual) or not phases or isinstance(phases[-1][0], LoadVirtual):
            phases.append([op])
        else:
            phases[-1].append(op)
    return phases


def _ms(usec: Any) -> float | None:
    """The server's latency in µs as ms; 0 (a suspended PipeWire node) is unknown."""
    return round(usec / 1000.0, 2) if isinstance(usec, int | float) and usec > 0 else None


def _major(version: str) -> int:
    """1 for "1.4.2", 0 for "0.3.65" or anything unreadable."""
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else 0


def _positions(obj: Any) -> tuple[str, ...]:
    return tuple(short_position(c) or c.upper() for c in obj.channel_list)


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
        channels=_positions(obj),
        volume=round(max(obj.volume.values or [0.0]) * 100.0, 2),
        levels=tuple(round(v * 100.0, 2) for v in obj.volume.values),
        latency_ms=_ms(getattr(obj, "latency", None)),
        configured_latency_ms=_ms(getattr(obj, "configured_latency", None)),
        muted=bool(obj.mute),
        virtual=props.get("device.bus") is None and "alsa.card" not in props,
        ours=ours,
        module=None if module in (None, _NO_INDEX) else int(module),
        monitor_of=monitor_of,
        feeds=tuple(f for f in feeds.split(",") if f),
    )


def _sink_device(card_names: Mapping[int, str]) -> Callable[[Any], Device]:
    return lambda s: _with_card(device_from(s, Direction.SINK), s, card_names)


def _source_device(
    sink_names: Mapping[int, str], card_names: Mapping[int, str]
) -> Callable[[Any], Device]:
    return lambda s: _with_card(device_from(s, Direction.SOURCE, sink_names), s, card_names)


def _stream(sink_names: Mapping[int, str]) -> Callable[[Any], Stream]:
    return lambda i: stream_from(i, sink_names)


def _recording(source_names: Mapping[int, str]) -> Callable[[Any], Recording]:
    return lambda o: recording_from(o, source_names)


def _client(obj: Any) -> tuple[str, str | None, int | None]:
    """(application name, process binary, pid) of a playback or recording stream."""
    props: dict[str, str] = dict(obj.proplist)
    pid = props.get("application.process.id", "")
    return (
        props.get("application.name") or obj.name or "",
        props.get("application.process.binary"),
        int(pid) if pid.isdigit() else None,
    )


def stream_from(obj: Any, sink_names: Mapping[int, str]) -> Stream:
    app, binary, pid = _client(obj)
    return Stream(
        index=obj.index,
        app_name=app,
        binary=binary,
        pid=pid,
        sink=sink_names.get(obj.sink),
        volume=round(max(obj.volume.values or [0.0]) * 100.0, 2),
    )


def card_from(obj: Any) -> Card:
    props: dict[str, str] = dict(obj.proplist)
    active = getattr(obj, "profile_active", None)
    return Card(
        name=obj.name,
        description=props.get("device.description", obj.name),
        index=int(obj.index),
        vendor_id=_hex4(props.get("device.vendor.id")),
        product_id=_hex4(props.get("device.product.id")),
        serial=props.get("device.serial"),
        card_name=props.get("alsa.card_name"),
        profiles=tuple(p.name for p in getattr(obj, "profile_list", None) or ()),
        active=active.name if active is not None else None,
    )


def _with_card(dev: Device, obj: Any, card_names: Mapping[int, str]) -> Device:
    """The device with its card and ports (PulseAudio and pipewire-pulse alike)."""
    card = getattr(obj, "card", _NO_INDEX)
    active = getattr(obj, "port_active", None)
    return replace(
        dev,
        card=card_names.get(card) if card not in (None, _NO_INDEX) else None,
        ports=tuple(p.name for p in getattr(obj, "port_list", None) or ()),
        port=active.name if active is not None else None,
    )


def recording_from(obj: Any, source_names: Mapping[int, str]) -> Recording:
    app, binary, pid = _client(obj)
    return Recording(
        index=obj.index,
        app_name=app,
        binary=binary,
        pid=pid,
        source=source_names.get(obj.source),
    )


def _hex4(value: str | None) -> str | None:
    if not value:
        return None
    v = value.lower().removeprefix("0x")
    try:
        return f"{int(v, 16):04x}"
    except ValueError:
        return None

"""Frozen values that cross layers: what is (Snapshot), what should be (Plan), one change (Op).

Backends build Snapshots and execute Ops; everything in between is pure code
over these types. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum


class Direction(StrEnum):
    SINK = "sink"
    SOURCE = "source"


class ServerKind(StrEnum):
    PULSEAUDIO = "pulseaudio"
    PIPEWIRE = "pipewire"
    ALSA = "alsa"  # bare ALSA: no sound server, dawroute drives the cards itself
    JACK = "jack"  # jackd alone: DAWs reach cards through JACK ports, levels on ALSA mixers
    UNKNOWN = "unknown"


# dawroute marks the virtual sinks it creates with this property so it never
# touches anybody else's remap or combine sinks.
OWNER_PROPERTY = "dawroute.owner"
OWNER_VALUE = "dawroute"
PROFILE_PROPERTY = "dawroute.profile"
VIRTUAL_PREFIX = "dawroute."
# Volumes round-trip through the server's integer scale; differences below this are the
# rounding (a re-observed 44.99 % is 45 %)
LEVEL_TOLERANCE = 0.6


@dataclass(frozen=True, slots=True)
class Device:
    """A sink or source as the sound server shows it, with its stable identity.

    `index` and `module` are per-server-run handles used only to execute ops;
    matching never looks at them.
    """

    name: str  # node / sink name, stable across boots for real ALSA devices
    description: str
    direction: Direction
    index: int = -1
    bus: str | None = None
    vendor_id: str | None = None  # 4 lower-case hex digits
    product_id: str | None = None
    serial: str | None = None
    card_name: str | None = None  # ALSA card name, e.g. "Scarlett 2i2 USB"
    channels: tuple[str, ...] = ("FL", "FR")  # positions, PipeWire short names
    volume: float = 100.0  # percent, highest channel
    # percent per channel, in the order of `channels`; () = every channel at `volume`
    levels: tuple[float, ...] = ()
    muted: bool = False
    virtual: bool = False  # no hardware behind it (null/remap/combine sink)
    ours: bool = False  # created by dawroute
    module: int | None = None  # owning module index, to unload ours
    monitor_of: str | None = None  # sources that are monitors of a sink
    feeds: tuple[str, ...] = ()  # ours only: the sinks this virtual sink plays into
    api: str = "pulse"  # "jack": jackd hardware, reached only through JACK ports; "alsa"
    latency_ms: float | None = None  # the server's current latency of the device, if known
    configured_latency_ms: float | None = None  # what it was configured to
    # bare ALSA only: the card's id ("USB", "Dummy"), its PCM device number, and its
    # playback volume controls with their levels (percent), in dawroute's order of choice
    card_id: str | None = None
    pcm_device: int = 0
    mixers: tuple[tuple[str, float], ...] = ()
    # jackd alone: the JACK client whose playback ports are this card ("system" for the
    # card jackd runs on, else the bridge dawroute starts for it)
    jack_client: str | None = None
    # the sound server's card this device belongs to (its name, "alsa_card.usb-…"), the
    # device's ports ("analog-output-headphones") and the active one
    card: str | None = None
    ports: tuple[str, ...] = ()
    port: str | None = None

    @property
    def usb_id(self) -> str | None:
        if self.vendor_id and self.product_id:
            return f"{self.vendor_id}:{self.product_id}"
        return None

    @property
    def label(self) -> str:
        return self.description or self.name

    def level(self, channels: tuple[str, ...] | None = None) -> float:
        """The loudest of `channels` (None or (): of the whole device), in percent. Levels
        that do not add up to `volume` are not trusted: the loudest channel is used."""
        levels = self.levels
        if not channels or len(levels) != len(self.channels) or max(levels) != self.volume:
            return self.volume
        found = [v for c, v in zip(self.channels, self.levels, strict=True) if c in channels]
        return max(found) if found else self.volume

    def with_level(self, volume: float, channels: tuple[str, ...] | None = None) -> Device:
        """This device with `channels` (None or (): all of them) set to `volume`."""
        if not channels:
            return replace(self, volume=volume, levels=())
        levels = self.levels
        if len(levels) != len(self.channels) or max(levels, default=-1.0) != self.volume:
            levels = (self.volume,) * len(self.channels)
        new = tuple(
            volume if c in channels else v for c, v in zip(self.channels, levels, strict=True)
        )
        return replace(self, levels=new, volume=max(new, default=volume))


def channel_label(channels: tuple[str, ...] | None) -> str:
    """('AUX0', 'AUX1') → 'outputs 1-2'; ('AUX2',) → 'output 3'; ('FL',) → 'FL'; () → ''."""
    if not channels:
        return ""
    nums = [int(c[3:]) + 1 for c in channels if c.startswith("AUX") and c[3:].isdigit()]
    if len(nums) == len(channels):
        if len(nums) == 1:
            return f"output {nums[0]}"
        if nums == list(range(nums[0], nums[0] + len(nums))):
            return f"outputs {nums[0]}-{nums[-1]}"
        return "outputs " + ", ".join(map(str, nums))
    return ", ".join(channels)


@dataclass(frozen=True, slots=True)
class Stream:
    """A playback stream (sink input), e.g. the DAW's output."""

    index: int
    app_name: str
    binary: str | None
    pid: int | None
    sink: str | None  # name of the device it plays on
    volume: float = 100.0
    # The device the server keeps as this stream's own choice and moves it back to when
    # that device re-appears (PulseAudio >= 14's preferred sink), when known: the last
    # device we moved it to. None: unknown, or a server that keeps no such memory.
    preferred: str | None = None
    # The sink dawroute last moved this stream to (any server), when known: a stream we
    # pinned there (a kept app) needs no pin again.
    pinned: str | None = None

    @property
    def label(self) -> str:
        return f"'{self.app_name}' stream {self.index}"


@dataclass(frozen=True, slots=True)
class Card:
    """A sound card as the server shows it: its profiles ("pro-audio",
    "output:analog-stereo") and the active one. It exists also while its profile gives it
    no device ("off"): then only the card can be matched, by usb, serial or card name."""

    name: str  # "alsa_card.usb-Focusrite_Scarlett_4i4_USB_D8X2Y1-00"
    description: str
    index: int = -1
    vendor_id: str | None = None
    product_id: str | None = None
    serial: str | None = None
    card_name: str | None = None  # ALSA card name, as Device.card_name
    profiles: tuple[str, ...] = ()
    active: str | None = None

    @property
    def label(self) -> str:
        return self.description or self.name


@dataclass(frozen=True, slots=True)
class Recording:
    """A recording stream (source output), e.g. the DAW recording from a mic."""

    index: int
    app_name: str
    binary: str | None
    pid: int | None
    source: str | None  # name of the source it records from

    @property
    def label(self) -> str:
        return f"'{self.app_name}' recording {self.index}"


@dataclass(frozen=True, slots=True)
class Port:
    """A JACK-style audio port (jackd, or PipeWire's JACK)."""

    name: str  # "client:port"
    client: str
    output: bool  # produces audio (a DAW's out) vs consumes it (a device's playback)
    physical: bool
    channel: str | None = None  # device ports: FL, FR, AUX2, …


@dataclass(frozen=True, slots=True)
class Link:
    source: str
    target: str

    def describe(self) -> str:
        return f"{self.source} → {self.target}"


@dataclass(frozen=True, slots=True)
class Clock:
    """PipeWire's forced clock (settings metadata); 0 = not forced."""

    rate: int = 0
    quantum: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    devices: tuple[Device, ...] = ()
    streams: tuple[Stream, ...] = ()
    default_sink: str | None = None
    default_source: str | None = None
    # The default sink the server returns to whenever that device is present (PulseAudio's
    # configured default, WirePlumber's default.configured.audio.sink): the last one we
    # set, when known. It outlives its device: after an unplug the server shows another
    # default, yet makes the re-plugged device the default again and moves streams to it.
    configured_default_sink: str | None = None
    server: ServerKind = ServerKind.UNKNOWN
    server_version: str = ""
    ports: tuple[Port, ...] | None = None  # None: no JACK graph observed
    links: frozenset[Link] = frozenset()
    clock: Clock | None = None  # None: not observed (not PipeWire, or not needed)
    allowed_rates: tuple[int, ...] = ()  # PipeWire's clock.allowed-rates
    # bare ALSA: the text of dawroute's managed ALSA configuration as it is on disk
    # (None: not written yet), and what the backend saw that the user should know
    alsa_config: str | None = None
    notes: tuple[str, ...] = ()
    # jackd alone: the JACK clients of the bridges dawroute runs (started, alive)
    bridges: tuple[str, ...] = ()
    # recording streams (source outputs); observed with the sources only
    recordings: tuple[Recording, ...] = ()
    cards: tuple[Card, ...] = ()

    def sinks(self) -> tuple[Device, ...]:
        return tuple(d for d in self.devices if d.direction is Direction.SINK)

    def sources(self) -> tuple[Device, ...]:
        return tuple(
            d for d in self.devices if d.direction is Direction.SOURCE and d.monitor_of is None
        )

    def card(self, name: str) -> Card | None:
        return next((c for c in self.cards if c.name == name), None)

    def device(self, name: str, direction: Direction = Direction.SINK) -> Device | None:
        for d in self.devices:
            if d.name == name and d.direction is direction:
                return d
        return None


# ---------------------------------------------------------------- plans


@dataclass(frozen=True, slots=True)
class OutputPlan:
    """One physical output a profile plays on, with its channel mapping and levels."""

    device: str  # physical device name
    volume: float | None  # percent to set when the DAW lands here; None = leave (but cap)
    max_volume: float  # hearing-safety cap in percent
    # The device channels this output plays on and whose level and cap it owns (outputs
    # 1-2 and 3-4 of one interface are two outputs with a level each); None = all of them.
    channels: tuple[str, ...] | None = None
    mono: bool = False  # sum to one channel (on `channels` or both sides)
    mixer: str | None = None  # bare ALSA: the card's volume control to use (None: chosen)


@dataclass(frozen=True, slots=True)
class InputPlan:
    """The source a profile records from, with its level and cap."""

    device: str  # source name
    volume: float | None  # percent to set when the DAW lands here; None = leave (but cap)
    max_volume: float | None  # cap in percent; None = no cap


@dataclass(frozen=True, slots=True)
class VirtualSink:
    """A sink dawroute creates: a remap of one device or a combination of several."""

    name: str
    description: str
    profile: str
    master: str | None = None  # remap: physical device
    master_channels: tuple[str, ...] = ()  # remap: which device channels
    mono: bool = False  # remap: one input channel
    slaves: tuple[str, ...] = ()  # combine: sinks to play on


@dataclass(frozen=True, slots=True)
class Plan:
    profile: str
    target: str  # the sink the DAW's streams must play on (device or ours)
    outputs: tuple[OutputPlan, ...]
    virtual: tuple[VirtualSink, ...] = ()
    daw_streams: tuple[int, ...] = ()  # stream indexes the policy identified as the DAW
    set_default_sink: bool = True
    default_source: str | None = None
    # False at start-up: restore routing without raising any volume.
    raise_volume: bool = True
    # True when this plan changes the active profile: levels are set to the profile's own.
    switching: bool = False
    links: tuple[Link, ...] = ()  # DAW ports → device ports (profiles with daw.ports)
    daw_ports: tuple[str, ...] = ()  # the DAW output ports those links start from
    exclusive: bool = False  # remove the DAW ports' other links
    clock: Clock = Clock()  # the profile's forced clock; Clock() releases a forced one
    notes: tuple[str, ...] = ()  # things the user should know about this plan
    # Outputs of the other profiles whose devices are present: kept within their caps
    # too, because the server itself moves the DAW to one of them when this output goes.
    standby: tuple[OutputPlan, ...] = ()
    # Streams that stay put (`others.keep`): stream index → the sink they are pinned to, so
    # the session manager's follow-the-default does not drag them along with the DAW.
    kept: tuple[tuple[int, str], ...] = ()
    # `input`: the source the DAW records from (also `default_source`), and the recording
    # streams the policy identified as the DAW's
    input: InputPlan | None = None
    daw_recordings: tuple[int, ...] = ()
    # `card_profile` and `port`: card name → its profile; (device, direction, port). Set
    # before levels and routes. `pending`: a card must change its profile before the
    # profile's devices exist: the plan is only that, the routes follow in the next pass.
    cards: tuple[tuple[str, str], ...] = ()
    ports: tuple[tuple[str, Direction, str], ...] = ()
    pending: bool = False


# ---------------------------------------------------------------- ops


@dataclass(frozen=True, slots=True)
class LoadVirtual:
    sink: VirtualSink

    def describe(self) -> str:
        if self.sink.slaves:
            return f"create combined sink '{self.sink.description}' → {', '.join(self.sink.slaves)}"
        chans = "mono" if self.sink.mono else "stereo"
        where = ",".join(self.sink.master_channels) or "all channels"
        return f"create {chans} sink '{self.sink.description}' on {self.sink.master} ({where})"


@dataclass(frozen=True, slots=True)
class UnloadVirtual:
    name: str
    module: int

    def describe(self) -> str:
        return f"remove our sink {self.name}"


@dataclass(frozen=True, slots=True)
class SetVolume:
    device: str
    label: str
    volume: float
    cap: float
    before: float
    channels: tuple[str, ...] = ()  # the device channels to set; () = all of them

    def describe(self) -> str:
        where = f"{self.label} {channel_label(self.channels)}".rstrip()
        return f"set volume of {where} to {self.volume:.0f} % (cap {self.cap:.0f} %)"

    @property
    def guards(self) -> bool:
        """Does this level make the device safe (it was above its cap)? Only then must it
        show on the server before anything moves there; a device already within its cap
        is safe to move to at the level it shows (on WirePlumber 0.5 the cap guard leaves
        a re-plugged null sink at its cap, and waiting for the profile's lower level to
        show cost ~7 ms a hot-plug)."""
        return self.before > self.cap + LEVEL_TOLERANCE


@dataclass(frozen=True, slots=True)
class MoveStream:
    stream: int
    app: str
    sink: str
    label: str

    def describe(self) -> str:
        return f"move '{self.app}' stream {self.stream} → {self.label}"


@dataclass(frozen=True, slots=True)
class ReassertStream:
    """The server moved the stream to the right device itself (a rescue on unplug), but
    still keeps another device as the stream's own choice: make this one its choice, so
    the old device re-appearing does not pull the DAW back at that device's fresh level."""

    stream: int
    app: str
    sink: str
    label: str
    stale: str  # the device the server would have moved it back to

    def describe(self) -> str:
        return f"make {self.label} the own choice of '{self.app}' stream {self.stream}"


@dataclass(frozen=True, slots=True)
class SetStreamVolume:
    stream: int
    app: str
    volume: float

    def describe(self) -> str:
        return f"set '{self.app}' stream {self.stream} volume to {self.volume:.0f} %"


@dataclass(frozen=True, slots=True)
class SetCardProfile:
    card: str
    label: str
    profile: str

    def describe(self) -> str:
        return f"set card {self.label} to profile {self.profile}"


@dataclass(frozen=True, slots=True)
class SetPort:
    device: str
    direction: Direction
    label: str
    port: str

    def describe(self) -> str:
        return f"set port of {self.label} to {self.port}"


@dataclass(frozen=True, slots=True)
class MoveRecording:
    recording: int
    app: str
    source: str
    label: str

    def describe(self) -> str:
        return f"move '{self.app}' recording {self.recording} → {self.label}"


@dataclass(frozen=True, slots=True)
class SetSourceVolume:
    device: str
    label: str
    volume: float
    cap: float | None  # None: the profile gives the input no cap
    before: float

    def describe(self) -> str:
        cap = f" (cap {self.cap:.0f} %)" if self.cap is not None else ""
        return f"set input level of {self.label} to {self.volume:.0f} %{cap}"


@dataclass(frozen=True, slots=True)
class SetDefault:
    direction: Direction
    device: str
    label: str

    def describe(self) -> str:
        return f"set default {self.direction.value} to {self.label}"


@dataclass(frozen=True, slots=True)
class Connect:
    link: Link

    def describe(self) -> str:
        return f"link {self.link.describe()}"


@dataclass(frozen=True, slots=True)
class Disconnect:
    link: Link

    def describe(self) -> str:
        return f"unlink {self.link.describe()}"


@dataclass(frozen=True, slots=True)
class SetClock:
    clock: Clock

    def describe(self) -> str:
        if not self.clock.rate and not self.clock.quantum:
            return "release the forced clock rate and quantum"
        return (
            f"force clock rate {self.clock.rate or 'auto'}, quantum {self.clock.quantum or 'auto'}"
        )


@dataclass(frozen=True, slots=True)
class SetMixer:
    """Bare ALSA: a card's hardware volume control to a level (percent, as everywhere)."""

    device: str
    label: str
    control: str
    volume: float
    cap: float
    before: float

    def describe(self) -> str:
        return (
            f"set {self.label} mixer '{self.control}' to {self.volume:.0f} % (cap {self.cap:.0f} %)"
        )


@dataclass(frozen=True, slots=True)
class WriteAlsaConfig:
    """Bare ALSA: rewrite dawroute's managed ALSA configuration (the ALSA default)."""

    target: str | None  # the device the default now plays on; None: not managed
    label: str
    text: str

    def describe(self) -> str:
        if self.target is None:
            return "release the ALSA default (dawroute's ALSA configuration left empty)"
        return f"point the ALSA default at {self.label}"


@dataclass(frozen=True, slots=True)
class StartBridge:
    """jackd alone: bring a card into the running JACK graph (zita-j2a on its PCM)."""

    device: str
    label: str
    client: str  # the bridge's JACK client name
    pcm: str  # the ALSA PCM it plays to, "hw:CARD=USB,DEV=0"
    channels: int

    def describe(self) -> str:
        return f"bridge {self.label} into JACK as '{self.client}' ({self.channels} channels)"


@dataclass(frozen=True, slots=True)
class StopBridge:
    """jackd alone: end a bridge dawroute started (its card left, or no profile uses it)."""

    client: str

    def describe(self) -> str:
        return f"stop the JACK bridge '{self.client}'"


Op = (
    LoadVirtual
    | UnloadVirtual
    | SetVolume
    | MoveStream
    | ReassertStream
    | SetStreamVolume
    | MoveRecording
    | SetSourceVolume
    | SetCardProfile
    | SetPort
    | SetDefault
    | Connect
    | Disconnect
    | SetClock
    | SetMixer
    | WriteAlsaConfig
    | StartBridge
    | StopBridge
)


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What became of each op: done, failed (with the server's reason), or skipped — not
    attempted, with why (its backend is absent, or an earlier level failed: see
    routing.apply)."""

    done: tuple[Op, ...] = ()
    failed: tuple[tuple[Op, str], ...] = field(default=())
    skipped: tuple[tuple[Op, str], ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass(frozen=True, slots=True)
class State:
    """What the daemon remembers between passes and restarts (stored by routing.state)."""

    active: str | None = None
    active_since: float | None = None
    manual: str | None = None  # set by `switch`/MIDI; holds until its device leaves or `auto`
    manual_since: float | None = None
    # `dawroute off`: routing undone, no decisions until `auto` or `switch`
    off: bool = False
    off_since: float | None = None
    # what `off` undoes: the default sink the user had before dawroute's first change,
    # and the JACK links dawroute made (source, target)
    original_default: str | None = None
    links: tuple[tuple[str, str], ...] = ()

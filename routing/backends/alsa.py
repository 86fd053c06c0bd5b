"""Bare ALSA backend (no sound server): observe the cards, set their mixers, write the
managed ALSA configuration. It never decides (routing.alsaplan and the policy do).

What it sees, from ALSA itself:
  - each card's playback PCMs as outputs (`hw:CARD=<id>,DEV=<n>`) and capture PCMs as
    inputs, with the card's name and, from udev, its USB vendor:product and serial;
  - each card's playback volume controls and their levels (percent, 100 % = 0 dB with
    PulseAudio's cubic mapping; raw range for controls without dB information);
  - the PCMs open for playback and who has them (`/proc/asound/cardN/pcmXp/subY/status`);
  - the managed configuration file as it is on disk, and whether ~/.asoundrc includes it.

Changes arrive without polling: kernel device events through udev (pyudev's monitor on
the asyncio loop: cards added and removed) and each card's control events (a mixer moved
by alsamixer or a hardware knob) poke the caller, which re-observes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import alsaaudio

from routing import alsaconf
from routing.model import (
    ApplyResult,
    Device,
    Direction,
    Op,
    ServerKind,
    SetMixer,
    Snapshot,
    Stream,
    WriteAlsaConfig,
)
from routing.watch import IN_CLOSE_NOWRITE, IN_CLOSE_WRITE, IN_OPEN, DirectoryWatch

log = logging.getLogger(__name__)

PROC = Path("/proc/asound")
DEV_SND = Path("/dev/snd")
LEVEL_TOLERANCE = 0.6  # as reconcile.TOLERANCE


class AlsaUnavailable(Exception):
    """No ALSA here at all (no /proc/asound: the kernel has no sound support loaded)."""


class AlsaBackend:
    def __init__(
        self,
        config_path: Path,
        home: Path | None = None,
        proc: Path = PROC,
        dev: Path = DEV_SND,
    ) -> None:
        self.config_path = config_path
        self.dev = dev
        self._home = home if home is not None else Path.home()
        self._proc = proc
        self._cards: dict[str, int] = {}  # device name → card index, last observe
        # (card id, control) → (the level we set, the raw value it landed on): a control
        # still on that raw value reports the level asked for, so a coarse control's
        # nearest step below it is not "changed" on every observe
        self._landed: dict[tuple[str, str], tuple[float, int]] = {}
        self._monitor: Any = None
        self._pcm_watch: DirectoryWatch | None = None
        self._watches: dict[int, tuple[Any, list[int]]] = {}  # card index → (mixer, fds)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poke: Callable[[str], None] = lambda _why: None

    @staticmethod
    def available(proc: Path = PROC) -> bool:
        return proc.is_dir()

    # ------------------------------------------------------------ events

    def watch(self, loop: asyncio.AbstractEventLoop, poke: Callable[[str], None]) -> None:
        """Kernel sound device events (udev) and mixer changes poke `poke`."""
        self._loop, self._poke = loop, poke
        self._watch_playback(loop)
        if not self.config_path.exists():
            # ~/.asoundrc's include line makes every ALSA program fail while the file
            # it names is missing: there is always one, pointing nowhere at first
            try:
                write_atomically(
                    self.config_path,
                    alsaconf.neutral(str(self.config_path), "no profile applied yet"),
                )
            except OSError as exc:
                log.warning("cannot create %s: %s", self.config_path, exc)
        try:
            import pyudev  # here, not at import: the pulse path never needs it

            monitor = pyudev.Monitor.from_netlink(pyudev.Context())
            monitor.filter_by("sound")
            monitor.start()
        except (OSError, ImportError) as exc:  # no netlink in a sandbox: mixers still watched
            log.warning("no udev events (%s): cards plugged later are seen at the next event", exc)
            return
        self._monitor = monitor
        loop.add_reader(monitor.fileno(), self._udev_ready)

    def _watch_playback(self, loop: asyncio.AbstractEventLoop) -> None:
        """A program opening or closing a playback device pokes too: who plays where is
        read from /proc, and no kernel or mixer event comes of an open, so `status` kept
        saying a DAW "still plays on" the old card after it had re-opened on the new one
        (seen with Ardour in the real-kernel tier)."""
        pcm = re.compile(r"pcmC\d+D\d+p")
        watch = DirectoryWatch(
            [self.dev],
            lambda path: self._poke(f"playback device {Path(path).name} opened or closed"),
            mask=IN_OPEN | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE,
            wanted=lambda _dir, name: pcm.fullmatch(name) is not None,
            without="a program re-opening its output shows at the next card or mixer event",
        )
        if watch.start(loop):
            self._pcm_watch = watch

    def _udev_ready(self) -> None:
        while self._monitor is not None:
            device = self._monitor.poll(timeout=0)
            if device is None:
                return
            self._poke(f"udev {device.action} {device.sys_name}")

    def _sync_watches(self, cards: dict[int, str | None]) -> None:
        """One open mixer per card, its descriptors on the loop: any control of the card
        that changes pokes (the ALSA control interface reports every element)."""
        if self._loop is None:
            return
        for index in [i for i in self._watches if i not in cards]:
            self._unwatch(index)
        for index, control in cards.items():
            if index in self._watches or control is None:
                continue
            try:
                mixer = alsaaudio.Mixer(control, cardindex=index)
                fds = [fd for fd, _mask in mixer.polldescriptors()]
            except alsaaudio.ALSAAudioError as exc:
                log.debug("card %d: cannot watch its mixer: %s", index, exc)
                continue
            for fd in fds:
                self._loop.add_reader(fd, self._mixer_ready, index)
            self._watches[index] = (mixer, fds)

    def _mixer_ready(self, index: int) -> None:
        mixer, _fds = self._watches.get(index, (None, []))
        if mixer is None:
            return
        try:
            gone = not (self._proc / f"card{index}").exists()
            if not gone:
                mixer.handleevents()
        except alsaaudio.ALSAAudioError:
            gone = True
        if gone:  # an unplugged card's descriptor stays readable: stop listening to it
            self._unwatch(index)
        self._poke(f"mixer card{index}")

    def _unwatch(self, index: int) -> None:
        mixer, fds = self._watches.pop(index)
        if self._loop is not None:
            for fd in fds:
                self._loop.remove_reader(fd)
        with contextlib.suppress(alsaaudio.ALSAAudioError):
            mixer.close()

    def close(self) -> None:
        for index in list(self._watches):
            self._unwatch(index)
        if self._monitor is not None and self._loop is not None:
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_reader(self._monitor.fileno())
        self._monitor = None
        if self._pcm_watch is not None and self._loop is not None:
            self._pcm_watch.close(self._loop)
        self._pcm_watch = None

    # ------------------------------------------------------------ observe

    async def observe(self, sources: bool = True) -> Snapshot:
        if not self.available(self._proc):
            raise AlsaUnavailable(f"{self._proc} does not exist: no ALSA sound support")
        devices: list[Device] = []
        streams: list[Stream] = []
        cards: dict[str, int] = {}
        watched: dict[int, str | None] = {}
        context = _udev_context()
        for index in alsaaudio.card_indexes():
            card = self._card(index, context)
            if card is None:
                continue
            watched[index] = card.mixers[0][0] if card.mixers else None
            for dev in card.devices(Direction.SINK) + (
                card.devices(Direction.SOURCE) if sources else ()
            ):
                devices.append(dev)
                cards[dev.name] = index
            streams += _streams(self._proc / f"card{index}", index, card.card_id)
        self._cards = cards
        self._sync_watches(watched)
        text = _read(self.config_path)
        return Snapshot(
            devices=tuple(devices),
            streams=tuple(streams),
            default_sink=alsaconf.target_of(text),
            server=ServerKind.ALSA,
            server_version=_driver_version(self._proc),
            alsa_config=text,
            notes=self._include_notes(text),
        )

    def _card(self, index: int, context: Any) -> _Card | None:
        base = self._proc / f"card{index}"
        card_id = _read(base / "id")
        if card_id is None:
            return None  # unplugged between the listing and now
        card_id = card_id.strip()
        try:
            name, longname = alsaaudio.card_name(index)
        except alsaaudio.ALSAAudioError:
            return None
        ident = _identity(context, index)
        mixers = self._mixers(index, card_id)
        return _Card(index, card_id, name, longname, base, ident, mixers)

    def _mixers(self, index: int, card_id: str) -> tuple[tuple[str, float], ...]:
        levels: dict[str, float] = {}
        try:
            names = list(dict.fromkeys(alsaaudio.mixers(cardindex=index)))
        except alsaaudio.ALSAAudioError:
            return ()
        for name in names:
            try:
                mixer = alsaaudio.Mixer(name, cardindex=index)
            except alsaaudio.ALSAAudioError:
                continue
            try:
                if not _has_playback_volume(mixer.volumecap()):
                    continue
                level, raw = _level(mixer)
                landed = self._landed.get((card_id, name))
                if landed is not None and landed[1] == raw:
                    level = landed[0]
                levels[name] = level
            except alsaaudio.ALSAAudioError as exc:
                log.debug("card %d mixer %s: %s", index, name, exc)
            finally:
                mixer.close()
        return tuple((n, levels[n]) for n in alsaconf.order_mixers(list(levels)))

    def _include_notes(self, text: str | None) -> tuple[str, ...]:
        """Is the managed file included where ALSA reads the user's configuration?"""
        path = str(self.config_path)
        short = "~/" + str(self.config_path.relative_to(self._home)) if self._is_home() else None
        forms = {alsaconf.include_line(path)} | ({alsaconf.include_line(short)} if short else set())
        rc_files = [
            self._home / ".asoundrc",
            Path(os.environ.get("XDG_CONFIG_HOME") or self._home / ".config") / "alsa/asoundrc",
            Path("/etc/asound.conf"),
        ]
        for rc in rc_files:
            content = _read(rc) or ""
            if any(f in content for f in forms):
                return ()
        if text is None or alsaconf.target_of(text) is None:
            return ()
        return (
            "the ALSA default does not follow the profile: ~/.asoundrc does not include "
            f"dawroute's ALSA configuration — add the line {alsaconf.include_line(path)} "
            "to it (docs/alsa.md)",
        )

    def _is_home(self) -> bool:
        try:
            self.config_path.relative_to(self._home)
        except ValueError:
            return False
        return True

    # ------------------------------------------------------------ apply

    def apply(self, ops: Sequence[Op]) -> ApplyResult:
        """Run each op; a level is read back and fails when the card shows more."""
        done: list[Op] = []
        failed: list[tuple[Op, str]] = []
        for op in ops:
            try:
                match op:
                    case SetMixer():
                        self._set_mixer(op)
                    case WriteAlsaConfig():
                        write_atomically(self.config_path, op.text)
                    case _:
                        raise TypeError(f"not an ALSA op: {op.describe()}")
            except (alsaaudio.ALSAAudioError, OSError, LookupError) as exc:
                log.warning("could not %s: %s", op.describe(), exc)
                failed.append((op, str(exc) or type(exc).__name__))
            else:
                log.info("%s", op.describe())
                done.append(op)
        return ApplyResult(tuple(done), tuple(failed))

    def _set_mixer(self, op: SetMixer) -> None:
        if not op.control:
            raise LookupError("the card has no playback volume control to set the level on")
        index = self._cards.get(op.device)
        if index is None:
            raise LookupError(f"{op.device} is gone")
        card_id = (_read(self._proc / f"card{index}" / "id") or "").strip()
        mixer = alsaaudio.Mixer(op.control, cardindex=index)
        try:
            raw = set_level(mixer, op.volume)
            level, now = _level(mixer)
        finally:
            mixer.close()
        if level > op.volume + LEVEL_TOLERANCE and now == raw:
            raise LookupError(f"the card shows {level:.0f} % after setting {op.volume:.0f} %")
        self._landed[(card_id, op.control)] = (op.volume, now)


def write_atomically(path: Path, text: str) -> None:
    """Readers (ALSA clients opening a device) see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


# ---------------------------------------------------------------- levels


def _has_playback_volume(caps: Sequence[str]) -> bool:
    return any(
        c in caps for c in ("Playback Volume", "Joined Playback Volume", "Volume", "Joined Volume")
    )


def _db_range(mixer: Any) -> tuple[float, float] | None:
    try:
        lo, hi = mixer.getrange(pcmtype=alsaaudio.PCM_PLAYBACK, units=alsaaudio.VOLUME_UNITS_DB)
    except alsaaudio.ALSAAudioError:
        return None
    return (lo / 100.0, hi / 100.0) if hi > lo else None


def _level(mixer: Any) -> tuple[float, int]:
    """(percent, raw value) of the loudest channel."""
    raw = max(mixer.getvolume(pcmtype=alsaaudio.PCM_PLAYBACK, units=alsaaudio.VOLUME_UNITS_RAW))
    if _db_range(mixer) is None:
        lo, hi = mixer.getrange(pcmtype=alsaaudio.PCM_PLAYBACK, units=alsaaudio.VOLUME_UNITS_RAW)
        return alsaconf.raw_to_percent(raw, lo, hi), int(raw)
    db = max(mixer.getvolume(pcmtype=alsaaudio.PCM_PLAYBACK, units=alsaaudio.VOLUME_UNITS_DB))
    # a muting minimum reads as -99999.99 dB: silence
    return (0.0 if db <= -900000 else alsaconf.db_to_percent(db / 100.0)), int(raw)


def set_level(mixer: Any, percent: float) -> int:
    """Set the control to the highest raw value whose level is not above `percent`, never
    passing through a louder value on the way; returns the raw value it is left on.

    dB controls: the raw value from the control's dB range (linear in dB, as most TLVs
    are), then one step down at a time while the card reads above the level (a card
    whose dB scale is not linear lands at or below the level, never above)."""
    lo, hi = mixer.getrange(pcmtype=alsaaudio.PCM_PLAYBACK, units=alsaaudio.VOLUME_UNITS_RAW)
    db_range = _db_range(mixer)
    if db_range is None:
        raw = alsaconf.percent_to_raw(percent, lo, hi)
    else:
        raw = alsaconf.db_to_raw(alsaconf.percent_to_db(percent), db_range, (lo, hi))
    while True:
        _set_raw(mixer, raw)
        if db_range is None or raw <= lo or _level(mixer)[0] <= percent:
            return raw
        raw -= 1


def _set_raw(mixer: Any, raw: int) -> None:
    mixer.setvolume(raw, pcmtype=alsaaudio.PCM_PLAYBACK, units=alsaaudio.VOLUME_UNITS_RAW)


# ---------------------------------------------------------------- cards


class _Card:
    def __init__(
        self,
        index: int,
        card_id: str,
        name: str,
        longname: str,
        base: Path,
        ident: dict[str, str | None],
        mixers: tuple[tuple[str, float], ...],
    ) -> None:
        self.index = index
        self.card_id = card_id
        self.name = name
        self.longname = longname
        self.base = base
        self.ident = ident
        self.mixers = mixers

    def devices(self, direction: Direction) -> tuple[Device, ...]:
        suffix = "p" if direction is Direction.SINK else "c"
        out = []
        for pcm in sorted(self.base.glob(f"pcm*{suffix}"), key=_pcm_number):
            number = _pcm_number(pcm)
            info = _fields(_read(pcm / "info") or "")
            pcm_name = info.get("name", "")
            description = self.name if number == 0 else f"{self.name}: {pcm_name or number}"
            volume = self.mixers[0][1] if self.mixers and direction is Direction.SINK else 100.0
            out.append(
                Device(
                    name=f"hw:CARD={self.card_id},DEV={number}",
                    description=description,
                    direction=direction,
                    index=self.index,
                    bus=self.ident.get("bus"),
                    vendor_id=self.ident.get("vendor"),
                    product_id=self.ident.get("product"),
                    serial=self.ident.get("serial"),
                    card_name=self.name,
                    channels=alsaconf.channels_for(_channel_count(self.base, pcm, direction)),
                    volume=volume,
                    api="alsa",
                    card_id=self.card_id,
                    pcm_device=number,
                    mixers=self.mixers if direction is Direction.SINK else (),
                )
            )
        return tuple(out)


def _pcm_number(path: Path) -> int:
    m = re.fullmatch(r"pcm(\d+)[pc]", path.name)
    return int(m.group(1)) if m else 0


def _channel_count(base: Path, pcm: Path, direction: Direction) -> int:
    """From the USB descriptors (stream0), or the PCM's parameters while it is open;
    else 2. (Opening the PCM to ask would make a DAW's own open fail meanwhile.)"""
    counts: list[int] = []
    for sub in pcm.glob("sub*"):
        m = re.search(r"^channels:\s*(\d+)", _read(sub / "hw_params") or "", re.MULTILINE)
        if m:
            counts.append(int(m.group(1)))
    stream = _read(base / f"stream{_pcm_number(pcm)}") or ""
    section = "Playback:" if direction is Direction.SINK else "Capture:"
    if section in stream:
        part = stream.split(section, 1)[1]
        other = "Capture:" if direction is Direction.SINK else "Playback:"
        part = part.split(other, 1)[0]
        counts += [int(n) for n in re.findall(r"Channels:\s*(\d+)", part)]
    return max(counts) if counts else 2


def _streams(base: Path, card: int, card_id: str) -> list[Stream]:
    """Playback PCMs open on this card, and the process that has each one."""
    out = []
    for pcm in sorted(base.glob("pcm*p"), key=_pcm_number):
        number = _pcm_number(pcm)
        for sub in sorted(pcm.glob("sub*")):
            status = _read(sub / "status") or "closed"
            if status.strip() == "closed":
                continue
            fields = _fields(status)
            pid_text = fields.get("owner_pid", "")
            pid = int(pid_text) if pid_text.isdigit() else None
            app = (_read(Path(f"/proc/{pid}/comm")) or "").strip() if pid else ""
            sub_no = int(sub.name[3:]) if sub.name[3:].isdigit() else 0
            out.append(
                Stream(
                    index=card * 1_000_000 + number * 1000 + sub_no,
                    app_name=app or f"pid {pid}",
                    binary=app or None,
                    pid=pid,
                    sink=f"hw:CARD={card_id},DEV={number}",
                )
            )
    return out


def _fields(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out.setdefault(key.strip(), value.strip())
    return out


def _udev_context() -> Any:
    try:
        import pyudev

        return pyudev.Context()
    except (OSError, ImportError):
        return None


def _identity(context: Any, index: int) -> dict[str, str | None]:
    """USB vendor:product and serial (udev's properties, else the USB device's sysfs
    attributes), and the bus: the stable identity, never the card index."""
    out: dict[str, str | None] = {}
    if context is None:
        return out
    import pyudev

    try:
        card = pyudev.Devices.from_path(context, f"/class/sound/card{index}")
    except (pyudev.DeviceNotFoundError, OSError, ValueError):
        return out
    props = card.properties
    usb = card.find_parent("usb", "usb_device")
    if usb is not None:
        out["bus"] = "usb"
        attrs = usb.attributes
        out["vendor"] = _hex4(props.get("ID_VENDOR_ID") or _attr(attrs, "idVendor"))
        out["product"] = _hex4(props.get("ID_MODEL_ID") or _attr(attrs, "idProduct"))
        out["serial"] = props.get("ID_SERIAL_SHORT") or _attr(attrs, "serial")
    elif card.find_parent("pci") is not None:
        out["bus"] = "pci"
    return out


def _attr(attrs: Any, name: str) -> str | None:
    try:
        value = attrs.asstring(name)
    except (KeyError, UnicodeDecodeError, OSError):
        return None
    return str(value).strip() or None


def _hex4(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return f"{int(value, 16):04x}"
    except ValueError:
        return None


def _driver_version(proc: Path) -> str:
    text = _read(proc / "version") or ""
    m = re.search(r"Version (\S+?)\.?$", text.strip())
    return m.group(1) if m else ""


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None

"""MIDI ports: inputs matched by name, LED output, controllers that come and go (JACK's
port registration callback, or the ALSA sequencer's announcements through
routing.seqannounce). On JACK the inputs are read in JACK's own process callback
(routing.jackmidi: rtmidi's JACK input lost events); the ALSA sequencer's inputs, the LED
output and the port lists go through python-rtmidi. I/O only: what a message means is
decided in routing.triggers, which ports to open in routing.midiplan.

Threads: rtmidi calls back on its own thread and JACK on its thread; both only hand
over to the asyncio loop with call_soon_threadsafe.

API choice (rtmidi's default is ALSA, which fails without /dev/snd/seq even while JACK
runs — measured in the project's server probe): `auto` takes JACK when a JACK server
answers, else the ALSA sequencer when /dev/snd/seq exists, else reports why neither works.
The python-rtmidi wheel bundles its own libjack; on PipeWire's JACK run the daemon with
PipeWire's libjack preloaded (docs/midi.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routing import libjack
from routing.jackmidi import JackMidi
from routing.matching import text_matches
from routing.midiplan import plan_ports
from routing.reconnect import Reconnect
from routing.seqannounce import SeqAnnounce, SeqUnavailable
from routing.settings import Feedback, Midi
from routing.triggers import led_messages

log = logging.getLogger(__name__)

CLIENT_NAME = "dawroute"
SEQ_DEVICE = Path("/dev/snd/seq")
JACK_RETRY_MAX = 10.0  # seconds between attempts to reach a JACK server that is not there


# A hardware controller is on the ALSA sequencer; JACK sees it only through a bridge
JACK_HINT = (
    "JACK MIDI is in use: a controller on the ALSA sequencer (USB, snd-virmidi) shows in "
    "JACK only through a2jmidid or jackd -X seq; or set midi.api: alsa"
)


class MidiUnavailable(Exception):
    pass


def _rtmidi() -> Any:
    os.environ.setdefault("JACK_NO_START_SERVER", "1")  # never spawn a JACK server ourselves
    libjack.share_system_copy()
    import rtmidi

    libjack.silence()  # the wheel's own libjack, loaded with it
    return rtmidi


def choose_api(preference: str) -> tuple[int, str]:
    """(rtmidi API constant, name) or MidiUnavailable with the reason."""
    rtmidi = _rtmidi()
    reasons = []
    if preference in ("auto", "jack"):
        try:
            probe = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name=f"{CLIENT_NAME}-probe")
            probe.delete()
            return rtmidi.API_UNIX_JACK, "jack"
        except rtmidi.SystemError as exc:
            reasons.append(f"JACK: {exc}")
    if preference in ("auto", "alsa"):
        if SEQ_DEVICE.exists():
            return rtmidi.API_LINUX_ALSA, "alsa"
        reasons.append(f"ALSA: {SEQ_DEVICE} does not exist (load the snd-seq module)")
    raise MidiUnavailable("; ".join(reasons))


def port_names(api: int, outputs: bool = False) -> list[str]:
    """Ports we can read from (outputs=False) or send to, without our own."""
    rtmidi = _rtmidi()
    cls = rtmidi.MidiOut if outputs else rtmidi.MidiIn
    probe = cls(rtapi=api, name=f"{CLIENT_NAME}-list")
    try:
        return [p for p in probe.get_ports() if not p.startswith(f"{CLIENT_NAME}")]
    finally:
        probe.delete()


OnMessage = Callable[[str, list[int], float], None]


@dataclass
class _Open:
    handle: Any
    port: str


@dataclass
class MidiControl:
    """The daemon's MIDI side: keeps matching inputs open and the LED output current."""

    config: Midi
    on_message: OnMessage  # called on the loop thread: (port, bytes, monotonic time)
    loop: asyncio.AbstractEventLoop
    api: int | None = None
    api_name: str = ""
    problem: str | None = None
    inputs: dict[str, _Open] = field(default_factory=dict)
    output: _Open | None = None
    active: str | None = None
    _watch: Any = None
    _jack: JackMidi | None = None  # on JACK: every port but the probes, on _watch
    _seq: SeqAnnounce | None = None  # the ALSA sequencer's announcements
    _retry: Reconnect = field(default_factory=lambda: Reconnect(0.5, JACK_RETRY_MAX))

    def start(self) -> None:
        try:
            self.api, self.api_name = choose_api(self.config.api)
        except MidiUnavailable as exc:
            self._unavailable(str(exc))
            return
        self.problem = None
        self._retry.reset()
        if self.api_name == "jack":
            self._watch_jack()
        elif not self._watch_seq():
            return
        self.rescan()

    def _unavailable(self, why: str) -> None:
        self.problem = f"MIDI unavailable: {why}"
        # JACK may start after us; a slow retry only while it is missing (no busy polling)
        delay = self._retry.later(self.loop, self.start)
        log.warning("%s; retrying in %.1f s", self.problem, delay)

    def _watch_jack(self) -> None:
        """Port (un)registration callbacks from JACK: controllers coming and going."""
        import jack

        libjack.silence()
        try:
            client = jack.Client(f"{CLIENT_NAME}-ports", no_start_server=True)
        except jack.JackError as exc:
            log.warning("no JACK port notifications (%s); rescan with SIGHUP", exc)
            return
        poke = self.loop.call_soon_threadsafe
        client.set_port_registration_callback(
            lambda _port, _reg: poke(self.rescan), only_available=False
        )
        client.set_shutdown_callback(lambda _status, _reason: poke(self._jack_gone))

        def deliver(port: str, message: list[int]) -> None:
            poke(self.on_message, port, message, time.monotonic())

        self._jack = JackMidi(client, deliver)
        client.activate()
        self._watch = client

    def _watch_seq(self) -> bool:
        """The ALSA sequencer's announcements: controllers coming and going. When the
        sequencer cannot be opened now (e.g. alsa-lib's configuration failing to load for
        a moment: ~/.asoundrc including dawroute's file before the daemon first wrote it),
        the slow retry of an unavailable API, as for a JACK server that is not there."""
        try:
            self._seq = SeqAnnounce(self.loop, self.rescan)
        except SeqUnavailable as exc:
            self.api = None
            self._unavailable(str(exc))
            return False
        return True

    def _jack_gone(self) -> None:
        log.warning("JACK server went away; MIDI triggers paused until it is back")
        self.close()
        self._unavailable("JACK server went away")

    def rescan(self) -> None:
        """Open inputs that now match, drop the ones that vanished; same for the LED port."""
        if self.api is None:
            return
        try:
            available, destinations = self._ports(self.api)
        except Exception as exc:  # rtmidi raises its own SystemError variants, JACK its own
            log.warning("cannot list MIDI ports: %s", exc)
            return
        plan = plan_ports(self.config, available, destinations, self.inputs)
        for gone in plan.close_inputs:
            log.info("MIDI input %s gone", gone)
            _close(self.inputs.pop(gone).handle)
        for port in plan.open_inputs:
            self._open_input(port, available.index(port))
        self._rescan_output(plan.output, destinations)

    def _open_input(self, port: str, index: int) -> None:
        if self._jack is not None:
            handle = _jack_opened(self._jack.open, port)
        else:
            handle = self._rtmidi_input(port, index)
        if handle is not None:
            self.inputs[port] = _Open(handle, port)
            log.info("MIDI input %s opened", port)

    def _rtmidi_input(self, port: str, index: int) -> Any:
        rtmidi = _rtmidi()
        try:
            handle = rtmidi.MidiIn(rtapi=self.api, name=CLIENT_NAME)
            handle.open_port(index, "in")
        except rtmidi.RtMidiError as exc:
            log.warning("cannot open MIDI input %s: %s", port, exc)
            return None
        handle.ignore_types(sysex=True, timing=True, active_sense=True)
        deliver = self.loop.call_soon_threadsafe
        handle.set_callback(
            lambda msg, _data: deliver(self.on_message, port, list(msg[0]), time.monotonic())
        )
        return handle

    def _ports(self, api: int) -> tuple[list[str], list[str]]:
        """(inputs we can read, LED destinations): on JACK from our own client, never
        from an rtmidi probe (routing.jackmidi says why)."""
        want_leds = self.config.feedback is not None
        if self._jack is not None:
            return self._jack.sources(), self._jack.destinations() if want_leds else []
        return port_names(api), port_names(api, outputs=True) if want_leds else []

    def _rescan_output(self, match: str | None, destinations: list[str]) -> None:
        if self.output is not None and self.output.port != match:
            _close(self.output.handle)
            self.output = None
        if match is None or self.output is not None:
            return
        if self._jack is not None:
            handle = _jack_opened(self._jack.send_to, match)
        else:
            handle = self._rtmidi_leds(match, destinations)
        if handle is not None:
            self.output = _Open(handle, match)
            log.info("MIDI LED output %s opened", match)
            self.send_leds(self.active)  # a re-plugged controller shows the state again

    def _rtmidi_leds(self, match: str, destinations: list[str]) -> Any:
        rtmidi = _rtmidi()
        try:
            handle = rtmidi.MidiOut(rtapi=self.api, name=f"{CLIENT_NAME}-leds")
            handle.open_port(destinations.index(match), "leds")
        except rtmidi.RtMidiError as exc:
            log.warning("cannot open MIDI output %s: %s", match, exc)
            return None
        return handle

    def send_leds(self, active: str | None) -> None:
        self.active = active
        if self.output is None or self.config.feedback is None:
            return
        for message in led_messages(self.config.feedback, active):
            self.output.handle.send_message(message)

    def status(self) -> dict[str, Any]:
        problems = [self.problem] if self.problem else []
        if self.api is not None:
            missing = unmatched(
                self.config, list(self.inputs), self.output.port if self.output else None
            )
            if missing and self.api_name == "jack" and SEQ_DEVICE.exists():
                missing.append(JACK_HINT)
            problems += missing
        return {
            "api": self.api_name or None,
            "inputs": sorted(self.inputs),
            "feedback": self.output.port if self.output else None,
            "problems": problems,
        }

    def close(self) -> None:
        self._retry.cancel()
        for opened in self.inputs.values():
            _close(opened.handle)
        self.inputs.clear()
        if self.output is not None:
            _close(self.output.handle)
            self.output = None
        self._jack = None  # its ports go with the client below
        if self._watch is not None:
            try:
                self._watch.deactivate()
                self._watch.close()
            except Exception:  # the server may be gone already
                pass
            self._watch = None
        if self._seq is not None:
            self._seq.close()
            self._seq = None
        self.api = None


def unmatched(config: Midi, inputs: list[str], output: str | None) -> list[str]:
    """Triggers whose port pattern matches no open input (shown in `status`)."""
    out = []
    for i, trig in enumerate(config.triggers, 1):
        if not any(text_matches(trig.port, p) for p in inputs):
            out.append(f"trigger {i}: port '{trig.port}' matches no MIDI input")
    fb: Feedback | None = config.feedback
    if fb is not None and output is None:
        out.append(f"feedback: port '{fb.port}' matches no MIDI output")
    return out


def _jack_opened(open_port: Callable[[str], Any], port: str) -> Any:
    """A port opened on our JACK client, or None with a warning."""
    import jack

    try:
        return open_port(port)
    except jack.JackError as exc:
        log.warning("cannot open MIDI port %s: %s", port, exc)
        return None


def _close(handle: Any) -> None:
    # close_port() and delete(): without delete() the JACK client stays registered and
    # jackd spends seconds on client cleanup (project probe: 1-5 s, ignoring SIGTERM).
    # The callback goes first: closing a JACK client cancels its threads asynchronously,
    # and a thread cancelled inside our Python callback dies holding the interpreter's
    # lock — the whole process hangs (seen in a test process: every thread waiting on
    # the GIL's mutex, a JACK thread gone).
    try:
        if hasattr(handle, "cancel_callback"):
            handle.cancel_callback()
        handle.close_port()
        handle.delete()
    except Exception:
        pass

"""MIDI on JACK through JACK-Client, in JACK's own process callback: the inputs (every
event of every period, in order), the LED output, and the port lists.

python-rtmidi's JACK input (1.5.8, RtMidi 5.0.0) lost or doubled one of two events that
arrived in one JACK period: of 100 taps (note-on and note-off back to back) 79-91
note-offs and 103-115 note-ons came through, while `jack_midi_dump` on the same port
received every pair (bench/NOTES.md, "MIDI: taps lost on JACK"). A note-on counts as a
press by itself since, but a CC pedal needs its release: a lost one swallowed the next
press. The ALSA sequencer keeps rtmidi (routing.midi).

No rtmidi call is made once this client runs: its process callback is Python and needs
the interpreter's lock, and rtmidi holds that lock while it opens a JACK client, which
waits for every client's process cycle — the daemon hung in its first port list.

Threads: the process callback runs on JACK's thread and only hands each message to the
asyncio loop (`deliver` does, with call_soon_threadsafe). Our ports are never
unregistered while the client runs: unregistering one while the process callback could
still read its buffer is not safe, so a port whose peer left is disconnected and kept
for the next one.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

# what rtmidi's ignore_types(sysex=True, timing=True, active_sense=True) dropped
IGNORED_STATUS = frozenset({0xF0, 0xF1, 0xF8, 0xFE})

Deliver = Callable[[str, list[int]], None]  # (the source port, the message), JACK's thread


class JackMidi:
    """Our MIDI ports on one JACK-Client client, which the caller activates."""

    def __init__(self, client: Any, deliver: Deliver) -> None:
        self._client = client
        self._deliver = deliver
        # (our port, the source it reads); replaced whole, never changed in place: the
        # process callback reads whichever tuple it finds
        self._reading: tuple[tuple[Any, str], ...] = ()
        self._spare: list[Any] = []  # input ports whose source left
        self._leds: Any = None  # our output port, registered on first use
        self._sending: collections.deque[bytes] = collections.deque()
        client.set_process_callback(self._process)  # before the client is activated

    def _process(self, _frames: int) -> None:
        for port, source in self._reading:
            for _offset, data in port.incoming_midi_events():
                message = bytes(data)  # the buffer is JACK's, valid in this call only
                if message and message[0] not in IGNORED_STATUS:
                    self._deliver(source, list(message))
        if self._leds is not None:
            self._leds.clear_buffer()  # an output's buffer is ours to fill every cycle
            while self._sending:
                self._leds.write_midi_event(0, self._sending.popleft())

    def sources(self) -> list[str]:
        """MIDI output ports we can read from, without our own."""
        return self._names(self._client.get_ports(is_midi=True, is_output=True))

    def destinations(self) -> list[str]:
        return self._names(self._client.get_ports(is_midi=True, is_input=True))

    def _names(self, ports: list[Any]) -> list[str]:
        ours = f"{self._client.name}:"
        return [p.name for p in ports if not p.name.startswith(ours)]

    def open(self, source: str) -> Input:
        """Read `source` (a port's full name); raises jack.JackError."""
        port = self._spare.pop() if self._spare else self._register_input()
        try:
            self._client.connect(source, port)
        except Exception:
            self._spare.append(port)
            raise
        self._reading = (*self._reading, (port, source))
        return Input(self, source)

    def close(self, source: str) -> None:
        kept = tuple(r for r in self._reading if r[1] != source)
        gone = [port for port, s in self._reading if s == source]
        self._reading = kept
        for port in gone:
            _disconnect(port)
            self._spare.append(port)

    def send_to(self, destination: str) -> Leds:
        """LED messages go to `destination`; raises jack.JackError."""
        if self._leds is None:
            self._leds = self._client.midi_outports.register("leds")
        self.stop_sending()
        self._client.connect(self._leds, destination)
        return Leds(self)

    def stop_sending(self) -> None:
        if self._leds is not None:
            _disconnect(self._leds)
        self._sending.clear()

    def send(self, message: list[int]) -> None:
        self._sending.append(bytes(message))  # written in the next process cycle

    def _register_input(self) -> Any:
        n = len(self._reading) + len(self._spare) + 1
        return self._client.midi_inports.register(f"in_{n}")


class Input:
    """An open input, closed the way routing.midi closes an rtmidi one."""

    def __init__(self, ports: JackMidi, source: str) -> None:
        self._ports, self._source = ports, source

    def close_port(self) -> None:
        self._ports.close(self._source)

    def delete(self) -> None:
        """Nothing: the port stays registered for the next source (see above)."""


class Leds:
    """The LED output, used the way routing.midi uses an rtmidi one."""

    def __init__(self, ports: JackMidi) -> None:
        self._ports = ports

    def send_message(self, message: list[int]) -> None:
        self._ports.send(message)

    def close_port(self) -> None:
        self._ports.stop_sending()

    def delete(self) -> None:
        """Nothing: the port stays registered (see above)."""


def _disconnect(port: Any) -> None:
    try:
        port.disconnect()
    except Exception:  # its peer is gone already: nothing to disconnect
        log.debug("MIDI port %s: nothing to disconnect", port.name)

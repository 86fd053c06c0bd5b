"""`dawroute midi ports | monitor | learn`: MIDI from the terminal, without the daemon."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from typing import Any

from routing import midi
from routing.matching import text_matches
from routing.triggers import Kind, MidiMessage, as_trigger_yaml, parse


def list_ports() -> dict[str, Any]:
    rtmidi = midi._rtmidi()
    out: dict[str, Any] = {}
    for name in ("jack", "alsa"):
        try:
            api, _ = midi.choose_api(name)
            out[name] = {
                "available": True,
                "inputs": midi.port_names(api),
                "outputs": midi.port_names(api, outputs=True),
            }
        except (midi.MidiUnavailable, rtmidi.RtMidiError) as exc:
            out[name] = {"available": False, "why": str(exc), "inputs": [], "outputs": []}
    return out


def messages(
    port_pattern: str,
    api_preference: str,
    timeout: float | None,
    ready: Callable[[], None] | None = None,
) -> Iterator[MidiMessage]:
    """Presses from every input matching `port_pattern` (releases are left out).
    `ready` is called once every matching input is open and connected: a prompt printed
    before that could be answered by a press nobody hears."""
    api, _ = midi.choose_api(api_preference)
    rtmidi = midi._rtmidi()
    inbox: queue.Queue[MidiMessage] = queue.Queue()
    opened = []
    for index, port in enumerate(midi.port_names(api)):
        if not text_matches(port_pattern, port):
            continue
        handle = rtmidi.MidiIn(rtapi=api, name=f"{midi.CLIENT_NAME}-learn")
        handle.open_port(index, "in")

        def deliver(msg: Any, _data: Any, port: str = port) -> None:
            parsed = parse(port, msg[0], time.monotonic())
            if (
                parsed is not None
                and parsed.kind is not Kind.NOTE_OFF
                and (parsed.kind is not Kind.CC or parsed.value >= 64)
            ):
                inbox.put(parsed)

        handle.set_callback(deliver)
        opened.append(handle)
    if not opened:
        raise midi.MidiUnavailable(
            f"no MIDI input matches '{port_pattern}' (see `dawroute midi ports`)"
        )
    if ready is not None:
        ready()
    try:
        while True:
            try:
                yield inbox.get(timeout=timeout)
            except queue.Empty:
                return
    finally:
        for handle in opened:
            midi._close(handle)


def describe(msg: MidiMessage) -> str:
    return as_trigger_yaml(msg, "switch: PROFILE   # or toggle: [A, B] / action: next")

"""Pure: MIDI bytes → message, message → actions (with debounce and edges), profile → LED bytes.

No I/O and no clock: times come in with the messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from routing.matching import text_matches
from routing.settings import Feedback, Led, Trigger


class Kind(StrEnum):
    NOTE_ON = "note_on"
    NOTE_OFF = "note_off"
    CC = "cc"
    PROGRAM = "program"


@dataclass(frozen=True, slots=True)
class MidiMessage:
    port: str
    kind: Kind
    channel: int  # 1-16
    number: int  # note, controller or program
    value: int  # velocity or controller value (127 for program change)
    time: float  # seconds, monotonic


def parse(port: str, data: Sequence[int], time: float) -> MidiMessage | None:
    """Channel voice messages we understand; everything else (clock, sysex…) is None."""
    if len(data) < 2:
        return None
    status, channel = data[0] & 0xF0, (data[0] & 0x0F) + 1
    if status == 0xC0:
        return MidiMessage(port, Kind.PROGRAM, channel, data[1], 127, time)
    if len(data) < 3:
        return None
    if status == 0x90 and data[2] > 0:
        return MidiMessage(port, Kind.NOTE_ON, channel, data[1], data[2], time)
    if status in (0x80, 0x90):  # note on with velocity 0 is a note off
        return MidiMessage(port, Kind.NOTE_OFF, channel, data[1], 0, time)
    if status == 0xB0:
        return MidiMessage(port, Kind.CC, channel, data[1], data[2], time)
    return None


class Do(StrEnum):
    SWITCH = "switch"
    NEXT = "next"
    PREVIOUS = "previous"
    AUTO = "auto"
    VOLUME_UP = "volume_up"
    VOLUME_DOWN = "volume_down"


@dataclass(frozen=True, slots=True)
class Action:
    do: Do
    profile: str | None = None
    trigger: int = -1  # index of the trigger that fired (for logs)

    def describe(self) -> str:
        return f"{self.do.value} {self.profile}" if self.profile else self.do.value


@dataclass(frozen=True, slots=True)
class TriggerState:
    """Per trigger: is it held down, when did its last edge count, and (momentary) where
    to go back to on release."""

    pressed: dict[int, bool] = field(default_factory=dict)
    last_edge: dict[int, float] = field(default_factory=dict)
    return_to: dict[int, str | None] = field(default_factory=dict)


def _edge(trig: Trigger, msg: MidiMessage) -> bool | None:
    """True = pressed, False = released, None = this message is not for this trigger."""
    if not text_matches(trig.port, msg.port) or (trig.channel and trig.channel != msg.channel):
        return None
    if trig.note is not None and msg.number == trig.note:
        if msg.kind is Kind.NOTE_ON:
            return True
        return False if msg.kind is Kind.NOTE_OFF else None
    if trig.cc is not None and msg.kind is Kind.CC and msg.number == trig.cc:
        return msg.value >= trig.threshold
    if trig.program is not None and msg.kind is Kind.PROGRAM and msg.number == trig.program:
        return True
    return None


def evaluate(
    triggers: Sequence[Trigger],
    msg: MidiMessage,
    state: TriggerState,
    active: str | None,
    debounce_ms: int,
) -> tuple[list[Action], TriggerState]:
    """Actions for one message. Only edges count (a pedal sending 127, 127, 127 presses
    once); a press within `debounce_ms` of the trigger's last press is a double-fire.
    Releases are never debounced: a quick tap on a momentary switch must switch back."""
    actions: list[Action] = []
    for i, trig in enumerate(triggers):
        pressed = _edge(trig, msg)
        if pressed is None:
            continue
        was = state.pressed.get(i, False)
        if trig.program is not None or (trig.note is not None and pressed):
            # A program change has no release, and a note-on is a press by itself: a note
            # held down cannot be pressed again. Only a CC pedal repeats its value while
            # held (127, 127, 127: one press). rtmidi's JACK input loses or doubles one of
            # two events that arrive in one JACK period (measured: of 100 note-on/off
            # pairs, 79-91 note-offs and 103-115 note-ons reached the daemon; jack_midi_dump
            # got every pair): a lost note-off swallowed the next press, 9-15 in 100. The
            # debounce drops the doubled one.
            was = False
        if pressed == was:
            continue
        state = replace(state, pressed={**state.pressed, i: pressed})
        last = state.last_edge.get(i)
        if pressed and last is not None and (msg.time - last) * 1000.0 < debounce_ms:
            continue
        if pressed:
            state = replace(state, last_edge={**state.last_edge, i: msg.time})
            if trig.mode == "momentary":
                state = replace(state, return_to={**state.return_to, i: active})
            actions.append(_press_action(trig, i, active))
        elif trig.mode == "momentary":
            back = state.return_to.get(i)
            actions.append(Action(Do.SWITCH, back, i) if back else Action(Do.AUTO, None, i))
    return actions, state


def _press_action(trig: Trigger, index: int, active: str | None) -> Action:
    if trig.switch:
        return Action(Do.SWITCH, trig.switch, index)
    if trig.toggle:
        a, b = trig.toggle
        return Action(Do.SWITCH, b if active == a else a, index)
    return Action(Do(trig.action or "auto"), None, index)


def led_messages(feedback: Feedback, active: str | None) -> list[list[int]]:
    """The bytes that light the active profile's LED and turn the others off."""
    out = []
    for name, led in feedback.profiles.items():
        out.append(_led(led, led.value_on if name == active else led.value_off))
    return out


def _led(led: Led, value: int) -> list[int]:
    if led.note is not None:
        return [0x90 | (led.channel - 1), led.note, value]
    return [0xB0 | (led.channel - 1), led.cc or 0, value]


def as_trigger_yaml(msg: MidiMessage, action_line: str) -> str:
    """A config.yaml trigger for this message (used by `midi monitor` and `midi learn`)."""
    lines = [f'- port: "{msg.port}"', f"  channel: {msg.channel}"]
    if msg.kind in (Kind.NOTE_ON, Kind.NOTE_OFF):
        lines.append(f"  note: {msg.number}")
    elif msg.kind is Kind.CC:
        lines.append(f"  cc: {msg.number}")
    else:
        lines.append(f"  program: {msg.number}")
    lines.append(f"  {action_line}")
    return "\n".join(lines)

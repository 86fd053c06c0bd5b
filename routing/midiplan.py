"""Pure: which MIDI ports to open and close, and which sequencer changes call for a look.

- **Inputs and the LED output** (`plan_ports`): the inputs some trigger's `port` pattern
  matches are kept open, the others closed; the LED output is the first destination the
  feedback pattern matches. routing.midi opens and closes what this says.
- **The ALSA sequencer's announcements** (`worth_a_rescan`): every client and port that
  comes or goes is announced, the daemon's own included — and a rescan itself opens short
  lived clients (python-rtmidi lists ports through a client of its own). So an
  announcement leads to a rescan only when the ports of *other* clients changed: a
  controller plugged in, unplugged or renamed. Without that filter each rescan would
  announce the next one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from routing.matching import text_matches
from routing.settings import Midi

OWN_PREFIX = "dawroute"  # the daemon's sequencer clients are all named dawroute…
SYSTEM_CLIENT = 0  # the sequencer's own client (Timer, Announce)


@dataclass(frozen=True, slots=True)
class SeqPort:
    """A port on the ALSA sequencer, as listed by its client and port numbers and names."""

    client: int
    port: int
    client_name: str
    port_name: str


@dataclass(frozen=True, slots=True)
class PortPlan:
    open_inputs: tuple[str, ...]  # in the order they are listed
    close_inputs: tuple[str, ...]
    output: str | None  # the LED port to have open (None: none matches, or no feedback)


def others(ports: Iterable[SeqPort]) -> frozenset[SeqPort]:
    """The ports that can be a controller: not the sequencer's own, not the daemon's."""
    return frozenset(
        p for p in ports if p.client != SYSTEM_CLIENT and not p.client_name.startswith(OWN_PREFIX)
    )


def worth_a_rescan(before: frozenset[SeqPort] | None, now: Iterable[SeqPort]) -> bool:
    """After an announcement: did a port of another client appear, go or change?"""
    return before is None or others(now) != others(before)


def plan_ports(
    config: Midi, inputs: Sequence[str], outputs: Sequence[str], opened: Iterable[str]
) -> PortPlan:
    """From the ports listed now (`inputs` to read, `outputs` to send to) and the inputs
    open now: what to open, what to close, and which LED port to use."""
    wanted = [p for p in inputs if any(text_matches(t.port, p) for t in config.triggers)]
    have = set(opened)
    fb = config.feedback
    return PortPlan(
        open_inputs=tuple(p for p in dict.fromkeys(wanted) if p not in have),
        close_inputs=tuple(sorted(have - set(wanted))),
        output=next((p for p in outputs if text_matches(fb.port, p)), None) if fb else None,
    )

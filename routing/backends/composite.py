"""The backends one configuration needs, and one observe() over all of them.

Always the pulse backend; JACK when a profile maps `daw.ports`; PipeWire's clock metadata
when a profile sets `clock`. The daemon (which keeps its connections across passes and
reconnects them) and `dawroute apply` (which opens them once) choose them with the same
functions here. Ops are run by routing.apply.apply_plan, never here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace

from routing.backends.jack import JackBackend, JackUnavailable
from routing.backends.pipewire import ClockBackend
from routing.backends.pulse import PulseBackend
from routing.model import ServerKind, Snapshot
from routing.profiles import Profile

log = logging.getLogger(__name__)


class Backends:
    """`jack` and `clock` are None when no profile needs them, or JACK is not running."""

    def __init__(
        self,
        pulse: PulseBackend,
        jack: JackBackend | None = None,
        clock: ClockBackend | None = None,
        want_sources: bool = True,
    ) -> None:
        self.pulse = pulse
        self.jack = jack
        self.clock = clock
        self.want_sources = want_sources

    async def observe(self) -> Snapshot:
        snap = await self.pulse.observe(sources=self.want_sources)
        if self.jack is not None and self.jack.alive:
            ports, links, devices = self.jack.observe()
            snap = replace(snap, ports=ports, links=links, devices=snap.devices + devices)
        if self.clock is not None and snap.server is ServerKind.PIPEWIRE:
            clock, allowed = await self.clock.observe()
            snap = replace(snap, clock=clock, allowed_rates=allowed)
        return snap

    def close(self) -> None:
        """Close the connections (one-shot users; the daemon keeps its own across passes)."""
        if self.jack is not None:
            self.jack.close()
        self.pulse.close()


def needs_jack(profiles: Sequence[Profile]) -> bool:
    return any(p.daw.ports for p in profiles)


def needs_clock(profiles: Sequence[Profile]) -> bool:
    return any(p.clock.rate or p.clock.quantum for p in profiles)


def for_profiles(
    profiles: Sequence[Profile], pulse: PulseBackend, jack: JackBackend | None
) -> Backends:
    """The backend set for these profiles over connections the caller holds."""
    return Backends(
        pulse,
        jack if jack is not None and jack.alive and needs_jack(profiles) else None,
        ClockBackend() if needs_clock(profiles) else None,
        want_sources=any(p.input is not None for p in profiles),
    )


async def connect(profiles: Sequence[Profile], server: str | None) -> Backends:
    """Open what these profiles need, once (`dawroute apply`). No pulse server raises
    (ServerError, TimeoutError); no JACK server leaves JACK out, which the policy
    reports as a problem of the profiles with `daw.ports`."""
    pulse = PulseBackend(server)
    await pulse.connect()
    jack = None
    if needs_jack(profiles):
        loop = asyncio.get_running_loop()
        jack = JackBackend(lambda _why: None, loop.call_soon_threadsafe)
        try:
            jack.connect()
        except JackUnavailable as exc:
            log.debug("DAW ports not linked: %s", exc)
            jack = None
    return for_profiles(profiles, pulse, jack)

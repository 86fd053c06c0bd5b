"""The backends one configuration needs, and one observe() over all of them.

The pulse backend when a pulse server (PulseAudio or pipewire-pulse) answers, else jackd
when one runs (its graph, the cards' ALSA mixers and the bridges that bring other cards
into it), else bare ALSA (`backend: auto`; `pulse`/`pipewire`, `jack` and `alsa` force
one: `server_mode`); JACK when a profile maps `daw.ports`; PipeWire's clock metadata when
a profile sets `clock`. The daemon (which keeps its connections across passes and
reconnects them) and `dawroute apply` (which opens them once) choose them with the same
functions here. Ops are run by routing.apply.apply_plan, never here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace

from routing import jackgraph, paths
from routing.backends.alsa import AlsaBackend
from routing.backends.bridge import BridgeBackend
from routing.backends.jack import JackBackend, JackUnavailable
from routing.backends.pipewire import ClockBackend
from routing.backends.pulse import PulseBackend, ServerError
from routing.model import ServerKind, Snapshot
from routing.profile import Profile

log = logging.getLogger(__name__)


class Backends:
    """The sound server: `pulse`; or jackd alone (`jackd`: JACK's graph, with `alsa` for
    the cards and their mixers when this machine has ALSA, and `bridge` for the cards
    joining the graph — None for a one-shot command, bridges need the daemon); or bare
    ALSA (`alsa`). `jack` and `clock` are None when no profile needs them, or JACK is not
    running."""

    def __init__(
        self,
        pulse: PulseBackend | None,
        jack: JackBackend | None = None,
        clock: ClockBackend | None = None,
        want_sources: bool = True,
        alsa: AlsaBackend | None = None,
        jackd: bool = False,
        bridge: BridgeBackend | None = None,
    ) -> None:
        self.pulse = pulse
        self.jack = jack
        self.clock = clock
        self.want_sources = want_sources
        self.alsa = alsa
        self.jackd = jackd
        self.bridge = bridge

    @property
    def name(self) -> str:
        """The backend in use, as `status` names it."""
        if self.pulse is not None:
            return "pulse"
        return "jack" if self.jackd else "alsa"

    @property
    def unconfirmed(self) -> bool:
        """The last observe showed something we just sent as done before the server said
        so (PulseBackend.unconfirmed): look again shortly."""
        return self.pulse is not None and self.pulse.unconfirmed

    async def observe(self) -> Snapshot:
        if self.jackd:
            return await self._observe_jackd()
        if self.alsa is not None:
            snap = await self.alsa.observe(sources=self.want_sources)
        else:
            assert self.pulse is not None
            snap = await self.pulse.observe(sources=self.want_sources)
        if self.jack is not None and self.jack.alive:
            ports, links, devices = self.jack.observe()
            snap = replace(snap, ports=ports, links=links, devices=snap.devices + devices)
        if self.clock is not None and snap.server is ServerKind.PIPEWIRE:
            clock, allowed = await self.clock.observe()
            snap = replace(snap, clock=clock, allowed_rates=allowed)
        return snap

    async def _observe_jackd(self) -> Snapshot:
        """jackd alone: its graph, the cards ALSA shows and which client carries each."""
        if self.jack is None or not self.jack.alive:
            raise JackUnavailable("the JACK server went away")
        cards = None
        if self.alsa is not None and AlsaBackend.available():
            cards = await self.alsa.observe(sources=self.want_sources)
        ports, links, devices = self.jack.observe()
        bridges = self.bridge.running() if self.bridge is not None else ()
        return jackgraph.merge(cards, ports, links, devices, bridges, self.jack.version)

    def close(self) -> None:
        """Close the connections (one-shot users; the daemon keeps its own across passes)."""
        if self.jack is not None:
            self.jack.close()
        if self.pulse is not None:
            self.pulse.close()
        if self.alsa is not None:
            self.alsa.close()


def needs_jack(profiles: Sequence[Profile]) -> bool:
    return any(p.daw.ports for p in profiles)


def needs_clock(profiles: Sequence[Profile]) -> bool:
    return any(p.clock.rate or p.clock.quantum for p in profiles)


def for_profiles(
    profiles: Sequence[Profile],
    pulse: PulseBackend | None,
    jack: JackBackend | None,
    alsa: AlsaBackend | None = None,
    jackd: bool = False,
    bridge: BridgeBackend | None = None,
) -> Backends:
    """The backend set for these profiles over connections the caller holds: the pulse
    server when given, else jackd alone (`jackd`), else bare ALSA."""
    alone = jackd and pulse is None and jack is not None and jack.alive
    return Backends(
        pulse,
        jack if jack is not None and jack.alive and (alone or needs_jack(profiles)) else None,
        ClockBackend() if needs_clock(profiles) and pulse is not None else None,
        want_sources=any(p.input is not None for p in profiles),
        alsa=alsa if pulse is None else None,
        jackd=alone,
        bridge=bridge if alone else None,
    )


def uses_pulse(choice: str) -> bool:
    return choice in ("auto", "pulse", "pipewire")


def uses_alsa(choice: str) -> bool:
    """Bare ALSA may be the backend (no sound server answers)."""
    return choice in ("auto", "alsa")


def uses_jack_server(choice: str) -> bool:
    """jackd alone may be the backend (no pulse server answers)."""
    return choice in ("auto", "jack")


def server_mode(choice: str, pulse: bool, jackd: bool, alsa: bool) -> str | None:
    """Which backend `backend: CHOICE` uses given what answers: a pulse server first,
    then a JACK server, then bare ALSA; None when nothing allowed answers."""
    if pulse and uses_pulse(choice):
        return "pulse"
    if jackd and uses_jack_server(choice):
        return "jack"
    if alsa and uses_alsa(choice):
        return "alsa"
    return None


async def connect_server(choice: str, server: str | None) -> PulseBackend | AlsaBackend:
    """The sound server for `backend: CHOICE` (config.yaml), once (CLI commands): the
    pulse server when one answers, else bare ALSA (auto). Nothing usable raises
    ServerError."""
    why = "backend: alsa"
    if uses_pulse(choice):
        pulse = PulseBackend(server)
        try:
            await pulse.connect()
            return pulse
        except (ServerError, TimeoutError) as exc:
            pulse.close()
            why = f"no pulse server answers ({exc or type(exc).__name__})"
            if not uses_alsa(choice):
                raise ServerError(why) from exc
    if not AlsaBackend.available():
        raise ServerError(f"{why}, and no ALSA sound support either (no /proc/asound)")
    log.debug("bare ALSA: %s", why)
    return AlsaBackend(paths.alsa_config_file())


async def connect(
    profiles: Sequence[Profile], server: str | None, choice: str = "auto"
) -> Backends:
    """Open what these profiles need, once (`dawroute apply`). No sound server and no
    ALSA raises ServerError; no JACK server leaves JACK out, which the policy reports as
    a problem of the profiles with `daw.ports`."""
    if choice == "jack":
        found: PulseBackend | AlsaBackend | None = None
    else:
        try:
            found = await connect_server(choice, server)
        except ServerError:
            if not uses_jack_server(choice):
                raise
            found = None
    pulse = found if isinstance(found, PulseBackend) else None
    alsa = found if isinstance(found, AlsaBackend) else None
    jack = None
    jackd = pulse is None and uses_jack_server(choice)
    if needs_jack(profiles) or jackd:
        loop = asyncio.get_running_loop()
        jack = JackBackend(lambda _why: None, loop.call_soon_threadsafe)
        try:
            jack.connect()
        except JackUnavailable as exc:
            log.debug("DAW ports not linked: %s", exc)
            jack = None
    if jack is None and found is None:
        raise ServerError("no pulse server answers and no JACK server runs")
    if jackd and jack is not None and alsa is None and AlsaBackend.available():
        alsa = AlsaBackend(paths.alsa_config_file())
    return for_profiles(profiles, pulse, jack, alsa, jackd=jackd)

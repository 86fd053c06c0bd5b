"""Every connection the daemon keeps — the pulse server, bare ALSA, JACK and jackd's
bridges — and which of them a pass uses (config.yaml `backend`): the pulse server while
connected (`auto`, `pulse`, `pipewire`), else jackd when one runs (`auto`, `jack`), else
bare ALSA (`auto`, `alsa`) — chosen again on every pass, so a server that starts or stops
moves the daemon from one to the other."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from routing.alsaconn import AlsaConnection
from routing.backends.alsa import AlsaBackend
from routing.backends.composite import (
    Backends,
    for_profiles,
    needs_jack,
    server_mode,
    uses_alsa,
    uses_jack_server,
    uses_pulse,
)
from routing.backends.pulse import PulseBackend
from routing.jackconn import Bridges, JackConnection
from routing.profile import Profile
from routing.pulseconn import PulseConnection
from routing.settings import Config


class Connections:
    def __init__(
        self,
        address: str | None,
        config: Callable[[], Config],
        poke: Callable[[str], None],
        changed: Callable[[str], None],
        stale: Callable[[], None],
        connected: Callable[[], None],
        record: Callable[[str, str], None],
        problem: Callable[[str], None],
    ) -> None:
        self._config = config
        self.pulse = PulseConnection(address, config, poke, changed, connected, record, problem)
        self.alsa = AlsaConnection(changed, stale, record)
        self.jack = JackConnection(changed, poke)
        self.bridges = Bridges(changed)

    def for_pass(self, profiles: Sequence[Profile]) -> Backends | None:
        """The backends this pass uses; None: no server to route on."""
        self.pulse.close_dead()
        choice = self._config().backend
        pulse = self.pulse.backend if uses_pulse(choice) else None
        may_serve = self.pulse.backend is None and uses_jack_server(choice)
        self.jack.ensure(needs_jack(profiles) or may_serve, needs_jack(profiles))
        alsa = None
        if pulse is not None:
            self.alsa.close()
            self.alsa.release_default()
        else:
            alsa = self._alsa(choice)
        jackd = self._jackd_alone(pulse, choice)
        if jackd:
            self.alsa.release_default()  # jackd holds its card: the default is not ours
        elif not uses_alsa(choice):
            alsa = None  # `backend: jack` and no jackd: not bare ALSA
        bridge = self.bridges.for_pass(jackd)
        if pulse is None and alsa is None and not jackd:
            return None
        return for_profiles(profiles, pulse, self.jack.backend, alsa, jackd, bridge)

    def _alsa(self, choice: str) -> AlsaBackend | None:
        """Bare ALSA, when the configuration allows it and no pulse server is connected."""
        cards = uses_alsa(choice) or uses_jack_server(choice)  # jackd's levels: the mixers
        if not cards or not AlsaBackend.available():
            self.alsa.close()
            return None
        if not self.pulse.given_up():
            return None
        return self.alsa.open()

    def _jackd_alone(self, pulse: PulseBackend | None, choice: str) -> bool:
        """jackd is the backend for this pass: no pulse server, and a JACK server answers."""
        jack_up = self.jack.alive
        if pulse is not None or not jack_up or not self.pulse.given_up():
            return False
        return server_mode(choice, False, jack_up, self.alsa.backend is not None) == "jack"

    def available(self, in_use: str | None) -> bool:
        """The backend the last pass used is still connected."""
        return (
            (self.pulse.backend is not None and in_use == "pulse")
            or (self.alsa.backend is not None and in_use == "alsa")
            or (self.jack.alive and in_use == "jack")
        )

    def down_message(self) -> str:
        """Why a request finds no server to route on."""
        since = time.strftime("%H:%M:%S", time.localtime(self.pulse.down_since or time.time()))
        choice = self._config().backend
        if choice == "jack":
            return f"no JACK server runs since {since} (backend: jack)"
        if not uses_pulse(choice):
            return "bare ALSA unavailable: no ALSA sound support (no /proc/asound)"
        alsa = "" if uses_alsa(choice) else f" (backend: {choice}: bare ALSA not used)"
        return f"sound server unavailable since {since}{alsa}"

    def close(self) -> None:
        self.pulse.close()
        self.alsa.close()
        self.bridges.close()
        self.jack.close()

"""Pure: what the world looks like on jackd alone (no pulse server running).

The cards ALSA shows, each with the JACK client whose playback ports are that card:
`system` for the card jackd itself runs on (the card a `jackd`/`jackdbus` process has
open), else the bridge dawroute starts for it when a profile plays there
(`dawroute-<card id>`, see routing.jackplan). Plus JACK's ports and links, and the
bridges dawroute runs. No streams: on jackd the DAW is reached through its ports only,
and the ALSA default is not dawroute's to move (jackd holds the card it runs on).
"""

from __future__ import annotations

from dataclasses import replace

from routing.model import Device, Direction, Link, Port, ServerKind, Snapshot

SYSTEM = "system"  # jackd's own hardware client
BRIDGE_PREFIX = "dawroute-"
JACK_SERVERS = ("jackd", "jackdbus")


def bridge_client(dev: Device) -> str:
    """The JACK client name of the bridge for this card's PCM: stable (the card's id,
    never its index) and free of ':' (JACK's port separator)."""
    base = (dev.card_id or dev.name).replace(":", "_")
    return f"{BRIDGE_PREFIX}{base}" + (f"-{dev.pcm_device}" if dev.pcm_device else "")


def held_by_jackd(cards: Snapshot) -> frozenset[str]:
    """The playback devices a JACK server has open: jackd runs on them."""
    return frozenset(s.sink for s in cards.streams if s.sink and s.binary in JACK_SERVERS)


def merge(
    cards: Snapshot | None,
    ports: tuple[Port, ...],
    links: frozenset[Link],
    jack_devices: tuple[Device, ...],
    bridges: tuple[str, ...],
    version: str = "",
) -> Snapshot:
    """One snapshot from ALSA's cards (None: no ALSA here, e.g. jackd's dummy driver) and
    JACK's graph."""
    base = cards if cards is not None else Snapshot()
    held = held_by_jackd(base)
    devices = tuple(
        replace(d, jack_client=SYSTEM if d.name in held else bridge_client(d))
        if d.api == "alsa" and d.direction is Direction.SINK
        else d
        for d in base.devices
    )
    return replace(
        base,
        devices=devices + jack_devices,
        streams=(),
        default_sink=None,
        server=ServerKind.JACK,
        server_version=version,
        ports=ports,
        links=links,
        alsa_config=None,
        notes=(),
        bridges=bridges,
    )

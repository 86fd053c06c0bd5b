"""Pure: a profile's `card_profile` and `port` against what the cards offer.

A card is found through its device (the sink or source the selector matched), or — while
its profile gives it no device, as a Pro Audio profile fallen to "off" on re-plug — by the
selector's `usb`, `serial` and `card` keys, which a card carries like its devices.
"""

from __future__ import annotations

from dataclasses import dataclass

from routing.matching import text_matches
from routing.model import Card, Device, Direction, Snapshot
from routing.profile import Input, Output


@dataclass(frozen=True, slots=True)
class CardSettings:
    """The card profiles and ports a profile wants, or why it cannot have them."""

    cards: tuple[tuple[str, str], ...] = ()  # card name → profile
    ports: tuple[tuple[str, Direction, str], ...] = ()  # device → port
    problem: str | None = None
    switching: bool = False  # a card is not in its profile yet: its devices come after


def settings(
    specs: list[tuple[Output | Input, Device | None, Direction]], snapshot: Snapshot
) -> CardSettings:
    """The card profiles and ports of a profile's output and input (`specs`: each with the
    device its selector found, if any)."""
    cards: dict[str, str] = {}
    switching = False
    ports: list[tuple[str, Direction, str]] = []
    for spec, dev, direction in specs:
        if dev is not None and dev.api != "pulse":
            continue  # bare ALSA, jackd: cards have no profiles or ports to choose there
        if spec.card_profile is not None:
            card = card_of(spec, dev, snapshot)
            if card is None:
                if dev is not None:
                    return CardSettings(
                        problem=f"'{dev.label}' belongs to no card the server shows: "
                        f"card_profile '{spec.card_profile}' cannot be set"
                    )
                continue  # not connected: nothing to set
            if spec.card_profile not in card.profiles:
                have = ", ".join(card.profiles) or "none"
                return CardSettings(
                    problem=f"card '{card.label}' has no profile '{spec.card_profile}' "
                    f"(it has: {have})"
                )
            cards.setdefault(card.name, spec.card_profile)
            switching = switching or card.active != cards[card.name]
        if spec.port is not None and dev is not None:
            if spec.port not in dev.ports:
                have = ", ".join(dev.ports) or "none"
                return CardSettings(
                    problem=f"'{dev.label}' has no port '{spec.port}' (it has: {have})"
                )
            ports.append((dev.name, direction, spec.port))
    return CardSettings(tuple(cards.items()), tuple(ports), switching=switching)


def card_of(spec: Output | Input, dev: Device | None, snapshot: Snapshot) -> Card | None:
    """The card of the matched device; else the one card the selector's card keys pick."""
    if dev is not None:
        return snapshot.card(dev.card) if dev.card is not None else None
    if spec.usb is None and spec.serial is None and spec.card is None:
        return None  # name/description name devices, not cards
    found = [c for c in snapshot.cards if _matches(spec, c)]
    return found[0] if len(found) == 1 else None


def _matches(spec: Output | Input, card: Card) -> bool:
    usb = f"{card.vendor_id}:{card.product_id}" if card.vendor_id and card.product_id else None
    return (
        (spec.usb is None or spec.usb == usb)
        and (spec.serial is None or spec.serial == card.serial)
        and (spec.card is None or text_matches(spec.card, card.card_name))
    )

"""`card_profile:` and `port:` (pure layers): the interface's Pro Audio profile is set again
when the card comes back "off", a port is chosen before levels and routes, and what the
card does not offer is a clear problem. The real cards: tests/test_vm.py."""

from __future__ import annotations

from dataclasses import replace

from routing import policy, reconcile
from routing.model import Card, SetCardProfile, SetPort, SetVolume, Snapshot
from routing.policy import Intent
from routing.profile import Profile
from routing.state import State
from tests.fakeworld import apply_op, daw, parsed, sink

PROFILES = """
profiles:
  - name: speakers
    fallback: true
    output: {usb: "1235:8212", channels: [AUX0, AUX1], card_profile: pro-audio}
  - name: phones
    priority: 90
    output: {card: "HDA Intel PCH", volume: 40%, max_volume: 50%,
             port: analog-output-headphones}
"""

SCARLETT = Card(
    name="alsa_card.usb-Focusrite_Scarlett_4i4",
    description="Scarlett 4i4 USB",
    vendor_id="1235",
    product_id="8212",
    card_name="Scarlett 4i4 USB",
    profiles=("off", "output:analog-stereo", "pro-audio"),
    active="off",
)
IFACE = replace(
    sink("scarlett-pro", usb="1235:8212", channels=("AUX0", "AUX1", "AUX2", "AUX3")),
    card=SCARLETT.name,
    card_name="Scarlett 4i4 USB",
)
HDA = Card(
    name="alsa_card.pci-0000_00_1f.3",
    description="Built-in Audio",
    card_name="HDA Intel PCH",
    profiles=("output:analog-stereo",),
    active="output:analog-stereo",
)
BUILTIN = replace(
    sink("builtin", volume=100.0),
    card=HDA.name,
    card_name="HDA Intel PCH",
    ports=("analog-output-lineout", "analog-output-headphones"),
    port="analog-output-lineout",
)


def profiles() -> tuple[Profile, ...]:
    return parsed(PROFILES)


def test_the_interface_back_in_off_gets_its_pro_audio_profile_before_anything_else() -> None:
    w = Snapshot(cards=(SCARLETT,), streams=(daw(1, None),))  # no sink: the card is off
    d = policy.decide(profiles(), w, State(active="speakers"), Intent())
    assert d.profile == "speakers" and d.plan is not None and d.plan.pending
    assert reconcile.ops(d.plan, w) == [
        SetCardProfile(SCARLETT.name, "Scarlett 4i4 USB", "pro-audio")
    ]
    # the card's devices appear: the next pass routes to them, and sets nothing on the card
    on = replace(w, cards=(replace(SCARLETT, active="pro-audio"),), devices=(IFACE,))
    d = policy.decide(profiles(), on, State(active="speakers"), Intent())
    assert d.plan is not None and not d.plan.pending
    todo = reconcile.ops(d.plan, on)
    assert todo and not [o for o in todo if isinstance(o, SetCardProfile)]
    assert d.plan.cards == ((SCARLETT.name, "pro-audio"),)  # shown in status


def test_the_headphone_port_is_chosen_before_the_level_and_the_move() -> None:
    w = Snapshot(cards=(HDA,), devices=(BUILTIN,), streams=(daw(1, "builtin"),))
    d = policy.decide(profiles(), w, State(), Intent())
    assert d.profile == "phones" and d.plan is not None
    todo = reconcile.ops(d.plan, w)
    kinds = [type(o) for o in todo]
    assert kinds.index(SetPort) < kinds.index(SetVolume)
    assert todo[0].describe() == "set port of Builtin to analog-output-headphones"
    for op in todo:
        w = apply_op(w, op)
    d = policy.decide(profiles(), w, State(active="phones"), Intent())
    assert d.plan is not None and reconcile.ops(d.plan, w) == []


def test_a_card_profile_the_card_does_not_offer_is_a_problem_in_status() -> None:
    wrong = PROFILES.replace("card_profile: pro-audio", "card_profile: pro-audo")
    w = Snapshot(cards=(SCARLETT,), streams=(daw(1, None),))
    d = policy.decide(parsed(wrong), w, State(), Intent())
    assert d.plan is None
    assert d.problems == (
        "speakers: card 'Scarlett 4i4 USB' has no profile 'pro-audo' "
        "(it has: off, output:analog-stereo, pro-audio)",
    )


def test_a_port_the_device_does_not_have_is_a_problem_in_status() -> None:
    wrong = PROFILES.replace("analog-output-headphones", "headphones")
    w = Snapshot(cards=(HDA,), devices=(BUILTIN,), streams=(daw(1, "builtin"),))
    d = policy.decide(parsed(wrong), w, State(), Intent())
    assert (
        "phones: 'Builtin' has no port 'headphones' "
        "(it has: analog-output-lineout, analog-output-headphones)"
    ) in d.problems


def test_a_device_without_a_card_cannot_take_a_card_profile() -> None:
    null = sink("scarlett-pro", usb="1235:8212", channels=("AUX0", "AUX1", "AUX2", "AUX3"))
    w = Snapshot(devices=(null,), streams=(daw(1, "scarlett-pro"),))
    d = policy.decide(profiles(), w, State(), Intent())
    assert d.plan is None
    assert d.problems == (
        "speakers: 'Scarlett-Pro' belongs to no card the server shows: "
        "card_profile 'pro-audio' cannot be set",
    )


def test_on_bare_alsa_the_keys_are_ignored() -> None:
    card = replace(sink("hw-pch"), api="alsa", card_name="HDA Intel PCH")
    w = Snapshot(devices=(card,))
    d = policy.decide(profiles(), w, State(), Intent())
    assert d.profile == "phones" and d.plan is not None and d.plan.ports == ()


def test_check_warns_where_two_profiles_want_one_card_in_different_profiles() -> None:
    from routing.format.crosscheck import cross_check
    from routing.format.profiles import parse_profiles

    text = """
profiles:
  - name: speakers
    fallback: true
    output: {usb: "1235:8212", card_profile: pro-audio, channels: [AUX0, AUX1]}
  - name: stereo
    output: {usb: "1235:8212", card_profile: "output:analog-stereo"}
  - name: phones
    output: {usb: "1235:8212", card_profile: pro-audio, channels: [AUX2, AUX3]}
"""
    loaded, issues = parse_profiles(text, "studio.yaml")
    assert not [i for i in issues if i.severity == "error"]
    found = [i.format() for i in cross_check(loaded) if "card_profile" in i.key]
    why = (
        "a card is in one profile at a time, so switching between them switches the card, "
        "and its devices go and come back — give both the same `card_profile` (e.g. the one "
        "with every channel both use), or leave it out of one"
    )
    assert found == [  # `phones` agrees with `speakers`, not with `stereo`
        "studio.yaml:7:46: warning: stereo.output.card_profile: wants the card in profile "
        f"'output:analog-stereo' and 'speakers' wants 'pro-audio': {why}",
        "studio.yaml:9:46: warning: phones.output.card_profile: wants the card in profile "
        f"'pro-audio' and 'stereo' wants 'output:analog-stereo': {why}",
    ]

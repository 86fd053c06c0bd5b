"""`also:` with no sound server: a profile playing on the interface and a second headphone
amp at once, each at its own level and cap.

On bare ALSA the managed default becomes one `multi` over both cards (alsa-lib itself
opening it is in tests/test_alsa.py, a real `aplay` on both cards in the real-kernel
tier); on jackd alone the DAW's ports are linked to jackd's card and to the amp's bridge."""

from __future__ import annotations

from routing import alsaconf, alsaplan, jackplan, policy
from routing.format.profiles import parse_profiles
from routing.model import Connect, Disconnect, SetMixer, StartBridge, WriteAlsaConfig
from routing.profile import Profile
from routing.state import State
from tests.test_alsa import AMP, CONFIG, IFACE, alsa_world
from tests.test_jackd_alone import BRIDGE, BRIDGE_PORTS, SYSTEM_PORTS, _at, graph, links_to

PROFILES = """
profiles:
  - name: interface
    fallback: true
    priority: 10
    output: {card: "Dummy", volume: 70%, max_volume: 85%}
    daw:
      ports: {"~^ecasound:out_[12]$": stereo}
  - name: both
    auto: false
    output:
      card: "Dummy"
      volume: 60%
      max_volume: 80%
      also:
        - usb: "46f4:0002"
          volume: 40%
          max_volume: 50%
    daw:
      ports: {"~^ecasound:out_[12]$": stereo}
      exclusive: true
"""

SWITCH = policy.Intent(policy.Cause.SWITCH, "both")


def profiles() -> tuple[Profile, ...]:
    loaded, issues = parse_profiles(PROFILES, "p.yaml")
    assert not [i for i in issues if i.severity == "error"], issues
    return tuple(lp.profile for lp in loaded)


def levels(ops: list) -> dict[str, tuple[float, float]]:
    return {op.device: (op.volume, op.cap) for op in ops if isinstance(op, SetMixer)}


def test_on_bare_alsa_both_cards_play_through_one_default_each_at_its_own_level() -> None:
    world = alsa_world(_at(IFACE, 95.0), _at(AMP, 100.0))
    d = policy.decide(profiles(), world, State(active="interface"), SWITCH)
    assert d.profile == "both" and d.plan is not None
    assert not any("sound server" in p for p in d.problems), d.problems
    ops = alsaplan.ops(d.plan, world, CONFIG)
    assert levels(ops) == {IFACE.name: (60.0, 80.0), AMP.name: (40.0, 50.0)}
    write = ops[-1]
    assert isinstance(write, WriteAlsaConfig)  # levels first, then the default
    assert all(isinstance(op, SetMixer) for op in ops[:-1])
    assert 'slaves.a.pcm "plughw:CARD=Dummy,DEV=0"' in write.text
    assert 'slaves.b.pcm "plughw:CARD=USB,DEV=0"' in write.text
    assert "dawroute: both (Dummy + QEMU USB Audio)" in write.text
    assert write.target == IFACE.name  # the control device stays the first output's card


def test_on_bare_alsa_a_level_raised_on_the_second_amp_is_pulled_back_to_its_own_cap() -> None:
    world = alsa_world(IFACE, AMP)
    d = policy.decide(profiles(), world, State(active="interface"), SWITCH)
    assert d.plan is not None
    done = alsa_world(
        _at(IFACE, 60.0), _at(AMP, 90.0), config=alsaconf.render(d.plan, world, CONFIG)
    )
    d = policy.decide(profiles(), done, State(active="both", manual="both"), policy.Intent())
    assert d.profile == "both" and d.plan is not None
    assert alsaplan.ops(d.plan, done, CONFIG) == [
        SetMixer(AMP.name, AMP.label, "Speaker", 50.0, 50.0, 90.0)
    ]


def test_without_the_second_amp_the_profile_cannot_play() -> None:
    d = policy.decide(profiles(), alsa_world(IFACE), State(active="interface"), SWITCH)
    assert d.profile == "interface"


def test_on_jackd_the_daw_plays_on_the_interface_and_through_the_amps_bridge() -> None:
    # pass 1: the amp's level is set and its bridge starts; the DAW stays on system
    world = graph(_at(IFACE, 95.0), _at(AMP, 100.0), links=links_to(SYSTEM_PORTS))
    d = policy.decide(profiles(), world, State(active="interface"), SWITCH)
    assert d.profile == "both" and d.plan is not None
    ops = jackplan.ops(d.plan, world)
    assert levels(ops) == {IFACE.name: (60.0, 80.0), AMP.name: (40.0, 50.0)}
    assert [op for op in ops if isinstance(op, StartBridge)] == [
        StartBridge(AMP.name, AMP.label, BRIDGE, AMP.name, 2)
    ]
    assert not [op for op in ops if isinstance(op, Disconnect)]
    # pass 2: the bridge's ports are there: the DAW is linked to them too, system kept
    world = graph(_at(IFACE, 60.0), _at(AMP, 40.0), bridges=(BRIDGE,), links=links_to(SYSTEM_PORTS))
    d = policy.decide(profiles(), world, State(active="both", manual="both"), policy.Intent())
    assert d.plan is not None
    assert set(d.plan.links) == links_to(SYSTEM_PORTS) | links_to(BRIDGE_PORTS)
    ops = jackplan.ops(d.plan, world)
    assert {op.link for op in ops if isinstance(op, Connect)} == links_to(BRIDGE_PORTS)
    assert not [op for op in ops if isinstance(op, Disconnect)]


def test_on_jackd_an_also_output_with_channels_links_to_those() -> None:
    text = PROFILES.replace(
        '        - usb: "46f4:0002"\n', '        - usb: "46f4:0002"\n          channels: [FR]\n'
    )
    loaded, issues = parse_profiles(text, "p.yaml")
    assert not [i for i in issues if i.severity == "error"], issues
    world = graph(IFACE, _at(AMP, 40.0), bridges=(BRIDGE,), links=links_to(SYSTEM_PORTS))
    d = policy.decide(tuple(lp.profile for lp in loaded), world, State(), SWITCH)
    assert d.plan is not None
    to_bridge = {link for link in d.plan.links if link.target.startswith(BRIDGE)}
    assert {link.target for link in to_bridge} == {BRIDGE_PORTS[1]}  # both DAW outputs on FR

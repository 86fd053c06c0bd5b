"""jackd alone (no PulseAudio, no PipeWire): the studio runs jackd on its interface.

dawroute links the DAW's JACK ports, holds the cards' ALSA mixers at their caps, and
brings a USB amp plugged in later into the running JACK graph through a bridge
(zita-j2a) — mixer first, bridge next, the DAW's ports last; unplugged, the DAW goes back
to the interface's ports and the bridge ends. The pure rules run on made-up worlds; the
bridge and the daemon on a real jackd (the dummy driver: this machine has no sound card;
the real-kernel tier plugs a real USB card, tests/test_vm.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from routing import jackgraph, jackplan, policy
from routing.apply import Owner, owner, plan_ops, stage
from routing.backends.bridge import BridgeBackend
from routing.backends.composite import Backends, server_mode
from routing.format.profiles import parse_profiles
from routing.model import (
    Connect,
    Device,
    Direction,
    Disconnect,
    Link,
    Port,
    ServerKind,
    SetMixer,
    Snapshot,
    StartBridge,
    StopBridge,
    Stream,
)
from routing.profile import Profile
from routing.state import State
from testbed import sandbox
from tests.conftest import hermetic_env, wait_until
from tests.daemonrun import Running
from tests.test_alsa import card
from tests.test_jack import graph_links

PROFILES = """
profiles:
  - name: interface
    fallback: true
    priority: 10
    output: {card: "Dummy", volume: 70%, max_volume: 85%}
    daw:
      ports: {"~^ecasound:out_[12]$": stereo}
      exclusive: true
  - name: usb-amp
    priority: 90
    output: {usb: "46f4:0002", volume: 40%, max_volume: 50%}
    daw:
      ports: {"~^ecasound:out_[12]$": stereo}
      exclusive: true
"""

IFACE = card("Dummy", "Dummy", 2, (("Master", 70.0),), usb=None)
AMP = card()  # QEMU USB Audio, 46f4:0002, mixer "Speaker" at 100 %
BRIDGE = "dawroute-USB"
DAW = ("ecasound:out_1", "ecasound:out_2")
SYSTEM_PORTS = ("system:playback_1", "system:playback_2")
BRIDGE_PORTS = (f"{BRIDGE}:playback_1", f"{BRIDGE}:playback_2")


def profiles() -> tuple[Profile, ...]:
    loaded, issues = parse_profiles(PROFILES, "p.yaml")
    assert not [i for i in issues if i.severity == "error"], issues
    return tuple(lp.profile for lp in loaded)


def cards(*devices: Device) -> Snapshot:
    """What ALSA shows: jackd has the interface's PCM open."""
    return Snapshot(
        devices=devices,
        streams=(Stream(0, "jackd", "jackd", 4242, IFACE.name),),
        server=ServerKind.ALSA,
    )


def graph(*devices: Device, bridges: tuple[str, ...] = (), links=frozenset()) -> Snapshot:
    """jackd's graph: the DAW's two outputs, system's two playbacks, the bridge's when it
    runs; merged with the cards as the composite backend does."""
    ports = [Port(p, "ecasound", True, False) for p in DAW]
    ports += [
        Port(p, "system", False, True, ch) for p, ch in zip(SYSTEM_PORTS, ("FL", "FR"), strict=True)
    ]
    if BRIDGE in bridges:
        ports += [
            Port(p, BRIDGE, False, False, ch)
            for p, ch in zip(BRIDGE_PORTS, ("FL", "FR"), strict=True)
        ]
    system = Device("system", "system", Direction.SINK, bus="jack", api="jack")
    return jackgraph.merge(cards(*devices), tuple(ports), frozenset(links), (system,), bridges)


def links_to(targets: tuple[str, str]) -> frozenset[Link]:
    return frozenset(Link(s, t) for s, t in zip(DAW, targets, strict=True))


# ---------------------------------------------------------------- who carries which card


def test_jackds_own_card_is_system_and_any_other_card_gets_a_bridge() -> None:
    world = graph(IFACE, AMP)
    assert world.server is ServerKind.JACK and world.streams == () and world.default_sink is None
    iface, amp = world.device(IFACE.name), world.device(AMP.name)
    assert iface is not None and iface.jack_client == "system"
    assert amp is not None and amp.jack_client == BRIDGE
    # named by the card's id, never its index; a second PCM device gets its number
    assert jackgraph.bridge_client(replace(card("C:1"), pcm_device=1)) == "dawroute-C_1-1"


# ---------------------------------------------------------------- plug, link, unplug


def test_plugged_amp_is_capped_then_bridged_then_the_daw_moves_to_it() -> None:
    # pass 1: the amp appeared; its mixer is set before the bridge starts, and the DAW
    # keeps playing on the interface meanwhile (its links stay)
    world = graph(_at(IFACE, 95.0), AMP, links=links_to(SYSTEM_PORTS))
    d = policy.decide(profiles(), world, State(active="interface"), policy.Intent())
    assert d.profile == "usb-amp" and d.plan is not None
    ops = jackplan.ops(d.plan, world)
    assert [type(op) for op in ops] == [SetMixer, SetMixer, StartBridge]
    amp, iface = ops[0], ops[1]
    assert isinstance(amp, SetMixer) and (amp.device, amp.control, amp.volume) == (
        AMP.name,
        "Speaker",
        40.0,
    )
    # the interface, where the DAW returns when the amp goes, is held at its own cap
    assert isinstance(iface, SetMixer) and iface.volume == 85.0 and iface.cap == 85.0
    start = ops[2]
    assert start == StartBridge(AMP.name, AMP.label, BRIDGE, "hw:CARD=USB,DEV=0", 2)
    assert any("waiting for 'dawroute-USB'" in p for p in d.problems), d.problems
    # pass 2: the bridge runs and its ports registered: the DAW moves, nothing is started
    world = graph(IFACE, _at(AMP, 40.0), bridges=(BRIDGE,), links=links_to(SYSTEM_PORTS))
    d = policy.decide(profiles(), world, State(active="usb-amp"), policy.Intent())
    assert d.plan is not None
    ops = jackplan.ops(d.plan, world)
    assert {op.link for op in ops if isinstance(op, Connect)} == links_to(BRIDGE_PORTS)
    assert {op.link for op in ops if isinstance(op, Disconnect)} == links_to(SYSTEM_PORTS)
    assert not [op for op in ops if isinstance(op, StartBridge | StopBridge)]
    assert max(i for i, op in enumerate(ops) if isinstance(op, Connect)) < min(
        i for i, op in enumerate(ops) if isinstance(op, Disconnect)
    )  # no gap in the sound


def test_unplugged_amp_sends_the_daw_back_to_system_and_ends_the_bridge_last() -> None:
    world = graph(_at(IFACE, 95.0), bridges=(BRIDGE,))  # the amp is gone, its bridge runs
    d = policy.decide(profiles(), world, State(active="usb-amp"), policy.Intent())
    assert d.profile == "interface" and d.plan is not None
    ops = jackplan.ops(d.plan, world)
    assert ops[-1] == StopBridge(BRIDGE)
    assert {op.link for op in ops if isinstance(op, Connect)} == links_to(SYSTEM_PORTS)
    assert ops[0] == SetMixer(IFACE.name, IFACE.label, "Master", 70.0, 85.0, 95.0)  # first


def test_a_level_raised_above_the_cap_on_jackd_is_pulled_back_on_the_mixer() -> None:
    world = graph(IFACE, _at(AMP, 90.0), bridges=(BRIDGE,), links=links_to(BRIDGE_PORTS))
    d = policy.decide(profiles(), world, State(active="usb-amp"), policy.Intent())
    assert d.plan is not None
    assert jackplan.ops(d.plan, world) == [
        SetMixer(AMP.name, AMP.label, "Speaker", 50.0, 50.0, 90.0)
    ]


def test_bridges_are_their_own_backend_and_stop_the_run_when_they_fail() -> None:
    start = StartBridge(AMP.name, AMP.label, BRIDGE, AMP.name, 2)
    assert owner(start) is Owner.BRIDGE and owner(StopBridge(BRIDGE)) is Owner.BRIDGE
    assert stage(start).value == "create"  # no links to a bridge that did not start


def test_apply_on_jackd_takes_jackds_ops() -> None:
    world = graph(IFACE, AMP)
    d = policy.decide(profiles(), world, State(), policy.Intent())
    assert d.plan is not None
    backends = Backends(None, jackd=True)
    assert backends.name == "jack"
    assert plan_ops(backends, d.plan, world) == jackplan.ops(d.plan, world)


# ---------------------------------------------------------------- backend choice


@pytest.mark.parametrize(
    ("choice", "pulse", "jackd", "alsa", "mode"),
    [
        ("auto", True, True, True, "pulse"),
        ("auto", False, True, True, "jack"),
        ("auto", False, False, True, "alsa"),
        ("auto", False, False, False, None),
        ("jack", True, True, True, "jack"),
        ("jack", False, False, True, None),  # the user's choice is honoured
        ("alsa", False, True, True, "alsa"),
        ("pulse", False, True, True, None),
    ],
)
def test_backend_choice_prefers_pulse_then_jackd_then_bare_alsa(
    choice: str, pulse: bool, jackd: bool, alsa: bool, mode: str | None
) -> None:
    assert server_mode(choice, pulse, jackd, alsa) == mode


def test_status_names_jackd_alone() -> None:
    from routing.status import render_status

    st: Any = {
        "active": "interface", "active_since": 0, "manual": None, "manual_since": None,
        "reason": "interface: fallback", "outputs": [], "streams": [], "events": [],
        "problems": [],
        "server": {"available": True, "backend": "jack", "kind": "jack", "version": "0.126"},
        "config": {"errors": []},
    }  # fmt: skip
    text = render_status(st)
    assert "server:   jackd alone, no pulse server (JACK 0.126)" in text
    assert "backend:  jack" in text


# ---------------------------------------------------------------- a real bridge


def _need_bridge() -> None:
    if not BridgeBackend.available():
        why = "zita-j2a not installed (Debian package zita-ajbridge); run ./scripts/test"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(f"SKIPPED LOUDLY: {why}")


def jack_ports(stack: sandbox.Stack) -> set[str]:
    out = subprocess.run(
        ["jack_lsp"], env=sandbox.jack_env(stack), capture_output=True, text=True, timeout=10
    ).stdout
    return set(out.split())


@pytest.fixture
def in_jack_env(jack: sandbox.Stack, monkeypatch: pytest.MonkeyPatch) -> sandbox.Stack:
    """This process (and the bridges it starts) talks to the test's jackd."""
    for k, v in jack.env.items():
        if k.startswith("JACK_"):
            monkeypatch.setenv(k, v)
    return jack


def test_a_bridge_joins_the_running_jack_graph_and_leaves_it(in_jack_env: sandbox.Stack) -> None:
    """zita-j2a for real, on alsa-lib's `null` PCM (this machine has no sound card)."""
    _need_bridge()
    bridge = BridgeBackend()
    ended: list[str] = []

    async def run() -> None:
        bridge.watch(asyncio.get_running_loop(), ended.append)
        start = StartBridge("null", "the null PCM", "dawroute-null", "null", 2)
        assert bridge.apply([start]).done == (start,)
        for _ in range(200):
            if {"dawroute-null:playback_1", "dawroute-null:playback_2"} <= jack_ports(in_jack_env):
                break
            await asyncio.sleep(0.05)
        assert "dawroute-null:playback_2" in jack_ports(in_jack_env)
        assert bridge.running() == ("dawroute-null",)
        assert bridge.apply([StopBridge("dawroute-null")]).failed == ()
        assert bridge.running() == ()
        assert not any(p.startswith("dawroute-null:") for p in jack_ports(in_jack_env))

    try:
        asyncio.run(run())
    finally:
        bridge.close()
    assert ended == []  # stopped by us, not ended by itself


def test_a_bridge_that_cannot_start_is_a_failed_op_with_the_package_to_install() -> None:
    bridge = BridgeBackend(command="no-such-zita-j2a")
    start = StartBridge(AMP.name, AMP.label, BRIDGE, AMP.name, 2)
    result = bridge.apply([start])
    ((op, why),) = result.failed
    assert op == start and "zita-ajbridge" in why


def test_a_bridge_that_ends_by_itself_pokes_and_is_not_restarted_in_a_loop(
    in_jack_env: sandbox.Stack,
) -> None:
    _need_bridge()
    bridge = BridgeBackend()
    ended: list[str] = []

    async def run() -> None:
        bridge.watch(asyncio.get_running_loop(), ended.append)
        start = StartBridge("x", "a card that is not there", "dawroute-none", "hw:CARD=None", 2)
        bridge.apply([start])
        for _ in range(200):
            if ended:
                break
            await asyncio.sleep(0.05)
        assert ended == ["bridge dawroute-none ended"]
        ((_op, why),) = bridge.apply([start]).failed
        assert "ended (exit status" in why

    try:
        asyncio.run(run())
    finally:
        bridge.close()


# ---------------------------------------------------------------- the daemon on jackd alone

JACKD_ONLY_PROFILES = """
profiles:
  - name: system
    fallback: true
    output: {name: system}
    daw:
      ports: {"~^FakeDAW:out_[12]$": stereo}
      exclusive: true
"""


@pytest.fixture
def jackd_alone_daemon(jack: sandbox.Stack, tmp_path: Path) -> Iterator[Running]:
    """jackd and nothing else: no PulseAudio, no PipeWire (and, here, no ALSA)."""
    env = hermetic_env(jack.env, tmp_path)
    env.pop("PULSE_SERVER", None)
    profiles_dir = tmp_path / "config" / "dawroute" / "profiles"
    profiles_dir.mkdir(parents=True)
    (profiles_dir / "jack.yaml").write_text(JACKD_ONLY_PROFILES)
    sandbox.start_jack_daw(jack)
    running = Running(jack, env)
    running.start()
    yield running
    print("DAEMON LOG\n" + running.log_text()[-5000:])
    if running.proc is not None:
        assert running.stop() == 0


def test_on_jackd_alone_the_daemon_links_the_daw_and_status_names_jack(
    jackd_alone_daemon: Running, jack: sandbox.Stack
) -> None:
    want = {("FakeDAW:out_1", "system:playback_1"), ("FakeDAW:out_2", "system:playback_2")}
    wait_until(lambda: graph_links(jack) == want, what="DAW ports on system:playback_1/2")
    st = jackd_alone_daemon.status()
    assert st["server"]["backend"] == "jack" and st["server"]["available"], st["server"]
    assert st["active"] == "system"
    # the DAW restarts: its ports are linked again (JACK's port registration, no polling)
    jack.stop_process("jack-daw-FakeDAW")
    wait_until(lambda: graph_links(jack) == set(), what="the DAW gone")
    sandbox.start_jack_daw(jack)
    wait_until(lambda: graph_links(jack) == want, what="relinked after the DAW restarted")


# ---------------------------------------------------------------- helpers


def _at(dev: Device, level: float) -> Device:
    return replace(dev, volume=level, mixers=((dev.mixers[0][0], level),))

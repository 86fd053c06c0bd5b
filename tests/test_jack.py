"""DAWs on the JACK API: their ports are linked to the profile's outputs on every plug,
switch and server restart — on PipeWire's JACK and on jackd, asserted from the graph."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed import sandbox
from tests.conftest import hermetic_env, wait_until
from tests.daemonrun import Running

IFACE, AMP = sandbox.INTERFACE, sandbox.USB_AMP

PIPEWIRE_PROFILES = """
profiles:
  - name: outs34
    priority: 20
    fallback: true
    output: {usb: "1235:8212", channels: [AUX2, AUX3], volume: 50%}
    daw:
      ports: {"~^FakeDAW:out_[12]$": [AUX2, AUX3]}
      exclusive: true
    clock: {rate: 48000, quantum: 128}
  - name: amp
    priority: 90
    output: {usb: "30be:1019", volume: 40%, max_volume: 60%}
    daw:
      ports: {"~^FakeDAW:out_[12]$": stereo}
      exclusive: true
"""

JACKD_PROFILES = """
profiles:
  - name: system34
    fallback: true
    output: {name: system}
    daw:
      ports: {"~^FakeDAW:out_[12]$": [AUX2, AUX3]}
      exclusive: true
    clock: {rate: 48000, quantum: 64}
"""


def graph_links(stack: sandbox.Stack, client: str = "FakeDAW") -> set[tuple[str, str]]:
    """Links from `client`'s ports, as the JACK server itself lists them (jack_lsp -c)."""
    out = subprocess.run(
        ["jack_lsp", "-c"], env=sandbox.jack_env(stack), capture_output=True, text=True, timeout=10
    ).stdout
    links, current = set(), None
    for line in out.splitlines():
        if not line.startswith((" ", "\t")):
            current = line.strip()
        elif current and current.startswith(f"{client}:"):
            links.add((current, line.strip()))
    return links


def clock(stack: sandbox.Stack) -> tuple[str, str]:
    from routing.backends.pipewire import parse_settings

    out = subprocess.run(
        ["pw-metadata", "-n", "settings", "0"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout
    s = parse_settings(out)
    return s.get("clock.force-rate", "0"), s.get("clock.force-quantum", "0")


@pytest.fixture
def pw_daemon(pipewire: sandbox.Stack, tmp_path: Path) -> Iterator[Running]:
    # the daemon loads PipeWire's libjack, like pw-jack
    env = hermetic_env(sandbox.jack_env(pipewire), tmp_path)
    profiles = tmp_path / "config" / "dawroute" / "profiles"
    profiles.mkdir(parents=True)
    (profiles / "jack.yaml").write_text(PIPEWIRE_PROFILES)
    sandbox.plug(pipewire, IFACE)
    sandbox.start_jack_daw(pipewire)
    running = Running(pipewire, env)
    running.start()
    yield running
    print("DAEMON LOG\n" + running.log_text()[-5000:])
    if running.proc is not None:
        assert running.stop() == 0


OUTS34 = {
    ("FakeDAW:out_1", "Scarlett 4i4 USB Pro:playback_AUX2"),
    ("FakeDAW:out_2", "Scarlett 4i4 USB Pro:playback_AUX3"),
}
ON_AMP = {
    ("FakeDAW:out_1", "Schiit Fulla Analog Stereo:playback_FL"),
    ("FakeDAW:out_2", "Schiit Fulla Analog Stereo:playback_FR"),
}


def test_outputs_3_4_profile_links_out_1_2_to_aux2_aux3_and_nothing_else(
    pw_daemon: Running, pipewire: sandbox.Stack
) -> None:
    wait_until(lambda: graph_links(pipewire) == OUTS34, what="DAW ports on outputs 3-4")
    wait_until(lambda: clock(pipewire) == ("48000", "128"), what="the profile's clock")


def test_switching_to_the_amp_moves_the_links_and_replug_relinks(
    pw_daemon: Running, pipewire: sandbox.Stack
) -> None:
    wait_until(lambda: graph_links(pipewire) == OUTS34, what="DAW ports on outputs 3-4")
    amp = sandbox.plug(pipewire, AMP)
    wait_until(lambda: graph_links(pipewire) == ON_AMP, what="links moved to the amp")
    wait_until(lambda: clock(pipewire) == ("0", "0"), what="clock released by the amp profile")
    time.sleep(2.0)  # WirePlumber had 2 s to undo our links; it must not have
    assert graph_links(pipewire) == ON_AMP
    sandbox.unplug(pipewire, amp)
    wait_until(lambda: graph_links(pipewire) == OUTS34, what="back on outputs 3-4")
    sandbox.plug(pipewire, AMP)
    wait_until(lambda: graph_links(pipewire) == ON_AMP, what="relinked after re-plug")


def test_pipewire_restart_relinks_once_the_daw_reconnects(
    pw_daemon: Running, pipewire: sandbox.Stack
) -> None:
    wait_until(lambda: graph_links(pipewire) == OUTS34, what="DAW ports on outputs 3-4")
    sandbox.stop_server(pipewire)
    sandbox.start_server(pipewire)
    sandbox.plug(pipewire, IFACE)  # the interface comes back with the server
    # PipeWire 0.3.65's libjack does not tell a client its server went away, so the DAW
    # reconnects when it is restarted (as users do), not by itself
    pipewire.stop_process("jack-daw-FakeDAW")
    sandbox.start_jack_daw(pipewire)
    wait_until(
        lambda: graph_links(pipewire) == OUTS34, timeout=15, what="relinked after the restart"
    )


@pytest.fixture
def jackd_daemon(
    pulseaudio: sandbox.Stack, jack: sandbox.Stack, tmp_path: Path
) -> Iterator[Running]:
    """jackd for the DAW's ports, PulseAudio for everything else (a classic set-up)."""
    env = hermetic_env(pulseaudio.env, tmp_path)
    env.update({k: v for k, v in jack.env.items() if k.startswith("JACK_")})
    profiles = tmp_path / "config" / "dawroute" / "profiles"
    profiles.mkdir(parents=True)
    (profiles / "jack.yaml").write_text(JACKD_PROFILES)
    sandbox.start_jack_daw(jack)
    running = Running(pulseaudio, env)
    running.start()
    yield running
    print("DAEMON LOG\n" + running.log_text()[-5000:])
    if running.proc is not None:
        assert running.stop() == 0


def test_jackd_links_the_daw_to_system_playback_3_4(
    jackd_daemon: Running, jack: sandbox.Stack
) -> None:
    want = {("FakeDAW:out_1", "system:playback_3"), ("FakeDAW:out_2", "system:playback_4")}
    wait_until(lambda: graph_links(jack) == want, what="DAW ports on system:playback_3/4")
    problems = jackd_daemon.status()["problems"]
    assert any("need a server restart" in p for p in problems), problems


def test_a_pass_reads_the_graph_while_another_client_adds_and_drops_ports(
    jack: sandbox.Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A DAW loading a session registers and drops ports while the daemon reads the graph.
    JACK lists port names, then each is looked up: a port gone in between made the read
    raise, the pass died and a switch waiting for it timed out (seen in CI). The read is
    taken again instead."""
    import threading

    import jack as jackclient

    from routing.backends.jack import JackBackend

    for key, value in sandbox.jack_env(jack).items():
        monkeypatch.setenv(key, value)
    churn = jackclient.Client("Churn", no_start_server=True)
    churn.activate()
    stop = threading.Event()

    def come_and_go() -> None:  # bursts, as a session loading: 8 ports, 2 ms, gone, 2 ms
        while not stop.is_set():
            ports = [churn.outports.register(f"out_{i}") for i in range(8)]
            time.sleep(0.002)
            for p in ports:
                p.unregister()
            time.sleep(0.002)

    backend = JackBackend(lambda _reason: None, lambda *_a: None)
    backend.connect()
    worker = threading.Thread(target=come_and_go)
    worker.start()
    try:
        reads = [backend.observe() for _ in range(400)]
    finally:
        stop.set()
        worker.join(10)
        backend.close()
        churn.deactivate()
        churn.close()
    seen = {p.name for ports, _links, _devs in reads for p in ports}
    assert any(name.startswith("Churn:") for name in seen)  # it did read while they came

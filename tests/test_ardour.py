"""Real Ardour (headless: Debian's `ardour`, `ardour7-lua`) routed by `preset: ardour`.

On its PulseAudio backend Ardour is a pulse stream ("Ardour", media "master"): it moves
on plug, unplug and switch — on PulseAudio and on pipewire-pulse of both generations. On
its JACK backend (PipeWire's JACK of both generations, and jackd) its master outputs
`ardour:Master/audio_out 1`/`2` are linked to the profile's channels. The switch is
made from inside the session: dawroute's Ardour action script, run in Ardour's Lua, sends
OSC to the daemon.

One Ardour per stack and backend, kept for the module's tests; the session directory is
created once and loaded by every other Ardour."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from testbed import ardour, sandbox
from tests.conftest import PIPEWIRE_PARAMS, _start, _stop, hermetic_env, wait_until
from tests.daemonrun import Running
from tests.test_jack import graph_links

IFACE, AMP = sandbox.INTERFACE, sandbox.USB_AMP
ACTIONS = Path(__file__).resolve().parent.parent / "routing" / "daw" / "ardour"

# (server kind, PipeWire generation, Ardour's backend)
_PIPEWIRE = [
    pytest.param(("pipewire", p.values[0], backend), id=f"{p.id}-{backend}")
    for p in PIPEWIRE_PARAMS
    for backend in ("PulseAudio", "JACK")
]
PLUGGABLE = [pytest.param(("pulseaudio", None, "PulseAudio"), id="pulseaudio"), *_PIPEWIRE]
CASES = [*PLUGGABLE, pytest.param(("jackd", None, "JACK"), id="jackd")]

# Ardour on pulse: the stream is moved (the preset's apps); `master` finds no JACK port
PULSE_PROFILES = """
profiles:
  - name: interface
    priority: 20
    fallback: true
    output: {usb: "1235:8212"}
    daw: {preset: ardour}
  - name: amp
    priority: 90
    output: {usb: "30be:1019"}
    daw: {preset: ardour}
"""
# Ardour on PipeWire's JACK: its master outs on the interface's outputs 3-4, or the amp
JACK_PROFILES = """
profiles:
  - name: interface
    priority: 20
    fallback: true
    output: {usb: "1235:8212", channels: [AUX2, AUX3]}
    daw: {preset: ardour, master: [AUX2, AUX3], exclusive: true}
  - name: amp
    priority: 90
    output: {usb: "30be:1019"}
    daw: {preset: ardour, master: stereo, exclusive: true}
"""
# jackd alone (dummy driver, 4 playbacks): two profiles on jackd's own outputs, both
# automatic (a fallback would yield to the other), the higher priority chosen
JACKD_PROFILES = """
profiles:
  - name: interface
    priority: 20
    output: {name: system}
    daw: {preset: ardour, master: [AUX0, AUX1], exclusive: true}
  - name: amp
    priority: 10
    output: {name: system}
    daw: {preset: ardour, master: [AUX2, AUX3], exclusive: true}
"""

MASTER = ("ardour:Master/audio_out 1", "ardour:Master/audio_out 2")
LINKS = {  # (kind, profile) → the master outputs' links
    ("pipewire", "interface"): {
        (MASTER[0], "Scarlett 4i4 USB Pro:playback_AUX2"),
        (MASTER[1], "Scarlett 4i4 USB Pro:playback_AUX3"),
    },
    ("pipewire", "amp"): {
        (MASTER[0], "Schiit Fulla Analog Stereo:playback_FL"),
        (MASTER[1], "Schiit Fulla Analog Stereo:playback_FR"),
    },
    ("jackd", "interface"): {(MASTER[0], "system:playback_1"), (MASTER[1], "system:playback_2")},
    ("jackd", "amp"): {(MASTER[0], "system:playback_3"), (MASTER[1], "system:playback_4")},
}


def _need_ardour() -> None:
    if ardour.binary() is None:
        why = "Ardour not installed (Debian package ardour: ardour7-lua); run ./scripts/test"
        if os.environ.get("CI"):
            pytest.fail(f"{why}: CI must test with the real DAW")
        pytest.skip(f"SKIPPED LOUDLY: {why}")


@dataclass
class Studio:
    stack: sandbox.Stack
    daw: ardour.Ardour

    @property
    def on_jack(self) -> bool:
        return self.daw.backend == "JACK"

    def where(self) -> Any:
        """Where Ardour plays now: its pulse stream's sink, or its master outs' links."""
        if self.on_jack:
            return {lk for lk in graph_links(self.stack, "ardour") if lk[0] in MASTER}

        def read(p: Any) -> list[str]:
            sinks = {s.index: s.name for s in p.sink_list()}
            return [
                sinks[i.sink]
                for i in p.sink_input_list()
                if i.proplist.get("application.name") == "Ardour"
            ]

        return sandbox.with_pulse(self.stack, read)

    def expected(self, profile: str) -> Any:
        if self.on_jack:
            return LINKS[(self.stack.kind, profile)]
        return [(IFACE if profile == "interface" else AMP).name]


@pytest.fixture(scope="session")
def ardour_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one session every Ardour here uses (created by the first, then loaded)."""
    return tmp_path_factory.mktemp("ardour") / "dawroute-test"


@pytest.fixture(scope="module", params=CASES)
def studio(
    request: pytest.FixtureRequest,
    ardour_session: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Studio]:
    kind, generation, backend = request.param
    _need_ardour()
    t0 = time.monotonic()
    stack = _start(kind, generation)
    daw = ardour.Ardour(stack, backend, ardour_session, tmp_path_factory.mktemp("ardour-home"))
    try:
        if kind != "jackd":
            sandbox.plug(stack, IFACE)
        daw.start()
        print(f"Ardour ({backend}) up in {daw.started_in:.1f} s")
        yield Studio(stack, daw)
    finally:
        print("--- Ardour\n" + daw.log())
        daw.stop()
        _stop(stack)
        print(f"{stack.label} with Ardour: {time.monotonic() - t0:.1f} s in all")


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Daemon:
    running: Running
    osc: str  # where the daemon listens for OSC, as Ardour's action scripts want it


@pytest.fixture
def daemon(studio: Studio, tmp_path: Path) -> Iterator[Daemon]:
    stack = studio.stack
    base = sandbox.jack_env(stack) if stack.kind != "pulseaudio" else stack.env
    env = hermetic_env(base, tmp_path)
    if stack.kind == "jackd":
        env.pop("PULSE_SERVER", None)
        text = JACKD_PROFILES
    else:
        text = JACK_PROFILES if studio.on_jack else PULSE_PROFILES
    config = tmp_path / "config" / "dawroute"
    (config / "profiles").mkdir(parents=True)
    (config / "profiles" / "ardour.yaml").write_text(text)
    port = _free_udp_port()
    (config / "config.yaml").write_text(f'osc: {{listen: "127.0.0.1:{port}"}}\n')
    running = Running(stack, env)
    running.start()
    yield Daemon(running, f"osc.udp://127.0.0.1:{port}")
    print("DAEMON LOG\n" + running.log_text()[-5000:])
    if running.proc is not None:
        assert running.stop() == 0, running.log_text()


def _on(studio: Studio, profile: str, what: str) -> None:
    want = studio.expected(profile)
    wait_until(lambda: studio.where() == want, timeout=10, what=f"Ardour {what}")


@pytest.mark.parametrize("studio", PLUGGABLE, indirect=True)
def test_ardour_follows_the_amp_on_plug_and_unplug(studio: Studio, daemon: Daemon) -> None:
    _on(studio, "interface", "on the interface")
    for _ in range(2):  # twice: a second plug finds the same Ardour and relinks it
        amp = sandbox.plug(studio.stack, AMP)
        _on(studio, "amp", "moved to the amp on plug")
        sandbox.unplug(studio.stack, amp)
        _on(studio, "interface", "back on the interface on unplug")
    assert daemon.running.status()["active"] == "interface"


def test_an_ardour_action_switches_the_profile_from_inside_the_session(
    studio: Studio, daemon: Daemon
) -> None:
    status = daemon.running.status
    amp = None if studio.stack.kind == "jackd" else sandbox.plug(studio.stack, AMP)
    auto = "interface" if amp is None else "amp"  # what the daemon picks by itself
    other = "amp" if auto == "interface" else "interface"
    _on(studio, auto, f"on {auto} by priority")

    studio.daw.action(ACTIONS / "dawroute_switch.lua", profile=other, uri=daemon.osc)
    _on(studio, other, f"switched to {other} by the action")
    wait_until(lambda: status()["manual"] == other, what="the switch held as the manual choice")

    studio.daw.action(ACTIONS / "dawroute_toggle.lua", a=other, b=auto, uri=daemon.osc)
    _on(studio, auto, f"toggled to {auto} by the action")
    studio.daw.action(ACTIONS / "dawroute_auto.lua", uri=daemon.osc)
    wait_until(lambda: status()["manual"] is None, what="automatic again")
    _on(studio, auto, f"on {auto} automatically")
    if amp is not None:
        sandbox.unplug(studio.stack, amp)
        _on(studio, "interface", "back on the interface")

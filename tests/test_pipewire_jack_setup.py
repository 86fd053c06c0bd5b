"""On PipeWire, the JACK set-up docs/jack.md and docs/midi.md give — `pw-jack`, or
PipeWire's libjack preloaded — reaches JACK for MIDI (python-rtmidi, whose wheel bundles
its own libjack) and for port links (JACK-Client) alike."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from testbed import sandbox
from tests.conftest import hermetic_env, wait_until

pytestmark = pytest.mark.server

FOOT_SWITCH = """
import time
import jack
client = jack.Client("FootSwitch", no_start_server=True)
client.midi_outports.register("out")
client.outports.register("out_1")
client.activate()
time.sleep(120)
"""


def _dawroute(env: dict[str, str], *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "routing", *args, "--json"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.stderr == "", out.stderr  # libjack's own chatter stays out of sight
    return json.loads(out.stdout)


@pytest.mark.parametrize("setup", ["pw-jack", "LD_PRELOAD"])
def test_midi_ports_and_jack_clients_are_seen_the_documented_way(
    pipewire: sandbox.Stack, tmp_path: Path, setup: str
) -> None:
    jack_env = sandbox.jack_env(pipewire)  # what `pw-jack` sets: LD_LIBRARY_PATH
    pipewire.spawn("foot-switch", [sys.executable, "-c", FOOT_SWITCH], env=jack_env)
    if setup == "pw-jack":
        env = hermetic_env(jack_env, tmp_path)
    else:  # Environment=LD_PRELOAD=…/pipewire-0.3/jack/libjack.so.0 in the unit
        libdir = (pipewire.generation or sandbox.SYSTEM).jack_libdir()
        assert libdir is not None
        env = hermetic_env(dict(pipewire.env, LD_PRELOAD=str(libdir / "libjack.so.0")), tmp_path)
    ports: dict = {}

    def seen() -> bool:
        ports.update(_dawroute(env, "midi", "ports"))
        return "FootSwitch:out" in ports["jack"]["inputs"]

    wait_until(seen, timeout=10, what=f"the foot switch's MIDI port ({ports})")
    daws = _dawroute(env, "daws")
    assert "jack" not in daws["problems"], daws
    assert [c["name"] for c in daws["jack"]] == ["FootSwitch"], daws


def test_without_pipewire_s_libjack_midi_says_why(pipewire: sandbox.Stack, tmp_path: Path) -> None:
    env = hermetic_env(pipewire.env, tmp_path)
    env["JACK_DEFAULT_SERVER"] = "dawroute-absent"  # not even a jackd of another test
    ports = _dawroute(env, "midi", "ports")
    assert ports["jack"]["available"] is False
    assert "JACK server not running" in ports["jack"]["why"]

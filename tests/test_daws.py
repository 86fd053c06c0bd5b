"""`dawroute daws` on real servers: the DAW-like streams and JACK clients it sees, with the
preset or selector to paste — and a pasted preset picks exactly that DAW's stream."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from testbed import sandbox
from tests.conftest import hermetic_env, wait_until

BITWIG = ("Bitwig Studio", "BitwigAudioEngine-X64-AVX2")

FAKE_ARDOUR = """
import time, jack
c = jack.Client("ardour", no_start_server=True)
for name in ("Master/audio_out 1", "Master/audio_out 2", "Monitor/audio_out 1"):
    c.outports.register(name)
c.activate()
time.sleep(120)
"""


def daws(env: dict[str, str]) -> tuple[int, dict]:
    out = subprocess.run(
        [sys.executable, "-m", "routing", "daws", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return out.returncode, json.loads(out.stdout)


def test_streams_are_listed_with_their_preset(
    server: sandbox.Stack, client_env: dict[str, str], tmp_path: Path
) -> None:
    sandbox.plug(server, sandbox.INTERFACE)
    sandbox.start_daw(server, sink=sandbox.INTERFACE.name)
    sandbox.start_daw(server, *BITWIG, sink=sandbox.INTERFACE.name)
    sandbox.start_daw(server, "Firefox", "firefox", sink=sandbox.INTERFACE.name)
    rows: dict[str, dict] = {}

    def seen() -> bool:
        rows.clear()
        rows.update({r["name"]: r for r in daws(client_env)[1]["streams"]})
        return {"REAPER", BITWIG[0], "Firefox"} <= set(rows)

    wait_until(seen, what="three streams listed")
    assert rows["REAPER"]["preset"] == "reaper"
    assert rows["REAPER"]["paste"] == "daw: {preset: reaper}"
    assert rows["REAPER"]["where"] == [sandbox.INTERFACE.name]
    assert rows[BITWIG[0]]["preset"] == "bitwig" and rows[BITWIG[0]]["binary"] == BITWIG[1]
    assert rows["Firefox"]["preset"] is None
    assert rows["Firefox"]["paste"] == 'daw: {apps: ["Firefox"]}'

    # the pasted line, in a profile, moves Bitwig's stream and leaves REAPER's alone
    profile = tmp_path / "bitwig.yaml"
    profile.write_text(
        "name: amp\nfallback: true\noutput: {usb: \"30be:1019\"}\n"
        + rows[BITWIG[0]]["paste"] + "\n"
    )  # fmt: skip
    sandbox.plug(server, sandbox.USB_AMP)
    out = subprocess.run(
        [sys.executable, "-m", "routing", "apply", "amp", "--dry-run", "--profiles", str(profile)],
        env=client_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    moves = [line for line in out.stdout.splitlines() if line.startswith("would: move")]
    assert moves and all(BITWIG[0] in line for line in moves), out.stdout


def test_jack_clients_are_listed_with_the_preset_or_a_selector(
    jack: sandbox.Stack, tmp_path: Path
) -> None:
    env = hermetic_env(sandbox.jack_env(jack), tmp_path)
    env["PULSE_SERVER"] = f"unix:{tmp_path}/no-pulse-here"
    jack.spawn("fake-ardour", [sys.executable, "-c", FAKE_ARDOUR], env=sandbox.jack_env(jack))
    sandbox.start_jack_daw(jack)
    rows: dict[str, dict] = {}
    result: dict = {}

    def seen() -> bool:
        code, result_now = daws(env)
        assert code == 0  # JACK answered; no pulse server is only a problem listed
        result.update(result_now)
        rows.clear()
        rows.update({r["name"]: r for r in result_now["jack"]})
        return {"ardour", "FakeDAW"} <= set(rows)

    wait_until(seen, what="both JACK clients listed")
    assert "pulse" in result["problems"] and result["streams"] == []
    assert "system" not in rows  # the hardware is a device, not a DAW
    assert rows["ardour"]["preset"] == "ardour"
    assert rows["ardour"]["paste"] == "daw: {preset: ardour, master: stereo}"
    assert "ardour:Master/audio_out 1" in rows["ardour"]["where"]
    assert rows["FakeDAW"]["preset"] is None
    assert rows["FakeDAW"]["paste"] == 'daw: {ports: {"~^(FakeDAW:out_1|FakeDAW:out_2)$": stereo}}'
    # the printed form says the same for people
    text = subprocess.run(
        [sys.executable, "-m", "routing", "daws"], env=env, capture_output=True, text=True, timeout=30
    ).stdout  # fmt: skip
    assert "daw: {preset: ardour, master: stereo}" in text and "FakeDAW: FakeDAW:out_1" in text

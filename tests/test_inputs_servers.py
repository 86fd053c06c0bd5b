"""Inputs like outputs on real PulseAudio and PipeWire (both generations), through the
daemon: the DAW's recording moves to the profile's input at the profile's level, a
recording started later follows, and `status` says where the DAW records from."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed import sandbox
from tests.conftest import wait_until
from tests.daemonrun import Running

IFACE, IFACE_IN, MIC = sandbox.INTERFACE, sandbox.INTERFACE_INPUT, sandbox.LAPTOP_MIC

PROFILE = """
name: studio
fallback: true
output: {usb: "1235:8212", channels: [AUX0, AUX1]}
input: {usb: "1235:8212", volume: 40%, max_volume: 60%}
"""


def recordings(stack: sandbox.Stack) -> dict[int, tuple[str, str]]:
    """recording index → (application name, the source it records from)."""

    def read(p):
        names = {s.index: s.name for s in p.source_list()}
        return {
            o.index: (o.proplist["application.name"], names.get(o.source, "?"))
            for o in p.source_output_list()
            if o.proplist.get("application.name") in ("REAPER", "Discord")
        }

    return sandbox.with_pulse(stack, read)


def level(stack: sandbox.Stack, source: str) -> float:
    return sandbox.with_pulse(
        stack,
        lambda p: round(max(p.get_source_by_name(source).volume.values) * 100.0, 1),
    )


@pytest.fixture
def studio(server: sandbox.Stack, client_env: dict[str, str]) -> Iterator[Running]:
    """The interface (outputs and mic) and the laptop's mic plugged in, the DAW playing on
    the interface and recording from the laptop's mic, another app recording there too."""
    for dev in (IFACE, IFACE_IN, MIC):
        sandbox.plug(server, dev)
    sandbox.start_daw(server, sink=IFACE.name)
    sandbox.start_recorder(server, source=MIC.name)
    sandbox.start_recorder(server, app="Discord", binary="discord", source=MIC.name)
    wait_until(lambda: len(recordings(server)) == 2, what="both recordings")
    running = Running(server, client_env)
    running.profiles.mkdir(parents=True)
    (running.profiles / "studio.yaml").write_text(PROFILE)
    running.start()
    yield running
    print("DAEMON LOG\n" + running.log_text()[-6000:])
    assert running.stop() == 0, running.log_text()


def test_the_daw_records_from_the_interface_mic_at_the_profiles_level(
    studio: Running, server: sandbox.Stack
) -> None:
    def settled() -> bool:
        apps = sorted(recordings(server).values())
        return apps == [("Discord", MIC.name), ("REAPER", IFACE_IN.name)]

    wait_until(settled, what="the DAW's recording on the interface, Discord's left alone")
    wait_until(lambda: level(server, IFACE_IN.name) == 40.0, what="the input at 40 %")
    text = _status(studio)
    assert f"input:    {IFACE_IN.description}: 40 % (cap 60 %)" in text
    daw = next(i for i, (app, _) in recordings(server).items() if app == "REAPER")
    assert f"DAW:      'REAPER' recording {daw} ← {IFACE_IN.description}" in text


def test_a_recording_started_later_follows_watch_shows_it_and_a_mic_turned_up_is_capped(
    studio: Running, server: sandbox.Stack
) -> None:
    wait_until(lambda: level(server, IFACE_IN.name) == 40.0, what="the input at 40 %")
    watcher = subprocess.Popen(
        [sys.executable, "-m", "routing", "watch"],
        env=studio.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stdout is not None
        assert "watching" in watcher.stdout.readline()  # subscribed: what follows is news
        sandbox.start_recorder(server, source=MIC.name)  # a second take, on the wrong mic
        wait_until(
            lambda: (
                [s for a, s in recordings(server).values() if a == "REAPER"] == [IFACE_IN.name] * 2
            ),
            what="both DAW recordings on the interface",
        )
        line = ""
        while "recording" not in line:
            line = watcher.stdout.readline()
        assert line.strip().startswith("done: move 'REAPER' recording")
        assert line.strip().endswith(f"→ {IFACE_IN.description}")
    finally:
        watcher.terminate()
        watcher.wait(5)
    sandbox.with_pulse(
        server,
        lambda p: p.volume_set_all_chans(p.get_source_by_name(IFACE_IN.name), 0.9),
    )
    wait_until(lambda: level(server, IFACE_IN.name) == 60.0, what="the input back at its cap")


def _status(running: Running) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "routing", "status"],
        env=running.env,
        capture_output=True,
        text=True,
        timeout=20,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout

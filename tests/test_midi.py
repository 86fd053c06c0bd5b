"""A foot switch and pads on a real JACK server drive the daemon on a real sound server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testbed import sandbox
from tests.conftest import hermetic_env, wait_until
from tests.daemonrun import Running, install_examples, routed_to_ours

rtmidi = pytest.importorskip("rtmidi")

CONFIG = """
midi:
  debounce_ms: 40
  triggers:
    - port: "~FakeController"
      note: 36
      switch: phones-3-4
    - port: "~FakeController"
      cc: 64
      toggle: [speakers, phones-3-4]
    - port: "~FakeController"
      cc: 65
      mode: momentary
      switch: phones-3-4
    - port: "~FakeController"
      note: 40
      action: volume_up
    - port: "~FakeController"
      note: 41
      action: volume_down
  feedback:
    port: "~FakeLEDs"
    profiles:
      speakers: {note: 36}
      phones-3-4: {note: 37}
"""


@pytest.fixture(params=["pulseaudio"])
def server(request: pytest.FixtureRequest, jack: sandbox.Stack) -> Iterator[sandbox.Stack]:
    """PulseAudio for the audio side (PipeWire is covered by the daemon tests), plus jackd."""
    from tests.conftest import _start, _stop

    stack = _start(request.param)
    yield stack
    _stop(stack)


@pytest.fixture
def client_env(server: sandbox.Stack, jack: sandbox.Stack, tmp_path: Path) -> dict[str, str]:
    env = hermetic_env(server.env, tmp_path)
    env.update({k: v for k, v in jack.env.items() if k.startswith("JACK_")})
    (tmp_path / "config" / "dawroute").mkdir(parents=True)
    (tmp_path / "config" / "dawroute" / "config.yaml").write_text(CONFIG)
    return env


@pytest.fixture
def jack_env(jack: sandbox.Stack) -> Iterator[None]:
    """JACK clients in THIS process (the fake controller) read these when they open."""
    keys = ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")
    old = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: jack.env[k] for k in keys})
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


class Controller:
    """A virtual MIDI controller: an output port the daemon reads, an input for its LEDs."""

    def __init__(self) -> None:
        self.out = rtmidi.MidiOut(rtapi=rtmidi.API_UNIX_JACK, name="FakeController")
        self.out.open_virtual_port("out")
        self._leds: list[list[int]] = []
        self.led_in: Any = None
        self.plug_leds()

    def plug_leds(self) -> None:
        self.led_in = rtmidi.MidiIn(rtapi=rtmidi.API_UNIX_JACK, name="FakeLEDs")
        self.led_in.open_virtual_port("in")
        # polled, never a callback: a Python callback runs on a JACK thread, and closing
        # the client cancels that thread — inside Python it takes the GIL with it and the
        # test process hangs past any timeout (seen once in a full run)

    @property
    def leds(self) -> list[list[int]]:
        while self.led_in is not None and (msg := self.led_in.get_message()) is not None:
            self._leds.append(list(msg[0]))
        return self._leds

    def unplug_leds(self) -> None:
        assert self.led_in is not None
        self.led_in.close_port()
        self.led_in.delete()
        self.led_in = None

    def send(self, *data: int) -> None:
        self.out.send_message(list(data))

    def close(self) -> None:
        if self.led_in is not None:
            self.unplug_leds()
        self.out.close_port()
        self.out.delete()  # really closes the JACK client (jackd stalls otherwise)


@pytest.fixture
def controller(daemon: Running, jack_env: None) -> Iterator[Controller]:
    c = Controller()  # plugged in after the daemon started: found through JACK's callback
    wait_until(
        lambda: (
            daemon.status()["midi"]["inputs"] == ["FakeController:out"]
            and daemon.status()["midi"]["feedback"] == "FakeLEDs:in"
        ),
        what="the daemon to open the controller",
    )
    yield c
    c.close()


def test_pad_note_switches_the_daw_to_its_profile(
    daemon: Running, server: sandbox.Stack, controller: Controller
) -> None:
    wait_until(lambda: routed_to_ours(server, "speakers"), what="the fallback at start")
    controller.send(0x90, 36, 100)
    wait_until(lambda: routed_to_ours(server, "phones-3-4"), what="the DAW on outputs 3-4")
    assert daemon.status()["manual"] == "phones-3-4"


def test_foot_switch_toggles_and_a_double_fire_counts_once(
    daemon: Running, server: sandbox.Stack, controller: Controller
) -> None:
    controller.send(0xB0, 64, 127)  # press
    controller.send(0xB0, 64, 0)  # release
    controller.send(0xB0, 64, 127)  # contact bounce: a second press within 40 ms
    wait_until(lambda: routed_to_ours(server, "phones-3-4"), what="first toggle")
    # One port's messages reach the daemon in order: once it has acted on a pad press sent
    # after the bounce, it has judged the bounce too — and taken one action for the pedal.
    controller.send(0x90, 36, 100)
    wait_until(lambda: bool(midi_actions(daemon, "note_on 1/36")), what="the pad press after it")
    assert midi_actions(daemon, "cc 1/64") == ["switch phones-3-4"]
    assert routed_to_ours(server, "phones-3-4")
    controller.send(0xB0, 64, 0)
    time.sleep(0.1)  # input timing, not a wait: the next press must come after the debounce
    controller.send(0xB0, 64, 127)  # a real second press
    wait_until(lambda: routed_to_ours(server, "speakers"), what="toggled back")


def test_every_tap_of_a_cc_pedal_counts(
    daemon: Running, server: sandbox.Stack, controller: Controller
) -> None:
    """A quick tap can put the press and the release into one JACK period. rtmidi's JACK
    input lost one of two such events now and then (79-91 of 100 releases came through),
    and a lost release made the next press no press. The pedal here writes both into
    one period, as jack_midi_dump saw every pair of them arrive."""
    import jack

    taps = 30
    pending: list[int] = []
    pedal = jack.Client("FakeControllerPedal", no_start_server=True)
    out = pedal.midi_outports.register("out")

    def process(_frames: int) -> None:
        out.clear_buffer()
        if pending:
            pending.pop()
            out.write_midi_event(0, bytes([0xB0, 64, 127]))
            out.write_midi_event(1, bytes([0xB0, 64, 0]))

    pedal.set_process_callback(process)
    pedal.activate()
    try:
        wait_until(
            lambda: "FakeControllerPedal:out" in daemon.status()["midi"]["inputs"],
            what="the daemon to open the pedal",
        )
        for _ in range(taps):
            pending.append(1)
            time.sleep(0.06)  # input timing, not a wait: each tap after the 40 ms debounce
        wait_until(
            lambda: len(midi_actions(daemon, "cc 1/64")) >= taps,
            what=f"{taps} pedal presses acted on",
        )
    finally:
        pedal.deactivate()
        pedal.close()
    assert len(midi_actions(daemon, "cc 1/64")) == taps


def test_leds_follow_the_active_profile_and_return_after_replug(
    daemon: Running, server: sandbox.Stack, controller: Controller
) -> None:
    wait_until(lambda: [0x90, 36, 127] in controller.leds, what="speakers LED lit")
    controller.leds.clear()
    daemon.cli("switch", "phones-3-4")
    wait_until(
        lambda: controller.leds[-2:] == [[0x90, 36, 0], [0x90, 37, 127]],
        what="LEDs after the switch",
    )
    controller.unplug_leds()
    wait_until(lambda: daemon.status()["midi"]["feedback"] is None, what="LED port gone")
    assert (
        "feedback: port '~FakeLEDs' matches no MIDI output" in daemon.status()["midi"]["problems"]
    )
    controller.leds.clear()
    controller.plug_leds()
    wait_until(
        lambda: controller.leds[-2:] == [[0x90, 36, 0], [0x90, 37, 127]],
        what="LEDs re-sent to the re-plugged controller",
    )


def test_momentary_switch_returns_on_release(
    daemon: Running, server: sandbox.Stack, controller: Controller
) -> None:
    controller.send(0xB0, 65, 127)  # held: talkback on the headphones
    wait_until(lambda: routed_to_ours(server, "phones-3-4"), what="held")
    controller.send(0xB0, 65, 0)  # released: back where we were
    wait_until(lambda: routed_to_ours(server, "speakers"), what="released")


def test_volume_buttons_step_but_never_pass_the_cap(
    daemon: Running, server: sandbox.Stack, controller: Controller
) -> None:
    from tests.daemonrun import volume

    start = volume(server, sandbox.INTERFACE.name)  # speakers: 70 %, cap 85 %, step 3 %
    controller.send(0x90, 40, 100)
    wait_until(lambda: volume(server, sandbox.INTERFACE.name) >= start + 2.5, what="one step")
    for _ in range(10):  # ten more steps would reach 103 %
        controller.send(0x90, 40, 100)
        controller.send(0x80, 40, 0)
        time.sleep(0.06)  # past the debounce: these are real presses
    wait_until(lambda: volume(server, sandbox.INTERFACE.name) >= 84.4, what="up to the cap")
    # The step down is queued after every press above: once it has acted, they all have,
    # and the level it starts from is the cap — not 103 % from steps that passed it.
    controller.send(0x90, 41, 100)
    wait_until(lambda: volume(server, sandbox.INTERFACE.name) < 84.4, what="one step down")
    assert volume(server, sandbox.INTERFACE.name) == pytest.approx(82, abs=0.6)


def midi_actions(daemon: Running, message: str) -> list[str]:
    """What the daemon did for each `message` (e.g. "cc 1/64"), from its log, in order."""
    lines = daemon.log_text().splitlines()
    return [line.split(" → ", 1)[1] for line in lines if f"MIDI {message} on " in line]


def _learn(env: dict[str, str], c: Controller, *data: int) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "routing",
            "midi",
            "learn",
            "--switch",
            "usb-amp",
            "--port",
            "~FakeController",
            "--write",
            "--timeout",
            "20",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    while True:  # wait until it listens (and do not spin if it died first)
        line = proc.stderr.readline()
        assert line, f"midi learn exited early: {proc.wait()}"
        if "press the pad" in line:  # printed once its input port is connected
            break
    c.send(*data)
    out, err = proc.communicate(timeout=20)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_learn_writes_a_trigger_that_check_accepts(
    client_env: dict[str, str], jack_env: None, tmp_path: Path
) -> None:
    config = tmp_path / "config" / "dawroute" / "config.yaml"
    before = config.read_text()
    c = Controller()
    try:
        # no profiles yet: the learned trigger names a profile that does not exist
        refused = _learn(client_env, c, 0x99, 42, 90)
        assert refused.returncode == 3
        assert "midi.triggers[0].switch: no profile named 'usb-amp'" in refused.stderr
        assert config.read_text() == before, "a refused learn leaves config.yaml as it was"
        install_examples(tmp_path / "config" / "dawroute" / "profiles")
        learned = _learn(client_env, c, 0x99, 42, 90)
    finally:
        c.close()
    assert learned.returncode == 0, learned.stderr
    assert learned.stdout.splitlines() == [
        '- port: "FakeController:out"',
        "  channel: 10",
        "  note: 42",
        "  switch: usb-amp",
        f"added to {config}; `dawroute reload` (or save) makes the daemon use it",
    ]
    text = config.read_text()
    assert "note: 42" in text and text.count("~FakeController") == CONFIG.count(
        "~FakeController"
    )  # old triggers kept
    check = subprocess.run(
        [sys.executable, "-m", "routing", "check"], env=client_env, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr

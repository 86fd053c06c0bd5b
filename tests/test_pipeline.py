"""One pipeline: routing.apply.apply_plan sends each op to the backend that owns it, and
`dawroute apply` goes through it with the daemon's backends (pulse, JACK, the clock).

The dispatch layer is pure, so its tests use recording fakes of the backends; everything
else runs the real CLI against real servers and reads their state back.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from routing.apply import apply_plan, phases
from routing.backends.composite import Backends
from routing.backends.jack import JackBackend
from routing.backends.pipewire import ClockBackend
from routing.backends.pulse import PulseBackend
from routing.model import (
    ApplyResult,
    Clock,
    Connect,
    Direction,
    Disconnect,
    Link,
    LoadVirtual,
    MoveStream,
    Op,
    SetClock,
    SetDefault,
    SetStreamVolume,
    SetVolume,
    UnloadVirtual,
    VirtualSink,
)
from testbed import sandbox
from tests.conftest import hermetic_env, wait_until
from tests.daemonrun import install_examples, server_state
from tests.test_jack import JACKD_PROFILES, OUTS34, PIPEWIRE_PROFILES, clock, graph_links

IFACE = sandbox.INTERFACE

# ---------------------------------------------------------------- the dispatch (fakes)

LEVEL = SetVolume("amp", "Amp", 45.0, 60.0, 90.0)
STREAM_LEVEL = SetStreamVolume(7, "REAPER", 100.0)
REMAP = VirtualSink("dawroute.x.1", "dawroute: x", "x", master="amp", master_channels=("FL",))
LOAD = LoadVirtual(REMAP)
MOVE = MoveStream(7, "REAPER", "amp", "Amp")
MOVE_2 = MoveStream(8, "REAPER", "amp", "Amp")
DEFAULT = SetDefault(Direction.SINK, "amp", "Amp")
LINK = Connect(Link("DAW:out_1", "Amp:playback_FL"))
UNLINK = Disconnect(Link("DAW:out_1", "Other:playback_FL"))
CLOCK = SetClock(Clock(48000, 128))
UNLOAD = UnloadVirtual("dawroute.old.1", 31)


class FakePulse(PulseBackend):
    """Records each phase it is given; fails the ops in `fail`."""

    def __init__(self, fail: Sequence[Op] = ()) -> None:
        super().__init__()
        self.fail = list(fail)
        self.calls: list[list[Op]] = []

    async def apply(self, ops: list[Op]) -> ApplyResult:
        self.calls.append(list(ops))
        return _outcome(ops, self.fail)


class FakeJack(JackBackend):
    def __init__(self) -> None:
        super().__init__(lambda _why: None, lambda *_a: None)
        self.alive = True
        self.calls: list[list[Op]] = []

    def apply(self, ops: list[Op]) -> ApplyResult:
        self.calls.append(list(ops))
        return _outcome(ops, ())


class FakeClock(ClockBackend):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[Op]] = []

    async def apply(self, ops: Sequence[Op]) -> ApplyResult:
        self.calls.append(list(ops))
        return _outcome(ops, ())


def _outcome(ops: Sequence[Op], fail: Sequence[Op]) -> ApplyResult:
    return ApplyResult(
        tuple(op for op in ops if op not in fail),
        tuple((op, "No such entity") for op in ops if op in fail),
    )


def run(backends: Backends, ops: list[Op]) -> ApplyResult:
    return asyncio.run(apply_plan(backends, ops))


def test_a_failed_level_stops_the_run_before_any_move_and_the_rest_is_skipped() -> None:
    pulse, jack, clk = FakePulse(fail=[LEVEL]), FakeJack(), FakeClock()
    ops: list[Op] = [LEVEL, STREAM_LEVEL, MOVE, MOVE_2, DEFAULT, LINK, CLOCK, UNLOAD]
    result = run(Backends(pulse, jack, clk), ops)
    assert pulse.calls == [[LEVEL, STREAM_LEVEL]], "the moves were never sent"
    assert jack.calls == [] and clk.calls == []
    assert result.done == (STREAM_LEVEL,)
    assert result.failed == ((LEVEL, "No such entity"),)
    assert [op for op, _ in result.skipped] == [MOVE, MOVE_2, DEFAULT, LINK, CLOCK, UNLOAD]
    assert all(
        why == f"not attempted: {LEVEL.describe()} failed first" for _, why in result.skipped
    )


def test_a_sink_that_could_not_be_created_stops_the_run() -> None:
    pulse = FakePulse(fail=[LOAD])
    result = run(Backends(pulse), [LEVEL, LOAD, MOVE, DEFAULT])
    assert pulse.calls == [[LEVEL], [LOAD]]
    assert [op for op, _ in result.skipped] == [MOVE, DEFAULT]


def test_a_failed_move_does_not_stop_the_run() -> None:
    pulse, jack = FakePulse(fail=[MOVE]), FakeJack()
    result = run(Backends(pulse, jack), [LEVEL, MOVE, DEFAULT, LINK])
    assert result.done == (LEVEL, DEFAULT, LINK) and result.skipped == ()
    assert [op for op, _ in result.failed] == [MOVE]


def test_an_op_whose_backend_is_absent_is_skipped_not_dropped() -> None:
    pulse = FakePulse()
    result = run(Backends(pulse), [LEVEL, MOVE, LINK, UNLINK, CLOCK, UNLOAD])
    assert result.done == (LEVEL, MOVE, UNLOAD) and result.ok
    assert result.skipped == (
        (LINK, "no JACK server connected"),
        (UNLINK, "no JACK server connected"),
        (CLOCK, "no PipeWire clock backend"),
    )
    assert pulse.calls == [[LEVEL], [MOVE], [UNLOAD]]


def test_a_profile_level_on_a_device_within_its_cap_goes_out_with_the_moves() -> None:
    """Only a level that brings a device within its cap must be taken before the DAW
    moves there; the profile's own lower level on a device already within its cap is
    pipelined with the moves (its deferred answer cost 2-5 ms a hot-plug on PipeWire)."""
    quieter = SetVolume("amp", "Amp", 45.0, 60.0, 55.0)
    pulse = FakePulse()
    result = run(Backends(pulse), [LEVEL, quieter, MOVE, DEFAULT])
    assert result.done == (LEVEL, quieter, MOVE, DEFAULT)
    assert pulse.calls == [[LEVEL], [quieter, MOVE, DEFAULT]]


def test_a_jack_server_that_went_away_is_an_absent_backend() -> None:
    jack = FakeJack()
    jack.alive = False  # its shutdown callback ran after the observe
    result = run(Backends(FakePulse(), jack), [LINK])
    assert jack.calls == [] and result.skipped == ((LINK, "no JACK server connected"),)


def test_each_op_goes_to_its_owner_in_reconciles_order() -> None:
    pulse, jack, clk = FakePulse(), FakeJack(), FakeClock()
    ops: list[Op] = [LEVEL, STREAM_LEVEL, LOAD, MOVE, DEFAULT, LINK, UNLINK, CLOCK, UNLOAD]
    result = run(Backends(pulse, jack, clk), ops)
    assert result.done == tuple(ops)
    # pipelined: levels at once, each sink alone, then the moves and defaults at once
    assert pulse.calls == [[LEVEL, STREAM_LEVEL], [LOAD], [MOVE, DEFAULT], [UNLOAD]]
    assert jack.calls == [[LINK, UNLINK]] and clk.calls == [[CLOCK]]
    assert phases(ops) == [*pulse.calls[:3], *jack.calls, *clk.calls, pulse.calls[3]]


# ---------------------------------------------------------------- `dawroute apply`, real servers


def dawroute(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [sys.executable, "-m", "routing", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr + out.stdout
    return out


def _profiles(env: dict[str, str], text: str) -> None:
    target = Path(env["XDG_CONFIG_HOME"]) / "dawroute" / "profiles"
    target.mkdir(parents=True)
    (target / "jack.yaml").write_text(text)


def test_apply_on_pipewire_links_the_daw_ports_and_sets_the_clock(
    pipewire: sandbox.Stack, tmp_path: Path
) -> None:
    env = hermetic_env(sandbox.jack_env(pipewire), tmp_path)  # PipeWire's libjack, like pw-jack
    _profiles(env, PIPEWIRE_PROFILES)
    sandbox.plug(pipewire, IFACE)
    sandbox.start_jack_daw(pipewire)
    wait_until(lambda: "FakeDAW:out_2" in _jack_ports(pipewire), what="the DAW's JACK ports")
    assert clock(pipewire) == ("0", "0")

    out = dawroute(env, "apply", "outs34")
    assert "will: link FakeDAW:out_1 → Scarlett 4i4 USB Pro:playback_AUX2" in out.stdout
    assert "will: force clock rate 48000, quantum 128" in out.stdout
    assert out.stdout.splitlines()[-1] == "outs34: applied"
    assert graph_links(pipewire) == OUTS34
    assert clock(pipewire) == ("48000", "128")
    # observed through the same backends: the links and the clock count as applied
    again = dawroute(env, "apply", "outs34")
    assert again.stdout.strip() == "nothing to do: already applied"


def test_apply_on_jackd_links_the_daw_and_prints_the_clock_problem(
    pulseaudio: sandbox.Stack, jack: sandbox.Stack, tmp_path: Path
) -> None:
    env = hermetic_env(pulseaudio.env, tmp_path)
    env.update({k: v for k, v in jack.env.items() if k.startswith("JACK_")})
    _profiles(env, JACKD_PROFILES)
    sandbox.start_jack_daw(jack)
    wait_until(lambda: "FakeDAW:out_2" in _jack_ports(jack), what="the DAW's JACK ports")

    out = dawroute(env, "apply", "system34")
    lines = out.stdout.splitlines()
    assert lines[0] == (
        "problem: clock: rate/quantum are applied on PipeWire only; on PulseAudio or jackd "
        "they need a server restart with the new settings"
    )
    assert lines[-1] == "system34: applied"
    assert graph_links(jack) == {
        ("FakeDAW:out_1", "system:playback_3"),
        ("FakeDAW:out_2", "system:playback_4"),
    }


def test_apply_without_a_jack_server_says_the_daw_ports_are_not_linked(
    pulseaudio: sandbox.Stack, tmp_path: Path
) -> None:
    env = hermetic_env(pulseaudio.env, tmp_path)
    env["JACK_DEFAULT_SERVER"] = f"dawroute-absent-{tmp_path.name}"  # no such server
    install_examples(Path(env["XDG_CONFIG_HOME"]) / "dawroute" / "profiles")
    _profiles_add(env, "ports-on-amp.yaml", PORTS_ON_AMP)
    sandbox.plug(pulseaudio, sandbox.USB_AMP)
    sandbox.plug(pulseaudio, IFACE)
    sandbox.start_daw(pulseaudio, sink=IFACE.name)
    wait_until(lambda: server_state(pulseaudio)[0] == [IFACE.name], what="the DAW stream")

    out = dawroute(env, "apply", "ports-on-amp")
    assert "problem: daw.ports: no JACK server reachable, DAW ports not linked" in out.stdout
    assert out.stdout.splitlines()[-1] == "ports-on-amp: applied"
    assert server_state(pulseaudio)[0] == [sandbox.USB_AMP.name]  # the rest is applied


PORTS_ON_AMP = """
name: ports-on-amp
priority: 1
auto: false
output: {usb: "30be:1019", volume: 40%, max_volume: 60%}
daw:
  ports: {"~^FakeDAW:out_[12]$": stereo}
"""


def _profiles_add(env: dict[str, str], name: str, text: str) -> None:
    (Path(env["XDG_CONFIG_HOME"]) / "dawroute" / "profiles" / name).write_text(text)


def _jack_ports(stack: sandbox.Stack) -> str:
    return subprocess.run(
        ["jack_lsp"], env=sandbox.jack_env(stack), capture_output=True, text=True, timeout=10
    ).stdout

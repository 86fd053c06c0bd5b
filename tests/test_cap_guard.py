"""The server-side cap guard: WirePlumber itself never links the DAW to a capped device
above its cap — the window no client can close (docs/safety.md)."""

from __future__ import annotations

import asyncio
import functools
import subprocess
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from routing.backends import capguard
from routing.guard import ALL, GuardCaps, _tightened, guard_caps
from routing.model import Device, Snapshot
from routing.policy import Intent, decide
from routing.profile import Profile
from routing.state import State
from testbed import sandbox, soak
from testbed.sampler import Sampler
from tests.conftest import PIPEWIRE_PARAMS, _start, _stop, wait_until
from tests.daemonrun import WATCH_THE_SILENT_SINK, assert_never_through_the_silent_sink, soak_studio
from tests.fakeworld import daw, parsed, sink

PROFILES_YAML = """
profiles:
  - name: speakers
    priority: 10
    fallback: true
    output: {usb: "1235:8212", channels: [AUX0, AUX1], volume: 60%, max_volume: 85%}
  - name: phones-3-4
    priority: 50
    output: {usb: "1235:8212", channels: [AUX2, AUX3], volume: 30%, max_volume: 40%}
  - name: usb-amp
    priority: 90
    output: {usb: "30be:1019", volume: 30%, max_volume: 45%}
"""


@functools.cache
def profiles() -> tuple[Profile, ...]:
    return parsed(PROFILES_YAML)


IFACE = sink("scarlett", usb="1235:8212", channels=("AUX0", "AUX1", "AUX2", "AUX3"))
AMP = sink("fulla", usb="30be:1019")


def caps_for(*devices: Device, previous: GuardCaps | None = None) -> GuardCaps:
    snap = Snapshot(devices=devices, streams=(daw(1, "scarlett"),), default_sink="scarlett")
    d = decide(profiles(), snap, State(active="speakers"), Intent())
    return guard_caps(d.plan, snap, previous or {})


# ---------------------------------------------------------------- which caps (pure)


def test_the_guard_caps_the_amp_and_each_pair_of_the_interface_at_its_own_cap() -> None:
    assert caps_for(IFACE, AMP) == {
        "fulla": {ALL: 45.0},
        "scarlett": {"AUX0": 85.0, "AUX1": 85.0, "AUX2": 40.0, "AUX3": 40.0},
    }


def test_an_unplugged_amp_keeps_its_cap_for_when_it_comes_back() -> None:
    before = caps_for(IFACE, AMP)
    after = caps_for(IFACE, previous=before)
    assert after == before


def test_without_a_decision_the_guard_keeps_what_it_had() -> None:
    before = {"fulla": {ALL: 45.0}}
    assert guard_caps(None, Snapshot(), before) is before


def test_a_channel_cap_never_exceeds_the_whole_devices() -> None:
    assert _tightened({ALL: 40.0, "FL": 70.0}) == {ALL: 40.0, "FL": 40.0}


# ---------------------------------------------------------------- installing it


def test_init_installs_the_guard_and_it_remembers_the_caps(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    wrote = capguard.install({"fulla": {ALL: 40.0}}, env=env)
    assert wrote == [capguard.script_path(env), capguard.conf_path(env)]
    shipped = resources.files("routing") / "data" / "wireplumber" / capguard.SCRIPT
    assert capguard.script_path(env).read_text() == shipped.read_text()
    conf = capguard.conf_path(env).read_text()
    assert str(capguard.script_path(env)) in conf and "custom.dawroute-cap-guard" in conf
    assert capguard.installed_caps(env) == {"fulla": {ALL: 40.0}}
    # installing again (a new dawroute) keeps the caps and writes nothing unchanged
    assert capguard.install(env=env) == []
    assert capguard.installed_caps(env) == {"fulla": {ALL: 40.0}}


def test_an_unreadable_guard_file_starts_the_guard_without_memory(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    capguard.conf_path(env).parent.mkdir(parents=True)
    capguard.conf_path(env).write_text("caps = {broken")
    assert capguard.installed_caps(env) == {}


# ---------------------------------------------------------------- on WirePlumber 0.5

WIREPLUMBER_05 = [
    p for p in PIPEWIRE_PARAMS if not isinstance(p.values[0], sandbox.Generation) or p.values[0].wireplumber_05
]  # fmt: skip


@pytest.fixture(params=WIREPLUMBER_05)
def wp05(request: pytest.FixtureRequest) -> Iterator[sandbox.Stack]:
    stack = _start("pipewire", request.param)
    yield stack
    _stop(stack)


AMP_DEV, IFACE_DEV = sandbox.USB_AMP, sandbox.INTERFACE
CAP = 40.0


def pactl(stack: sandbox.Stack, *args: str) -> str:
    return subprocess.run(
        ["pactl", *args], env=stack.env, capture_output=True, text=True, check=True, timeout=10
    ).stdout


def daw_sink(stack: sandbox.Stack) -> str | None:
    def read(p: Any) -> str | None:
        sinks = {s.index: s.name for s in p.sink_list()}
        for i in p.sink_input_list():
            if i.proplist.get("application.name") == "REAPER":
                return str(sinks.get(i.sink))
        return None

    found: str | None = sandbox.with_pulse(stack, read)
    return found


def amp_is_the_configured_default(stack: sandbox.Stack) -> None:
    """The interface plays the DAW (following the default); the amp, plugged, is made the
    default: WirePlumber moves the DAW there and will again on every re-plug."""
    sandbox.plug(stack, IFACE_DEV)
    pactl(stack, "set-default-sink", IFACE_DEV.name)
    sandbox.start_daw(stack)  # no target of its own: it follows the default
    wait_until(lambda: daw_sink(stack) == IFACE_DEV.name, what="the DAW on the interface")
    amp = sandbox.plug(stack, AMP_DEV)
    pactl(stack, "set-sink-volume", AMP_DEV.name, f"{CAP:g}%")
    pactl(stack, "set-default-sink", AMP_DEV.name)
    wait_until(lambda: daw_sink(stack) == AMP_DEV.name, what="the DAW on the amp")
    sandbox.unplug(stack, amp)
    wait_until(lambda: daw_sink(stack) == IFACE_DEV.name, what="the DAW back on the interface")


def replug(stack: sandbox.Stack, times: int) -> None:
    for _ in range(times):
        amp = sandbox.plug(stack, AMP_DEV)
        time.sleep(0.05)
        sandbox.unplug(stack, amp)
        time.sleep(0.05)
    sandbox.plug(stack, AMP_DEV)
    wait_until(lambda: daw_sink(stack) == AMP_DEV.name, what="the DAW on the re-plugged amp")


def test_wireplumber_links_the_replugged_amp_only_within_its_cap(wp05: sandbox.Stack) -> None:
    """No dawroute daemon at all: the guard alone. The fake amp has no level memory and
    comes back at 100 % every time; WirePlumber makes it the default again and moves
    the DAW — never before the amp is at its cap."""
    asyncio.run(capguard.publish({AMP_DEV.name: {ALL: CAP}}, wp05.env))
    amp_is_the_configured_default(wp05)
    with Sampler(wp05.pulse_server, {AMP_DEV.name: CAP}) as sampler:
        replug(wp05, 20)
        time.sleep(0.2)
    print(sampler.report.summary())
    assert sampler.report.on_watched[AMP_DEV.name] > 0  # it did look while the DAW was there
    assert sampler.report.violations == [], sampler.report.summary()


def test_without_caps_the_replugged_amp_carries_the_daw_at_full_level(wp05: sandbox.Stack) -> None:
    """The control: the same story with the guard not told any cap. This is the window
    the guard closes; the test above would see it."""
    amp_is_the_configured_default(wp05)
    with Sampler(wp05.pulse_server, {AMP_DEV.name: CAP}) as sampler:
        replug(wp05, 3)
        time.sleep(0.2)
    assert sampler.report.violations, "the amp came back within its cap without the guard"
    assert sampler.report.worst == 100.0


def test_a_capped_device_raised_above_its_cap_is_lowered_by_the_server(
    wp05: sandbox.Stack,
) -> None:
    asyncio.run(capguard.publish({AMP_DEV.name: {ALL: CAP}}, wp05.env))
    sandbox.plug(wp05, AMP_DEV)
    pactl(wp05, "set-sink-volume", AMP_DEV.name, "90%")
    wait_until(
        lambda: "/  40% /" in pactl(wp05, "get-sink-volume", AMP_DEV.name),
        what="the amp lowered to its cap",
    )


def test_dawroute_knows_whether_wireplumber_runs_the_guard(wp05: sandbox.Stack) -> None:
    """A WirePlumber not restarted since `dawroute init` (or a 0.4) runs no guard: the
    daemon is told so instead of believing its caps are enforced by the server."""
    assert asyncio.run(capguard.publish({}, wp05.env))
    capguard.conf_path(wp05.env).unlink()  # as if never installed
    wp05.stop_process("wireplumber")
    wp05.spawn("wireplumber", ["wireplumber"])
    wait_until(lambda: _has_metadata(wp05, "default"), what="WirePlumber back")
    assert not asyncio.run(capguard.publish({}, wp05.env))


def _has_metadata(stack: sandbox.Stack, name: str) -> bool:
    out = subprocess.run(
        ["pw-metadata", "-n", name], env=stack.env, capture_output=True, text=True, timeout=10
    ).stdout
    return f'"{name}" metadata' in out


def test_the_daw_reaches_a_held_amp_directly_not_through_the_silent_sink(
    wp05: sandbox.Stack, tmp_path: Path
) -> None:
    """The guard holds the DAW's link to a plugged amp until the amp's level has shown for
    its settle time; the daemon must take that for a move on its way. It took it for a
    stuck one and sent the DAW through its silent sink (~30 ms of silence; 9 detours in
    15 hot-plugs of the benchmark, the DAW's own start among them)."""
    with soak_studio(wp05, tmp_path) as running:
        with Sampler(wp05.pulse_server, WATCH_THE_SILENT_SINK) as sampler:
            sandbox.start_daw(wp05, sink=soak.IFACE.name)  # its first link is on its way too
            wait_until(lambda: soak.daw_on(wp05, soak.IFACE.name), what="the DAW")
            for _ in range(8):
                amp = sandbox.plug(wp05, soak.AMP)
                wait_until(lambda: soak.daw_on(wp05, soak.AMP.name), what="the DAW on the amp")
                time.sleep(0.15)  # a detour after arrival would be sampled too
                sandbox.unplug(wp05, amp)
                wait_until(lambda: soak.daw_on(wp05, soak.IFACE.name), what="the DAW back")
        assert_never_through_the_silent_sink(sampler.report, running)


def _with_a_settle_of_ten_minutes(stack: sandbox.Stack) -> None:
    """The installed guard with its settle made endless, WirePlumber restarted: whatever
    the guard holds for the settle stays held for the whole test."""
    path = capguard.script_path(stack.env)
    text = path.read_text(encoding="utf-8")
    assert "local SETTLE_MS = 20\n" in text
    path.write_text(text.replace("local SETTLE_MS = 20\n", "local SETTLE_MS = 600000\n"))
    stack.stop_process("wireplumber")
    stack.spawn("wireplumber", ["wireplumber"])
    wait_until(lambda: _has_metadata(stack, "dawroute"), what="WirePlumber back with the guard")


def _amp_volume(stack: sandbox.Stack) -> float:
    def read(p: Any) -> float:
        return float(max(p.get_sink_by_name(AMP_DEV.name).volume.values)) * 100.0

    volume: float = sandbox.with_pulse(stack, read)
    return volume


def test_a_client_that_moves_the_daw_to_a_capped_amp_is_linked_at_once(
    wp05: sandbox.Stack,
) -> None:
    """The settle protects clients' view of a level WirePlumber has just seen; a client
    that moves the DAW to the amp once it sees the amp within its cap (as dawroute does)
    has that view. Its move is linked at once (holding it cost 20 ms a hot-plug), while
    WirePlumber's own choice of the re-plugged amp still waits for the settle."""
    _with_a_settle_of_ten_minutes(wp05)
    asyncio.run(capguard.publish({AMP_DEV.name: {ALL: CAP}}, wp05.env))
    sandbox.plug(wp05, IFACE_DEV)
    pactl(wp05, "set-default-sink", IFACE_DEV.name)
    sandbox.start_daw(wp05)  # no target of its own: it follows the default
    wait_until(lambda: daw_sink(wp05) == IFACE_DEV.name, what="the DAW on the interface")
    amp = sandbox.plug(wp05, AMP_DEV)  # a null sink at 100 %: the guard lowers it
    wait_until(lambda: _amp_volume(wp05) <= CAP + 0.6, what="the amp shown within its cap")
    daw = pactl(wp05, "list", "short", "sink-inputs").split()[0]
    pactl(wp05, "move-sink-input", daw, AMP_DEV.name)  # the client's move
    wait_until(lambda: daw_sink(wp05) == AMP_DEV.name, what="the DAW on the amp")

    # WirePlumber's own choice: the amp made the default, pulled and plugged again
    pactl(wp05, "set-default-sink", AMP_DEV.name)
    sandbox.unplug(wp05, amp)
    wait_until(lambda: daw_sink(wp05) == IFACE_DEV.name, what="the DAW back on the interface")
    with Sampler(wp05.pulse_server, {AMP_DEV.name: CAP}) as sampler:
        sandbox.plug(wp05, AMP_DEV)
        wait_until(lambda: _amp_volume(wp05) <= CAP + 0.6, what="the re-plugged amp capped")
        time.sleep(0.5)
    print(sampler.report.summary())
    assert sampler.report.on_watched[AMP_DEV.name] == 0, "the settle did not hold the re-plug"
    assert daw_sink(wp05) == IFACE_DEV.name
    # the control: it was the guard that held it, WirePlumber wanted the amp. Without a
    # cap for it, the next look of WirePlumber's (another device arriving) links it.
    asyncio.run(capguard.publish({}, wp05.env))
    sandbox.plug(wp05, sandbox.SPEAKERS)
    wait_until(lambda: daw_sink(wp05) == AMP_DEV.name, what="the DAW on the amp, uncapped")

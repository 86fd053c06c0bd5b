"""Inputs like outputs: `input:` moves the DAW's recording streams to the profile's source,
sets its level when the DAW arrives and keeps it within its cap (pure layers here; the real
servers in tests/test_inputs_servers.py)."""

from __future__ import annotations

from dataclasses import replace

from routing import policy, reconcile
from routing.format.profiles import parse_profiles
from routing.model import (
    Direction,
    MoveRecording,
    MoveStream,
    Recording,
    SetDefault,
    SetSourceVolume,
    Snapshot,
)
from routing.policy import Cause, Intent
from routing.profile import Profile
from routing.state import State
from tests.fakeworld import apply_op, daw, parsed, recording, sink, source

PROFILES = """
profiles:
  - name: speakers
    fallback: true
    output: {usb: "1235:8212"}
    input: {usb: "1235:8212", volume: 40%, max_volume: 60%}
  - name: phones
    priority: 90
    output: {usb: "30be:1019", volume: 45%, max_volume: 60%}
    input: {name: laptop-mic}
"""

IFACE = sink("scarlett", usb="1235:8212")
AMP = sink("fulla", usb="30be:1019")
IFACE_IN = source("scarlett-in", volume=100.0, usb="1235:8212")
LAPTOP_MIC = source("laptop-mic", volume=70.0)


def profiles() -> tuple[Profile, ...]:
    return parsed(PROFILES)


RECORDING = recording(7, "laptop-mic")


def world(
    *, recordings: tuple[Recording, ...] = (RECORDING,), default_source: str = "laptop-mic"
) -> Snapshot:
    return Snapshot(
        devices=(IFACE, IFACE_IN, LAPTOP_MIC),
        streams=(daw(1, "scarlett"),),
        recordings=recordings,
        default_sink="scarlett",
        default_source=default_source,
    )


def converge(w: Snapshot, state: State, trigger: Intent = Intent()) -> Snapshot:
    d = policy.decide(profiles(), w, state, trigger)
    assert d.plan is not None
    for op in reconcile.ops(d.plan, w):
        w = apply_op(w, op)
    d = policy.decide(profiles(), w, State(active=d.profile), Intent())
    assert d.plan is not None and reconcile.ops(d.plan, w) == []  # idempotent
    return w


def test_the_daw_records_from_the_interface_mic_when_the_speakers_profile_is_active() -> None:
    w = world()
    d = policy.decide(profiles(), w, State(), Intent(Cause.SWITCH, "speakers"))
    assert d.plan is not None
    assert [o.describe() for o in reconcile.ops(d.plan, w)] == [
        "set input level of Scarlett-In to 40 % (cap 60 %)",
        "move 'REAPER' recording 7 → Scarlett-In",
        "set default source to Scarlett-In",
    ]
    w = converge(w, State(), Intent(Cause.SWITCH, "speakers"))
    assert w.recordings[0].source == "scarlett-in"
    mic = w.device("scarlett-in", Direction.SOURCE)
    assert mic is not None and mic.volume == 40.0


def test_the_input_level_is_set_before_the_recording_moves() -> None:
    w = world()
    d = policy.decide(profiles(), w, State(), Intent(Cause.SWITCH, "speakers"))
    assert d.plan is not None
    kinds = [type(o) for o in reconcile.ops(d.plan, w)]
    assert kinds.index(SetSourceVolume) < kinds.index(MoveRecording) < kinds.index(SetDefault)


def test_other_apps_recordings_stay_where_they_are() -> None:
    w = world(recordings=(recording(7, "laptop-mic"), recording(8, "laptop-mic", app="Discord")))
    w = converge(w, State(), Intent(Cause.SWITCH, "speakers"))
    assert {r.app_name: r.source for r in w.recordings} == {
        "REAPER": "scarlett-in",
        "Discord": "laptop-mic",
    }


def test_a_recording_started_later_follows_the_active_profile() -> None:
    w = converge(world(recordings=()), State(), Intent(Cause.SWITCH, "speakers"))
    w = replace(w, recordings=(recording(9, "laptop-mic"),))
    d = policy.decide(profiles(), w, State(active="speakers"), Intent())
    assert d.plan is not None
    todo = reconcile.ops(d.plan, w)
    assert [o.describe() for o in todo] == ["move 'REAPER' recording 9 → Scarlett-In"]


def test_an_input_turned_up_by_hand_within_its_cap_is_kept_and_above_it_is_lowered() -> None:
    w = converge(world(), State(), Intent(Cause.SWITCH, "speakers"))

    def at(volume: float) -> Snapshot:
        return replace(
            w,
            devices=tuple(
                d.with_level(volume) if d.name == "scarlett-in" else d for d in w.devices
            ),
        )

    d = policy.decide(profiles(), at(55.0), State(active="speakers"), Intent())
    assert d.plan is not None and reconcile.ops(d.plan, at(55.0)) == []
    d = policy.decide(profiles(), at(90.0), State(active="speakers"), Intent())
    assert d.plan is not None
    assert [o.describe() for o in reconcile.ops(d.plan, at(90.0))] == [
        "set input level of Scarlett-In to 60 % (cap 60 %)"
    ]


def test_start_up_never_raises_the_input_level() -> None:
    quiet = replace(
        world(),
        devices=tuple(
            d.with_level(20.0) if d.name == "scarlett-in" else d for d in world().devices
        ),
    )
    d = policy.decide(profiles(), quiet, State(active="speakers"), Intent(Cause.STARTUP))
    assert d.plan is not None
    todo = reconcile.ops(d.plan, quiet)
    assert not [o for o in todo if isinstance(o, SetSourceVolume)]
    assert [o for o in todo if isinstance(o, MoveRecording)]


def test_an_input_without_levels_only_moves_the_recording_and_the_default() -> None:
    w = replace(
        world(recordings=(recording(7, "scarlett-in"),), default_source="scarlett-in"),
        devices=(AMP, *world().devices),
    )
    d = policy.decide(profiles(), w, State(active="speakers"), Intent())
    assert d.profile == "phones" and d.plan is not None
    todo = [o.describe() for o in reconcile.ops(d.plan, w) if not isinstance(o, MoveStream)]
    assert [t for t in todo if "input" in t or "recording" in t or "source" in t] == [
        "move 'REAPER' recording 7 → Laptop-Mic",
        "set default source to Laptop-Mic",
    ]


def test_an_input_volume_above_its_cap_is_a_mistake_check_reports() -> None:
    text = """
name: p
output: {usb: "1235:8212"}
input: {usb: "1235:8212", volume: 80%, max_volume: 60%}
"""
    _, issues = parse_profiles(text, "p.yaml")
    assert [(i.key, i.message) for i in issues] == [
        ("input.volume", "volume 80 % is above max_volume 60 %")
    ]

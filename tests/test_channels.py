"""Outputs 1-2 and 3-4 of one interface: a level and a cap per output pair.

Monitors on outputs 1-2 and a headphone amp on 3-4 are two outputs of one device, each
with its own level and cap. Pure: the hearing-safety properties over any sequence of
worlds, per channel.
"""

from __future__ import annotations

import functools
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.format.profiles import parse_profiles
from routing.model import Device, MoveStream, SetVolume, Snapshot
from routing.policy import Cause, Intent, candidate, decide
from routing.profile import Profile
from routing.reconcile import TOLERANCE, ops
from routing.state import State
from tests.fakeworld import apply_op, daw, physical_channels, sink
from tests.test_reconcile import channel_caps

STUDIO_YAML = """
profiles:
  - name: speakers
    priority: 10
    fallback: true
    output: {usb: "1235:8212", channels: [AUX0, AUX1], volume: 70%, max_volume: 85%}
  - name: phones-3-4
    auto: false
    output: {usb: "1235:8212", channels: [AUX2, AUX3], volume: 50%, max_volume: 65%}
  - name: both
    auto: false
    output:
      usb: "1235:8212"
      channels: [AUX0, AUX1]
      volume: 70%
      max_volume: 85%
      also: [{profile: phones-3-4}]
  - name: usb-amp
    priority: 90
    output: {usb: "30be:1019", volume: 45%, max_volume: 60%}
  - name: loud-tracking
    auto: false
    output: {usb: "1235:8212", channels: [AUX0, AUX1], volume: 80%, max_volume: 95%}
  - name: whole-interface
    auto: false
    output: {usb: "1235:8212", volume: 40%, max_volume: 55%}
"""

CHANNELS = ("AUX0", "AUX1", "AUX2", "AUX3")
IFACE = sink("scarlett", usb="1235:8212", channels=CHANNELS, description="Scarlett")
AMP = sink("fulla", usb="30be:1019", description="Schiit Fulla")


@functools.cache
def profiles() -> tuple[Profile, ...]:
    loaded, issues = parse_profiles(STUDIO_YAML, "studio.yaml")
    assert not [i for i in issues if i.severity == "error"], issues
    return tuple(lp.profile for lp in loaded)


def iface(*levels: float) -> Device:
    return replace(IFACE, levels=tuple(levels), volume=max(levels))


def level(w: Snapshot, key: tuple[str, str]) -> float:
    dev = w.device(key[0])
    assert dev is not None
    return dev.level((key[1],))


def run(w: Snapshot, state: State, trigger: Intent) -> tuple[Snapshot, list]:
    """One pass with the studio's profiles (without the one that drives all four channels)."""
    studio = tuple(p for p in profiles() if p.name != "whole-interface")
    d = decide(studio, w, state, trigger)
    assert d.plan is not None
    todo = ops(d.plan, w)
    for op in todo:
        w = apply_op(w, op)
    return w, todo


def levels(w: Snapshot) -> tuple[float, ...]:
    dev = w.device("scarlett")
    assert dev is not None
    return tuple(dev.level((c,)) for c in CHANNELS)


def test_monitors_and_phones_on_one_interface_keep_their_own_levels() -> None:
    w = Snapshot(devices=(iface(30, 30, 30, 30),), streams=(daw(1, "scarlett"),))
    w, todo = run(w, State(active="speakers"), Intent(Cause.SWITCH, "both"))
    assert levels(w) == (70, 70, 50, 50)  # not all four at 50 %
    assert [o.describe() for o in todo if isinstance(o, SetVolume)] == [
        "set volume of Scarlett outputs 1-2 to 70 % (cap 85 %)",
        "set volume of Scarlett outputs 3-4 to 50 % (cap 65 %)",
    ]


def test_while_the_usb_amp_plays_each_pair_keeps_its_own_cap() -> None:
    w = Snapshot(
        devices=(iface(80, 80, 90, 90), AMP), streams=(daw(1, "scarlett"),), default_sink="x"
    )
    w, _ = run(w, State(active="speakers"), Intent())
    # the monitors keep their 80 % (within 85 %), the phones' pair is lowered to 65 %
    assert levels(w) == (80, 80, 65, 65)


def test_switching_to_the_phones_leaves_the_monitor_level_alone() -> None:
    w = Snapshot(devices=(iface(70, 70, 20, 20),), streams=(daw(1, "scarlett"),))
    w, _ = run(w, State(active="speakers"), Intent(Cause.SWITCH, "phones-3-4"))
    assert levels(w) == (70, 70, 50, 50)


# ---------------------------------------------------------------- properties

_volume = st.floats(0, 150, allow_nan=False)
_world = st.fixed_dictionaries({
    "iface": st.booleans(), "amp": st.booleans(),
    "levels": st.tuples(_volume, _volume, _volume, _volume), "va": _volume,
})  # fmt: skip
_trigger = st.sampled_from(
    [Intent(), Intent(Cause.STARTUP), Intent(Cause.AUTO), Intent(Cause.NEXT)]
    + [Intent(Cause.SWITCH, p) for p in
       ("speakers", "phones-3-4", "both", "usb-amp", "loud-tracking", "whole-interface")]
)  # fmt: skip


def _next_world(spec: dict, prior: Snapshot | None) -> Snapshot:
    devs: list[Device] = []
    if spec["iface"]:
        old = prior.device("scarlett") if prior else None
        devs.append(old or iface(*spec["levels"]))
    if spec["amp"]:
        old = prior.device("fulla") if prior else None
        devs.append(old or replace(AMP, volume=spec["va"]))
    names = {d.name for d in devs}
    if prior:
        devs += [d for d in prior.devices if d.ours and set(d.feeds) <= names | {
            x.name for x in prior.devices if x.ours}]  # fmt: skip
    all_names = sorted(d.name for d in devs)
    streams = []
    for s in prior.streams if prior else (daw(1, "scarlett"),):
        streams.append(
            replace(s, sink=s.sink if s.sink in all_names else next(iter(all_names), None))
        )
    return Snapshot(devices=tuple(devs), streams=tuple(streams), default_sink=None)


def _owner_caps(w: Snapshot, plan, state_profiles) -> dict[tuple[str, str], float]:
    """Each present channel's cap: the active plan's on its channels, else the lowest of
    the other present profiles' that play on it."""
    caps = channel_caps(w, plan.outputs)
    others: dict[tuple[str, str], float] = {}
    for p in state_profiles:
        c = candidate(p, state_profiles, w, 100.0)
        if c.plan is None:
            continue
        for key, cap in channel_caps(w, c.plan.outputs).items():
            if key not in caps:
                others[key] = min(others.get(key, cap), cap)
    return {**others, **caps}


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_world, _trigger), min_size=1, max_size=6))
def test_no_channel_is_ever_above_its_own_profiles_cap(steps) -> None:
    state = State()
    w: Snapshot | None = None
    for spec, trigger in steps:
        w = _next_world(spec, w)
        d = decide(profiles(), w, state, trigger)
        if d.plan is None:
            continue
        caps = channel_caps(w, d.plan.outputs)
        before = {(dev.name, c): dev.level((c,)) for dev in w.devices for c in dev.channels}
        touched: set[tuple[str, str]] = set()
        for op in ops(d.plan, w):
            if isinstance(op, MoveStream):  # levels before moves, on every channel
                for key in physical_channels(w, op.sink):
                    assert level(w, key) <= caps[key] + 1e-6, (key, op)
            if isinstance(op, SetVolume):
                dev = w.device(op.device)
                touched |= {(op.device, c) for c in op.channels or (dev.channels if dev else ())}
            w = apply_op(w, op)
            for s in w.streams:  # the DAW never plays on a channel above its owner's cap
                for key in physical_channels(w, s.sink) & caps.keys():
                    # a channel found above its cap is lowered by its own op, before moves
                    if key in touched or before[key] <= caps[key]:
                        assert level(w, key) <= caps[key] + 1e-6, key
        # after the pass, every present channel is within its own profile's cap (within
        # the server's rounding, which reconcile ignores) …
        for key, cap in _owner_caps(w, d.plan, profiles()).items():
            assert level(w, key) <= cap + TOLERANCE, (key, cap, d.profile)
        # … no channel the plan does not own was raised …
        owned = channel_caps(w, d.plan.outputs)
        for dev in w.devices:
            for c in dev.channels:
                if (dev.name, c) not in owned and (dev.name, c) in before:
                    assert dev.level((c,)) <= before[(dev.name, c)] + 1e-6, (dev.name, c)
        # … a switch gives each pair its profile's own level …
        if d.plan.switching and d.plan.raise_volume:
            for o in d.plan.outputs:
                dev = w.device(o.device)
                if o.volume is not None and dev is not None:
                    for c in o.channels or dev.channels:
                        assert abs(dev.level((c,)) - o.volume) <= TOLERANCE, (o, c)
        state = State(active=d.profile, manual=d.manual)
        d2 = decide(profiles(), w, state, Intent())
        if d2.profile == d.profile and d2.plan is not None:
            assert ops(d2.plan, w) == [], "a second pass over the applied world must be empty"


# ---------------------------------------------------------------- check


def test_check_warns_where_two_profiles_drive_the_same_channels_with_other_caps() -> None:
    from routing.format.crosscheck import cross_check

    loaded, _ = parse_profiles(STUDIO_YAML, "studio.yaml")
    found = [i.format() for i in cross_check(loaded) if "another cap" in i.message]
    assert found == [
        "studio.yaml:23:81: warning: loud-tracking.output.max_volume: drives the same outputs 1-2 of "
        "this device as 'speakers' with another cap (95 % here, 85 % there): a channel has "
        "one level, so its cap is the active profile's — give both the same `max_volume`, "
        "or use different `channels`",
        "studio.yaml:26:57: warning: whole-interface.output.max_volume: drives the same channels of "
        "this device as 'speakers' with another cap (55 % here, 85 % there): a channel has "
        "one level, so its cap is the active profile's — give both the same `max_volume`, "
        "or use different `channels`",
    ]
    assert all(i.severity == "warning" for i in cross_check(loaded) if "another cap" in i.message)


def test_check_is_quiet_for_monitors_and_phones_on_separate_pairs() -> None:
    from routing.format.crosscheck import cross_check

    text = STUDIO_YAML.split("  - name: loud-tracking", maxsplit=1)[0]
    loaded, _ = parse_profiles(text, "studio.yaml")
    assert [i for i in cross_check(loaded) if "another cap" in i.message] == []

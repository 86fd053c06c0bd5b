"""Reconcile is minimal and idempotent, and the hearing-safety invariants hold for any world."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.model import MoveStream, Plan, SetDefault, SetVolume, Snapshot
from routing.policy import Cause, Intent, decide
from routing.reconcile import TOLERANCE, ops
from routing.state import State
from tests.fakeworld import apply_op, daw, physical_channels, sink
from tests.test_policy import AMP, GUEST, IFACE, profiles, world


def run(world_: Snapshot, state: State, trigger: Intent = Intent()) -> Snapshot:
    d = decide(profiles(), world_, state, trigger)
    assert d.plan is not None
    for op in ops(d.plan, world_):
        world_ = apply_op(world_, op)
    return world_


def test_switch_sets_level_before_the_daw_lands() -> None:
    w = world(IFACE, replace(AMP, volume=100.0))
    d = decide(profiles(), w, State(active="speakers"), Intent())
    assert d.plan is not None
    plan_ops = ops(d.plan, w)
    kinds = [type(o) for o in plan_ops]
    assert kinds.index(SetVolume) < kinds.index(MoveStream) < kinds.index(SetDefault)
    assert [o.describe() for o in plan_ops] == [
        "set volume of Schiit Fulla to 45 % (cap 60 %)",
        # the speakers stay within their cap while the headphones play: when the amp is
        # pulled, the server itself moves the DAW there before dawroute can act
        "set volume of Scarlett outputs 1-2 to 85 % (cap 85 %)",
        "move 'REAPER' stream 1 → Schiit Fulla",
        "set default sink to Schiit Fulla",
    ]


def test_only_a_level_that_brings_a_device_within_its_cap_holds_the_daw_back() -> None:
    """A level that makes a device safe must show before the DAW moves there; one on a
    device already within its cap (the profile's own lower level) need not: the DAW is
    safe there at the level the device shows."""
    loud = ops(_amp_plan(100.0), world(IFACE, replace(AMP, volume=100.0)))
    within = ops(_amp_plan(55.0), world(IFACE, replace(AMP, volume=55.0)))
    amp_level = [o for o in loud + within if isinstance(o, SetVolume) and o.label == AMP.label]
    assert [(o.before, o.volume, o.guards) for o in amp_level] == [
        (100.0, 45.0, True),
        (55.0, 45.0, False),
    ]


def _amp_plan(level: float) -> Plan:
    d = decide(
        profiles(), world(IFACE, replace(AMP, volume=level)), State(active="speakers"), Intent()
    )
    assert d.plan is not None
    return d.plan


def test_speakers_are_kept_within_their_cap_while_the_headphones_play() -> None:
    w = run(world(IFACE, AMP), State(active="speakers"))
    louder = replace(
        w, devices=tuple(d.with_level(100.0) if d.name == "scarlett" else d for d in w.devices)
    )
    d = decide(profiles(), louder, State(active="usb-amp"), Intent())
    assert d.plan is not None and d.profile == "usb-amp"
    assert [o.describe() for o in ops(d.plan, louder)] == [
        "set volume of Scarlett outputs 1-2 to 85 % (cap 85 %)"
    ]


def test_applying_the_same_plan_twice_issues_nothing_the_second_time() -> None:
    w = run(world(IFACE, AMP), State(active="speakers"))
    d = decide(profiles(), w, State(active="usb-amp"), Intent())
    assert d.plan is not None and ops(d.plan, w) == []


def test_user_volume_within_the_cap_is_respected_but_above_it_is_lowered() -> None:
    w = run(world(IFACE, AMP), State(active="speakers"))
    state = State(active="usb-amp")
    quieter = replace(
        w, devices=tuple(replace(d, volume=30.0) if d.name == "fulla" else d for d in w.devices)
    )
    d = decide(profiles(), quieter, state, Intent())
    assert d.plan is not None and ops(d.plan, quieter) == []
    louder = replace(
        w, devices=tuple(replace(d, volume=90.0) if d.name == "fulla" else d for d in w.devices)
    )
    d = decide(profiles(), louder, state, Intent())
    assert d.plan is not None
    assert [o.describe() for o in ops(d.plan, louder)] == [
        "set volume of Schiit Fulla to 60 % (cap 60 %)"
    ]


def test_leaving_a_remap_profile_removes_only_our_sink() -> None:
    w = run(world(IFACE), State())
    ours = [d.name for d in w.devices if d.ours]
    assert len(ours) == 1
    w = replace(w, devices=(*w.devices, replace(sink("someone-elses-remap"), virtual=True)))
    w = replace(w, devices=(*w.devices, AMP))
    after = run(w, State(active="speakers"))
    names = {d.name for d in after.devices}
    assert ours[0] not in names and "someone-elses-remap" in names


# ---------------------------------------------------------------- safety properties

_volume = st.floats(0, 150, allow_nan=False)
_devices = st.fixed_dictionaries({
    "iface": st.booleans(), "amp": st.booleans(), "guest": st.booleans(),
    "vi": _volume, "va": _volume, "vg": _volume,
})  # fmt: skip
_trigger = st.sampled_from(
    [
        Intent(),
        Intent(Cause.STARTUP),
        Intent(Cause.AUTO),
        Intent(Cause.NEXT),
        Intent(Cause.SWITCH, "phones-3-4"),
        Intent(Cause.SWITCH, "usb-amp"),
        Intent(Cause.SWITCH, "speakers"),
    ]
)


def _world(spec: dict, streams_on: list[str], prior: Snapshot | None) -> Snapshot:
    devs = []
    for key, base, vol in (("iface", IFACE, "vi"), ("amp", AMP, "va"), ("guest", GUEST, "vg")):
        if spec[key]:
            old = prior.device(base.name) if prior else None
            devs.append(old if old else replace(base, volume=spec[vol]))
    if prior:
        devs += [
            d
            for d in prior.devices
            if d.ours
            and all(
                f in {x.name for x in devs} | {x.name for x in prior.devices if x.ours}
                for f in d.feeds
            )
        ]
    names = {d.name for d in devs}
    streams = [
        daw(i, on if on in names else next(iter(sorted(names)), None), app)
        for i, (on, app) in enumerate(
            zip(streams_on, ["REAPER", "Bitwig Studio", "Firefox"], strict=False)
        )
    ]
    return Snapshot(
        devices=tuple(devs), streams=tuple(streams), default_sink=next(iter(sorted(names)), None)
    )


def channel_caps(w: Snapshot, outputs) -> dict[tuple[str, str], float]:
    """(device, channel) → the cap of the output that owns that channel."""
    caps: dict[tuple[str, str], float] = {}
    for o in outputs:
        dev = w.device(o.device)
        for ch in o.channels or (dev.channels if dev else ()):
            caps[(o.device, ch)] = min(caps.get((o.device, ch), o.max_volume), o.max_volume)
    return caps


def channel_level(w: Snapshot, device: str, channel: str) -> float:
    dev = w.device(device)
    assert dev is not None
    return dev.level((channel,))


def _assert_capped(w, plan, caps, previous, before_moves: bool) -> None:
    """Every channel carrying the DAW is within the cap of the output that owns it —
    except, until our first op touches it, a device the user had already turned up (we
    found it that way; lowering it is the first thing the ops do)."""
    for s in w.streams:
        if s.index not in plan.daw_streams:
            continue
        for dev_ch in physical_channels(w, s.sink) & caps.keys():
            dev = w.device(dev_ch[0])
            assert dev is not None
            untouched = before_moves and dev.volume == previous.get(dev_ch[0])
            level = channel_level(w, *dev_ch)
            assert untouched or level <= caps[dev_ch] + 1e-6, (dev, dev_ch, caps[dev_ch])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(_devices, _trigger), min_size=1, max_size=6),
    st.lists(st.sampled_from(["scarlett", "fulla", "fiio"]), min_size=1, max_size=3),
)
def test_no_op_sequence_leaves_the_daw_on_an_output_above_its_cap(steps, streams_on) -> None:
    state = State()
    w: Snapshot | None = None
    for spec, trigger in steps:
        w = _world(spec, streams_on, w)
        d = decide(profiles(), w, state, trigger)
        if d.plan is None:
            continue
        caps = channel_caps(w, d.plan.outputs)
        previous = {dev.name: dev.volume for dev in w.devices}
        for op in ops(d.plan, w):
            if isinstance(op, MoveStream):
                # the level is already set before the DAW lands, on every channel it plays on
                for dev_ch in physical_channels(w, op.sink):
                    assert channel_level(w, *dev_ch) <= caps[dev_ch] + 1e-6
            w = apply_op(w, op)
            _assert_capped(w, d.plan, caps, previous, before_moves=True)
        _assert_capped(w, d.plan, caps, previous, before_moves=False)
        # a switch gives each output the profile's own level, never the previous output's
        if d.plan.switching and d.plan.raise_volume:
            for o in d.plan.outputs:
                dev = w.device(o.device)
                if o.volume is not None and dev is not None:
                    assert abs(dev.level(o.channels) - o.volume) <= TOLERANCE, (o, previous)
        # and the DAW is never left on a device that is gone
        names = {dev.name for dev in w.devices}
        assert all(s.sink in names for s in w.streams if s.index in d.plan.daw_streams)
        state = State(active=d.profile, manual=d.manual)
        d2 = decide(profiles(), w, state, Intent())
        if d2.profile == d.profile and d2.plan is not None:
            assert ops(d2.plan, w) == [], "a second pass over the applied world must be empty"

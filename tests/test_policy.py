"""Which profile wins, told as the musician's story. Pure: no server, no clock."""

from __future__ import annotations

import functools

from routing.format.profiles import parse_profiles
from routing.model import Snapshot
from routing.policy import Cause, Intent, decide
from routing.profile import Profile
from routing.refusal import Refusal
from routing.state import State
from tests.fakeworld import daw, parsed, sink

PROFILES_YAML = """
profiles:
  - name: speakers
    priority: 10
    fallback: true
    output: {usb: "1235:8212", channels: [AUX0, AUX1], volume: 70%, max_volume: 85%}
  - name: usb-amp
    priority: 90
    output: {usb: "30be:1019", volume: 45%, max_volume: 60%}
  - name: phones-3-4
    priority: 50
    auto: false
    output: {usb: "1235:8212", channels: [AUX2, AUX3], volume: 50%}
  - name: duo
    priority: 95
    output: {usb: "30be:1019", volume: 45%, also: [{usb: "2972:0047", volume: 30%}]}
"""


@functools.cache
def profiles() -> tuple[Profile, ...]:
    return parsed(PROFILES_YAML)


IFACE = sink("scarlett", usb="1235:8212", channels=("AUX0", "AUX1", "AUX2", "AUX3"))
AMP = sink("fulla", usb="30be:1019", description="Schiit Fulla")
GUEST = sink("fiio", usb="2972:0047")


def world(*devices, streams=(daw(1, "scarlett"),), default="scarlett") -> Snapshot:
    return Snapshot(devices=tuple(devices), streams=tuple(streams), default_sink=default)


def test_plugging_amp_makes_it_the_daw_output() -> None:
    d = decide(profiles(), world(IFACE, AMP), State(active="speakers"), Intent())
    assert d.profile == "usb-amp"
    assert d.plan is not None and d.plan.target == "fulla" and d.plan.daw_streams == (1,)
    assert d.reason == "usb-amp: auto, priority 90, 'Schiit Fulla' present"
    assert d.plan.switching


def test_unplugging_amp_falls_back_to_interface() -> None:
    d = decide(profiles(), world(IFACE), State(active="usb-amp"), Intent())
    assert d.profile == "speakers"
    assert "fallback" in d.reason
    assert d.plan is not None and d.plan.target.startswith("dawroute.speakers.")


def test_current_profile_is_kept_while_it_still_matches() -> None:
    d = decide(profiles(), world(IFACE, AMP), State(active="usb-amp"), Intent())
    assert d.profile == "usb-amp" and "kept" in d.reason
    assert d.plan is not None and not d.plan.switching


def test_a_lower_priority_device_arriving_does_not_steal_the_output() -> None:
    d = decide(profiles(), world(IFACE, AMP, GUEST), State(active="duo"), Intent())
    assert d.profile == "duo"
    d = decide(profiles(), world(IFACE, AMP), State(active="usb-amp"), Intent())
    assert d.profile == "usb-amp"


def test_manual_switch_holds_while_its_device_is_present() -> None:
    d = decide(
        profiles(), world(IFACE, AMP), State(active="usb-amp"), Intent(Cause.SWITCH, "phones-3-4")
    )
    assert (d.profile, d.manual) == ("phones-3-4", "phones-3-4")
    later = decide(
        profiles(),
        world(IFACE, AMP, GUEST),
        State(active="phones-3-4", manual="phones-3-4"),
        Intent(),
    )
    assert later.profile == "phones-3-4" and "manual" in later.reason


def test_auto_drops_the_manual_choice() -> None:
    d = decide(
        profiles(),
        world(IFACE, AMP),
        State(active="phones-3-4", manual="phones-3-4"),
        Intent(Cause.AUTO),
    )
    assert (d.profile, d.manual) == ("usb-amp", None)


def test_manual_choice_ends_when_its_device_leaves() -> None:
    d = decide(profiles(), world(IFACE), State(active="usb-amp", manual="usb-amp"), Intent())
    assert (d.profile, d.manual) == ("speakers", None)


def test_switch_to_unknown_or_absent_profile_is_refused_and_changes_nothing() -> None:
    state = State(active="speakers")
    d = decide(profiles(), world(IFACE), state, Intent(Cause.SWITCH, "nope"))
    assert (d.error, d.plan, d.profile) == (Refusal.NO_SUCH_PROFILE, None, "speakers")
    d = decide(profiles(), world(IFACE), state, Intent(Cause.SWITCH, "usb-amp"))
    assert d.error is Refusal.NOT_MATCHED and "no connected device matches" in d.reason


def test_next_and_previous_cycle_through_present_profiles() -> None:
    ps = profiles()
    w = world(IFACE, AMP)
    order = []
    state = State(active="usb-amp")
    for _ in range(3):
        d = decide(ps, w, state, Intent(Cause.NEXT))
        order.append(d.profile)
        state = State(active=d.profile, manual=d.manual)
    assert order == ["phones-3-4", "speakers", "usb-amp"]
    d = decide(ps, w, State(active="usb-amp"), Intent(Cause.PREVIOUS))
    assert d.profile == "speakers"


def test_next_follows_priority_not_the_order_of_the_files() -> None:
    """Files are read in name order; `next` goes from the highest priority down, equal
    priorities by name, and wraps round; `previous` goes back up."""
    loaded, _ = parse_profiles(
        """
profiles:
  - {name: a-low, priority: 10, fallback: true, output: {usb: "1235:8212"}}
  - {name: b-high, priority: 90, output: {usb: "1235:8212", channels: [AUX2, AUX3]}}
  - {name: c-mid, priority: 50, auto: false, output: {usb: "1235:8212", channels: mono}}
  - {name: d-mid, priority: 50, auto: false, output: {usb: "30be:1019"}}
  - {name: e-absent, priority: 70, output: {usb: "2972:0047"}}
""",
        "p.yaml",
    )
    ps = tuple(lp.profile for lp in loaded)
    w = world(IFACE, AMP)

    def walk(cause: Cause, start: str) -> list[str | None]:
        state, seen = State(active=start), []
        for _ in range(4):
            d = decide(ps, w, state, Intent(cause))
            seen.append(d.profile)
            state = State(active=d.profile, manual=d.manual)
        return seen

    assert walk(Cause.NEXT, "b-high") == ["c-mid", "d-mid", "a-low", "b-high"]
    assert walk(Cause.PREVIOUS, "b-high") == ["a-low", "d-mid", "c-mid", "b-high"]
    d = decide(ps, w, State(active=None), Intent(Cause.NEXT))
    assert (d.profile, d.manual) == ("b-high", "b-high")  # nothing active: the highest first


def test_two_amps_present_plays_on_both_through_a_combined_sink() -> None:
    d = decide(profiles(), world(IFACE, AMP, GUEST), State(active="usb-amp"), Intent())
    assert d.profile == "duo"
    assert d.plan is not None
    combined = d.plan.virtual[-1]
    assert combined.slaves == ("fulla", "fiio") and d.plan.target == combined.name
    assert {o.device: o.volume for o in d.plan.outputs} == {"fulla": 45.0, "fiio": 30.0}


def test_ambiguous_selector_is_reported_not_guessed() -> None:
    twin = sink("fulla-2", usb="30be:1019")
    d = decide(profiles(), world(IFACE, AMP, twin), State(active="speakers"), Intent())
    assert d.profile == "speakers"
    assert any("usb-amp: selector matches 2 devices" in p for p in d.problems)


def test_profile_needing_a_channel_the_device_lacks_does_not_match() -> None:
    stereo_iface = sink("scarlett", usb="1235:8212")
    d = decide(profiles(), world(stereo_iface), State(), Intent(Cause.SWITCH, "phones-3-4"))
    assert d.error is Refusal.NOT_MATCHED and "has no channel AUX2, AUX3" in d.reason


def test_startup_restores_without_raising_volume() -> None:
    d = decide(profiles(), world(IFACE, AMP), State(active="usb-amp"), Intent(Cause.STARTUP))
    assert d.plan is not None and d.plan.raise_volume is False


def test_nothing_present_leaves_the_daw_where_it_is() -> None:
    d = decide(profiles(), world(GUEST), State(active="usb-amp"), Intent())
    assert d.plan is None and "left where it is" in d.reason


def test_daw_apps_match_name_or_binary_and_ignore_other_apps() -> None:
    streams = (
        daw(1, "scarlett", "REAPER"),
        daw(2, "scarlett", "Firefox"),
        daw(3, "scarlett", "Bitwig Studio"),
        daw(4, "scarlett", "ardour-8.4"),
    )
    d = decide(profiles(), world(IFACE, streams=streams), State(), Intent())
    assert d.plan is not None and d.plan.daw_streams == (1, 3, 4)


def test_switching_to_a_profile_whose_selector_is_ambiguous_names_both_devices() -> None:
    twin = sink("fulla-2", usb="30be:1019")
    d = decide(
        profiles(),
        world(IFACE, AMP, twin),
        State(active="speakers"),
        Intent(Cause.SWITCH, "usb-amp"),
    )
    assert d.error is Refusal.AMBIGUOUS and d.plan is None
    assert "'Schiit Fulla' (fulla) and 'Fulla-2' (fulla-2)" in d.reason


def test_every_refusal_has_an_error_in_the_one_table() -> None:
    from routing.errors import REFUSED, DawrouteError, refused

    assert set(REFUSED) == set(Refusal)
    for refusal in Refusal:
        error = refused(refusal, "why")
        assert isinstance(error, DawrouteError) and error.message == "why"

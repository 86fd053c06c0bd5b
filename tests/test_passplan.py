"""The pass's rules from values alone: which requests are decided, the state they leave."""

from __future__ import annotations

from routing import passplan
from routing.model import Connect, Disconnect, Link, Snapshot, State
from routing.policy import Cause, Decision


def test_off_decides_only_what_the_user_asks_for() -> None:
    off = State(off=True)
    assert not passplan.decides(off, False, Cause.EVENT)
    assert not passplan.decides(off, False, Cause.STARTUP)
    assert passplan.decides(off, False, Cause.SWITCH) and passplan.decides(off, False, Cause.AUTO)
    assert not passplan.decides(State(), True, Cause.EVENT)  # stopping: our undo's events
    assert passplan.decides(State(), False, Cause.EVENT)


def test_a_decision_keeps_its_times_while_nothing_changes() -> None:
    old = State(active="amp", active_since=1.0, manual="amp", manual_since=2.0, off=False)
    same = passplan.committed(old, Decision("amp", None, "kept", "amp"), now=9.0)
    assert same == old
    auto = passplan.committed(old, Decision("speakers", None, "auto", None), now=9.0)
    assert (auto.active, auto.active_since, auto.manual, auto.manual_since) == (
        "speakers", 9.0, None, None,
    )  # fmt: skip
    learnt = passplan.committed(old, Decision("amp", None, "k", "amp"), 9.0, "hw", (("a", "b"),))
    assert (learnt.original_default, learnt.links) == ("hw", (("a", "b"),))


def test_off_forgets_the_links_it_removed_and_the_default_it_restored() -> None:
    old = State(active="amp", manual="amp", original_default="hw", links=(("a", "b"), ("c", "d")))
    removed = (Disconnect(Link("a", "b")),)
    still = Snapshot(links=frozenset({Link("c", "d")}))
    new = passplan.after_off(old, still, removed, failed=False, stay_off=True, now=5.0)
    assert (new.active, new.off, new.off_since, new.manual) == (None, True, 5.0, None)
    assert (new.original_default, new.links) == (None, (("c", "d"),))
    stop = passplan.after_off(old, still, (), failed=True, stay_off=False, now=5.0)
    assert (stop.off, stop.manual, stop.original_default) == (False, "amp", "hw")


def test_links_after_adds_what_was_connected_and_drops_what_was_not() -> None:
    done = (Connect(Link("x", "y")), Disconnect(Link("a", "b")))
    assert passplan.links_after((("a", "b"),), done) == (("x", "y"),)

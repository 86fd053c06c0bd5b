"""A foot switch plugged in after the daemon started, on the ALSA sequencer: the
decisions behind it (the real sequencer is in the real-kernel tier, tests/test_vm.py)."""

from __future__ import annotations

from routing.midiplan import SeqPort, plan_ports, worth_a_rescan
from routing.settings import Feedback, Midi, Trigger

SYSTEM = [SeqPort(0, 0, "System", "Timer"), SeqPort(0, 1, "System", "Announce")]
THROUGH = SeqPort(14, 0, "Midi Through", "Midi Through Port-0")
FOOT = SeqPort(24, 0, "FS-1", "FS-1 MIDI 1")

CONFIG = Midi(
    triggers=(Trigger(port="~FS-1", cc=64, toggle=("speakers", "usb-amp")),),
    feedback=Feedback(port="~nanoKONTROL", profiles={}),
)


def seq(*ports: SeqPort) -> frozenset[SeqPort]:
    return frozenset([*SYSTEM, THROUGH, *ports])


def test_a_foot_switch_plugged_in_later_is_worth_a_rescan_and_gets_opened() -> None:
    idle = seq()
    assert not worth_a_rescan(idle, seq())  # nothing new: nothing to do
    plugged = seq(FOOT)
    assert worth_a_rescan(idle, plugged)
    plan = plan_ports(
        CONFIG, ["Midi Through:Midi Through Port-0 14:0", "FS-1:FS-1 MIDI 1 24:0"], [], []
    )
    assert plan.open_inputs == ("FS-1:FS-1 MIDI 1 24:0",)
    assert plan.close_inputs == ()


def test_the_daemons_own_clients_announcing_themselves_do_not_start_another_rescan() -> None:
    # a rescan lists ports through a short-lived client of python-rtmidi's, and opening
    # the foot switch adds the daemon's input client: both are announced, neither counts
    before = seq(FOOT)
    probing = seq(FOOT, SeqPort(130, 0, "dawroute-list", "dawroute-list"))
    opened = seq(FOOT, SeqPort(129, 0, "dawroute", "in"))
    assert not worth_a_rescan(before, probing)
    assert not worth_a_rescan(probing, opened)
    assert not worth_a_rescan(opened, seq(FOOT, SeqPort(128, 0, "dawroute-announce", "x")))


def test_unplugged_it_is_dropped_and_plugged_back_under_another_client_number_reopened() -> None:
    opened = ["FS-1:FS-1 MIDI 1 24:0"]
    assert worth_a_rescan(seq(FOOT), seq())
    gone = plan_ports(CONFIG, ["Midi Through:Midi Through Port-0 14:0"], [], opened)
    assert gone.close_inputs == ("FS-1:FS-1 MIDI 1 24:0",) and gone.open_inputs == ()
    back = SeqPort(28, 0, "FS-1", "FS-1 MIDI 1")
    assert worth_a_rescan(seq(), seq(back))
    again = plan_ports(CONFIG, ["FS-1:FS-1 MIDI 1 28:0"], [], [])
    assert again.open_inputs == ("FS-1:FS-1 MIDI 1 28:0",)


def test_a_renamed_port_is_worth_a_rescan() -> None:
    renamed = SeqPort(24, 0, "FS-1", "FS-1 Pedal")
    assert worth_a_rescan(seq(FOOT), seq(renamed))


def test_the_led_port_is_the_first_output_the_feedback_pattern_matches() -> None:
    outs = ["Midi Through:Midi Through Port-0 14:0", "nanoKONTROL2:nanoKONTROL2 MIDI 1 32:0"]
    assert plan_ports(CONFIG, [], outs, []).output == "nanoKONTROL2:nanoKONTROL2 MIDI 1 32:0"
    assert plan_ports(CONFIG, [], outs[:1], []).output is None
    assert plan_ports(Midi(triggers=CONFIG.triggers), [], outs, []).output is None


def test_the_first_listing_always_looks() -> None:
    assert worth_a_rescan(None, seq())

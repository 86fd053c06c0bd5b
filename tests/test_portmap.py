"""DAW ports → device channels, as a table (pure)."""

from __future__ import annotations

from routing.model import Device, Direction, Link, Port, Snapshot
from routing.portmap import plan_links

IFACE = Device(
    name="alsa_output.usb-x",
    description="Scarlett 4i4 USB Pro",
    direction=Direction.SINK,
    channels=("AUX0", "AUX1", "AUX2", "AUX3"),
)
PORTS = (
    Port("REAPER:out1", "REAPER", True, False),
    Port("REAPER:out2", "REAPER", True, False),
    Port("REAPER:out10", "REAPER", True, False),
    *(
        Port(
            f"Scarlett 4i4 USB Pro:playback_AUX{i}", "Scarlett 4i4 USB Pro", False, True, f"AUX{i}"
        )
        for i in range(4)
    ),
    Port("Scarlett 4i4 USB Pro:monitor_AUX0", "Scarlett 4i4 USB Pro", True, False),
)
SNAP = Snapshot(ports=PORTS)
P = "Scarlett 4i4 USB Pro:playback_"


def links(mapping):
    found, sources, problems = plan_links(mapping, IFACE, SNAP)
    return {(link.source, link.target.removeprefix(P)) for link in found}, sources, problems


def test_two_outputs_to_outputs_3_4_pair_up_in_natural_order() -> None:
    got, sources, problems = links({"~REAPER:out[12]$": ("AUX2", "AUX3")})
    assert got == {("REAPER:out1", "AUX2"), ("REAPER:out2", "AUX3")}
    assert sources == ("REAPER:out1", "REAPER:out2") and problems == []


def test_stereo_means_the_first_two_channels_and_monitors_are_never_sources() -> None:
    got, _, _ = links({"~out[12]$": "stereo"})
    assert got == {("REAPER:out1", "AUX0"), ("REAPER:out2", "AUX1")}


def test_mono_sums_both_outputs_to_both_sides() -> None:
    got, _, _ = links({"~REAPER:out[12]$": "mono"})
    assert got == {(s, t) for s in ("REAPER:out1", "REAPER:out2") for t in ("AUX0", "AUX1")}


def test_one_channel_sums_and_one_output_feeds_both() -> None:
    assert links({"~REAPER:out[12]$": ("AUX3",)})[0] == {
        ("REAPER:out1", "AUX3"),
        ("REAPER:out2", "AUX3"),
    }
    assert links({"REAPER:out10": ("AUX2", "AUX3")})[0] == {
        ("REAPER:out10", "AUX2"),
        ("REAPER:out10", "AUX3"),
    }


def test_a_channel_the_device_lacks_is_a_problem_not_a_guess() -> None:
    got, _, problems = links({"~REAPER": ("FL", "FR")})
    assert got == set() and problems == ["'Scarlett 4i4 USB Pro' has no JACK port for FL, FR"]


def test_duplicate_links_from_overlapping_patterns_appear_once() -> None:
    found, _, _ = plan_links({"REAPER:out1": ("AUX2",), "~out1$": ("AUX2",)}, IFACE, SNAP)
    assert found == (Link("REAPER:out1", P + "AUX2"),)

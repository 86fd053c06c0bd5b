"""Selectors pick devices by stable identity; two matches are reported, never guessed."""

from __future__ import annotations

import pytest

from routing.matching import matches, resolve, suggest_selector
from routing.model import Direction
from routing.profile import Selector
from tests.fakeworld import sink

FULLA = sink(
    "alsa_output.usb-Schiit_Fulla-00.analog-stereo",
    usb="30be:1019",
    description="Schiit Fulla Analog Stereo",
    serial="Schiit_Fulla_A",
)
FULLA_2 = sink(
    "alsa_output.usb-Schiit_Fulla-00.analog-stereo.2",
    usb="30be:1019",
    description="Schiit Fulla Analog Stereo",
    serial="Schiit_Fulla_B",
)
HDA = sink("alsa_output.pci-0000_00_1f.3.analog-stereo", description="Built-in Audio")


@pytest.mark.parametrize(("selector", "device", "expected"), [
    ({"usb": "30be:1019"}, FULLA, True),
    ({"usb": "30be:1018"}, FULLA, False),
    ({"usb": "30be:1019", "serial": "Schiit_Fulla_B"}, FULLA, False),
    ({"usb": "30be:1019", "serial": "Schiit_Fulla_B"}, FULLA_2, True),
    ({"name": "alsa_output.usb-Schiit_Fulla-*"}, FULLA, True),
    ({"name": "alsa_output.usb-Schiit_Fulla-*"}, HDA, False),
    ({"description": "schiit fulla analog stereo"}, FULLA, True),
    ({"description": "Schiit"}, FULLA, False),
    ({"description": "~^Schiit"}, FULLA, True),
    ({"description": "~fulla"}, FULLA, True),
    ({"usb": "30be:1019"}, HDA, False),
])  # fmt: skip
def test_selector_table(selector: dict[str, str], device, expected: bool) -> None:
    assert matches(Selector(**selector), device) is expected


def test_two_identical_amps_are_reported_with_both_names() -> None:
    found = resolve(Selector(usb="30be:1019"), [FULLA, FULLA_2, HDA], Direction.SINK)
    assert found.device is None
    assert found.problem is not None
    assert FULLA.name in found.problem and FULLA_2.name in found.problem
    assert "add `serial`" in found.problem


def test_suggested_selector_is_stable_and_unique() -> None:
    assert suggest_selector(HDA, [FULLA, HDA]) == {"name": HDA.name}
    assert suggest_selector(FULLA, [FULLA, HDA]) == {"usb": "30be:1019"}
    # two identical units: the serial tells them apart
    assert suggest_selector(FULLA_2, [FULLA, FULLA_2]) == {
        "usb": "30be:1019",
        "serial": "Schiit_Fulla_B",
    }


def test_suggested_name_glob_drops_the_per_plug_suffix() -> None:
    odd = sink("alsa_output.weird.2")
    other = sink("alsa_output.other")
    assert suggest_selector(odd, [odd, other]) == {"name": "alsa_output.weird*"}

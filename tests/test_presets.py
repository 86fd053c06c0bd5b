"""DAW presets: the names each DAW really uses, merged into `apps`/`ports` (pure)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from routing.format import presets
from routing.format.profiles import parse_profiles
from routing.model import Device, Direction, Port, Snapshot
from routing.policy import is_daw
from routing.portmap import daw_ports, plan_links
from routing.profile import DEFAULT_DAW_APPS

ROOT = Path(__file__).resolve().parent.parent

# (preset, ports the DAW registers on JACK — outputs — of which the first two are master)
REAL_PORTS = {
    "ardour": (
        ["ardour:Master/audio_out 1", "ardour:Master/audio_out 2"],
        ["ardour:Monitor/audio_out 1", "ardour:Audio 1/audio_out 1", "ardour:Click/audio_out 1"],
    ),
    "mixbus": (["Mixbus:Master/audio_out 1", "Mixbus:Master/audio_out 2"], []),
    "reaper": (["REAPER:out1", "REAPER:out2"], ["REAPER:out10", "REAPER:out3"]),
    "qtractor": (["Qtractor:Master/out_1", "Qtractor:Master/out_2"], ["Qtractor:Click/out_1"]),
    "lmms": (["lmms:master out L1", "lmms:master out R1"], ["lmms:master out L2"]),
    "bitwig": (["Bitwig Studio:Speakers L", "Bitwig Studio:Speakers R"], []),
    "renoise": (["renoise:output_01_left", "renoise:output_01_right"], []),
}
STREAMS = {  # (application.name, process binary) as the DAWs report them
    "ardour": ("Ardour", "ardour-8.4"),
    "mixbus": ("Mixbus", "mixbus10"),
    "reaper": ("REAPER", "reaper"),
    "bitwig": ("Bitwig Studio", "BitwigAudioEngine-X64-AVX2"),
    "renoise": ("Renoise", "renoise"),
    "qtractor": ("Qtractor", "qtractor"),
    "lmms": ("LMMS", "lmms"),
}


def test_every_preset_is_covered_here() -> None:
    assert set(REAL_PORTS) == set(presets.NAMES) == set(STREAMS)


@pytest.mark.parametrize("name", presets.NAMES)
def test_master_pattern_matches_the_master_outputs_only(name: str) -> None:
    master, others = REAL_PORTS[name]
    pattern = presets.PRESETS[name].master
    ports = tuple(Port(p, p.split(":")[0], True, False) for p in master + others)
    found = daw_ports(Snapshot(ports=ports), pattern)
    assert found[:2] == master, found
    if not pattern.endswith(":"):  # client-wide presets take the first two in natural order
        assert found == master


@pytest.mark.parametrize("name", presets.NAMES)
def test_streams_are_recognised_by_name_and_binary(name: str) -> None:
    app, binary = STREAMS[name]
    assert presets.for_stream(app, None) == presets.PRESETS[name]
    assert presets.for_stream("something", binary) == presets.PRESETS[name]
    assert presets.for_ports(REAL_PORTS[name][0]) == presets.PRESETS[name]


def test_the_old_documented_pattern_matched_no_real_ardour_port() -> None:
    old = r"^(REAPER|ardour):out_?[12]$"
    assert not any(re.search(old, p) for p in REAL_PORTS["ardour"][0])
    jack_md = (ROOT / "docs" / "jack.md").read_text()
    assert "(REAPER|ardour):out" not in jack_md


def _profile(daw: str):
    text = f'name: p\nfallback: true\noutput: {{usb: "1235:8212"}}\ndaw:\n{daw}'
    loaded, issues = parse_profiles(text, "p.yaml")
    assert [i for i in issues if i.severity == "error"] == []
    return loaded[0].profile


def test_preset_alone_gives_its_apps_and_links_nothing() -> None:
    p = _profile("  preset: ardour\n")
    assert p.daw.apps == ("~^ardour",) and p.daw.ports == {}
    assert is_daw(p, "Ardour", None) and not is_daw(p, "REAPER", "reaper")


def test_no_preset_keeps_the_default_apps() -> None:
    assert _profile("  set_default: false\n").daw.apps == DEFAULT_DAW_APPS


def test_preset_with_master_links_the_master_outputs_and_combines_with_yours() -> None:
    p = _profile(
        "  preset: [ardour, reaper]\n  apps: [Carla]\n  master: [AUX2, AUX3]\n"
        '  ports: {"~^REAPER[^:]*:out[12]$": [AUX0, AUX1], "~^Carla:out": stereo}\n'
    )
    assert p.daw.apps == ("Carla", "~^ardour", "REAPER")
    assert p.daw.ports == {
        presets.PRESETS["ardour"].master: ("AUX2", "AUX3"),
        presets.PRESETS["reaper"].master: ("AUX0", "AUX1"),  # yours wins
        "~^Carla:out": "stereo",
    }
    chans = ("AUX0", "AUX1", "AUX2", "AUX3")
    iface = Device("alsa_output.x", "Scarlett", Direction.SINK, channels=chans)
    ports = tuple(Port(n, "ardour", True, False) for n in REAL_PORTS["ardour"][0]) + tuple(
        Port(f"Scarlett:playback_AUX{i}", "Scarlett", False, True, f"AUX{i}") for i in range(4)
    )
    links, _, problems = plan_links(p.daw.ports, iface, Snapshot(ports=ports))
    assert problems == []
    assert {(lk.source, lk.target) for lk in links} == {
        ("ardour:Master/audio_out 1", "Scarlett:playback_AUX2"),
        ("ardour:Master/audio_out 2", "Scarlett:playback_AUX3"),
    }


def test_preset_names_are_case_insensitive_and_deduplicated() -> None:
    assert _profile("  preset: [REAPER, reaper]\n").daw.preset == ("reaper",)


def test_port_selector_quotes_regex_characters_but_not_spaces() -> None:
    sel = presets.port_selector(["Foo.1:out 2", "Foo.1:out 10", "Foo.1:out 1"])
    assert sel == r"~^(Foo\.1:out 1|Foo\.1:out 2)$"
    assert re.search(sel[1:], "Foo.1:out 2") and not re.search(sel[1:], "FooX1:out 2")


def test_ardour_preset_also_matches_a_headless_session_without_a_client_name() -> None:
    """ardour7-lua with `AudioEngine:set_backend("JACK", "", "")` (measured on jackd and
    PipeWire's JACK) registers `:Master/audio_out 1`; the GUI registers `ardour:…`."""
    pattern = presets.PRESETS["ardour"].master
    names = [":Master/audio_out 1", ":Master/audio_out 2", ":Click/audio_out 1"]
    ports = tuple(Port(p, "", True, False) for p in names)
    assert daw_ports(Snapshot(ports=ports), pattern) == names[:2]
    assert presets.for_ports(names[:1]) == presets.PRESETS["ardour"]
    for other in ("Carla:Master/audio_out 1", "x-ardour:Master/audio_out 1"):
        assert not re.search(pattern[1:], other), other

"""The plain values the core works with (routing.profile, routing.settings) mirror the
format's validated classes: the same classes, fields and defaults, so converting at load
time loses and invents nothing."""

from __future__ import annotations

import dataclasses
from types import ModuleType

import pytest

from routing import profile, settings
from routing.format import config as fconfig
from routing.format import document as fprofiles
from routing.format import plain
from routing.format.profiles import parse_profiles

PAIRS = [
    (
        fprofiles,
        profile,
        ["Selector", "AlsoOutput", "Output", "Input", "Daw", "Others", "Clock", "Profile"],
    ),
    (fconfig, settings, ["Safety", "Trigger", "Led", "Feedback", "Midi", "Osc", "Config"]),
]


@pytest.mark.parametrize(
    ("fmt", "model", "name"), [(f, m, n) for f, m, names in PAIRS for n in names]
)
def test_each_format_class_has_a_plain_namesake_with_its_fields(
    fmt: ModuleType, model: ModuleType, name: str
) -> None:
    ours = [f.name for f in dataclasses.fields(getattr(model, name))]
    theirs = [f.name for f in dataclasses.fields(getattr(fmt, name))]
    assert ours == theirs


def test_every_format_class_is_listed() -> None:
    for fmt, _model, names in PAIRS:
        found = {
            n
            for n, v in vars(fmt).items()
            if isinstance(v, type) and hasattr(v, "__pydantic_validator__")
        }
        assert found - {"ProfileFile"} == set(names)


def test_defaults_convert_to_the_plain_defaults() -> None:
    assert fconfig.to_plain(fconfig.Config()) == settings.Config()
    (loaded,), issues = parse_profiles("name: a\noutput: {usb: '30BE:1019'}\n", "a.yaml")
    assert issues == []
    assert loaded.profile == profile.Profile("a", profile.Output(usb="30be:1019"))


def test_a_full_profile_converts_field_by_field() -> None:
    text = """
name: studio
priority: 80
output:
  usb: "1235:8210"
  channels: [AUX2, AUX3]
  volume: 40%
  max_volume: 60%
  also:
    - {name: "alsa_output.phones*", volume: 30%}
    - {profile: speakers}
input: {card: "~Scarlett"}
daw: {preset: ardour, master: [AUX2, AUX3], exclusive: true}
clock: {rate: 48000, quantum: 128}
others: {keep: [mpv], to: speakers}
"""
    (loaded,), issues = parse_profiles(text, "studio.yaml")
    assert [i for i in issues if i.severity == "error"] == []
    p = loaded.profile
    assert type(p) is profile.Profile and type(p.output.also[0]) is profile.AlsoOutput
    assert type(p.input) is profile.Input and type(p.daw) is profile.Daw
    assert p.output.channels == ("AUX2", "AUX3") and p.output.also[1].profile == "speakers"
    assert p.daw.ports and p.clock == profile.Clock(48000, 128)


def test_a_class_without_a_plain_namesake_is_refused() -> None:
    with pytest.raises(TypeError):
        plain.convert(fconfig.Safety(), settings, settings.Config)

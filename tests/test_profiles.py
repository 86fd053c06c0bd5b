"""Profiles: the examples load, each mistake is reported at its exact place, nothing crashes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.cli import main, split_paths
from routing.errors import ConfigIssue
from routing.format.config import check_all, config_schema, parse_config
from routing.format.profiles import parse_profiles, profile_schema

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "profiles"
BAD = ROOT / "tests" / "data" / "bad-profiles"


def test_every_example_profile_and_the_example_config_load_clean() -> None:
    profiles, loaded, issues = check_all([EXAMPLES], EXAMPLES / "config.yaml")
    assert issues == []
    assert len(profiles.profiles) == len(list(EXAMPLES.glob("*.yaml"))) - 1
    assert loaded.config.midi.triggers, "the example config shows a MIDI foot switch"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_each_example_carries_the_schema_line_for_editors(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=../routing/schema/")
    target = (path.parent / first.split("$schema=")[1]).resolve()
    assert target.exists()


@pytest.mark.parametrize(
    "case", sorted(p for p in BAD.iterdir() if p.suffix != ".expected"), ids=lambda p: p.name
)
def test_bad_profile_reports_exact_golden_errors(case: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(BAD)
    code = main(["check", case.name])
    err = capsys.readouterr().err
    expected = (BAD / f"{case.stem}.expected").read_text()
    assert code == 3
    assert err.strip().splitlines() == expected.strip().splitlines()


def test_check_json_lists_issues_with_locations(monkeypatch, capsys) -> None:
    monkeypatch.chdir(BAD)
    assert main(["check", "--json", "bad-clock.yaml"]) == 3
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False
    assert [(i["line"], i["column"], i["key"]) for i in out["issues"]] == [
        (6, 9, "clock.rate"),
        (7, 12, "clock.quantum"),
    ]


def test_check_clean_examples_exits_zero(capsys) -> None:
    assert main(["check", str(EXAMPLES)]) == 0
    assert "ok: 6 profile(s)" in capsys.readouterr().out


def test_check_defaults_to_the_users_xdg_profiles(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert main(["check"]) == 3
    assert "no profiles yet" in capsys.readouterr().err
    (tmp_path / "dawroute" / "profiles").mkdir(parents=True)
    (tmp_path / "dawroute" / "profiles" / "amp.yaml").write_text(
        (EXAMPLES / "usb-headphone-amp.yaml").read_text()
    )
    (tmp_path / "dawroute" / "config.yaml").write_text("backend: pulse\n")
    assert split_paths([])[1] == tmp_path / "dawroute" / "config.yaml"
    assert main(["check"]) == 0  # a warning (no fallback) does not fail the check
    assert "no profile has `fallback: true`" in capsys.readouterr().out


def test_yaml_on_off_keys_get_a_quoting_hint() -> None:
    _, issues = parse_config(
        "midi:\n  feedback:\n    port: x\n    profiles:\n      a: {note: 1, on: 127}\n", "c.yaml"
    )
    assert [i.format() for i in issues] == [
        "c.yaml:5:20: midi.feedback.profiles.a: key 'on' is read as true by YAML — "
        'quote it: `"on":`'
    ]


def test_volume_in_db_is_converted_like_pavucontrol() -> None:
    loaded, issues = parse_profiles(
        "name: a\noutput: {usb: '0001:0002', volume: -12dB}\n", "a.yaml"
    )
    assert issues == []
    assert loaded[0].profile.output.volume == pytest.approx(63.1, abs=0.1)


def test_merge_keys_and_aliases_are_supported() -> None:
    text = (
        "base: &amp {usb: '30be:1019', max_volume: 60%}\n" * 0 + "profiles:\n"
        "  - name: a\n    output: &out {usb: '30be:1019', max_volume: 60%}\n"
        "  - name: b\n    auto: false\n    output:\n      <<: *out\n      channels: mono\n"
    )
    loaded, issues = parse_profiles(text, "m.yaml")
    assert [i for i in issues if i.severity == "error"] == []
    assert loaded[1].profile.output.usb == "30be:1019"
    assert loaded[1].profile.output.channels == "mono"


def test_schema_files_in_the_repo_are_current() -> None:
    stored = json.loads((ROOT / "routing" / "schema" / "profile.schema.json").read_text())
    assert stored == profile_schema(), "run: dawroute schema > routing/schema/profile.schema.json"
    stored = json.loads((ROOT / "routing" / "schema" / "config.schema.json").read_text())
    assert stored == config_schema(), (
        "run: dawroute schema --config > routing/schema/config.schema.json"
    )


def test_check_does_not_import_the_sound_stack() -> None:
    code = (
        f"import sys; from routing.cli import main; main(['check', {str(EXAMPLES)!r}]); "
        "bad = [m for m in ('pulsectl', 'rtmidi', 'routing.daemon') if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


# ---------------------------------------------------------------- property tests


def _assert_located(issues: list[ConfigIssue], text: str) -> None:
    lines = text.splitlines() or [""]
    for i in issues:
        assert 1 <= i.line <= len(lines), i
        assert 1 <= i.column <= len(lines[i.line - 1]) + 1, i
        assert i.message


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#%@`~ \n\t0123456789.,?<=\\")), max_size=120
    )
)
def test_arbitrary_text_gives_only_located_issues(text: str) -> None:
    _loaded, issues = parse_profiles(text, "fuzz.yaml")
    _assert_located(issues, text)
    _, cissues = parse_config(text, "fuzz.yaml")
    _assert_located(cissues, text)


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(
        ["45%", "-12dB", "1235:8210", "stereo", "mono", "FL", "AUX2", "~(", "~ok", "usb-amp"]
    ),
)
_keys = st.sampled_from(
    [
        "name",
        "output",
        "usb",
        "volume",
        "max_volume",
        "channels",
        "also",
        "priority",
        "auto",
        "fallback",
        "daw",
        "apps",
        "clock",
        "rate",
        "quantum",
        "profiles",
        "input",
        "card",
        "boost",
        "midi",
        "triggers",
        "note",
        "cc",
        "switch",
        "toggle",
        "feedback",
        "port",
        "x",
    ]
)
_data = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=5)),
    max_leaves=25,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_data)
def test_arbitrary_structures_give_only_located_issues(data: object) -> None:
    text = yaml.safe_dump(data, default_flow_style=False)
    _, issues = parse_profiles(text, "fuzz.yaml")
    _assert_located(issues, text)
    _, cissues = parse_config(text, "fuzz.yaml")
    _assert_located(cissues, text)


def test_a_check_over_a_mapping_reports_its_key_and_fix_as_fields() -> None:
    text = "name: amp\noutput:\n  usb: '1235:8210'\n  volume: 70%\n  max_volume: 60%\n"
    _, issues = parse_profiles(text, "amp.yaml")
    assert [(i.line, i.key, i.message, i.fix) for i in issues] == [
        (4, "output.volume", "volume 70 % is above max_volume 60 %",
         "lower `volume` or raise `max_volume`"),
    ]  # fmt: skip

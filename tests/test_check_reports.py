"""What `dawroute check` tells a user about their mistakes: all of them, each in the file
where it is, and nothing about the files that are fine."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from routing.cli import main
from routing.format.profiles import parse_profiles
from tests.daemonrun import install_examples

EXAMPLES = Path(__file__).resolve().parent.parent / "profiles"


def _check(capsys: pytest.CaptureFixture[str], *paths: Path) -> tuple[int, list[str]]:
    code = main(["check", *map(str, paths)])
    captured = capsys.readouterr()
    return code, (captured.err + captured.out).splitlines()


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_broken_speakers_file_is_the_only_file_blamed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """I typed 700% in speakers.yaml (the fallback, named by my MIDI foot switch). check
    must point at that line — not warn that no profile has a fallback, nor say that
    config.yaml names a profile that does not exist."""
    install_examples(tmp_path)
    shutil.copy(EXAMPLES / "config.yaml", tmp_path / "config.yaml")
    speakers = tmp_path / "speakers.yaml"
    speakers.write_text(speakers.read_text().replace("volume: 70%", "volume: 700%"))
    code, lines = _check(capsys, tmp_path)
    assert code == 3
    problems = [line for line in lines if ": " in line and not line.startswith("config: ")]
    assert problems == [
        f"{speakers}:11:11: output.volume: 700 % is out of range — use 0 % to 100 % "
        "(or up to 150 % with `boost: true`)"
    ], lines


def test_a_missing_fallback_is_still_reported_when_the_broken_file_is_not_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path / "amp.yaml", 'name: amp\noutput: {usb: "30be:1019"}\n')
    _write(tmp_path / "dac.yaml", 'name: dac\nfallback: false\noutput: {usb: "30be:10"}\n')
    code, lines = _check(capsys, tmp_path)
    assert code == 3
    assert any("is not a USB id" in line for line in lines), lines
    assert any("warning: no profile has `fallback: true`" in line for line in lines), lines


def test_every_mistake_in_one_output_block_is_reported_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo'd key used to hide that the volume is above the cap: fixing one mistake
    revealed the next on the following `check`."""
    amp = _write(
        tmp_path / "amp.yaml",
        "name: amp\n"
        "fallback: true\n"
        "output:\n"
        '  usb: "30be:1019"\n'
        "  volume: 90%\n"
        "  max_volume: 60%\n"
        "  volum: 3\n",
    )
    code, lines = _check(capsys, tmp_path)
    assert code == 3
    assert lines == [
        f"{amp}:5:11: output.volume: volume 90 % is above max_volume 60 % — lower `volume` "
        "or raise `max_volume`",
        f"{amp}:7:3: output.volum: unknown key 'volum' — did you mean `volume`?",
    ]


def test_a_wrong_channel_does_not_hide_a_missing_selector_or_an_uncapped_volume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    amp = _write(
        tmp_path / "amp.yaml",
        "name: amp\nfallback: true\noutput:\n  channels: [XX]\n  volume: 120%\n"
        "  max_volume: 6000%\n",
    )
    code, lines = _check(capsys, tmp_path)
    assert code == 3
    text = "\n".join(lines)
    assert f"{amp}:4:3: output: no device selector" in text
    assert f"{amp}:4:13: output.channels: 'XX' is not a channel" in text
    assert f"{amp}:5:11: output.volume: volume 120 % is above 100 %" in text
    assert f"{amp}:6:15: output.max_volume: 6000 % is out of range" in text
    assert len(lines) == 4, text


def test_one_broken_profile_in_a_list_does_not_hide_its_neighbours_mistakes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    studio = _write(
        tmp_path / "studio.yaml",
        "profiles:\n"
        "  - name: monitors\n"
        "    fallback: true\n"
        '    output: {usb: "1235:8212", volume: 99%, max_volume: 60%}\n'
        "  - name: duo\n"
        '    output: {usb: "30be:1019", also: [{profile: guest}]}\n',
    )
    code, lines = _check(capsys, tmp_path)
    assert code == 3
    assert lines == [
        f"{studio}:4:40: profiles[0].output.volume: volume 99 % is above max_volume 60 % — "
        "lower `volume` or raise `max_volume`",
        f"{studio}:6:49: duo.output.also[0].profile: no profile named 'guest' — known "
        "profiles: duo, monitors",
    ]


@pytest.mark.parametrize("usb", ["1235:8210", "0010:0059", "1e10:0001", "30BE:1019"])
def test_usb_ids_work_without_quotes(usb: str) -> None:
    """`dawroute devices` prints `usb: "1235:8210"`, but YAML reads vendor:product as text
    with or without the quotes (its base-60 numbers have two digits after a colon)."""
    loaded, issues = parse_profiles(f"name: amp\nfallback: true\noutput:\n  usb: {usb}\n", "a")
    assert issues == []
    assert loaded[0].profile.output.usb == usb.lower()


def test_a_usb_id_that_is_not_one_says_how_to_write_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    amp = _write(tmp_path / "amp.yaml", "name: amp\nfallback: true\noutput: {usb: 30be1019}\n")
    code, lines = _check(capsys, tmp_path)
    assert (code, lines) == (
        3,
        [
            f"{amp}:3:15: output.usb: '30be1019' is not a USB id — write vendor:product as "
            '4+4 hex digits, e.g. `usb: "1235:8210"` (see `dawroute devices`)'
        ],
    )

"""The verbs a foot-switch script runs take the quick path: the same request as the full
command line, without building it."""

from __future__ import annotations

import pytest

from routing import cli


@pytest.mark.parametrize(
    "argv", [["switch", "usb-amp"], ["status"], ["auto"], ["next"], ["previous"]]
)
def test_a_common_verb_means_what_the_full_command_line_means(argv: list[str]) -> None:
    quick = cli._quick(argv)
    assert quick is not None
    assert vars(quick) == vars(cli.build_parser().parse_args(argv))


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["switch"],  # the parser says what is missing
        ["switch", "a", "b"],
        ["switch", "--help"],
        ["status", "--json"],
        ["--version"],
        ["list"],
        ["check"],
        ["toggle", "a", "b"],
    ],
)
def test_anything_else_takes_the_full_command_line(argv: list[str]) -> None:
    assert cli._quick(argv) is None

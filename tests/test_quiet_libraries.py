"""A user sees dawroute's own words, not the libraries' chatter: libjack's five lines per
failed connection, setuptools' deprecation boxes while the checkout installs itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from routing import libjack

ROOT = Path(__file__).resolve().parent.parent


def _env(tmp_path: Path) -> dict[str, str]:
    run = tmp_path / "run"
    run.mkdir(mode=0o700, exist_ok=True)
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "XDG_RUNTIME_DIR": str(run),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PULSE_SERVER": f"unix:{tmp_path}/no-such-server",
        # a JACK server of this name never runs, whatever other tests start meanwhile
        "JACK_DEFAULT_SERVER": f"dawroute-absent-{os.getpid()}",
        "PYTHONPATH": str(ROOT),
    }


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["midi", "ports"], "jack: unavailable: JACK: MidiInJack::initialize: JACK server"),
        (["daws"], "none: no JACK server reachable"),
    ],
)
def test_without_a_jack_server_only_dawroute_speaks(
    tmp_path: Path, args: list[str], says: str
) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "routing", *args],
        env=_env(tmp_path), capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert says in out.stdout
    assert [line for line in out.stderr.splitlines() if not line.startswith("dawroute: ")] == []


def test_both_copies_of_libjack_are_found_in_the_memory_map() -> None:
    """JACK-Client's (the system's or PipeWire's) and the one python-rtmidi bundles."""
    maps = "\n".join(
        [
            "7f00-7f01 r-xp 00000000 08:01 11 /usr/lib/x86_64-linux-gnu/libjack.so.0.1.0",
            "7f02-7f03 r-xp 00000000 08:01 12 /venv/site-packages/python_rtmidi.libs/"
            "libjack-5305d520.so.0.1.0",
            "7f04-7f05 r--p 00001000 08:01 12 /venv/site-packages/python_rtmidi.libs/"
            "libjack-5305d520.so.0.1.0",
            "7f06-7f07 r-xp 00000000 08:01 13 /usr/lib/x86_64-linux-gnu/libjackserver.so.0",
            "7f08-7f09 rw-p 00000000 00:00 0 ",
            "7f0a-7f0b r-xp 00000000 08:01 14 /opt/my libs/libjack.so.0 (deleted)",
        ]
    )
    assert libjack.loaded_copies(maps) == [
        "/usr/lib/x86_64-linux-gnu/libjack.so.0.1.0",
        "/venv/site-packages/python_rtmidi.libs/libjack-5305d520.so.0.1.0",
    ]

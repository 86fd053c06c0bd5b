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


def _setup(venv: Path) -> tuple[int, list[str]]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the venv's own install
    out = subprocess.run(
        [str(ROOT / "scripts" / "setup")],
        env={**env, "DAWROUTE_VENV": str(venv)},
        capture_output=True, text=True, timeout=900, cwd=ROOT,
    )  # fmt: skip
    lines = (out.stdout + out.stderr).splitlines()
    # this machine's pip configuration may name package folders that are not there; pip
    # says so whatever it installs — not dawroute's output
    return out.returncode, [line for line in lines if not line.startswith("WARNING: Location")]


@pytest.mark.timeout(900)
def test_the_first_run_installs_the_checkout_quietly_and_once(tmp_path: Path) -> None:
    """`./scripts/run` on a fresh checkout installs dawroute into its venv: the user sees
    nothing from setuptools (it used to print 57 lines), and after `./scripts/test`
    (which installs the [test] extra) a plain run does not install again."""
    venv = tmp_path / "venv"
    code, lines = _setup(venv)
    assert code == 0 and lines == [], "\n".join(lines)
    assert (
        subprocess.run([venv / "bin" / "dawroute", "schema"], capture_output=True).returncode == 0
    )
    # what `scripts/test` leaves: the [test] stamp, which a plain run accepts
    (venv / ".dawroute-installed").rename(venv / ".dawroute-installed[test]")
    code, lines = _setup(venv)
    assert code == 0 and lines == [], "\n".join(lines)
    assert not (venv / ".dawroute-installed").exists()  # nothing was installed again

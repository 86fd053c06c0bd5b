"""`dawroute init --daw ardour|reaper`: the shipped DAW actions land in the DAW's script
folder, what the user has there is never overwritten, and the command says what it did."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from routing import dawscripts
from tests.conftest import hermetic_env

DAW = Path(__file__).resolve().parent.parent / "routing" / "daw"


def _init(home: Path, *args: str, path: str = "") -> subprocess.CompletedProcess[str]:
    env = hermetic_env({k: v for k, v in os.environ.items() if k != "XDG_CONFIG_HOME"}, home)
    env["PATH"] = path  # no Ardour, no WirePlumber: only what the test puts there
    out = subprocess.run(
        [sys.executable, "-m", "routing", "init", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out


def test_init_daw_copies_both_daws_scripts_and_says_where(tmp_path: Path) -> None:
    config = tmp_path / "config"
    (config / "ardour7").mkdir(parents=True)  # the user has run Ardour 7
    out = _init(tmp_path, "--daw", "ardour", "--daw", "reaper").stdout
    for daw, folder in (("ardour", config / "ardour7" / "scripts"), ("reaper", config / "REAPER" / "Scripts")):  # fmt: skip
        names = sorted(p.name for p in (DAW / daw).glob("*.lua"))
        assert sorted(p.name for p in folder.iterdir()) == names
        for name in names:
            assert (folder / name).read_text() == (DAW / daw / name).read_text()
            assert f"wrote {folder / name}\n" in out
    assert "Script Manager" in out and "Load ReaScript" in out  # how to bind them
    assert "osc: {listen:" in out  # Ardour's actions need dawroute's OSC
    assert not (config / "ardour8").exists()


def test_a_users_script_is_kept_and_a_second_run_writes_nothing(tmp_path: Path) -> None:
    scripts = tmp_path / "config" / "REAPER" / "Scripts"
    scripts.mkdir(parents=True)
    mine = scripts / "dawroute_switch.lua"
    mine.write_text('local PROFILE = "my-phones"\n')  # edited by the user, as the docs say
    out = _init(tmp_path, "--daw", "reaper").stdout
    assert mine.read_text() == 'local PROFILE = "my-phones"\n'
    assert f"kept {mine} (exists; not overwritten)" in out
    assert f"wrote {scripts / 'dawroute_lib.lua'}" in out
    again = _init(tmp_path, "--daw", "reaper").stdout
    assert "\nwrote " not in "\n" + again
    assert again.count("(exists; not overwritten)") >= len(list((DAW / "reaper").glob("*.lua")))


def test_without_daw_init_touches_no_daw_folder(tmp_path: Path) -> None:
    _init(tmp_path)
    assert not (tmp_path / "config" / "REAPER").exists()
    assert not list((tmp_path / "config").glob("ardour*"))


def test_ardour_folder_every_version_the_user_has_else_the_one_installed_else_8(
    tmp_path: Path,
) -> None:
    home = tmp_path / "config"
    home.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    assert dawscripts.script_dirs("ardour", home, str(bin_dir)) == [home / "ardour8" / "scripts"]
    lua = bin_dir / "ardour7-lua"  # Debian's package: /usr/bin/ardour and ardour7-lua
    lua.write_text("#!/bin/sh\n")
    lua.chmod(0o755)
    assert dawscripts.script_dirs("ardour", home, str(bin_dir)) == [home / "ardour7" / "scripts"]
    (home / "ardour6").mkdir()
    (home / "ardour8").mkdir()
    (home / "ardour8.bak").mkdir()  # not Ardour's
    assert dawscripts.script_dirs("ardour", home, str(bin_dir)) == [
        home / "ardour8" / "scripts",
        home / "ardour6" / "scripts",
    ]


def test_the_installed_ardour_scripts_are_the_ones_real_ardour_runs() -> None:
    """tests/test_ardour.py runs these very files inside a headless Ardour."""
    assert [f.name for f in dawscripts.shipped("ardour")] == sorted(
        p.name for p in (DAW / "ardour").glob("*.lua")
    )

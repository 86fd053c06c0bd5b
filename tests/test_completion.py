"""Shell completion (shtab) and the manual page: generated from the parser, shipped as
package data, and the shipped copies current."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from routing import completion, manpage
from tests.daemonrun import install_examples

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_completions_and_man_page_are_current() -> None:
    for shell in completion.SHELLS:
        name = completion.INSTALL[shell][1]
        shipped = (resources.files("routing") / "data" / "completions" / name).read_text(
            encoding="utf-8"
        )
        assert shipped == completion.script(shell), (
            f"run: dawroute completion {shell} > routing/data/completions/{name}"
        )
    shipped = (resources.files("routing") / "data" / "man" / "dawroute.1").read_text(
        encoding="utf-8"
    )
    assert shipped == manpage.render(), (
        "run: python -m routing.manpage > routing/data/man/dawroute.1"
    )


def test_man_page_lists_every_command_and_option() -> None:
    page = manpage.render()
    for word in ("init", "\\-\\-service", "off", "man", "check", "\\-\\-dry\\-run", "completion"):
        assert word in page
    if shutil.which("man"):
        out = subprocess.run(
            ["man", "-l", "-"], input=page, capture_output=True, text=True,
            env={**os.environ, "MANWIDTH": "80", "MAN_KEEP_FORMATTING": "0"},
        )  # fmt: skip
        text = re.sub(".\b", "", out.stdout)  # overstrike bold
        assert out.returncode == 0 and "dawroute check [-h] [--json] [paths ...]" in text


def _cli_env(tmp_path: Path) -> dict[str, str]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    # `dawroute` as the completion scripts call it: this checkout's
    (bindir / "dawroute").write_text(f'#!/bin/sh\nexec {sys.executable} -m routing "$@"\n')
    (bindir / "dawroute").chmod(0o755)
    env = dict(os.environ)
    env.update(
        PATH=f"{bindir}:{env['PATH']}", XDG_CONFIG_HOME=str(tmp_path / "config"),
        PYTHONPATH=str(ROOT),
    )  # fmt: skip
    return env


def test_profile_names_come_from_the_config_directory_not_the_daemon(tmp_path: Path) -> None:
    env = _cli_env(tmp_path)
    profiles = tmp_path / "config" / "dawroute" / "profiles"
    install_examples(profiles)
    (profiles / "broken.yaml").write_text("name: [unclosed\n")
    (profiles / "many.yaml").write_text("profiles:\n  - name: alpha\n  - name: beta\n")
    env["DAWROUTE_SOCKET"] = str(tmp_path / "no-daemon.sock")
    script = completion.script("bash")
    out = subprocess.run(
        ["bash", "-c", script + '\nCOMP_WORDS=(dawroute switch ""); COMP_CWORD=2; '
         'COMP_LINE="dawroute switch "; COMP_POINT=${#COMP_LINE}; '
         '_shtab_dawroute dawroute "" switch; printf "%s\\n" "${COMPREPLY[@]}"'],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    names = sorted(out.stdout.split())
    assert names == sorted(
        ["alpha", "beta", "mono-check", "phones-3-4", "speakers", "tracking", "tracking-duo",
         "usb-amp"]
    ), out.stderr  # fmt: skip
    out = subprocess.run(
        ["bash", "-c", script + '\nCOMP_WORDS=(dawroute check --); COMP_CWORD=2; '
         'COMP_LINE="dawroute check --"; COMP_POINT=${#COMP_LINE}; '
         '_shtab_dawroute dawroute -- check; printf "%s\\n" "${COMPREPLY[@]}"'],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert "--json" in out.stdout.split()


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_parse(shell: str, tmp_path: Path) -> None:
    exe = shutil.which(shell)
    if exe is None:
        why = f"{shell} not installed (apt-get install {shell}; ./scripts/test installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"{why}: CI must check the {shell} completion")
        pytest.skip(f"SKIPPED LOUDLY: {why}")
    path = tmp_path / f"completion.{shell}"
    path.write_text(completion.script(shell))
    out = subprocess.run([exe, "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    if shell == "fish":  # and it completes profile names from the config directory
        env = _cli_env(tmp_path)
        install_examples(tmp_path / "config" / "dawroute" / "profiles")
        out = subprocess.run(
            [exe, "--no-config", "-c", f"source {path}; complete -C 'dawroute switch usb'"],
            env=env, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert out.stdout.split()[:1] == ["usb-amp"], out.stdout + out.stderr

"""`check` on an empty directory, a config.yaml among the profiles, and log_level."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from routing.cli import main
from testbed import sandbox
from tests.conftest import hermetic_env, wait_until
from tests.daemonrun import Running, install_examples

EXAMPLES = Path(__file__).resolve().parent.parent / "profiles"


def test_check_on_an_empty_directory_is_an_error_with_a_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("not a profile\n")
    assert main(["check", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert err.startswith(f"{tmp_path}:1:1: no profiles in this directory")
    assert "`dawroute init` writes the examples" in err


def test_config_yaml_among_the_profiles_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    profiles = tmp_path / "dawroute" / "profiles"
    install_examples(profiles)
    (profiles / "config.yaml").write_text("log_level: debug\n")
    assert main(["check"]) == 0  # a warning: the profiles themselves are fine
    out = capsys.readouterr().out
    stray = profiles / "config.yaml"
    assert (
        f"{stray}:1:1: warning: daemon settings inside the profiles directory are not read" in out
    )
    assert str(tmp_path / "dawroute" / "config.yaml") in out
    # named on the command line, a directory's config.yaml is checked as the settings
    assert main(["check", str(EXAMPLES)]) == 0
    out = capsys.readouterr().out
    assert f"config: {EXAMPLES / 'config.yaml'} (daemon settings)" in out
    assert "warning: daemon settings" not in out


@pytest.mark.server
def test_log_level_is_honoured_and_verbose_wins(pulseaudio: sandbox.Stack, tmp_path: Path) -> None:
    env = hermetic_env(pulseaudio.env, tmp_path)
    cfg = Path(env["XDG_CONFIG_HOME"]) / "dawroute"
    install_examples(cfg / "profiles")
    (cfg / "config.yaml").write_text("log_level: warning\n")
    sandbox.plug(pulseaudio, sandbox.INTERFACE)
    daemon = Running(pulseaudio, env)
    daemon.start()
    try:
        (cfg / "config.yaml").write_text("log_level: warning\nsafety: {max_volume: 90%}\n")
        daemon.cli("reload")
    finally:
        assert daemon.stop() == 0
    log = daemon.log_text()
    assert " INFO " not in log and " DEBUG " not in log, log
    daemon.log.unlink()
    daemon.command = [sys.executable, "-m", "routing"]
    with open(daemon.log, "ab") as out:
        proc = subprocess.Popen(
            [*daemon.command, "daemon", "-v"], env=env, stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=sandbox.die_with_parent,  # noqa: PLW1509 - prctl() only
        )  # fmt: skip
    daemon.proc = proc
    try:
        wait_until(lambda: daemon.status()["active"], timeout=10, what="the daemon to route")
        assert " DEBUG " in daemon.log_text()
    finally:
        assert daemon.stop() == 0


def test_every_json_command_prints_one_object_and_an_error_object_on_failure(
    tmp_path: Path,
) -> None:
    """Scripts read one shape: a JSON object on stdout — also when the command fails."""
    import json
    import os
    import subprocess
    import sys

    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "XDG_RUNTIME_DIR": str(run),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PULSE_SERVER": f"unix:{tmp_path}/no-such-server",
    }
    for args in (["status", "--json"], ["list", "--json"], ["devices", "--json"]):
        out = subprocess.run(
            [sys.executable, "-m", "routing", *args],
            env=env, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert out.returncode != 0, args
        body = json.loads(out.stdout)
        assert isinstance(body, dict) and set(body) == {"error"}, (args, out.stdout)
        assert body["error"]["exit_code"] == out.returncode
        assert body["error"]["message"] and body["error"]["name"]

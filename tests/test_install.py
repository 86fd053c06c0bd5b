"""Installed like a Python tool: the wheel, in a fresh venv outside the checkout, runs
`init`, `check`, `schema` and a daemon on a real PulseAudio server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed import sandbox
from tests.conftest import hermetic_env, wait_until
from tests.daemonrun import Running, server_state

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A venv with the wheel built from this checkout (dependencies come from pip's
    configured indexes and cache, as `scripts/setup` left them). Returns its bin/."""
    base = tmp_path_factory.mktemp("installed")
    wheels = base / "wheels"
    # pip must not see this checkout on PYTHONPATH: it would take dawroute as installed
    pip_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(wheels)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=base,
        env=pip_env,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("dawroute-*.whl")
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    # the product only: the test bed (servers, fakes, the demo) stays in the checkout
    assert not [n for n in names if n.startswith("testbed/") or "sandbox" in n or "demo" in n]
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # this venv's pip installs into the new venv with --python (pip >= 22.3)
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "-q", str(wheel)],
        capture_output=True, text=True, timeout=600, cwd=base, env=pip_env,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    yield venv / "bin"


def _run(bindir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bindir / "dawroute"), *args],
        env=env,
        cwd=env["HOME"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _env(home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    env = hermetic_env(base or {"PATH": os.environ["PATH"]}, home)
    env.pop("PYTHONPATH", None)
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # never the developer's own systemd
    return env


def test_the_wheel_ships_its_data_and_runs_outside_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    env = _env(tmp_path)
    where = subprocess.run(
        [str(installed / "python"), "-c", "import routing; print(routing.__file__)"],
        env=env, cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert Path(where).is_relative_to(installed.parent), where

    out = _run(installed, env, "init")
    assert out.returncode == 0, out.stderr
    cfg = tmp_path / "config" / "dawroute"
    examples = sorted(p.name for p in (ROOT / "profiles").glob("*.yaml") if p.name != "config.yaml")
    assert sorted(p.name for p in (cfg / "profiles").iterdir()) == examples
    for name in examples:
        assert f"wrote {cfg / 'profiles' / name}" in out.stdout
    assert f"wrote {cfg / 'config.yaml'}" in out.stdout
    # the editor hints point at schema files next to the profiles, which exist
    first = (cfg / "profiles" / "speakers.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schema/profile.schema.json"
    assert (cfg / "profiles" / "../schema/profile.schema.json").is_file()
    first = (cfg / "config.yaml").read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=schema/config.schema.json"
    stored = json.loads((cfg / "schema" / "config.schema.json").read_text())
    assert stored == json.loads(_run(installed, env, "schema", "--config").stdout)

    # never overwrites what the user has
    (cfg / "profiles" / "speakers.yaml").write_text("# mine\n" + first)
    again = _run(installed, env, "init")
    assert f"kept {cfg / 'profiles' / 'speakers.yaml'} (exists; not overwritten)" in again.stdout
    assert "wrote" not in again.stdout
    assert (cfg / "profiles" / "speakers.yaml").read_text().startswith("# mine\n")
    (cfg / "profiles" / "speakers.yaml").unlink()
    _run(installed, env, "init")

    check = _run(installed, env, "check")
    assert check.returncode == 0, check.stderr
    assert f"ok: {len(examples)} profile(s)" in check.stdout
    assert f"config: {cfg / 'config.yaml'} (daemon settings)" in check.stdout
    schema = json.loads(_run(installed, env, "schema").stdout)
    assert schema["title"].startswith("dawroute")

    # no user bus here: the unit is written, pointing at this install, and the commands said
    svc = _run(installed, env, "init", "--service")
    assert svc.returncode == 0, svc.stderr
    unit = (tmp_path / "config" / "systemd" / "user" / "dawroute.service").read_text()
    assert f"ExecStart={installed / 'dawroute'} daemon\n" in unit
    assert "systemctl --user daemon-reload && systemctl --user enable --now dawroute" in svc.stdout

    man = _run(installed, env, "man")
    assert man.returncode == 0 and man.stdout.startswith(".TH DAWROUTE 1")
    for shell in ("bash", "zsh", "fish"):
        comp = _run(installed, env, "completion", shell)
        assert comp.returncode == 0 and "dawroute" in comp.stdout, comp.stderr


@pytest.mark.server
def test_the_installed_daemon_routes_on_a_real_server(
    installed: Path, pulseaudio: sandbox.Stack, tmp_path: Path
) -> None:
    env = _env(tmp_path, pulseaudio.env)
    assert _run(installed, env, "init").returncode == 0
    sandbox.plug(pulseaudio, sandbox.INTERFACE)
    sandbox.start_daw(pulseaudio, sink=sandbox.INTERFACE.name)
    wait_until(lambda: server_state(pulseaudio)[0] == [sandbox.INTERFACE.name], what="the DAW")
    daemon = Running(pulseaudio, env, command=[str(installed / "dawroute")])
    daemon.start()
    try:
        st = daemon.status()
        assert st["active"] == "speakers", daemon.log_text()
        assert "speakers" in daemon.cli("status").stdout
        daw, default, _ = server_state(pulseaudio)
        assert daw == [default] and default.startswith("dawroute.speakers.")
    finally:
        assert daemon.stop() == 0, daemon.log_text()

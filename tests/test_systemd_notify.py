"""What systemd hears from the daemon (sd_notify): READY, a STATUS= that is always
current — after a server restart too — and RELOADING=1/READY=1 around a reload. And
the unit's hardening score."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed import sandbox
from tests.conftest import hermetic_env, wait_until
from tests.daemonrun import Running, install_examples, routed_to

ROOT = Path(__file__).resolve().parent.parent


class Notifications:
    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.messages: list[str] = []

    def read(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return self.messages

    def statuses(self) -> list[str]:
        return [
            line.removeprefix("STATUS=")
            for m in self.read()
            for line in m.splitlines()
            if line.startswith("STATUS=")
        ]


@pytest.fixture
def notified(pulseaudio: sandbox.Stack, tmp_path: Path) -> Iterator[tuple[Running, Notifications]]:
    env = hermetic_env(pulseaudio.env, tmp_path)
    install_examples(Path(env["XDG_CONFIG_HOME"]) / "dawroute" / "profiles")
    sink = tmp_path / "notify.sock"
    notes = Notifications(sink)
    env["NOTIFY_SOCKET"] = str(sink)
    sandbox.plug(pulseaudio, sandbox.INTERFACE)
    sandbox.plug(pulseaudio, sandbox.USB_AMP)
    sandbox.start_daw(pulseaudio, sink=sandbox.INTERFACE.name)
    running = Running(pulseaudio, env)
    running.start()
    yield running, notes
    assert running.stop() == 0


def test_status_tells_the_truth_after_a_server_restart_and_around_a_reload(
    notified: tuple[Running, Notifications], pulseaudio: sandbox.Stack
) -> None:
    daemon, notes = notified
    wait_until(lambda: routed_to(pulseaudio, sandbox.USB_AMP.name), what="DAW on the amp")
    wait_until(lambda: notes.statuses()[-1:] == ["active profile: usb-amp"], what="STATUS")
    assert any("READY=1" in m for m in notes.read())
    sandbox.stop_server(pulseaudio)
    wait_until(lambda: notes.statuses()[-1:] == ["sound server unavailable"], what="down")
    sandbox.start_server(pulseaudio)
    sandbox.plug(pulseaudio, sandbox.INTERFACE)
    sandbox.plug(pulseaudio, sandbox.USB_AMP)
    sandbox.start_daw(pulseaudio, sink=sandbox.INTERFACE.name)
    # the same profile as before the restart: STATUS must still come back to it
    wait_until(
        lambda: notes.statuses()[-1:] == ["active profile: usb-amp"], what="STATUS after restart"
    )
    before = len(notes.read())
    daemon.cli("reload")
    wait_until(lambda: any("READY=1" in m for m in notes.read()[before:]), what="READY after")
    after = notes.read()[before:]
    reloading = next(i for i, m in enumerate(after) if "RELOADING=1" in m)
    ready = next(i for i, m in enumerate(after) if "READY=1" in m)
    assert reloading < ready


def test_the_unit_is_hardened_to_an_exposure_of_at_most_2(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("SKIPPED LOUDLY: systemd-analyze not installed (Debian package systemd)")
    unit = tmp_path / "dawroute.service"
    exe = str(Path(sys.executable).parent / "dawroute")
    unit.write_text((ROOT / "systemd" / "dawroute.service").read_text().replace(
        "%h/.local/bin/dawroute", exe
    ))  # fmt: skip
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    out = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--user", str(unit)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": str(run), "HOME": str(tmp_path)},
        timeout=60,
    )
    found = re.search(r"Overall exposure level for dawroute.service: ([\d.]+)", out.stdout)
    assert found, out.stdout[-2000:] + out.stderr[-2000:]
    assert float(found.group(1)) <= 2.0, out.stdout

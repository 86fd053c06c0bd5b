"""The daemon against hostile input (the "Hardening" issue): each test reproduces one
defect a reliability pass found. Runs on PulseAudio only: the defects are in the
daemon, not in the sound server it talks to (the fuzz suite is in test_fuzz.py)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from testbed import sandbox
from tests.conftest import wait_until
from tests.daemonrun import Running, routed_to
from tests.test_hostile_config import alias_bomb

pytestmark = pytest.mark.parametrize("server", ["pulseaudio"], indirect=True)

AMP = sandbox.USB_AMP


def ask(path: Path, payload: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes on the control socket; the first reply line (b"" if none)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(payload)
        return s.makefile("rb").readline()


def status_latency(daemon: Running) -> float:
    t0 = time.monotonic()
    reply = json.loads(ask(daemon.socket, b'{"id": 1, "method": "status"}\n'))
    assert reply["result"]["active"]
    return time.monotonic() - t0


class Prober:
    """Asks for status every 50 ms in a thread; records the slowest answer."""

    def __init__(self, daemon: Running) -> None:
        self.daemon, self.worst, self.count = daemon, 0.0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.worst = max(self.worst, status_latency(self.daemon))
            self.count += 1
            time.sleep(0.05)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


# ---------------------------------------------------------------- rows 1 and 2: reload


def test_hostile_files_in_profiles_never_block_the_daemon(
    daemon: Running, server: sandbox.Stack
) -> None:
    d = daemon.profiles
    with Prober(daemon) as probe:
        (d / "bomb.yaml").write_text(alias_bomb())
        os.mkfifo(d / "p.yaml")
        (d / "zero.yaml").symlink_to("/dev/zero")
        (d / "big.yaml").write_bytes(b"a" * 20_000_000)
        (d / "keys.yaml").write_text("".join(f"k{i}: {i}\n" for i in range(18_000)))
        out = daemon.cli("reload", check=False)
        sandbox.plug(server, AMP)  # routing carries on with the last good profiles
        wait_until(lambda: routed_to(server, AMP.name), what="DAW on the amp")
    assert out.returncode == 3, out.stderr
    assert "Traceback" not in out.stderr
    for what in ("bomb.yaml:5:1: too many values", "p.yaml:1:1: a named pipe (FIFO)",
                 "zero.yaml:1:1: a character device", "big.yaml:1:1: file too large",
                 "keys.yaml:10000:8: too many values"):  # fmt: skip
        assert what in out.stderr, out.stderr
    assert probe.count > 3 and probe.worst < 1.0, probe.worst  # the loop was never blocked
    st = daemon.status()
    assert st["active"] == "usb-amp" and st["config"]["profiles"] == 6
    assert "Traceback" not in daemon.log_text()


def test_a_reload_over_its_time_limit_is_abandoned_and_the_socket_keeps_answering(
    daemon: Running,
) -> None:
    # 40 files just under the node limit: ~0.5 s each to parse, far past the 10 s limit
    apps = "[" + "a, " * 19_900 + "a]"
    for n in range(40):
        (daemon.profiles / f"slow-{n:02}.yaml").write_text(
            f"name: slow-{n}\nauto: false\noutput: {{name: x}}\ndaw: {{apps: {apps}}}\n"
        )
    with Prober(daemon) as probe:
        t0 = time.monotonic()
        out = daemon.cli("reload", check=False)
        took = time.monotonic() - t0
    assert out.returncode == 3 and "took longer than 10 s" in out.stderr, out.stderr
    assert took < 26  # the reload the writes started (inotify), then the one asked for
    assert probe.count > 20 and probe.worst < 1.0, probe.worst
    st = daemon.status()  # a reload triggered while the files were written may have
    assert st["config"]["profiles"] < 46 and st["config"]["errors"]  # seen a few of them


# ---------------------------------------------------------------- row 4: reply sizes


def test_3000_unknown_keys_give_a_bounded_reply_and_status_keeps_working(
    daemon: Running,
) -> None:
    bad = daemon.profiles / "unknown-keys.yaml"
    bad.write_text(
        "name: many\noutput: {name: x}\n" + "".join(f"unknown_key_{i:05}: 1\n" for i in range(3000))
    )
    for _ in range(3):  # every failed reload used to keep its full error list in the history
        out = daemon.cli("reload", check=False)
        assert out.returncode == 3 and "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert lines[0].startswith(f"dawroute: {bad}:3:1: unknown_key_00000: unknown key")
    assert lines[-1] == "… and 2980 more — run `dawroute check` to see them all"
    assert len(lines) == 21
    raw = ask(daemon.socket, b'{"id": 1, "method": "status"}\n')
    assert len(raw) < 64 * 1024, len(raw)
    st = json.loads(raw)["result"]
    assert len(st["config"]["errors"]) == 21
    failed = [e for e in st["events"] if e["kind"] == "config" and "errors" in e]
    assert failed and all(len(e["errors"]) == 4 for e in failed)  # 3 and "… and N more"
    bad.unlink()
    daemon.cli("reload")
    assert daemon.cli("status").returncode == 0
    assert len(ask(daemon.socket, b'{"id": 1, "method": "status"}\n')) < 64 * 1024


# ---------------------------------------------------------------- row 6: malformed lines

MALFORMED = {
    "invalid UTF-8": b'{"id": 1, "method": "st\xff\xfeatus"}\n',
    "UTF-16 JSON": '{"id": 1, "method": "status"}'.encode("utf-16") + b"\n",
    "5,000-digit id": b'{"id": ' + b"9" * 5000 + b', "method": "status"}\n',
    "5,000-digit number": b'{"id": 1, "method": "status", "params": {"x": ' + b"1" * 5000 + b"}}\n",
    "deep nesting": b'{"id": 1, "params": ' + b"[" * 30000 + b"]" * 30000 + b"}\n",
    "deep objects": b'{"id": 1, "params": ' + b'{"a": ' * 9000 + b"1" + b"}" * 9000 + b"}\n",
    "list id": b'{"id": [1, 2], "method": "status"}\n',
    "object method": b'{"id": 1, "method": {"a": 1}}\n',
    "NUL bytes": b"\x00\x00\x00\n",
    "lone surrogate": b'{"id": "\\ud800", "method": "nope"}\n',
    "NaN id": b'{"id": NaN, "method": "status"}\n',
    "no newline then EOF": b'{"id": 1, "method": "list"',
}


@pytest.mark.parametrize("payload", MALFORMED.values(), ids=MALFORMED.keys())
def test_every_malformed_line_gets_an_error_reply_and_no_traceback(
    daemon: Running, payload: bytes
) -> None:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(daemon.socket))
        s.sendall(payload)
        if not payload.endswith(b"\n"):
            s.shutdown(socket.SHUT_WR)
        raw = s.makefile("rb").readline()
    reply = json.loads(raw)
    if "result" not in reply:
        assert reply["error"]["name"] == "BadRequest", reply
    assert status_latency(daemon) < 1.0
    assert "Traceback" not in daemon.log_text()


# ---------------------------------------------------------------- row 5: connections


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_1100_idle_connections_do_not_starve_the_daemon(daemon: Running) -> None:
    assert daemon.proc is not None
    before = fd_count(daemon.proc.pid)
    log_before = len(daemon.log_text())
    idle = []
    try:
        for _ in range(1100):
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(10)
            s.connect(str(daemon.socket))
            idle.append(s)
            if len(idle) % 100 == 0:
                assert status_latency(daemon) < 2.0
        out = daemon.cli("status", check=False)
        assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
        during = fd_count(daemon.proc.pid)
    finally:
        for s in idle:
            s.close()
    print(f"\n1100 idle connections: daemon fds {before} before, {during} during")
    assert during <= before + 64 + 2, (before, during)
    daemon.cli("switch", "speakers")  # and a state save works
    new_log = daemon.log_text()[log_before:]
    assert "Traceback" not in new_log and len(new_log.splitlines()) < 20, new_log[-3000:]


# ---------------------------------------------------------------- row 8: one daemon


def test_a_second_daemon_exits_naming_the_first_and_leaves_its_socket_alone(
    daemon: Running,
) -> None:
    import subprocess
    import sys

    assert daemon.proc is not None
    inode = daemon.socket.stat().st_ino
    out = subprocess.run(
        [sys.executable, "-m", "routing", "daemon"],
        env=daemon.env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert out.returncode == 12, out.stderr
    assert (
        out.stderr.strip()
        .splitlines()[-1]
        .startswith(
            f"dawroute: another dawroute daemon is already running (pid {daemon.proc.pid}, lock "
        )
    )
    assert daemon.socket.stat().st_ino == inode  # the live socket was not replaced
    assert daemon.status()["active"]  # and status still reaches the first daemon
    lock = daemon.socket.parent / "daemon.lock"
    assert lock.read_text().strip() == str(daemon.proc.pid)
    assert lock.stat().st_mode & 0o777 == 0o600


def test_scripts_run_uses_a_running_daemon(daemon: Running) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    fakebin = Path(daemon.env["HOME"]) / "bin"
    fakebin.mkdir()
    for tool, body in (("pactl", "echo 'Server Name: test'"),):
        (fakebin / tool).write_text(f"#!/bin/sh\n{body}\n")
        (fakebin / tool).chmod(0o755)
    venv_bin = Path(sys.executable).parent  # where `dawroute` is installed
    env = {**daemon.env, "PATH": f"{fakebin}:{venv_bin}:{os.environ['PATH']}"}
    script = (root / "scripts" / "run").read_text().replace("scripts/setup\n", "true\n")
    run = Path(daemon.env["HOME"]) / "run.sh"
    run.write_text(script.replace('cd "$(dirname "$0")/.."', f"cd {root}"))
    out = subprocess.run(["bash", str(run)], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "a daemon is already running; using it" in out.stdout
    assert "active:" in out.stdout


# ---------------------------------------------------------------- row 9: state


def test_stale_state_temp_files_are_removed_at_start(daemon: Running) -> None:
    assert daemon.stop() == 0
    d = daemon.state_file.parent
    for n in range(3):  # what kill -9 between write and rename leaves behind
        (d / f".state-killed{n}").write_text('{"active": "spea')
    daemon.start()
    assert sorted(p.name for p in d.iterdir()) == ["state.json"]
    assert "removed 3 stale state temp file(s)" in daemon.log_text()


def test_a_failed_state_save_is_logged_recorded_and_shown(daemon: Running) -> None:
    import shutil

    d = daemon.state_file.parent
    shutil.rmtree(d)
    d.write_text("not a directory")  # every save now fails
    try:
        out = daemon.cli("switch", "phones-3-4")
        assert "phones-3-4: manual choice" in out.stdout
        log = daemon.log_text()
        assert "phones-3-4: manual choice" in log  # the decision is logged…
        assert f"cannot save state to {daemon.state_file}" in log
        st = daemon.status()
        assert st["state"]["error"].startswith(f"cannot save state to {daemon.state_file}")
        assert [e for e in st["events"] if e["kind"] == "decision"][-1]["profile"] == "phones-3-4"
        assert "the choice is not remembered across restarts" in daemon.cli("status").stdout
        daemon.cli("switch", "speakers")
        assert daemon.log_text().count("cannot save state") == 1  # once per cause, not a flood
    finally:
        d.unlink()
    daemon.cli("switch", "phones-3-4")
    assert daemon.status()["state"]["error"] is None
    assert json.loads(daemon.state_file.read_text())["manual"] == "phones-3-4"


# ---------------------------------------------------------------- row 10: apply


def test_apply_with_the_daemon_running_goes_through_it_and_sticks(
    daemon: Running, server: sandbox.Stack
) -> None:
    from tests.daemonrun import routed_to_ours

    wait_until(lambda: routed_to_ours(server, "speakers"), what="the fallback at start")
    out = daemon.cli("apply", "phones-3-4")
    assert "switched through it" in out.stderr and "phones-3-4: manual choice" in out.stdout
    wait_until(lambda: routed_to_ours(server, "phones-3-4"), what="applied")
    time.sleep(0.5)  # the daemon used to undo it ~100 ms later
    assert routed_to_ours(server, "phones-3-4")
    assert daemon.status()["manual"] == "phones-3-4"
    other = daemon.cli("apply", "speakers", "--profiles", str(daemon.profiles), check=False)
    assert other.returncode == 1
    assert other.stderr.strip().startswith("dawroute: the daemon is running with its own profiles")
    assert routed_to_ours(server, "phones-3-4")

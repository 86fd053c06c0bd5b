"""The CLI against a misbehaving peer on the control socket: replies of any size the
daemon can send, silence, a closed output pipe, and a stranger answering (rows 4, 7, 11
of the "Hardening" issue). A fake daemon in a thread stands in for the real one."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

Reply = Callable[[socket.socket], None]


class FakeDaemon:
    """Accepts connections on `path` and lets `reply` answer each one."""

    def __init__(self, path: Path, reply: Reply) -> None:
        self.path, self.reply = path, reply
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(str(path))
        self.sock.listen(16)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.makefile("rb").readline()
                with contextlib.suppress(OSError):
                    self.reply(conn)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[Callable[[Reply], FakeDaemon]]:
    made: list[FakeDaemon] = []

    def start(reply: Reply) -> FakeDaemon:
        made.append(FakeDaemon(tmp_path / "control.sock", reply))
        return made[-1]

    yield start
    for f in made:
        f.close()


def cli(tmp_path: Path, *args: str, timeout: float = 30, shell: str | None = None, **env: str):
    full = {**os.environ, "DAWROUTE_SOCKET": str(tmp_path / "control.sock"), **env}
    cmd = shell or " ".join([sys.executable, "-m", "routing", *args])
    return subprocess.run(
        cmd, shell=True, env=full, capture_output=True, text=True, timeout=timeout
    )


def status_reply(**extra: object) -> dict[str, object]:
    return {
        "active": "speakers", "active_since": 1.0, "manual": None, "manual_since": None,
        "reason": "speakers: fallback", "problems": [], "target": None, "outputs": [],
        "streams": [], "server": {"available": True, "kind": "pulseaudio", "version": "16"},
        "config": {"profiles": 1, "loaded_at": 1.0, "errors": [], "warnings": []},
        "events": [], "midi": None, **extra,
    }  # fmt: skip


def test_a_reply_over_256_kib_is_read_whole(tmp_path: Path, fake) -> None:
    problems = [f"problem {i}: " + "x" * 100 for i in range(5000)]  # ~600 KB
    fake(
        lambda c: c.sendall(
            json.dumps({"id": 1, "result": status_reply(problems=problems)}).encode() + b"\n"
        )
    )
    out = cli(tmp_path, "status", "--json")
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["problems"]) == 5000


def test_a_truncated_or_garbage_reply_is_a_sentence(tmp_path: Path, fake) -> None:
    fake(lambda c: c.sendall(b'{"id": 1, "result": {"act'))
    out = cli(tmp_path, "status")
    assert out.returncode == 4 and "Traceback" not in out.stderr
    assert out.stderr.strip() == (
        "dawroute: the daemon closed the connection in the middle of its reply"
    )


def test_the_daemon_never_sends_a_line_longer_than_the_cli_reads() -> None:
    from routing.contract import MAX_REPLY
    from routing.control import _encode

    small = _encode({"id": 3, "result": {"x": "y"}})
    assert small == b'{"id": 3, "result": {"x": "y"}}\n'
    big = _encode({"id": 3, "result": {"x": "y" * (MAX_REPLY + 10)}})
    assert len(big) < 1000 and big.endswith(b"\n")
    assert json.loads(big)["error"]["message"].startswith("the reply would be ")

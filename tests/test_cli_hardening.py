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
import time
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
        cmd, shell=True, executable="/bin/bash", env=full, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


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


def test_cli_against_a_full_listen_queue_says_the_daemon_is_not_responding(
    tmp_path: Path,
) -> None:
    path = tmp_path / "control.sock"
    with socket.socket(socket.AF_UNIX) as srv:
        srv.bind(str(path))
        srv.listen(0)  # never accepts: the queue fills at once
        fillers = []
        for _ in range(8):
            c = socket.socket(socket.AF_UNIX)
            c.setblocking(False)
            try:
                c.connect(str(path))
            except BlockingIOError:
                c.close()
                break
            fillers.append(c)
        env = {**os.environ, "DAWROUTE_SOCKET": str(path), "DAWROUTE_TIMEOUT": "1"}
        out = subprocess.run(
            [sys.executable, "-m", "routing", "status"], env=env, capture_output=True, text=True
        )
        for c in fillers:
            c.close()
    assert out.returncode == 11, out.stderr
    assert out.stderr.startswith(
        "dawroute: the daemon is not accepting connections (tried for 1 s)"
    )


EMFILE_SERVER = """
import asyncio, logging, resource, sys
from pathlib import Path
from routing import runtime
from routing.control import ControlServer

class Handler:
    async def status(self):
        return {"ok": True}

async def main():
    runtime.install_exception_handler(asyncio.get_running_loop())
    server = ControlServer(Handler(), Path(sys.argv[1]), max_connections=10_000)
    await server.start()
    print("ready", flush=True)
    await asyncio.sleep(float(sys.argv[2]))
    await server.close()

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))
asyncio.run(main())
"""


def test_running_out_of_descriptors_is_one_log_line_not_a_flood(tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    proc = subprocess.Popen(
        [sys.executable, "-c", EMFILE_SERVER, str(path), "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    conns = []
    for _ in range(80):  # past the 48-descriptor limit: accept() fails with EMFILE
        c = socket.socket(socket.AF_UNIX)
        c.settimeout(2)
        with contextlib.suppress(OSError):
            c.connect(str(path))
        conns.append(c)
    time.sleep(3)  # asyncio retries accept() every second meanwhile
    for c in conns:
        c.close()
    _, err = proc.communicate(timeout=30)
    lines = err.strip().splitlines()
    assert "Traceback" not in err, err[-2000:]
    assert len(lines) == 1 and "out of system resource" in lines[0], err[-2000:]
    assert "Too many open files" in lines[0]


# ---------------------------------------------------------------- row 7: who answers


def daemon_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_RUNTIME_DIR", "DAWROUTE_SOCKET")}
    env.update(
        TMPDIR=str(tmp_path),
        HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        PULSE_SERVER="unix:/nonexistent",
    )
    return env


@pytest.mark.parametrize("owner", ["me", "nobody"])
def test_daemon_refuses_a_runtime_dir_another_user_made(tmp_path: Path, owner: str) -> None:
    if owner == "nobody" and os.getuid() != 0:
        pytest.skip("needs root to create a directory owned by another user")
    base = tmp_path / f"dawroute-{os.getuid()}"
    base.mkdir()
    base.chmod(0o777)
    if owner == "nobody":
        os.chown(base, 65534, 65534)
    out = subprocess.run(
        [sys.executable, "-m", "routing", "daemon"],
        env=daemon_env(tmp_path), capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert out.returncode == 10, out.stderr
    said = out.stderr.strip().splitlines()[-1]
    if owner == "nobody":
        assert said.startswith(f"dawroute: {base} belongs to uid 65534, not to you")
    else:
        assert said.startswith(f"dawroute: {base} has mode 0777: other users can enter it")
    assert not (base / "dawroute").exists()  # nothing created inside it


def test_runtime_dirs_are_created_private(tmp_path: Path, monkeypatch) -> None:
    from routing import paths, runtime

    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.delenv("DAWROUTE_SOCKET", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    dirs = paths.private_dirs()
    assert dirs == [
        tmp_path / f"dawroute-{os.getuid()}",
        tmp_path / f"dawroute-{os.getuid()}" / "dawroute",
    ]
    for d in dirs:
        runtime.ensure_private_dir(d)
        assert d.stat().st_mode & 0o777 == 0o700
    runtime.ensure_private_dir(dirs[0])  # an existing private one is fine


ESCAPES = "\x1b[2J\x1b]0;owned\x07\u202e"


def test_cli_prints_no_raw_control_characters_from_the_daemon(tmp_path: Path, fake) -> None:
    err = {"name": "ProfileNotFound", "message": f"no profile named 'x{ESCAPES}'"}
    fake(lambda c: c.sendall(json.dumps({"id": 1, "error": err}).encode() + b"\n"))
    out = cli(tmp_path, "switch", "x")
    assert out.returncode == 5
    assert out.stderr.strip() == "dawroute: no profile named 'x\\x1b[2J\\x1b]0;owned\\x07\\u202e'"


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to act as another user")
def test_cli_refuses_a_socket_answered_by_another_user(tmp_path: Path) -> None:
    nobody = 65534
    tmp_path.chmod(0o777)
    path = tmp_path / "control.sock"
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the other user's fake daemon
        try:
            os.chdir(tmp_path)  # as root: nobody cannot traverse pytest's 0700 parents
            os.setgid(nobody)
            os.setuid(nobody)
            srv = socket.socket(socket.AF_UNIX)
            srv.bind(path.name)
            srv.listen(1)
            os.write(ready_w, b"x")
            conn, _ = srv.accept()
            conn.makefile("rb").readline()
            conn.sendall(json.dumps({"id": 1, "result": {"reason": ESCAPES}}).encode() + b"\n")
            conn.close()
        finally:
            os._exit(0)
    os.close(ready_w)
    try:
        assert os.read(ready_r, 1) == b"x"
        out = cli(tmp_path, "auto")
    finally:
        os.close(ready_r)
        with contextlib.suppress(ChildProcessError):
            os.kill(pid, 9)
            os.waitpid(pid, 0)
    assert out.returncode == 10, out.stderr
    assert f"is answered by a process of uid {nobody}" in out.stderr
    assert "\x1b" not in out.stdout + out.stderr


# ---------------------------------------------------------------- row 11: time-outs, pipes


def test_a_daemon_that_never_answers_is_a_sentence_and_exit_11(tmp_path: Path, fake) -> None:
    fake(lambda c: time.sleep(5))
    t0 = time.monotonic()
    out = cli(tmp_path, "status", DAWROUTE_TIMEOUT="1")
    assert time.monotonic() - t0 < 4
    assert out.returncode == 11 and "Traceback" not in out.stderr
    assert out.stderr.startswith("dawroute: the daemon did not answer within 1 s")


def test_a_daemon_closing_without_answer_is_a_sentence(tmp_path: Path, fake) -> None:
    fake(lambda c: None)
    out = cli(tmp_path, "list")
    assert out.returncode == 4
    assert out.stderr.strip() == "dawroute: the daemon closed the connection without answering"


@pytest.mark.parametrize(
    "args", ["status", "status --json", "schema", "schema --config", "completion", "--help"]
)
def test_a_closed_output_pipe_ends_with_a_sentence_not_a_traceback(
    tmp_path: Path, fake, args: str
) -> None:
    events = [{"time": 1.0, "kind": "decision", "message": f"event {i}"} for i in range(10)]
    problems = [f"problem {i}" for i in range(20000)]  # more than a pipe buffer holds
    reply = {"id": 1, "result": status_reply(events=events, problems=problems)}
    fake(lambda c: c.sendall(json.dumps(reply).encode() + b"\n"))
    me = f"{sys.executable} -m routing {args}"
    out = cli(tmp_path, shell=f"{me} | head -c 10 >/dev/null; echo ${{PIPESTATUS[0]}}")
    assert "Traceback" not in out.stderr and "Exception ignored" not in out.stderr, out.stderr
    code = int(out.stdout.strip())
    if code == 0:  # `--help` may fit into the pipe before head exits: nothing to say
        assert out.stderr == ""
    else:
        assert code == 141
        assert out.stderr.strip() == "dawroute: output closed early (broken pipe); stopped"

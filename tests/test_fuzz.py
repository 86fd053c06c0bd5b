"""Fuzzing the daemon (the "Hardening" issue): hypothesis over the control protocol —
bytes, encodings, sizes, nesting — and over hostile files through the reload path,
against one real daemon on a real PulseAudio. The properties: every request line gets
one JSON reply (a result or a named error), the daemon keeps answering status, its
descriptor count stays flat, and its log holds no traceback.

FUZZ_EXAMPLES=N runs N examples per property (default 150); the figures in
docs/reliability.md come from FUZZ_EXAMPLES=2000.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.contract import MAX_LINE
from routing.errors import ERRORS_BY_NAME
from tests.daemonrun import Running
from tests.test_hostile_config import alias_bomb

pytestmark = pytest.mark.parametrize("server", ["pulseaudio"], indirect=True)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
SAFE_METHODS = ["status", "list", "switch"]  # no watch (streams), no routing changes
ENCODINGS = ["utf-8", "utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252"]

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=40)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)


@st.composite
def request_objects(draw: st.DrawFn) -> bytes:
    req: dict[str, object] = {}
    if draw(st.booleans()):
        req["id"] = draw(st.one_of(json_value, st.integers(-(2**70), 2**70)))
    method = draw(st.one_of(st.sampled_from(SAFE_METHODS), st.text(max_size=30), json_value))
    if method not in ("watch", "next", "previous", "auto", "reload"):
        req["method"] = method
    if draw(st.booleans()):
        req["params"] = draw(st.one_of(json_value, st.dictionaries(st.just("profile"), json_value)))
    text = json.dumps(req, ensure_ascii=draw(st.booleans()))
    encoding = draw(st.sampled_from(ENCODINGS))
    return text.encode(encoding, errors="replace")


@st.composite
def nested(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(1, 40_000))
    kind = draw(st.sampled_from(["[]", "{}"]))
    inner = b"[" * depth + b"]" * depth if kind == "[]" else b'{"a":' * depth + b"1" + b"}" * depth
    return b'{"id": 1, "method": "status", "params": {"x": ' + inner + b"}}"


@st.composite
def big_numbers(draw: st.DrawFn) -> bytes:
    digits = b"9" * draw(st.integers(1, 20_000))
    where = draw(st.sampled_from(["id", "params"]))
    if where == "id":
        return b'{"id": ' + digits + b', "method": "status"}'
    return b'{"id": 1, "method": "status", "params": {"profile": ' + digits + b"}}"


@st.composite
def sized(draw: st.DrawFn) -> bytes:
    size = draw(st.sampled_from([0, 1, MAX_LINE - 100, MAX_LINE, MAX_LINE + 1, 3 * MAX_LINE]))
    fill = draw(st.sampled_from([b"x", b" ", b"\xff", b"\x00", b"{"]))
    return fill * size


lines = st.one_of(
    st.binary(max_size=3000),
    request_objects(),
    nested(),
    big_numbers(),
    sized(),
).map(lambda b: b.replace(b"\n", b" ") + b"\n")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def one_reply(path: str, line: bytes) -> dict[str, object]:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(path)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            s.sendall(line)  # an oversized line is answered and cut off before all is sent
        raw = s.makefile("rb").readline()
    assert raw.endswith(b"\n"), (line[:200], raw[:200])
    reply = json.loads(raw)
    assert isinstance(reply, dict) and ("result" in reply) != ("error" in reply), reply
    if "error" in reply:
        assert reply["error"]["name"] in ERRORS_BY_NAME, reply
    return reply


TRIED: dict[str, int] = {"control": 0, "files": 0}


def test_fuzz_the_control_protocol(daemon: Running) -> None:
    assert daemon.proc is not None
    pid, path = daemon.proc.pid, str(daemon.socket)
    one_reply(path, b'{"id": 0, "method": "status"}\n')
    before = fd_count(pid)

    @FUZZ
    @given(line=lines)
    def check(line: bytes) -> None:
        TRIED["control"] += 1
        one_reply(path, line)

    check()
    time.sleep(0.2)  # let the daemon close the last connections
    after = fd_count(pid)
    print(f"\nFUZZ control: {TRIED['control']} lines, fds {before} -> {after}")
    assert after <= before + 2, (before, after)
    assert daemon.status()["active"]
    assert "Traceback" not in daemon.log_text()


# ---------------------------------------------------------------- hostile files


@st.composite
def hostile_yaml(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["bomb", "deep", "wide", "binary", "tags", "mixed", "anchors"]))
    if kind == "bomb":
        return alias_bomb(draw(st.integers(1, 9)), draw(st.integers(1, 12))).encode()
    if kind == "deep":
        n = draw(st.integers(1, 5000))
        flow = draw(st.booleans())
        body = (
            "[" * n + "]" * n if flow else "".join(f"{' ' * i}k{i}:\n" for i in range(min(n, 300)))
        )
        return f"name: deep\noutput: {body}\n".encode() if flow else body.encode()
    if kind == "wide":
        n = draw(st.integers(1, 30_000))
        return "".join(f"key_{i}: {i}\n" for i in range(n)).encode()[: 250 * 1024]
    if kind == "binary":
        return draw(st.binary(max_size=4000))
    if kind == "tags":
        tag = draw(st.sampled_from(["!!python/object/apply:os.system", "!!binary", "!!set",
                                    "!!timestamp", "!custom", "!!omap", "!!float"]))  # fmt: skip
        return f"name: {tag} x\noutput: {{name: {tag} y}}\n".encode()
    if kind == "anchors":
        n = draw(st.integers(1, 200))
        refs = ", ".join(f"*a{i % 7}" for i in range(n))
        base = "".join(f"a{i}: &a{i} {{name: n{i}, <<: *a{i - 1}}}\n" if i else "a0: &a0 {name: n0}\n"
                       for i in range(7))  # fmt: skip
        return (base + f"all: [{refs}]\n").encode()
    return draw(st.text(max_size=2000)).encode("utf-8", errors="replace")


def test_fuzz_hostile_files_through_reload(daemon: Running) -> None:
    assert daemon.proc is not None
    pid, path = daemon.proc.pid, str(daemon.socket)
    target = daemon.profiles / "fuzz.yaml"
    before = fd_count(pid)
    worst = 0.0

    @settings(FUZZ, max_examples=max(10, EXAMPLES // 3))
    @given(content=hostile_yaml())
    def check(content: bytes) -> None:
        nonlocal worst
        TRIED["files"] += 1
        target.write_bytes(content)
        t0 = time.monotonic()
        reply = one_reply(path, b'{"id": 1, "method": "reload"}\n')
        worst = max(worst, time.monotonic() - t0)
        if "error" in reply:
            assert reply["error"]["name"] == "ConfigInvalid", reply  # type: ignore[index]
        t0 = time.monotonic()
        one_reply(path, b'{"id": 2, "method": "status"}\n')
        assert time.monotonic() - t0 < 1.0

    check()
    target.unlink()
    assert "result" in one_reply(path, b'{"id": 3, "method": "reload"}\n')
    after = fd_count(pid)
    print(
        f"\nFUZZ files: {TRIED['files']} files, slowest reload {worst:.2f} s, fds {before} -> {after}"
    )
    assert after <= before + 2, (before, after)
    assert daemon.status()["config"]["profiles"] == 6
    assert "Traceback" not in daemon.log_text()

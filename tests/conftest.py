"""Real sound servers for the integration tests (started per test: 15-60 ms each).

A missing server binary skips the test with the reason printed in the summary
(-ra): it never passes silently. At the end of the session we assert that no
server process we started is still alive.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from testbed import sandbox

_STARTED: list[int] = []


@pytest.fixture(scope="session", autouse=True)
def _hermetic_client_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """libpulse in THIS process would otherwise write ~/.config/pulse and /tmp/pulse-*."""
    d = tmp_path_factory.mktemp("pulse-client")
    keys = ("PULSE_COOKIE", "PULSE_RUNTIME_PATH", "PULSE_STATE_PATH", "PULSE_SERVER")
    old = {k: os.environ.get(k) for k in keys}
    os.environ.update(
        PULSE_COOKIE=str(d / "cookie"), PULSE_RUNTIME_PATH=str(d), PULSE_STATE_PATH=str(d)
    )
    os.environ.pop("PULSE_SERVER", None)
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _need(kind: str, generation: sandbox.Generation | None = None) -> None:
    missing = sandbox.missing_tools(kind, generation)
    if missing:
        pytest.skip(
            f"SKIPPED LOUDLY: {kind} not installed (missing {', '.join(missing)}); "
            "run ./scripts/test to install it"
        )


def _pipewire_params() -> list[Any]:
    """One param per PipeWire generation: the system's and each one the test bed must have
    (scripts/fetch-pipewire). The version is in the test id."""
    found = sandbox.pipewire_generations()
    params = [pytest.param(g, id=g.label) for g in found if g.root is None]
    have = {g.version: g for g in found if g.root is not None}
    for version in sandbox.expected_generations():
        gen = have.get(version)
        params.append(pytest.param(gen or version, id=f"pipewire-{version}"))
    return params


PIPEWIRE_PARAMS = _pipewire_params()


def _start(
    kind: str, generation: sandbox.Generation | str | None = None, stock: bool = False
) -> sandbox.Stack:
    if isinstance(generation, str):
        why = f"PipeWire {generation} not prepared (scripts/fetch-pipewire; ./scripts/test runs it)"
        if os.environ.get("CI"):
            pytest.fail(f"{why}: CI must test every PipeWire generation")
        pytest.skip(f"SKIPPED LOUDLY: {why}")
    _need(kind, generation)
    if kind == "pipewire":
        stack = sandbox.start_pipewire(generation=generation)
    elif kind == "pulseaudio":
        stack = sandbox.start_pulseaudio(stock=stock)
    else:
        # 1024 frames (21 ms) a cycle: with 256, a JACK MIDI client of the tests missed
        # its cycle on a loaded machine (non-realtime jackd) and an LED message was lost
        stack = sandbox.start_jackd(period=1024)
    _STARTED.extend(stack.pids())
    return stack


def _stop(stack: sandbox.Stack) -> None:
    print(f"--- {stack.label} logs (shown when the test failed)\n{stack.log_tail(15)}")
    _STARTED.extend(stack.pids())  # servers restarted by a test have new pids
    stack.stop()


@pytest.fixture(params=[pytest.param(None, id="pulseaudio"), *PIPEWIRE_PARAMS])
def server(request: pytest.FixtureRequest) -> Iterator[sandbox.Stack]:
    """The same test against real PulseAudio and real PipeWire + WirePlumber + pipewire-pulse
    of both generations."""
    gen = request.param  # None or "pulseaudio" (a test's indirect parametrisation)
    stack = _start("pulseaudio") if gen in (None, "pulseaudio") else _start("pipewire", gen)
    yield stack
    _stop(stack)


@pytest.fixture
def pulseaudio() -> Iterator[sandbox.Stack]:
    stack = _start("pulseaudio")
    yield stack
    _stop(stack)


@pytest.fixture(params=PIPEWIRE_PARAMS)
def pipewire(request: pytest.FixtureRequest) -> Iterator[sandbox.Stack]:
    stack = _start("pipewire", request.param)
    yield stack
    _stop(stack)


@pytest.fixture
def jack() -> Iterator[sandbox.Stack]:
    stack = _start("jackd")
    yield stack
    _stop(stack)


@pytest.fixture
def client_env(server: sandbox.Stack, tmp_path: Path) -> dict[str, str]:
    """Environment for running the `dawroute` CLI against the test server, hermetically."""
    return hermetic_env(server.env, tmp_path)


def hermetic_env(base: dict[str, str], home: Path) -> dict[str, str]:
    """`base` (a server's client environment) with HOME and XDG dirs inside `home`."""
    env = dict(base)
    env.update(
        PULSE_COOKIE=str(home / "cookie"),
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_STATE_HOME=str(home / "state"),
        XDG_RUNTIME_DIR=str(home / "run"),
    )
    (home / "run").mkdir(mode=0o700, exist_ok=True)
    return env


@pytest.fixture
def daemon(server: sandbox.Stack, client_env: dict[str, str]) -> Iterator[Any]:
    """The dawroute daemon as a subprocess on `server`, with the example profiles, an
    interface plugged in and a DAW playing on it."""
    from tests.daemonrun import Running, install_examples, server_state

    install_examples(Path(client_env["XDG_CONFIG_HOME"]) / "dawroute" / "profiles")
    sandbox.plug(server, sandbox.INTERFACE)
    sandbox.start_daw(server, sink=sandbox.INTERFACE.name)
    wait_until(lambda: server_state(server)[0] == [sandbox.INTERFACE.name], what="the DAW")
    running = Running(server, client_env)
    running.start()
    yield running
    # shown by pytest only when the test failed
    try:
        print("SERVER STATE", server_state(server)[:2])
    except Exception as exc:  # the server may be down in a failed restart test
        print("SERVER STATE unavailable:", exc)
    print("DAEMON LOG\n" + running.log_text()[-6000:])
    if running.proc is not None:
        assert running.stop() == 0, running.log_text()


def wait_until(check: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    sandbox.wait_for(check, timeout, what)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    alive = [pid for pid in _STARTED if _alive(pid)]
    if alive:
        print(f"\nFAIL: sound-server processes left behind: {alive}")
        session.exitstatus = 1


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"

"""Desktop notifications: the rate limiter on its own, and the daemon against a real
notification server (dunst on Xvfb) on a private session bus, read back with dunstctl."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from routing import desktop
from testbed import sandbox
from tests.conftest import hermetic_env, wait_until
from tests.daemonrun import Running, install_examples, routed_to, server_state

TOOLS = ("dunst", "dunstctl", "xvfb-run", "Xvfb", "xauth", "dbus-daemon", "dbus-send")


def test_rate_limit_holds_the_newest_and_says_a_problem_once() -> None:
    sent: list[tuple[str, str, str, int]] = []

    def sender(summary: str, body: str, kind: str, replaces: int) -> int:
        sent.append((summary, body, kind, replaces))
        return len(sent)

    async def until(check: Callable[[], bool]) -> None:
        # the sender runs in a worker thread: wait for what it got, never a fixed time
        for _ in range(1000):
            if check():
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"not seen: {sent}")

    async def scenario() -> None:
        clock = [0.0]  # the limiter's clock is ours: the interval passes when we say so
        n = desktop.Notifier(
            asyncio.get_running_loop(), interval=3600, sender=sender, clock=lambda: clock[0]
        )
        n.profile("a", "first")
        n.profile("b", "second")  # within the interval: held…
        n.profile("c", "third")  # …and replaced by the newest
        n.problem("broken")
        n.problem("broken")  # the same problem again: not repeated
        await until(lambda: len(sent) >= 2)
        assert [x[0] for x in sent] == ["dawroute: a", "dawroute: problem"]
        clock[0] += 3600
        n._flush("profile")  # the interval's timer firing
        await until(lambda: len(sent) >= 3)
        assert sent[-1] == ("dawroute: c", "third", "profile", 0)
        n.clear_problem()
        clock[0] += 3600
        n.problem("broken")  # after clear_problem it is news again
        await until(lambda: len(sent) >= 4)
        assert len(sent) == 4 and sent[-1][2] == "problem"
        n.close()

    asyncio.run(scenario())


def test_no_session_bus_is_a_warning_once_not_a_failure(caplog: pytest.LogCaptureFixture) -> None:
    def sender(summary: str, body: str, kind: str, replaces: int) -> int:
        raise desktop.Unavailable("no session bus (DBUS_SESSION_BUS_ADDRESS is not set)")

    async def scenario() -> None:
        n = desktop.Notifier(asyncio.get_running_loop(), interval=0.0, sender=sender)
        for i in range(3):
            n.profile(str(i), "x")
            await asyncio.sleep(0.05)
        assert n.sent == []

    asyncio.run(scenario())
    warnings = [r for r in caplog.records if "desktop notification not shown" in r.message]
    assert len(warnings) == 1


BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=@PATH@</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class Dunst:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env = {
            "PATH": os.environ["PATH"], "HOME": str(base), "XDG_CONFIG_HOME": str(base / "cfg"),
            "XDG_RUNTIME_DIR": str(base), "LANG": "C.UTF-8",
        }  # fmt: skip

    def start(self) -> None:
        # a session bus without service activation: the system's dunst.service file would
        # start a second dunst without a display, racing the one started here
        conf = self.base / "bus.conf"
        conf.write_text(BUS_CONFIG.replace("@PATH@", str(self.base / "bus")))
        bus = subprocess.Popen(
            ["dbus-daemon", f"--config-file={conf}", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE, env=self.env, preexec_fn=sandbox.die_with_parent,  # noqa: PLW1509
        )  # fmt: skip
        self.procs.append(bus)
        assert bus.stdout is not None
        self.env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().decode().strip()
        self.procs.append(
            subprocess.Popen(
                ["xvfb-run", "-a", "-s", "-nolisten tcp", "dunst"],
                env=self.env, stdout=subprocess.DEVNULL, stderr=open(self.base / "dunst.log", "wb"),  # noqa: SIM115
                start_new_session=True,  # xvfb-run, Xvfb and dunst: one group to stop
            )
        )  # fmt: skip
        wait_until(
            lambda: self.ctl("is-paused").returncode == 0, timeout=10, what="dunst on the bus"
        )

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["dunstctl", *args], env=self.env, capture_output=True, text=True, timeout=10
        )

    def received(self) -> list[tuple[str, str]]:
        """(summary, body) of everything shown, oldest first: closed into the history."""
        for _ in range(20):
            self.ctl("close-all")
            if self.ctl("count", "displayed").stdout.strip() == "0":
                break
            time.sleep(0.05)
        raw = json.loads(self.ctl("history").stdout)
        entries = [e for group in raw["data"] for e in group]
        entries.sort(key=lambda e: e["id"]["data"])
        return [(e["summary"]["data"], e["body"]["data"]) for e in entries]

    def stop(self) -> None:
        xvfb = self.procs[-1]
        with_group = (os.getpgid(xvfb.pid), signal.SIGTERM) if xvfb.poll() is None else None
        if with_group:
            os.killpg(*with_group)
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
            p.wait(10)


@pytest.fixture
def dunst(tmp_path: Path) -> Iterator[Dunst]:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        why = f"missing {', '.join(missing)}: apt-get install dunst xvfb xauth dbus-daemon dbus-bin (./scripts/test installs them)"
        if os.environ.get("CI"):
            pytest.fail(f"{why}: CI must test desktop notifications")
        pytest.skip(f"SKIPPED LOUDLY: {why}")
    d = Dunst(tmp_path / "dunst")
    d.base.mkdir()
    try:
        d.start()
        yield d
    finally:
        d.stop()


@pytest.mark.server
def test_profile_changes_and_problems_reach_a_real_notification_server(
    dunst: Dunst, pulseaudio: sandbox.Stack, tmp_path: Path
) -> None:
    env = hermetic_env(pulseaudio.env, tmp_path)
    env["DBUS_SESSION_BUS_ADDRESS"] = dunst.env["DBUS_SESSION_BUS_ADDRESS"]
    cfg = Path(env["XDG_CONFIG_HOME"]) / "dawroute"
    install_examples(cfg / "profiles")
    (cfg / "config.yaml").write_text("notifications: true\n")
    sandbox.plug(pulseaudio, sandbox.INTERFACE)
    sandbox.start_daw(pulseaudio, sink=sandbox.INTERFACE.name)
    wait_until(lambda: server_state(pulseaudio)[0] == [sandbox.INTERFACE.name], what="the DAW")
    daemon = Running(pulseaudio, env)
    daemon.start()
    try:
        wait_until(lambda: tuple(s for s, _ in dunst.received()) == ("dawroute: speakers",),
                   what="the start-up notification")  # fmt: skip
        got = dunst.received()
        assert got[0][1].startswith("speakers: fallback")

        # a burst: the amp in and out and in again within the rate limit's interval
        handle = sandbox.plug(pulseaudio, sandbox.USB_AMP)
        wait_until(lambda: routed_to(pulseaudio, sandbox.USB_AMP.name), what="on the amp")
        sandbox.unplug(pulseaudio, handle)
        wait_until(lambda: daemon.status()["active"] == "speakers", what="back on speakers")
        sandbox.plug(pulseaudio, sandbox.USB_AMP)
        wait_until(lambda: daemon.status()["active"] == "usb-amp", what="on the amp again")
        # the newest is shown once the interval ends; the burst is not a flood
        wait_until(lambda: dunst.received()[-1][0] == "dawroute: usb-amp",
                   timeout=desktop.INTERVAL * 3, what="the last profile change shown")  # fmt: skip
        summaries = [s for s, _ in dunst.received()]
        assert len(summaries) <= 3, summaries  # speakers, (usb-amp), usb-amp — not 4

        # a problem: a broken profile saved
        (cfg / "profiles" / "broken.yaml").write_text("name: broken\noutput: {volume: 3}\n")
        wait_until(lambda: dunst.received()[-1][0] == "dawroute: problem",
                   timeout=desktop.INTERVAL * 3, what="the problem shown")  # fmt: skip
        body = dunst.received()[-1][1]
        assert "configuration has 1 error(s); keeping the last good configuration" in body
        assert "broken.yaml" in body
    finally:
        if daemon.proc is not None:
            assert daemon.stop() == 0, daemon.log_text()
    assert "desktop notification" not in daemon.log_text()

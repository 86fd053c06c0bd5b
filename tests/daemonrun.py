"""Running the real daemon as a subprocess, and reading the real server's state."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from routing.backends.pipewire import read_defaults
from routing.backends.pulse import HOLD_SINK
from testbed import sandbox, soak
from testbed.sampler import Report
from tests.conftest import hermetic_env, wait_until

# the soak's caps, and our silent sink: the DAW there is seen (never too loud at 100 %)
WATCH_THE_SILENT_SINK = {**soak.CAPS, HOLD_SINK: 100.0}


def server_state(stack: sandbox.Stack):
    """(REAPER stream sink names, default sink, {sink name: (volume %, proplist, channels)})."""

    def read(p):
        sinks = {s.index: s for s in p.sink_list()}
        daw = [
            sinks[i.sink].name
            for i in p.sink_input_list()
            if i.proplist.get("application.name") == "REAPER"
        ]
        info = {
            s.name: (round(max(s.volume.values) * 100, 1), dict(s.proplist), s.channel_list)
            for s in sinks.values()
        }
        return daw, p.server_info().default_sink_name, info

    daw, default, info = sandbox.with_pulse(stack, read)
    if stack.kind == "pipewire":
        # WirePlumber's "default" metadata is the truth: pipewire-pulse 0.3.65 sometimes
        # keeps reporting the previous default for seconds (see backends/pulse.py)
        default = asyncio.run(read_defaults(stack.env)).get("audio.sink", default)
    return daw, default, info


class Running:
    def __init__(
        self, stack: sandbox.Stack, env: dict[str, str], command: list[str] | None = None
    ) -> None:
        self.stack = stack
        self.env = env
        # how `dawroute` is run: this checkout by default, an installed one when given
        self.command = command or [sys.executable, "-m", "routing"]
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(env["HOME"]) / "daemon.log"

    @property
    def profiles(self) -> Path:
        return Path(self.env["XDG_CONFIG_HOME"]) / "dawroute" / "profiles"

    @property
    def socket(self) -> Path:
        return Path(self.env["XDG_RUNTIME_DIR"]) / "dawroute" / "control.sock"

    @property
    def state_file(self) -> Path:
        return Path(self.env["XDG_STATE_HOME"]) / "dawroute" / "state.json"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [*self.command, "daemon"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=sandbox.die_with_parent,  # noqa: PLW1509 - prctl() only
            )
        try:
            wait_until(
                lambda: self.status()["server"]["available"] and self.status()["active"],
                timeout=10,
                what="the daemon to route",
            )
        except BaseException:
            self.stop(signal.SIGKILL)  # a daemon that never came up must not outlive the test
            raise

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        rc = self.proc.wait(10)
        self.proc = None
        return rc

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(
            [*self.command, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if check:
            assert out.returncode == 0, f"{args}: {out.stderr}{out.stdout}\n{self.log_text()}"
        return out

    def status(self) -> dict:
        return json.loads(self.cli("status", "--json").stdout)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def routed_to(stack: sandbox.Stack, sink_name: str) -> bool:
    daw, default, _ = server_state(stack)
    return daw == [sink_name] and default == sink_name


def routed_to_ours(stack: sandbox.Stack, profile: str) -> bool:
    daw, default, _ = server_state(stack)
    return daw == [default] and default.startswith(f"dawroute.{profile}.")


def volume(stack: sandbox.Stack, sink_name: str) -> float:
    return float(server_state(stack)[2][sink_name][0])


EXAMPLES = Path(__file__).resolve().parent.parent / "profiles"


def install_examples(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for f in EXAMPLES.glob("*.yaml"):
        if f.name != "config.yaml":
            (target / f.name).write_text(f.read_text())


@contextmanager
def soak_studio(stack: sandbox.Stack, home: Path) -> Iterator[Running]:
    """The soak's profiles and its interface plugged, the daemon running (stopped after)."""
    env = hermetic_env(stack.env, home)
    soak.write_profiles(Path(env["XDG_CONFIG_HOME"]))
    sandbox.plug(stack, soak.IFACE)
    running = Running(stack, env)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def assert_never_through_the_silent_sink(report: Report, running: Running) -> None:
    """Never above a cap, seen on the amp, and never on our silent sink: neither sampled
    nor in the daemon's log (a detour shorter than the sampler's polls is still logged)."""
    print(report.summary())
    assert report.on_watched[soak.AMP.name] > 0  # it did look while it was there
    assert report.violations == [], report.summary()
    assert report.on_watched[HOLD_SINK] == 0, running.log_text()[-3000:]
    assert "through our silent sink" not in running.log_text(), running.log_text()[-3000:]

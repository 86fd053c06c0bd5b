"""The three things that can put the DAW on a newly plugged device, side by side:
the server's own policy, the pactl script users write, and the dawroute daemon."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from testbed import sandbox

AMP_NAME = "bench_amp"
AMP_USB = "30be:1019"
AMP_CAP = 60  # percent (max_volume in the profile below; the native reactor's cap too)
IFACE_NAME = "bench_iface"
ROOT = Path(__file__).resolve().parent.parent
# The native reactor runs on Debian's python3: its PyGObject (python3-gi) is built for it,
# and the project's venv may be another Python without gi
DEBIAN_PYTHON = "/usr/bin/python3"

BENCH_PROFILES = f"""
profiles:
  - name: iface
    fallback: true
    output: {{name: "{IFACE_NAME}", volume: 60%, max_volume: 80%}}
  - name: amp
    priority: 90
    output: {{usb: "{AMP_USB}", volume: 45%, max_volume: {AMP_CAP}%}}
"""

# What users write instead of a daemon: move every stream to each new sink.
PACTL_SCRIPT = r"""
pactl subscribe | while read -r line; do
  case "$line" in
    *"'new' on sink #"*)
      sink=${line##*#}
      for i in $(pactl list short sink-inputs | cut -f1); do pactl move-sink-input "$i" "$sink"; done ;;
  esac
done
"""


def amp(priority: int) -> sandbox.FakeDevice:
    """The USB amp as the bench plugs it; `priority` is what WirePlumber/PulseAudio rank by."""
    return sandbox.FakeDevice(
        name=AMP_NAME,
        description="Bench Amp",
        usb=AMP_USB,
        serial="bench",
        card_name="Bench Amp",
        priority=priority,
    )


IFACE = sandbox.FakeDevice(
    name=IFACE_NAME,
    description="Bench Interface",
    usb="1235:8212",
    card_name="Bench Interface",
    priority=1000,
)


class Reactor:
    name = "?"
    device_priority = 1  # low: the server's own policy does not pick it
    # The DAW is started on the interface by name (`pacat --device`), as a DAW configured
    # for an output plays; moving it is the reactor's job.
    daw_on_device = True
    # Each round starts with the interface as the server's configured default. A default
    # a reactor set to the amp outlives the amp: PulseAudio 16 and WirePlumber make the
    # re-plugged amp the default again and move the DAW themselves, in the server, so the
    # next round measured the server, not the reactor (the bare-client floor and the pactl
    # script after switch-on-connect did; nobody at all then "routed" in 1.2-1.6 ms).
    resets_default = True

    def start(self, stack: sandbox.Stack, workdir: Path) -> None:
        pass

    def stop(self) -> None:
        pass


class ServerPolicy(Reactor):
    """WirePlumber's policy (PipeWire) or module-switch-on-connect (PulseAudio)."""

    device_priority = 3000

    def __init__(self, kind: str) -> None:
        self.name = "WirePlumber" if kind == "pipewire" else "switch-on-connect"
        # WirePlumber moves a stream to a new default only when the stream has no target
        # of its own. `pacat --device` makes pipewire-pulse put `target.object` in the
        # stream's properties; WirePlumber 0.4 (PipeWire 0.3.65) lets the stream follow
        # the default all the same, but 0.5 (PipeWire 1.4) takes it as the client's
        # defined target and keeps the stream there while it exists: the DAW never
        # followed the amp (15 of 15 rounds missed, no baseline). Its stock policy is
        # measured on a DAW that plays on the default (the interface until the amp
        # comes), on both generations alike. module-switch-on-connect moves every
        # stream, explicit device or not.
        self.daw_on_device = kind != "pipewire"
        # WirePlumber ranks a configured default above any priority: setting the
        # interface would keep the amp from ever becoming the default by its priority
        self.resets_default = kind != "pipewire"
        self._module: int | None = None
        self._stack: sandbox.Stack | None = None

    def start(self, stack: sandbox.Stack, workdir: Path) -> None:
        self._stack = stack
        if stack.kind == "pulseaudio":
            self._module = sandbox.with_pulse(
                stack, lambda p: p.module_load("module-switch-on-connect", "ignore_virtual=no")
            )

    def stop(self) -> None:
        if self._module is not None and self._stack is not None:
            module = self._module
            sandbox.with_pulse(self._stack, lambda p: p.module_unload(module))
            self._module = None


class PactlScript(Reactor):
    name = "pactl script"

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, stack: sandbox.Stack, workdir: Path) -> None:
        self._proc = subprocess.Popen(
            ["bash", "-c", PACTL_SCRIPT],
            env=stack.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(0.2)  # let `pactl subscribe` connect

    def stop(self) -> None:
        if self._proc is not None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            self._proc.wait()
            self._proc = None


class Dawroute(Reactor):
    name = "dawroute"

    def __init__(
        self,
        profiles: str = BENCH_PROFILES,
        extra_env: dict[str, str] | None = None,
        config: str = "",
        more_profiles: dict[str, str] | None = None,
    ) -> None:
        self.profiles = profiles
        self.config = config
        self.more_profiles = more_profiles or {}
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.env: dict[str, str] = {}

    def start(self, stack: sandbox.Stack, workdir: Path) -> None:
        home = workdir / "dawroute-home"
        cfg = home / "config" / "dawroute"
        (cfg / "profiles").mkdir(parents=True, exist_ok=True)
        (cfg / "profiles" / "bench.yaml").write_text(self.profiles)
        for name, text in self.more_profiles.items():
            (cfg / "profiles" / name).write_text(text)
        if self.config:
            (cfg / "config.yaml").write_text(self.config)
        (home / "run").mkdir(mode=0o700, exist_ok=True)
        self.env = {
            **stack.env,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_STATE_HOME": str(home / "state"),
            "XDG_RUNTIME_DIR": str(home / "run"),
            "PULSE_COOKIE": str(home / "cookie"),
            **self.extra_env,
        }
        log = open(workdir / "dawroute.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "routing",
                "daemon",
                *(["-v"] if os.environ.get("DAWROUTE_BENCH_VERBOSE") else []),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=sandbox.die_with_parent,  # noqa: PLW1509 - prctl() only
        )
        log.close()
        # generous: with 300 DAW streams playing, this 2-core machine's PipeWire is saturated
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            out = subprocess.run(
                [sys.executable, "-m", "routing", "status", "--json"],
                env=self.env,
                capture_output=True,
                text=True,
            )
            if out.returncode == 0 and json.loads(out.stdout)["server"]["available"]:
                return
            time.sleep(0.05)
        tail = (workdir / "dawroute.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"dawroute daemon did not come up:\n{tail}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


def debian_python(
    module: str, args: list[str], env: dict[str, str], errors: Path
) -> subprocess.Popen[str]:
    """`module` of this checkout on Debian's python3 (its gi), stdout a text pipe."""
    err = open(errors, "ab")  # noqa: SIM115 - owned by the child
    try:
        return subprocess.Popen(
            [DEBIAN_PYTHON, "-m", module, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            preexec_fn=sandbox.die_with_parent,  # noqa: PLW1509 - prctl() only
        )
    finally:
        err.close()


class Native(Reactor):
    """libwireplumber in its own process (bench/native.py): on the amp's appearance, cap
    its volume, then set each DAW stream's target in the "default" metadata. The device
    keeps a low priority, as for dawroute: WirePlumber's own policy does not move the DAW."""

    name = "native (libwireplumber)"

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self.log: Path | None = None
        self.events: list[dict[str, Any]] = []

    @staticmethod
    def _env(stack: sandbox.Stack) -> tuple[dict[str, str], str]:
        gen = stack.generation or sandbox.SYSTEM
        env = dict(stack.env)
        if gen.root is not None:  # 0.5's typelib comes with scripts/fetch-pipewire
            env["GI_TYPELIB_PATH"] = str(gen.libdir / "girepository-1.0")
        return env, "0.5" if gen.wireplumber_05 else "0.4"

    @classmethod
    def unavailable(cls, stack: sandbox.Stack) -> str | None:
        """Why it cannot run on this stack (None: it can)."""
        if stack.kind != "pipewire":
            return "PipeWire only"
        env, wp = cls._env(stack)
        check = f"import gi; gi.require_version('Wp', '{wp}'); from gi.repository import Wp"
        try:
            out = subprocess.run(
                [DEBIAN_PYTHON, "-c", check], env=env, capture_output=True, text=True, timeout=30
            )
        except OSError as exc:
            return f"{DEBIAN_PYTHON}: {exc}"
        if out.returncode:
            return f"no WirePlumber {wp} typelib for {DEBIAN_PYTHON}: {out.stderr.strip()[-300:]}"
        return None

    def start(self, stack: sandbox.Stack, workdir: Path) -> None:
        env, wp = self._env(stack)
        self.log = workdir / "native.jsonl"
        self.log.unlink(missing_ok=True)
        cap = (AMP_CAP / 100.0) ** 3  # pulse's cubic percent → PipeWire's linear volume
        self._proc = debian_python(
            "bench.native",
            ["--wp", wp, "--usb", AMP_USB, "--cap", repr(cap), "--log", str(self.log)],
            env,
            workdir / "native.log",
        )
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], 30)
        line = self._proc.stdout.readline().strip() if ready else ""
        if line != "ready":
            self.stop()
            tail = (workdir / "native.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"native reactor did not come up ({line!r}):\n{tail}")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
            self._proc = None
        if self.log is not None and self.log.exists():
            self.events = [json.loads(x) for x in self.log.read_text().splitlines() if x]

    def cap_before_link(self) -> list[dict[str, Any]]:
        """Per plug, from the reactor's own view of the server (one connection, so the
        server's order): when the capped level showed on the amp, when its first input
        port and the first link from a DAW stream to it appeared, in ms after the amp
        appeared to it."""
        rounds: list[dict[str, Any]] = []
        for ev in self.events:
            if ev["ev"] == "amp":
                rounds.append({"t0": ev["t"], "cap_sent_ms": None, "cap_seen_ms": None,
                               "port_ms": None, "link_ms": None})  # fmt: skip
            elif rounds:
                r = rounds[-1]
                since = round((ev["t"] - r["t0"]) * 1000, 3)
                if ev["ev"] == "cap-sent" and r["cap_sent_ms"] is None:
                    r["cap_sent_ms"] = since
                elif ev["ev"] == "cap-seen" and r["cap_seen_ms"] is None:
                    r["cap_seen_ms"] = since
                elif ev["ev"] == "amp-port" and r["port_ms"] is None:
                    r["port_ms"] = since  # the amp's first input port: nothing links before
                elif ev["ev"] == "link" and r["link_ms"] is None:
                    r["link_ms"] = since
        for r in rounds:
            del r["t0"]
            seen, link = r["cap_seen_ms"], r["link_ms"]
            # None: this reactor saw no link to the amp (the DAW was found there all the same)
            r["cap_before_link"] = None if link is None else seen is not None and seen < link
        return rounds

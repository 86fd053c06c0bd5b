"""The run command's demonstration when no sound server is reachable.

Starts a private PipeWire + WirePlumber + pipewire-pulse, "plugs" a 4-output
interface, plays a DAW-like stream, starts the dawroute daemon with the example
profiles, then plugs and pulls a USB headphone amp, showing `dawroute status`
after each step. Everything runs in a temporary directory and stops at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from testbed import sandbox

EXAMPLES = Path(__file__).resolve().parent.parent / "profiles"


def _say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def _cli(env: dict[str, str], *args: str) -> None:
    print(f"$ dawroute {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", "routing", *args], env=env, check=False)


def _wait_active(env: dict[str, str], profile: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(
            [sys.executable, "-m", "routing", "status", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if f'"active": "{profile}"' in out.stdout:
            return
        time.sleep(0.05)
    print(f"(still waiting for {profile}; see the daemon log above)")


def main() -> int:
    if sandbox.missing_tools("pipewire"):
        print(
            "dawroute demo: PipeWire tools missing: "
            + ", ".join(sandbox.missing_tools("pipewire"))
            + " — run ./scripts/setup",
            file=sys.stderr,
        )
        return 3
    stack = sandbox.start_pipewire()
    daemon = None
    try:
        env = _client_env(stack)
        _say("A private PipeWire with a 4-output interface and a DAW playing on it")
        sandbox.plug(stack, sandbox.INTERFACE)
        sandbox.start_daw(stack, sink=sandbox.INTERFACE.name)
        _cli(env, "devices")
        _say("Example profiles, checked")
        _cli(env, "check")
        _say("Starting the daemon")
        daemon = subprocess.Popen([sys.executable, "-m", "routing", "daemon"], env=env)
        _wait_active(env, "speakers")
        _cli(env, "status")
        _say("Plugging in the USB headphone amp (Schiit Fulla)")
        handle = sandbox.plug(stack, sandbox.USB_AMP)
        _wait_active(env, "usb-amp")
        _cli(env, "status")
        _say("Pulling it out again: back to the speakers at their own level")
        sandbox.unplug(stack, handle)
        _wait_active(env, "speakers")
        _cli(env, "status")
        _say("Done. On your own machine: ./scripts/install-service (see docs/systemd.md)")
        return 0
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait(10)
        stack.stop()


def _client_env(stack: sandbox.Stack) -> dict[str, str]:
    env = dict(stack.env)
    home = stack.base / "home"
    config = home / ".config" / "dawroute"
    (config / "profiles").mkdir(parents=True)
    for f in EXAMPLES.glob("*.yaml"):
        if f.name != "config.yaml":
            shutil.copy(f, config / "profiles")
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        PULSE_COOKIE=str(home / "cookie"),
        PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    )
    return env


if __name__ == "__main__":
    raise SystemExit(main())

"""A real Ardour without its GUI, for the tests: Debian's `ardour` package ships
`ardourN-lua`, which runs a session headless on PulseAudio or JACK (jackd, or PipeWire's
JACK) and lets Lua drive it. One session directory serves every stack: created by the
first Ardour, loaded by the others.

The Ardour runs testbed/ardour_session.lua: each line sent is Lua run inside the session
(an action script's code, as Ardour's action list runs it)."""

from __future__ import annotations

import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

from testbed import sandbox

DRIVER = Path(__file__).resolve().with_name("ardour_session.lua")
BINARIES = ("ardour8-lua", "ardour7-lua", "ardour6-lua")

# Ardour's user config as Ardour saves it on quitting: its four transport masters. Without
# it (a first start) Ardour sets them up twice, at start-up and once the engine runs,
# registering the same MIDI port names again at once; PipeWire 1.4.2's JACK still lists
# the old ports then and refuses ("name already exists"), and Ardour 7.3 crashes loading
# the session (measured: 4 crashes in 4 starts; with this file, none). Only JACK's own
# master is not enough: the PulseAudio backend then crashes a second after the session is
# up. Every test start is a first start, so every one gets this file.
RC = """<?xml version="1.0" encoding="UTF-8"?>
<Ardour>
  <TransportMasters current="MIDI Clock">
    <TransportMaster type="Engine" name="JACK Transport" removeable="0"/>
    <TransportMaster type="MTC" name="MTC" removeable="0"/>
    <TransportMaster type="LTC" name="LTC" removeable="0"/>
    <TransportMaster type="MIDIClock" name="MIDI Clock" removeable="0"/>
  </TransportMasters>
</Ardour>
"""


def binary() -> str | None:
    """The headless Ardour installed (the newest first), or None."""
    return next((b for b in BINARIES if shutil.which(b)), None)


class Ardour:
    """One headless Ardour on `stack`'s PulseAudio ("PulseAudio") or JACK ("JACK")."""

    def __init__(self, stack: sandbox.Stack, backend: str, session: Path, home: Path) -> None:
        self.stack, self.backend, self.session, self.home = stack, backend, session, home
        self.proc: subprocess.Popen[bytes] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        self.started_in = 0.0

    def start(self, timeout: float = 60.0) -> Ardour:
        exe = binary()
        if exe is None:
            raise sandbox.SandboxError("no headless Ardour (Debian package ardour)")
        config = self.home / ".config"
        rc_dir = config / exe.removesuffix("-lua")  # ~/.config/ardour7
        rc_dir.mkdir(parents=True, exist_ok=True)
        (rc_dir / "config").write_text(RC)
        env = sandbox.jack_env(self.stack) if self.backend == "JACK" else dict(self.stack.env)
        env.update(HOME=str(self.home), XDG_CONFIG_HOME=str(config))
        self.session.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [exe, str(DRIVER), self.backend, str(self.session), self.session.name],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=sandbox.die_with_parent,  # noqa: PLW1509 - prctl() and setpgrp() only
        )
        self.stack.procs.append(("ardour", self.proc))  # stopped with the stack if need be
        threading.Thread(target=self._read, daemon=True).start()
        self._answer("DAWROUTE-READY", timeout)
        self.started_in = time.monotonic() - t0
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            self._lines.put(raw.decode(errors="replace").rstrip("\n"))
        self._lines.put(None)

    def _answer(self, marker: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise sandbox.SandboxError(
                    f"Ardour did not answer {marker} in {timeout:g} s:\n" + self.log()
                ) from None
            if line is None:
                rc = self.proc.wait(5) if self.proc else None
                raise sandbox.SandboxError(f"Ardour ended (exit status {rc}):\n" + self.log())
            self.output.append(line)
            if line.startswith(("DAWROUTE-OK", "DAWROUTE-ERR")) or line.startswith(marker):
                if line.startswith("DAWROUTE-ERR"):
                    raise sandbox.SandboxError(f"Lua in Ardour failed: {line[13:]}")
                return line

    def run(self, lua: str, timeout: float = 10.0) -> None:
        """Run one line of Lua inside the session (raises with Lua's error message)."""
        assert self.proc is not None and self.proc.stdin is not None
        if "\n" in lua:
            raise ValueError("one line of Lua at a time")
        self.proc.stdin.write(lua.encode() + b"\n")
        self.proc.stdin.flush()
        self._answer("DAWROUTE-OK", timeout)

    def action(self, script: Path, **params: str) -> None:
        """Run an Ardour action script as Ardour's action list does: its factory called
        with the parameters the user gave when binding it, the function it returns run."""
        table = ", ".join(f"[{_lua_str(k)}] = {_lua_str(v)}" for k, v in params.items())
        self.run(f"dofile({_lua_str(str(script))}); factory({{{table}}})()")

    def log(self, lines: int = 40) -> str:
        return "\n".join(self.output[-lines:])

    def stop(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.stdin is not None:
            proc.stdin.close()  # the driver closes the session and returns
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if ("ardour", proc) in self.stack.procs:
            self.stack.procs.remove(("ardour", proc))


def _lua_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

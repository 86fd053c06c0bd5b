"""The floor for a pulse-protocol client: the least any client can do on a hot-plug — hear
of the new sink, set its level to the cap, move every DAW stream to it, make it the
default — with no profiles, no matching, no decisions. What separates dawroute from this
is dawroute's own work; what separates this from an in-server module is the protocol.

Run as its own process by the `Floor` reactor (`python -m bench.floor SINK LEVEL`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.reactors import Reactor
from testbed import sandbox


async def react(sink_name: str, level: float) -> None:
    import pulsectl
    import pulsectl_asyncio

    async with pulsectl_asyncio.PulseAsync("bench-floor") as pulse:
        events = pulse.subscribe_events("sink", "sink_input")
        # the streams are known before the plug (a daemon knows them too): on the plug,
        # one round trip for the new sink's name, then everything at once
        streams = {int(s.index) for s in await pulse.sink_input_list()}
        async for ev in events:
            kind, index = str(ev.t._value), int(ev.index)
            if str(ev.facility._value) == "sink_input":
                if kind == "new":
                    streams.add(index)
                elif kind == "remove":
                    streams.discard(index)
            elif kind == "new":
                # A failed command must not end the reactor: the amp can be unplugged
                # again before its default is set, and a stream of the round before can
                # be listed while the server removes it. One did, on the first plug, and
                # the later rounds then measured the server's own re-election of the
                # default.
                with contextlib.suppress(pulsectl.PulseError):
                    await _react_to(pulse, index, sink_name, level, sorted(streams))


async def _react_to(
    pulse: Any, index: int, sink_name: str, level: float, streams: list[int]
) -> None:
    """The cap, the moves and the default go out together: one connection's commands
    run in order, so the cap still lands before the first move."""
    import pulsectl

    sink = await pulse.sink_info(index)
    if sink.name != sink_name:
        return
    volume = pulsectl.PulseVolumeInfo(level, len(sink.volume.values))
    await asyncio.gather(
        pulse.sink_volume_set(sink.index, volume),
        *(pulse.sink_input_move(s, sink.index) for s in streams),
        pulse.sink_default_set(sink),
        return_exceptions=True,
    )


class Floor(Reactor):
    name = "floor (bare pulse client)"

    def __init__(self, sink: str, level: float) -> None:
        self._sink, self._level = sink, level
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = Path(os.devnull)

    def start(self, stack: sandbox.Stack, workdir: Path) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench.floor", self._sink, str(self._level)],
            env=stack.env,
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / "floor.log", "ab"),  # noqa: SIM115 - owned by the child
            preexec_fn=sandbox.die_with_parent,  # noqa: PLW1509 - prctl() only
        )
        self._log = workdir / "floor.log"
        time.sleep(0.3)  # connected and subscribed before the first plug

    def stop(self) -> None:
        if self._proc is None:
            return
        ended = self._proc.poll()
        self._proc.terminate()
        self._proc.wait(10)
        self._proc = None
        if ended is not None:  # its rounds measured whatever else moved the DAW
            tail = self._log.read_text(errors="replace")[-1500:]
            raise RuntimeError(f"the floor reactor died during its rounds ({ended}):\n{tail}")


if __name__ == "__main__":
    asyncio.run(react(sys.argv[1], float(sys.argv[2])))

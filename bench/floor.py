"""The floor for a pulse-protocol client: the least any client can do on a hot-plug — hear
of the new sink, set its level to the cap, move every DAW stream to it, make it the
default — with no profiles, no matching, no decisions. What separates dawroute from this
is dawroute's own work; what separates this from an in-server module is the protocol.

Run as its own process by the `Floor` reactor (`python -m bench.floor SINK LEVEL`)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

from bench.reactors import Reactor
from testbed import sandbox


async def react(sink_name: str, level: float) -> None:
    import pulsectl
    import pulsectl_asyncio

    async with pulsectl_asyncio.PulseAsync("bench-floor") as pulse:
        async for ev in pulse.subscribe_events("sink"):
            if ev.t != "new":
                continue
            try:
                sink = await pulse.sink_info(ev.index)
            except pulsectl.PulseIndexError:
                continue
            if sink.name != sink_name:
                continue
            volume = pulsectl.PulseVolumeInfo(level, len(sink.volume.values))
            await pulse.sink_volume_set(sink.index, volume)  # the cap before the move
            streams = await pulse.sink_input_list()
            await asyncio.gather(*(pulse.sink_input_move(s.index, sink.index) for s in streams))
            await pulse.sink_default_set(sink)


class Floor(Reactor):
    name = "floor (bare pulse client)"

    def __init__(self, sink: str, level: float) -> None:
        self._sink, self._level = sink, level
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, stack: sandbox.Stack, workdir: Path) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench.floor", self._sink, str(self._level)],
            env=stack.env,
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / "floor.log", "ab"),  # noqa: SIM115 - owned by the child
            preexec_fn=sandbox.die_with_parent,  # noqa: PLW1509 - prctl() only
        )
        time.sleep(0.3)  # connected and subscribed before the first plug

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
            self._proc = None


if __name__ == "__main__":
    asyncio.run(react(sys.argv[1], float(sys.argv[2])))

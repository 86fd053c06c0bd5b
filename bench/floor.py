"""The floor for a pulse-protocol client: the least any client can do on a hot-plug — hear
of the new sink, set its level to the cap, move every DAW stream to it, make it the
default — with no profiles, no matching, no decisions. What separates dawroute from this
is dawroute's own work; what separates this from an in-server module is the protocol.

The safe floor (PipeWire) also waits until the server shows the cap before any move, as
dawroute must: pipewire-pulse answers a volume before the node has it, and shows a new
null sink at 100 % first, so a client that moves at once can have the DAW shown on the
amp above its cap (the safety sampler counts that).

Run as its own process by the `Floor` reactor (`python -m bench.floor SINK LEVEL [safe]`)."""

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


async def react(sink_name: str, level: float, safe: bool) -> None:
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
                    await _react_to(pulse, index, sink_name, level, sorted(streams), safe)


async def _react_to(
    pulse: Any, index: int, sink_name: str, level: float, streams: list[int], safe: bool
) -> None:
    """The cap, the moves and the default go out together: one connection's commands
    run in order, so the cap still lands before the first move. Safe: the moves only
    once the cap shows."""
    import pulsectl

    sink = await pulse.sink_info(index)
    if sink.name != sink_name:
        return
    volume = pulsectl.PulseVolumeInfo(level, len(sink.volume.values))
    if safe:
        await pulse.sink_volume_set(sink.index, volume)
        await _until_shown(pulse, sink.index, level)
    await asyncio.gather(
        *([] if safe else [pulse.sink_volume_set(sink.index, volume)]),
        *(pulse.sink_input_move(s, sink.index) for s in streams),
        pulse.sink_default_set(sink),
        return_exceptions=True,
    )


async def _until_shown(pulse: Any, index: int, level: float, timeout: float = 1.0) -> None:
    """Every ms, as dawroute's confirm looks in its first 20 ms."""
    deadline = time.perf_counter() + timeout
    while max((await pulse.sink_info(index)).volume.values) > level + 0.005:
        if time.perf_counter() > deadline:
            return
        await asyncio.sleep(0.001)


class Floor(Reactor):
    name = "floor (bare pulse client)"

    def __init__(self, sink: str, level: float, safe: bool = False) -> None:
        self._sink, self._level, self._safe = sink, level, safe
        if safe:
            self.name = "safe floor (bare client, cap shown first)"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = Path(os.devnull)

    def start(self, stack: sandbox.Stack, workdir: Path) -> None:
        log = workdir / ("floor-safe.log" if self._safe else "floor.log")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "bench.floor", self._sink, str(self._level)]
            + (["safe"] if self._safe else []),
            env=stack.env,
            stdout=subprocess.DEVNULL,
            stderr=open(log, "ab"),  # noqa: SIM115 - owned by the child
            preexec_fn=sandbox.die_with_parent,  # noqa: PLW1509 - prctl() only
        )
        self._log = log
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
    asyncio.run(react(sys.argv[1], float(sys.argv[2]), sys.argv[3:] == ["safe"]))

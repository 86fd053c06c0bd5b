"""Measuring on a real server: when did a device appear, when did the DAW land on it.

Times are taken when the server's events arrive at this observer (pulsectl-asyncio
subscription), the same way for every reactor, so the observer's own cost cancels out
in the ratios.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import pulsectl_asyncio


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "p99": None, "n": 0}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]

    return {
        "p50": statistics.median(ordered),
        "p90": pick(0.9),
        "p99": pick(0.99),
        "n": len(ordered),
    }


class Observer:
    """Watches one server: sink appearances and where the DAW stream plays."""

    def __init__(self, server: str) -> None:
        self.pulse = pulsectl_asyncio.PulseAsync("dawroute-bench", server=server)
        self.events: asyncio.Queue[tuple[float, str, str, int]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Observer:
        await self.pulse.connect()
        self._task = asyncio.create_task(self._listen())
        await asyncio.sleep(0.05)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task:
            self._task.cancel()
        self.pulse.close()

    async def _listen(self) -> None:
        async for ev in self.pulse.subscribe_events("sink", "sink_input"):
            self.events.put_nowait(
                (time.perf_counter(), str(ev.facility._value), str(ev.t._value), int(ev.index))
            )

    def drain(self) -> None:
        while not self.events.empty():
            self.events.get_nowait()

    async def sink_index(self, name: str) -> int | None:
        for s in await self.pulse.sink_list():
            if s.name == name:
                return int(s.index)
        return None

    async def daw_stream(self, app: str = "REAPER", timeout: float = 5.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i in await self.pulse.sink_input_list():
                if i.proplist.get("application.name") == app:
                    return int(i.index)
            await asyncio.sleep(0.01)
        raise TimeoutError("the DAW stream did not appear")

    async def stream_sink(self, index: int) -> int | None:
        try:
            return int((await self.pulse.sink_input_info(index)).sink)
        except Exception:  # the stream is gone
            return None

    async def wait_routed(
        self, daw: int, target: str, start: float | None, timeout: float
    ) -> tuple[float | None, float | None]:
        """(when `target` appeared, when the DAW stream played on it), perf_counter secs.

        With `start` given (a switch, no new sink), the appearance time is `start`."""
        appeared = start
        target_index = await self.sink_index(target) if start is not None else None
        deadline = time.perf_counter() + timeout
        while True:
            if appeared is not None and target_index is None:
                target_index = await self.sink_index(target)
            if target_index is not None and await self.stream_sink(daw) == target_index:
                return appeared, time.perf_counter()
            left = deadline - time.perf_counter()
            if left <= 0:
                return appeared, None
            try:
                t, facility, kind, _idx = await asyncio.wait_for(self.events.get(), left)
            except TimeoutError:
                return appeared, None
            if facility == "sink" and kind == "new" and appeared is None:
                index = await self.sink_index(target)
                if index is not None:
                    appeared, target_index = t, index
            if (
                facility == "sink_input"
                and target_index is not None
                and await self.stream_sink(daw) == target_index
            ):
                return appeared, t


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (clock ticks → seconds)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wakeups(pid: int) -> int:
    """Voluntary + involuntary context switches of all the process's threads."""
    import glob

    total = 0
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        for line in Path(status).read_text().splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total

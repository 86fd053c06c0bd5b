"""The safety sampler: a second client that polls the server every few milliseconds and
records every moment the DAW plays on a device above that device's cap.

It looks at the server between events, not after them: a cap that arrives one pass late
is a violation here even though the final state is right. It never filters a sample.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Volumes are integers on the wire (0..65536); a cap of 40 % set by dawroute reads back as
# 39.99-40.01 % depending on rounding. Anything above this is a real excess.
TOLERANCE = 0.05


@dataclass(frozen=True, slots=True)
class Violation:
    at: float  # wall-clock time (time.time()), to line up with the daemon's log
    device: str
    volume: float  # percent, the device's loudest channel
    cap: float


@dataclass
class Report:
    samples: int = 0
    on_watched: dict[str, int] = field(default_factory=dict)  # samples with the DAW there
    violations: list[Violation] = field(default_factory=list)
    errors: int = 0  # polls that failed (server restarting): counted, never hidden

    @property
    def worst(self) -> float:
        return max((v.volume for v in self.violations), default=0.0)

    def summary(self) -> str:
        on = ", ".join(f"{d}: {n}" for d, n in self.on_watched.items())
        return (
            f"{self.samples} samples, DAW on watched devices [{on}], "
            f"{len(self.violations)} above the cap (worst {self.worst:g} %), "
            f"{self.errors} failed polls"
            + "".join(
                f"\n  {time.strftime('%H:%M:%S', time.localtime(v.at))}.{int(v.at % 1 * 1000):03d} "
                f"{v.device} at {v.volume:g} % (cap {v.cap:g} %)"
                for v in self.violations[:10]
            )
        )


class Sampler:
    """Polls `server` (a pulse-protocol address) in its own thread and connection.

    `caps` maps a device's node name to its cap in percent; `app` is the DAW's
    application name. Use as a context manager; `report` is complete after exit.
    """

    def __init__(
        self,
        server: str,
        caps: Mapping[str, float],
        app: str = "REAPER",
        interval: float = 0.002,
        channel_caps: Mapping[str, Mapping[str, float]] | None = None,
    ) -> None:
        """`channel_caps`: device → {channel position as the server names it ("aux2"):
        cap}; each of those channels is checked on its own whenever the DAW plays on that
        device or on one of dawroute's sinks feeding it (outputs 1-2 and 3-4 of one
        interface have caps of their own)."""
        self.server = server
        self.caps = dict(caps)
        self.channel_caps = {d: dict(c) for d, c in (channel_caps or {}).items()}
        self.app = app
        self.interval = interval
        self.report = Report(on_watched=dict.fromkeys([*self.caps, *self.channel_caps], 0))
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="safety-sampler", daemon=True)
        self._start = 0.0

    def __enter__(self) -> Sampler:
        self._start = time.monotonic()
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        import pulsectl

        pulse: Any = None
        while not self._stop.is_set():
            try:
                if pulse is None:
                    pulse = pulsectl.Pulse("dawroute-safety-sampler", server=self.server)
                self._sample(pulse)
            except Exception:  # the server restarting: count it, reconnect
                self.report.errors += 1
                if pulse is not None:
                    pulse.close()
                pulse = None
            self._ready.set()
            time.sleep(self.interval)
        if pulse is not None:
            pulse.close()

    def _sample(self, pulse: Any) -> None:
        polled = time.time()  # no later than the state the two lists show
        inputs = pulse.sink_input_list()
        sinks = {s.index: s for s in pulse.sink_list()}
        self.report.samples += 1
        now = time.time()
        for stream in inputs:
            if stream.proplist.get("application.name") != self.app:
                continue
            sink = sinks.get(stream.sink)
            if sink is None or sink.name not in self.caps:
                continue
            self.report.on_watched[sink.name] += 1
            volume = round(max(sink.volume.values or [0.0]) * 100.0, 2)
            cap = self.caps[sink.name]
            if volume > cap + TOLERANCE:
                self.report.violations.append(Violation(now, sink.name, volume, cap))
        if self.channel_caps:
            self._sample_channels(inputs, sinks, polled)

    def _sample_channels(self, inputs: Any, sinks: Mapping[int, Any], now: float) -> None:
        """`now`: when the poll began (a test can then tell a level it set itself, until a
        moment it knows, from one that came later; under load a poll takes 100+ ms)."""
        by_name = {s.name: s for s in sinks.values()}
        for stream in inputs:
            if stream.proplist.get("application.name") != self.app:
                continue
            sink = sinks.get(stream.sink)
            if sink is None:
                continue
            reached, todo = set(), [sink.name]
            while todo:  # our combined sink → our remap sinks → the device
                name = todo.pop()
                if name in reached or name not in by_name:
                    continue
                reached.add(name)
                feeds = by_name[name].proplist.get("dawroute.feeds", "")
                todo += [f for f in feeds.split(",") if f]
            for name in sorted(reached & self.channel_caps.keys()):
                device = by_name.get(name)
                if device is None:
                    continue
                if name != sink.name or name not in self.caps:
                    self.report.on_watched[name] += 1
                for pos, value in zip(device.channel_list, device.volume.values, strict=False):
                    cap = self.channel_caps[name].get(pos)
                    volume = round(value * 100.0, 2)
                    if cap is not None and volume > cap + TOLERANCE:
                        self.report.violations.append(Violation(now, f"{name} {pos}", volume, cap))

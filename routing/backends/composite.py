"""One observe() and apply() over the pulse backend plus, when a profile needs them, JACK
ports and PipeWire's clock metadata. Ops run in reconcile's order, each by its backend."""

from __future__ import annotations

from dataclasses import replace

from routing.backends import pipewire
from routing.backends.jack import JackBackend
from routing.backends.pulse import PulseBackend
from routing.model import ApplyResult, Connect, Disconnect, Op, ServerKind, SetClock, Snapshot


class Backends:
    def __init__(
        self,
        pulse: PulseBackend,
        jack: JackBackend | None,
        want_clock: bool,
        env: dict[str, str] | None = None,
        want_sources: bool = True,
    ) -> None:
        self.pulse = pulse
        self.jack = jack
        self.want_clock = want_clock
        self.env = env
        self.want_sources = want_sources

    async def observe(self) -> Snapshot:
        snap = await self.pulse.observe(sources=self.want_sources)
        if self.jack is not None and self.jack.alive:
            ports, links, devices = self.jack.observe()
            snap = replace(snap, ports=ports, links=links, devices=snap.devices + devices)
        if self.want_clock and snap.server is ServerKind.PIPEWIRE:
            clock, allowed = await pipewire.read_clock(self.env)
            snap = replace(snap, clock=clock, allowed_rates=allowed)
        return snap

    async def apply(self, ops: list[Op]) -> ApplyResult:
        done: list[Op] = []
        failed: list[tuple[Op, str]] = []
        for group in _groups(ops):
            if isinstance(group[0], Connect | Disconnect):
                if self.jack is None:
                    continue
                result = self.jack.apply(group)
            elif isinstance(group[0], SetClock):
                result = await self._clock(group)
            else:
                result = await self.pulse.apply(group)
            done += result.done
            failed += result.failed
            if result.failed and not isinstance(group[0], Connect | Disconnect | SetClock):
                break  # levels may not be set: stop before anything lands anywhere
        return ApplyResult(tuple(done), tuple(failed))

    async def _clock(self, ops: list[Op]) -> ApplyResult:
        done: list[Op] = []
        failed: list[tuple[Op, str]] = []
        for op in ops:
            assert isinstance(op, SetClock)
            try:
                await pipewire.set_clock(op.clock, self.env)
                done.append(op)
            except pipewire.MetadataError as exc:
                failed.append((op, str(exc)))
        return ApplyResult(tuple(done), tuple(failed))


def _kind(op: Op) -> str:
    if isinstance(op, Connect | Disconnect):
        return "jack"
    return "clock" if isinstance(op, SetClock) else "pulse"


def _groups(ops: list[Op]) -> list[list[Op]]:
    groups: list[list[Op]] = []
    for op in ops:
        if groups and _kind(groups[-1][0]) == _kind(op):
            groups[-1].append(op)
        else:
            groups.append([op])
    return groups

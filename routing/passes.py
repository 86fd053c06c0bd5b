"""The pass: observe → decide → plan → apply → commit, for the requests that arrived
since the last one (or for the event that poked the scheduler). What to do is decided by
the pure modules (policy, passplan, reconcile); this runs it against the backends the
connections offer and keeps the outcome: the State (saved), the snapshot and decision
behind it, and the Shown value `status` and `list` are answered from — taken at the end
of each request's pass, so a client never sees a decision that is not yet committed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from routing import notify, off, passplan, policy
from routing.apply import apply_plan, plan_ops
from routing.backends.alsa import AlsaUnavailable
from routing.backends.composite import Backends
from routing.backends.jack import JackUnavailable
from routing.backends.pipewire import MetadataError
from routing.backends.pulse import Disconnected, ServerError
from routing.connections import Connections
from routing.contract import Changed
from routing.errors import DawrouteError, ProfileNotApplied, ServerUnavailable, refused
from routing.events import Events
from routing.guardpublisher import GuardPublisher
from routing.model import ApplyResult, Plan, Snapshot, State
from routing.notices import Notices
from routing.policy import Cause, Decision, Intent
from routing.profile import Profile
from routing.settings import Config
from routing.statesaver import StateSaver
from routing.surfaces import Surfaces

log = logging.getLogger("routing.daemon")  # the daemon's log lines keep their name

REQUEST_TIMEOUT = 10.0  # seconds a `switch` waits for its pass before answering
MAX_RETRIES = 3  # passes in a row that retry failed ops before waiting for the next event
MAX_VERIFIES = 30  # looks at a server that has not shown our changes yet (3 s in all)
VERIFY_SECONDS = 0.1


@dataclass
class Request:
    intent: Intent
    future: asyncio.Future[Changed] | None = None
    volume_step: float = 0.0  # MIDI volume_up/volume_down: nudge the outputs, within caps
    off: bool = False  # undo dawroute's routing (`dawroute off`, or on_stop: restore)
    stay_off: bool = True  # off: remember it (no decisions until `auto` or `switch`)

    def answer(self, result: Changed) -> None:
        if self.future is not None and not self.future.done():
            self.future.set_result(result)

    def fail(self, exc: DawrouteError) -> None:
        if self.future is not None and not self.future.done():
            self.future.set_exception(exc)


@dataclass(frozen=True, slots=True)
class Shown:
    """A committed outcome: what `status` and `list` show of the passes."""

    state: State
    snapshot: Snapshot | None = None
    decision: Decision | None = None
    active_reason: str | None = None  # why the active profile became active
    backend: str | None = None  # the backend the pass used: "pulse", "jack" or "alsa"


@dataclass(frozen=True, slots=True)
class Parts:
    """What a pass works with, built by the daemon."""

    connections: Connections
    saver: StateSaver
    events: Events
    surfaces: Surfaces
    notices: Notices
    guard: GuardPublisher
    poke: Callable[[str], None]


class Passes:
    def __init__(
        self,
        parts: Parts,
        config: Callable[[], Config],
        profiles: Callable[[], tuple[Profile, ...]],
        state: State,
    ) -> None:
        self._p = parts
        self._config = config
        self._profiles = profiles
        self.state = state
        self.snapshot: Snapshot | None = None
        self.decision: Decision | None = None
        self.active_reason: str | None = None
        self.backend_name: str | None = None  # the backend the last pass used
        self.shown = Shown(state)
        self._requests: list[Request] = []
        self._latest: Snapshot | None = None  # the last observed, committed or not
        self._fresh = False  # self._latest still shows the server as it is
        self._timing: dict[str, float] = {"observe": 0.0, "apply": 0.0}
        self._started = False
        self._stopping = False
        self._retries = 0
        self._verifies = 0
        self._status_sent: str | None = None

    def start_with(self, state: State) -> None:
        """The State saved by the last run."""
        self.state = state
        self._publish()

    def save(self) -> None:
        self._p.saver.save(self.state)

    # ------------------------------------------------------------ requests

    async def request(
        self,
        intent: Intent,
        volume_step: float = 0.0,
        *,
        off: bool = False,
        stay_off: bool = True,
    ) -> Changed:
        future: asyncio.Future[Changed] = asyncio.get_running_loop().create_future()
        self._requests.append(Request(intent, future, volume_step, off, stay_off))
        self._p.poke(f"request {intent.cause.value}")
        try:
            return await asyncio.wait_for(future, REQUEST_TIMEOUT)
        except TimeoutError:
            raise ProfileNotApplied("timed out waiting for the sound server") from None

    async def off(self) -> Changed:
        return await self.request(Intent(), off=True)

    async def restore_on_stop(self) -> None:
        """`on_stop: restore` undoes the routing before the daemon exits (not remembered as
        off: the next start routes again); `keep` (the default) leaves it as it is."""
        pulse = self._p.connections.pulse.backend
        if self._config().on_stop != "restore" or self.state.off or pulse is None:
            return
        self._stopping = True  # the events our undo causes must not route again
        try:
            await asyncio.wait_for(self.request(Intent(), off=True, stay_off=False), 5.0)
        except (DawrouteError, TimeoutError) as exc:
            message = exc.message if isinstance(exc, DawrouteError) else "timed out"
            log.warning("on_stop: restore: routing not fully undone: %s", message)

    def changed(self, reason: str) -> None:
        """A server (pulse, JACK, ALSA) reported a change: the next pass must re-observe."""
        self._fresh = False
        self._p.poke(reason)

    def stale(self) -> None:
        """A new connection: the last snapshot does not show what it sees."""
        self._fresh = False

    def reloaded(self) -> None:
        self._status_sent = None  # the next pass says what is true again
        self._p.poke("configuration reloaded")

    # ------------------------------------------------------------ the pass

    async def run(self, reasons: list[str]) -> None:
        try:
            await self._pass()
        finally:
            self._publish()
            self._notify_status()

    def _publish(self) -> None:
        """Called only where a pass's outcome is whole: after a request was handled
        (decided, applied, re-observed, committed), and when a pass ends."""
        self.shown = Shown(
            self.state, self.snapshot, self.decision, self.active_reason, self.backend_name
        )

    def _notify_status(self) -> None:
        """systemd's STATUS= says what is true after every pass — also after a restart that
        kept the profile, or once the server is back (it said "starting" and "sound server
        unavailable" then); sent only when it changes."""
        if self.state.off:
            text = "off"
        elif self._p.connections.pulse.backend is None:
            text = "sound server unavailable"
        else:
            text = f"active profile: {self.state.active or 'none'}"
        if text != self._status_sent:
            self._status_sent = text
            notify.notify(f"STATUS={text}")

    async def _pass(self) -> None:
        connections = self._p.connections
        backend = connections.for_pass(self._profiles())
        requests, self._requests = self._requests, []
        if backend is None:
            self.backend_name = None
            for r in requests:
                r.fail(ServerUnavailable(connections.down_message()))
            return
        if backend.name != self.backend_name:
            self._fresh = False
            self.backend_name = backend.name
            if backend.jackd:
                self._record("server", "jackd alone: DAW ports linked, levels on the ALSA mixers")
        try:
            await self._requests_on(backend, requests)
        except (Disconnected, ServerError) as exc:
            for r in requests:
                r.fail(ServerUnavailable(f"sound server went away: {exc}"))
        except AlsaUnavailable as exc:
            connections.alsa.close()
            for r in requests:
                r.fail(ServerUnavailable(str(exc)))
        except (JackUnavailable, MetadataError) as exc:
            # JACK vanished mid-pass or pw-metadata failed: its own event brings us back
            log.warning("pass incomplete: %s", exc)
            for r in requests:
                r.fail(ProfileNotApplied(str(exc)))

    async def _requests_on(self, backend: Backends, requests: list[Request]) -> None:
        t0 = time.perf_counter()
        snapshot = await self._observe(backend)
        self._timing["observe"] = time.perf_counter() - t0
        cause = Cause.EVENT if self._started else Cause.STARTUP
        for req in requests or [Request(Intent(cause))]:
            if req.off:
                snapshot = await self._undo(backend, req, snapshot)
            else:
                snapshot = await self._handle(backend, req, snapshot)
            self._publish()
        self._started = True

    async def _observe(self, backend: Backends) -> Snapshot:
        """The last snapshot when nothing changed since it was taken (a MIDI or CLI switch
        between events: saves the ~1.5 ms observe round trip, measured in bench/), else a
        fresh one. Every server event clears the flag, so a stale view is never used."""
        if self._fresh and self._latest is not None:
            return self._latest
        self._fresh = True  # set before the await: an event during it clears it again
        return await self._observe_again(backend)

    async def _observe_again(self, backend: Backends) -> Snapshot:
        self._latest = await backend.observe()
        return self._latest

    async def _handle(self, backend: Backends, req: Request, snapshot: Snapshot) -> Snapshot:
        if not passplan.decides(self.state, self._stopping, req.intent.cause):
            self.snapshot, self.decision = snapshot, None
            req.answer({"profile": None, "reason": self.active_reason or "off", "done": []})
            return snapshot
        cfg = self._config()
        d = policy.decide(self._profiles(), snapshot, self.state, req.intent, cfg.safety.max_volume)
        self._p.guard.update(d.plan, snapshot)
        if d.error is not None:
            self.snapshot, self.decision = snapshot, d
            req.fail(refused(d.error, d.reason))
            return snapshot
        result = ApplyResult()
        default = links = None
        applied = False
        if d.plan is not None:
            ops = passplan.with_nudge(
                plan_ops(backend, d.plan, snapshot), d.plan, snapshot, req.volume_step
            )
            if ops:
                default = passplan.original_default(self.state, snapshot)
                if default is not None:
                    log.debug("default sink before dawroute's first change: %s", default)
                t0 = time.perf_counter()
                applied = True
                result = await apply_plan(backend, ops)
                links = passplan.links_after(self.state.links, result.done)
                self._timing["apply"] = time.perf_counter() - t0
                log.debug(
                    "pass: observe %.2f ms, apply %.2f ms (%d ops)",
                    self._timing["observe"] * 1e3,
                    self._timing["apply"] * 1e3,
                    len(ops),
                )
        self.snapshot, self.decision = snapshot, d
        done, failed, skipped = _described(result)
        self._commit(d, req.intent, done, failed, skipped, default, links)
        if failed:
            self._retry()
        else:
            self._retries = 0
        self._answer(req, d, done, failed, skipped)
        if applied and d.plan is not None:
            snapshot = await self._looked_again(backend, d.plan, not result.failed)
        return snapshot

    def _answer(
        self, req: Request, d: Decision, done: list[str], failed: list[str], skipped: list[str]
    ) -> None:
        """Answered once the server has taken the ops (their replies are in), before
        the look that checks they show: with 100 DAW streams moved on PipeWire 1.4.2 that
        look waited 160-400 ms on a pipewire-pulse busy relinking them. What `status`
        shows is published first, so a client never reads the state from before."""
        self._publish()
        if failed:
            not_done = failed + [f"skipped {s}" for s in skipped]
            req.fail(ProfileNotApplied(f"{d.profile}: " + "; ".join(not_done)))
            return
        req.answer(
            {
                "profile": d.profile,
                "reason": d.reason,
                "done": done,
                "skipped": skipped,
                "manual": d.manual is not None,
            }
        )

    async def _looked_again(self, backend: Backends, plan: Plan, verify: bool) -> Snapshot:
        """The server after our ops: what `status` shows next, and whether the last
        apply still needs a look (PipeWire carries moves and defaults out later)."""
        snapshot = await self._observe_again(backend)
        self.snapshot = snapshot
        unfinished = bool(plan_ops(backend, plan, snapshot)) or backend.unconfirmed
        self._verify_later(unfinished and verify)
        return snapshot

    async def _undo(self, backend: Backends, req: Request, snapshot: Snapshot) -> Snapshot:
        """`dawroute off`: undo the routing (routing.off), then stop deciding."""
        ops, notes = off.undo_ops(snapshot, self.state.original_default, self.state.links)
        result = await apply_plan(backend, ops) if ops else ApplyResult()
        done, failed, skipped = _described(result)
        if ops:
            snapshot = await self._observe_again(backend)
        self.snapshot, self.decision = snapshot, None
        old = self.state
        new = passplan.after_off(
            old, snapshot, result.done, bool(failed), req.stay_off, time.time()
        )
        reason = passplan.OFF_REASON if req.stay_off else passplan.STOPPED_REASON
        self.active_reason = reason
        if new != old:
            self.state = new
            self._p.saver.save(new)
            notify.notify("STATUS=off" if req.stay_off else "STATUS=stopping")
            if req.stay_off:
                self._p.notices.profile(None, reason)
            if old.active is not None:
                self._p.surfaces.active_changed(None)
        log.info("%s (%d op(s)%s)", reason, len(done), f", {len(failed)} failed" if failed else "")
        for note in notes:
            log.info("off: %s", note)
        self._record(
            "decision", reason, profile=None, cause="off", done=done, failed=failed,
            skipped=skipped + notes,
        )  # fmt: skip
        if failed:
            req.fail(ProfileNotApplied("off: " + "; ".join(failed)))
        else:
            req.answer(
                {"profile": None, "reason": reason, "done": done, "skipped": skipped + notes,
                 "manual": False}
            )  # fmt: skip
        return snapshot

    def _verify_later(self, pending: bool) -> None:
        """PipeWire carries out moves and defaults asynchronously, and WirePlumber can drop
        a move whose target node is being re-created (seen in fast flaps on 0.3.65: the
        daemon had sent the move, no event followed, the DAW stayed behind). When the
        server does not show everything yet, look again shortly — a few times, no spin."""
        if not pending:
            self._verifies = 0
            return
        self._verifies += 1
        if self._verifies <= MAX_VERIFIES:
            loop = asyncio.get_running_loop()
            loop.call_later(VERIFY_SECONDS, self.changed, "verify the last apply")

    def _retry(self) -> None:
        # e.g. the device vanished between observe and apply: its remove event will also
        # poke us, but a failure without an event must not wait forever — nor spin.
        self._retries += 1
        if self._retries <= MAX_RETRIES:
            self._p.poke("retry after failed apply")

    def _commit(
        self,
        d: Decision,
        intent: Intent,
        done: list[str],
        failed: list[str],
        skipped: list[str],
        default: str | None,
        links: tuple[tuple[str, str], ...] | None,
    ) -> None:
        old = self.state
        new = passplan.committed(old, d, time.time(), default, links)
        if new != old:
            self.state = new
            self._p.saver.save(new)
            if new.active != old.active:
                self._p.surfaces.active_changed(new.active)
                self._p.notices.profile(d.profile, d.reason)
        if failed:
            self._p.notices.problem(f"{d.profile}: not fully applied: {failed[0]}")
        self._p.surfaces.update()  # OSC: sent only when something shown changed
        self.active_reason = passplan.reason_shown(self.active_reason, d, old, new, intent.cause)
        if new.active != old.active or done or failed or skipped:
            log.info(
                "%s [%s] (%d op(s)%s%s)",
                d.reason,
                intent.cause.value,
                len(done),
                f", {len(failed)} failed" if failed else "",
                f", {len(skipped)} skipped" if skipped else "",
            )
            self._record(
                "decision",
                d.reason,
                profile=d.profile,
                cause=intent.cause.value,
                done=done,
                failed=failed,
                skipped=skipped,
            )

    def _record(self, kind: str, message: str, **extra: object) -> None:
        self._p.events.record(kind, message, **extra)


def _described(result: ApplyResult) -> tuple[list[str], list[str], list[str]]:
    """done, failed and skipped as the lines users see (status, watch, switch)."""
    return (
        [op.describe() for op in result.done],
        [f"{op.describe()}: {why}" for op, why in result.failed],
        [f"{op.describe()}: {why}" for op, why in result.skipped],
    )

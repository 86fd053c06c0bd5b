"""The daemon: asyncio wiring only. Sources poke the scheduler; each pass runs
observe → decide → reconcile → apply → publish. Decisions live in policy/reconcile.

Which backend a pass uses (config.yaml `backend`): the pulse server while connected
(`auto`, `pulse`, `pipewire`), else jackd when one runs (`auto`, `jack`), else bare ALSA
(`auto`, `alsa`) — chosen again on every pass, so a server that starts or stops moves the
daemon from one to the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from routing import (
    alsaconf,
    desktop,
    notify,
    off,
    passplan,
    paths,
    policy,
    runtime,
    triggers,
    yamlsource,
)
from routing import osc as osc_feedback
from routing import state as state_store
from routing.apply import apply_plan, plan_ops
from routing.backends import capguard
from routing.backends.alsa import AlsaBackend, AlsaUnavailable, write_atomically
from routing.backends.bridge import BridgeBackend
from routing.backends.composite import (
    Backends,
    for_profiles,
    needs_jack,
    server_mode,
    uses_alsa,
    uses_jack_server,
    uses_pulse,
)
from routing.backends.jack import JackBackend, JackUnavailable
from routing.backends.pipewire import MetadataError
from routing.backends.pulse import Disconnected, PulseBackend, ServerError
from routing.config import Config, LoadedConfig, check_all
from routing.contract import Changed, Reloaded
from routing.control import ControlServer
from routing.errors import (
    MAX_SHOWN,
    ConfigInvalid,
    ConfigIssue,
    DawrouteError,
    ProfileNotApplied,
    ServerUnavailable,
    issue_lines,
    refused,
)
from routing.events import Events
from routing.guard import GuardCaps, guard_caps
from routing.midi import MidiControl
from routing.model import ApplyResult, Plan, ServerKind, Snapshot
from routing.osc import OscControl
from routing.policy import Cause, Decision, Trigger
from routing.profiles import Profile, ProfileSet
from routing.reconnect import Reconnect
from routing.service import Service
from routing.state import State
from routing.triggers import TriggerState
from routing.view import View
from routing.watch import DirectoryWatch

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 10.0  # seconds a `switch` waits for its pass before answering
MAX_RETRIES = 3  # passes in a row that retry failed ops before waiting for the next event
MAX_VERIFIES = 30  # looks at a server that has not shown our changes yet (3 s in all)
VERIFY_SECONDS = 0.1
HISTORY = 50
RELOAD_SECONDS = 10.0  # a reload that takes longer is abandoned; the last good config stays
# `backend: auto`: a pulse server that was connected and went away gets this long to come
# back (a restart) before bare ALSA takes over — ALSA clients opening the hardware
# directly meanwhile would keep the server from opening it
ALSA_GRACE_SECONDS = 2.0


@dataclass
class Request:
    trigger: Trigger
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


@dataclass
class Settings:
    profile_paths: Sequence[Path]
    config_path: Path | None
    state_path: Path
    socket_path: Path
    server: str | None = None  # PULSE_SERVER-style address; None = the default
    verbose: bool = False  # -v: debug logging, whatever config.yaml's log_level says


@dataclass
class Loaded:
    profiles: tuple[Profile, ...] = ()
    config: Config = field(default_factory=Config)
    errors: tuple[ConfigIssue, ...] = ()  # of the last reload that failed (config kept)
    warnings: tuple[ConfigIssue, ...] = ()
    loaded_at: float | None = None


class Daemon:
    """Keeps the connections, runs the passes and the reloads; routing.service answers
    the control socket from the View it publishes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loaded = Loaded()
        self.state = State()
        self.backend: PulseBackend | None = None
        self.alsa: AlsaBackend | None = None
        self.backend_name: str | None = None  # the backend the last pass used
        self._pulse_tried = False  # the first connection attempt has been made
        self._pulse_seen = False  # a pulse server was connected in this daemon's life
        self._backend_event = asyncio.Event()  # config.yaml's `backend` changed
        self.snapshot: Snapshot | None = None
        self.decision: Decision | None = None
        self.active_reason: str | None = None  # why the active profile became active
        self.server_down_since: float | None = time.time()
        self.events = Events(HISTORY)
        self.state_error: str | None = None  # why the last state save failed, if it did
        self._requests: list[Request] = []
        self._dead: list[PulseBackend] = []  # lost connections, closed between passes
        self._fresh = False  # self.snapshot still shows the server as it is
        self._timing: dict[str, float] = {"observe": 0.0, "apply": 0.0}
        self._reload_wanted = asyncio.Event()
        self._reload_waiters: list[asyncio.Future[bool]] = []
        self._reload_thread: asyncio.Future[Any] | None = None  # still running past its limit
        self._started = False
        self._retries = 0
        self._verifies = 0
        self._status_sent: str | None = None
        self._stop = asyncio.Event()
        self._stopping = False
        self.notifier: desktop.Notifier | None = None  # config `notifications: true`
        self.midi: MidiControl | None = None
        self.jack: JackBackend | None = None
        self._jack_reset = False  # PipeWire restarted: its JACK is a new server too
        self._jack_retry = Reconnect(0.5, 10.0)
        self.bridge: BridgeBackend | None = None  # jackd alone: the cards bridged into it
        self._trigger_state = TriggerState()
        self._midi_tasks: set[asyncio.Task[None]] = set()
        self.osc: OscControl | None = None
        # the server-side cap guard (WirePlumber 0.5): the caps it holds links to, and
        # the caps it last confirmed (None: send again, e.g. after a reconnect)
        self._guard: GuardCaps = capguard.installed_caps()  # what it knew last run
        self._guard_sent: GuardCaps | None = None
        self._guard_running: bool | None = None  # did the last send reach a guard?
        from routing.scheduler import Scheduler

        self.scheduler = Scheduler(self._pass_and_report)

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        runtime.install_exception_handler(loop)
        for directory in paths.private_dirs():
            runtime.ensure_private_dir(directory)
        run_dir = self.settings.socket_path.parent
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = runtime.acquire_lock(run_dir)  # before touching the socket or the state
        try:
            return await self._run_locked(loop)
        finally:
            os.close(lock)

    async def _run_locked(self, loop: asyncio.AbstractEventLoop) -> int:
        fd_limit = runtime.raise_fd_limit()
        stale = state_store.remove_stale_temps(self.settings.state_path)
        if stale:
            log.info("removed %d stale state temp file(s) from an interrupted save", stale)
        self.state = state_store.load(self.settings.state_path)
        await self._reload(initial=True)
        self._configure_notifications()
        service = Service(
            self.view, self._request, self._off_request, self._reload_request, self.events
        )
        control = ControlServer(
            service, self.settings.socket_path, max_connections=runtime.connection_cap(fd_limit)
        )
        await control.start()
        self._restart_midi()
        self._restart_osc()
        watch = DirectoryWatch(self._watched_dirs(), self._file_changed)
        watch.start(loop)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, self._file_changed, "SIGHUP")
        tasks = [
            asyncio.create_task(self.scheduler.run(), name="scheduler"),
            asyncio.create_task(self._server_supervisor(), name="server"),
            asyncio.create_task(self._reloader(), name="reloader"),
        ]
        interval = notify.watchdog_interval()
        if interval:
            tasks.append(asyncio.create_task(self._watchdog(interval), name="watchdog"))
        log.info(
            "dawroute started: %d profile(s), control socket %s",
            len(self.loaded.profiles),
            self.settings.socket_path,
        )
        notify.notify("READY=1\nSTATUS=starting")
        await self._stop.wait()
        notify.notify("STOPPING=1")
        log.info("stopping")
        await self._on_stop()
        await self._shutdown(tasks)
        watch.close(loop)
        await control.close()
        if self.notifier is not None:
            self.notifier.close()
        self._save_state(self.state)
        return 0

    def stop(self) -> None:
        self._stop.set()

    async def _on_stop(self) -> None:
        """`on_stop: restore` undoes the routing before the daemon exits (not remembered as
        off: the next start routes again); `keep` (the default) leaves it as it is."""
        if self.loaded.config.on_stop != "restore" or self.state.off or self.backend is None:
            return
        self._stopping = True  # the events our undo causes must not route again
        try:
            await asyncio.wait_for(self._request(Trigger(), off=True, stay_off=False), 5.0)
        except (DawrouteError, TimeoutError) as exc:
            message = exc.message if isinstance(exc, DawrouteError) else "timed out"
            log.warning("on_stop: restore: routing not fully undone: %s", message)

    async def _shutdown(self, tasks: list[asyncio.Task[None]]) -> None:
        """Let the running pass finish, then drop the server connection.

        Cancelling a pass mid-apply left libpulse callbacks firing into cancelled
        futures and, on closing the context, a segfault (seen in the 50-plug burst test).
        """
        scheduler, *others = tasks
        self.scheduler.stop()
        try:
            await asyncio.wait_for(scheduler, 5.0)
        except TimeoutError:
            log.warning("a pass did not finish within 5 s; stopping anyway")
        for t in others:
            t.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        self._close_dead()
        if self.backend is not None:
            self.backend.close()
            self.backend = None
        self._close_alsa()
        self._close_bridge()
        if self.midi is not None:
            self.midi.close()
        if self.osc is not None:
            self.osc.close()
        if self.jack is not None:
            self.jack.close()

    # ------------------------------------------------------------ MIDI

    def _restart_midi(self) -> None:
        """(Re)open MIDI for the current config; no triggers and no LEDs = no MIDI at all."""
        if self.midi is not None:
            self.midi.close()
            self.midi = None
        cfg = self.loaded.config.midi
        if not cfg.triggers and cfg.feedback is None:
            return
        self.midi = MidiControl(cfg, self._on_midi, asyncio.get_running_loop())
        self.midi.start()
        self.midi.send_leds(self.state.active)

    def _on_midi(self, port: str, data: list[int], when: float) -> None:
        """Runs on the loop (handed over from rtmidi's thread); only queues requests."""
        msg = triggers.parse(port, data, when)
        if msg is None:
            return
        cfg = self.loaded.config.midi
        actions, self._trigger_state = triggers.evaluate(
            cfg.triggers, msg, self._trigger_state, self.state.active, cfg.debounce_ms
        )
        for action in actions:
            log.info(
                "MIDI %s %s/%s on %s → %s",
                msg.kind.value,
                msg.channel,
                msg.number,
                port,
                action.describe(),
            )
            task = asyncio.create_task(self._midi_request(action))
            self._midi_tasks.add(task)  # keep a reference until done (asyncio holds weak ones)
            task.add_done_callback(self._midi_tasks.discard)

    # ------------------------------------------------------------ OSC

    def _restart_osc(self) -> None:
        """(Re)open OSC for the current config; none configured = no socket at all."""
        if self.osc is not None:
            self.osc.close()
            self.osc = None
        cfg = self.loaded.config.osc
        if cfg is None:
            return
        osc = self.osc = OscControl(cfg, self._on_osc, lambda: self.state.active)

        async def start() -> None:
            await osc.start()
            if osc.problem:
                self._record("osc", osc.problem)
            osc.update(self._osc_view())

        self._spawn(start())

    def _on_osc(self, action: triggers.Action, peer: str) -> None:
        log.info("OSC from %s → %s", peer, action.describe())
        self._spawn(self._midi_request(action, "OSC"))

    def _osc_view(self) -> osc_feedback.View:
        d = self.decision
        return osc_feedback.View(
            self.state.active,
            self.state.manual is not None,
            tuple(p.name for p in self.loaded.profiles),
            d.problems if d is not None else (),
        )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._midi_tasks.add(task)  # keep a reference until done (asyncio holds weak ones)
        task.add_done_callback(self._midi_tasks.discard)

    async def _midi_request(self, action: triggers.Action, source: str = "MIDI") -> None:
        step = self.loaded.config.safety.volume_step
        do = triggers.Do
        try:
            if action.do is do.SWITCH:
                await self._request(Trigger(Cause.SWITCH, action.profile or ""))
            elif action.do in (do.NEXT, do.PREVIOUS, do.AUTO):
                await self._request(Trigger(Cause(action.do.value)))  # the same names
            else:
                await self._request(Trigger(), step if action.do is do.VOLUME_UP else -step)
        except DawrouteError as exc:
            log.warning("%s %s: %s", source, action.describe(), exc.message)
            self._record(source.lower(), f"{action.describe()}: {exc.message}")

    def _configure_notifications(self) -> None:
        want = self.loaded.config.notifications
        if want and self.notifier is None:
            self.notifier = desktop.Notifier(asyncio.get_running_loop())
        elif not want and self.notifier is not None:
            self.notifier.close()
            self.notifier = None

    def _notify_problem(self, message: str) -> None:
        if self.notifier is not None:
            self.notifier.problem(message)

    def _watched_dirs(self) -> list[Path]:
        dirs = {p if p.is_dir() or not p.suffix else p.parent for p in self.settings.profile_paths}
        if self.settings.config_path is not None:
            dirs.add(self.settings.config_path.parent)
        return sorted(dirs)

    async def _watchdog(self, interval: float) -> None:
        while True:
            notify.notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    # ------------------------------------------------------------ sources

    def _file_changed(self, what: str) -> None:
        log.debug("reload requested (%s)", what)
        self._reload_wanted.set()

    async def _server_supervisor(self) -> None:
        """The server loop, started again when config.yaml's `backend` changes."""
        while True:
            self._backend_event.clear()
            inner = asyncio.create_task(self._server_loop(), name="server-loop")
            changed = asyncio.create_task(self._backend_event.wait())
            try:
                await asyncio.wait({inner, changed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in (inner, changed):
                    t.cancel()
                await asyncio.gather(inner, changed, return_exceptions=True)
            self._pulse_tried = False
            self.scheduler.poke("backend choice changed")

    async def _server_loop(self) -> None:
        """Stay connected: a server that goes away is normal; reconnect with backoff."""
        if not uses_pulse(self.loaded.config.backend):
            self.scheduler.poke("backend: alsa")  # no pulse server wanted: bare ALSA now
            await asyncio.Event().wait()  # until the supervisor restarts us
        retry = Reconnect(0.05, 5.0)
        while True:
            backend = PulseBackend(self.settings.server)
            try:
                await backend.connect(timeout=2.0)
            except (ServerError, TimeoutError, OSError) as exc:
                backend.close()
                self._server_lost(f"cannot connect: {exc}")
                if not self._pulse_tried:  # bare ALSA may take over now (backend: auto)
                    self._pulse_tried = True
                    self.scheduler.poke("no sound server answers")
                await retry.wait()
                continue
            except asyncio.CancelledError:
                backend.close()
                raise
            retry.reset()
            self._pulse_tried = self._pulse_seen = True
            if self.loaded.config.safety.level_memory:
                await self._level_memory(backend)
            self.backend = backend
            self.server_down_since = None
            # PipeWire's libjack does not always report the restart to a JACK client
            # (seen on 0.3.65: no shutdown callback), so reconnect JACK with the server.
            self._jack_reset = True
            self._jack_retry.cancel()
            self._record("server", "sound server connected")
            self._guard_sent = None  # a restarted WirePlumber's guard knows only its file
            if self.notifier is not None:
                self.notifier.clear_problem()
            self._server_changed("server connected")  # full resync
            try:
                async for change in backend.changes():
                    self._server_changed(f"{change.facility} {change.kind} #{change.index}")
            except (Disconnected, ServerError) as exc:
                self._server_lost(f"connection lost: {exc}")
            finally:
                # Not closed here: a pass may be awaiting on it, and libpulse aborts the
                # process on a call into a freed context (context.c assertion, seen when
                # PipeWire stopped mid-pass). The scheduler closes it between passes.
                self.backend = None
                self._dead.append(backend)
                self.scheduler.poke("server connection lost")

    async def _level_memory(self, backend: PulseBackend) -> None:
        try:
            if await backend.ensure_level_memory():
                self._record("server", "loaded module-device-restore (safety.level_memory)")
        except ServerError as exc:
            log.warning("could not load module-device-restore: %s", exc)

    def _alsa_for_pass(self) -> AlsaBackend | None:
        """Bare ALSA for this pass, when the configuration allows it and no pulse server
        is connected; opened (and its udev and mixer events watched) on first use."""
        choice = self.loaded.config.backend
        cards = uses_alsa(choice) or uses_jack_server(choice)  # jackd's levels: the mixers
        if not cards or not AlsaBackend.available():
            self._close_alsa()
            return None
        loop = asyncio.get_running_loop()
        if not self._pulse_given_up():
            return None
        if self.alsa is None:
            self.alsa = AlsaBackend(paths.alsa_config_file())
            self.alsa.watch(loop, self._server_changed)
            self._fresh = False
            self._record("server", "no pulse server: dawroute watches the ALSA cards")
        return self.alsa

    def _pulse_given_up(self) -> bool:
        """No pulse server to wait for: not wanted, or the first attempt failed and one that
        was connected has been gone for the grace period (a restarting server)."""
        if not uses_pulse(self.loaded.config.backend):
            return True
        if not self._pulse_tried:
            return False  # the first connection attempt decides
        down = time.time() - (self.server_down_since or time.time())
        if self._pulse_seen and down < ALSA_GRACE_SECONDS:
            loop = asyncio.get_running_loop()
            loop.call_later(ALSA_GRACE_SECONDS - down, self.scheduler.poke, "ALSA grace")
            return False
        return True

    def _jackd_alone(self, pulse: PulseBackend | None) -> bool:
        """jackd is the backend for this pass: no pulse server, and a JACK server answers."""
        jack_up = self.jack is not None and self.jack.alive
        choice = self.loaded.config.backend
        if pulse is not None or not jack_up or not self._pulse_given_up():
            return False
        return server_mode(choice, False, jack_up, self.alsa is not None) == "jack"

    def _bridge_for(self, jackd: bool) -> BridgeBackend | None:
        """The bridges while jackd runs alone; ended when another backend takes over."""
        if not jackd:
            self._close_bridge()
            return None
        if self.bridge is None:
            self.bridge = BridgeBackend()
            self.bridge.watch(asyncio.get_running_loop(), self._server_changed)
        return self.bridge

    def _close_bridge(self) -> None:
        if self.bridge is not None:
            self.bridge.close()
            self.bridge = None

    def _close_alsa(self) -> None:
        if self.alsa is not None:
            self.alsa.close()
            self.alsa = None

    def _release_alsa_default(self) -> None:
        """A pulse server runs: the ALSA default must be its own again (PipeWire's and
        PulseAudio's ALSA plugins), not the card dawroute pointed it at without one."""
        path = paths.alsa_config_file()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            return
        if alsaconf.target_of(text) is None:
            return
        why = "a sound server runs (it carries the ALSA default)"
        try:
            write_atomically(path, alsaconf.neutral(str(path), why))
        except OSError as exc:
            log.warning("could not release the ALSA default in %s: %s", path, exc)
            return
        self._record("server", "released the ALSA default: a sound server runs")

    def _server_lost(self, why: str) -> None:
        if self.server_down_since is None:
            self.server_down_since = time.time()
            log.warning("sound server unavailable: %s", why)
            self._record("server", f"sound server unavailable ({why})")
            self._notify_problem(f"sound server unavailable ({why})")

    # ------------------------------------------------------------ the pass

    def _close_dead(self) -> None:
        while self._dead:
            self._dead.pop().close()

    async def _pass_and_report(self, reasons: list[str]) -> None:
        try:
            await self._pass(reasons)
        finally:
            self._notify_status()

    def _notify_status(self) -> None:
        """systemd's STATUS= says what is true after every pass — also after a restart that
        kept the profile, or once the server is back (it said "starting" and "sound server
        unavailable" then); sent only when it changes."""
        if self.state.off:
            text = "off"
        elif self.backend is None:
            text = "sound server unavailable"
        else:
            text = f"active profile: {self.state.active or 'none'}"
        if text != self._status_sent:
            self._status_sent = text
            notify.notify(f"STATUS={text}")

    async def _pass(self, reasons: list[str]) -> None:
        self._close_dead()
        self._ensure_jack()
        requests, self._requests = self._requests, []
        pulse = self.backend if uses_pulse(self.loaded.config.backend) else None
        alsa = None
        if pulse is not None:
            self._close_alsa()
            self._release_alsa_default()
        else:
            alsa = self._alsa_for_pass()
        jackd = self._jackd_alone(pulse)
        if jackd:
            self._release_alsa_default()  # jackd holds its card: the default is not ours
        elif not uses_alsa(self.loaded.config.backend):
            alsa = None  # `backend: jack` and no jackd: not bare ALSA
        bridge = self._bridge_for(jackd)
        if pulse is None and alsa is None and not jackd:
            self.backend_name = None
            for r in requests:
                r.fail(ServerUnavailable(self._down_message()))
            return
        backend = for_profiles(self.loaded.profiles, pulse, self.jack, alsa, jackd, bridge)
        if backend.name != self.backend_name:
            self._fresh = False
            self.backend_name = backend.name
            if jackd:
                self._record("server", "jackd alone: DAW ports linked, levels on the ALSA mixers")
        try:
            t0 = time.perf_counter()
            snapshot = await self._observe(backend)
            self._timing["observe"] = time.perf_counter() - t0
            cause = Cause.EVENT if self._started else Cause.STARTUP
            for req in requests or [Request(Trigger(cause))]:
                if req.off:
                    snapshot = await self._undo(backend, req, snapshot)
                else:
                    snapshot = await self._handle(backend, req, snapshot)
            self._started = True
        except (Disconnected, ServerError) as exc:
            for r in requests:
                r.fail(ServerUnavailable(f"sound server went away: {exc}"))
        except AlsaUnavailable as exc:
            self._close_alsa()
            for r in requests:
                r.fail(ServerUnavailable(str(exc)))
        except (JackUnavailable, MetadataError) as exc:
            # JACK vanished mid-pass or pw-metadata failed: its own event brings us back
            log.warning("pass incomplete: %s", exc)
            for r in requests:
                r.fail(ProfileNotApplied(str(exc)))

    def _server_changed(self, reason: str) -> None:
        """A server (pulse or JACK) reported a change: the next pass must re-observe."""
        self._fresh = False
        self.scheduler.poke(reason)

    async def _observe(self, backend: Backends) -> Snapshot:
        """The last snapshot when nothing changed since it was taken (a MIDI or CLI switch
        between events: saves the ~1.5 ms observe round trip, measured in bench/), else a
        fresh one. Every server event clears the flag, so a stale view is never used."""
        if self._fresh and self.snapshot is not None:
            return self.snapshot
        self._fresh = True  # set before the await: an event during it clears it again
        return await backend.observe()

    def _ensure_jack(self) -> None:
        """Keep a JACK connection while a profile maps DAW ports; retry slowly without one."""
        may_serve = self.backend is None and uses_jack_server(self.loaded.config.backend)
        if not needs_jack(self.loaded.profiles) and not may_serve:
            if self.jack is not None:
                self.jack.close()
                self.jack = None
            return
        if self.jack is not None and self.jack.alive and not self._jack_reset:
            return
        self._jack_reset = False
        if self._jack_retry.pending:
            return
        if self.jack is not None:
            self.jack.close()
        loop = asyncio.get_running_loop()
        self.jack = JackBackend(self._server_changed, loop.call_soon_threadsafe)
        try:
            self.jack.connect()
            self._jack_retry.reset()
        except JackUnavailable as exc:
            delay = self._jack_retry.later(loop, self.scheduler.poke, "jack retry")
            level = logging.WARNING if needs_jack(self.loaded.profiles) else logging.DEBUG
            log.log(level, "DAW ports not linked: %s; retrying in %.1f s", exc, delay)

    async def _handle(self, backend: Backends, req: Request, snapshot: Snapshot) -> Snapshot:
        if not passplan.decides(self.state, self._stopping, req.trigger.cause):
            self.snapshot, self.decision = snapshot, None
            req.answer({"profile": None, "reason": self.active_reason or "off", "done": []})
            return snapshot
        d = policy.decide(
            self.loaded.profiles,
            snapshot,
            self.state,
            req.trigger,
            self.loaded.config.safety.max_volume,
        )
        self.snapshot, self.decision = snapshot, d
        self._update_guard(d.plan, snapshot)
        if d.error is not None:
            req.fail(refused(d.error, d.reason))
            return snapshot
        result = ApplyResult()
        default = links = None
        if d.plan is not None:
            ops = passplan.with_nudge(
                plan_ops(backend, d.plan, snapshot), d.plan, snapshot, req.volume_step
            )
            if ops:
                default = passplan.original_default(self.state, snapshot)
                if default is not None:
                    log.debug("default sink before dawroute's first change: %s", default)
                t0 = time.perf_counter()
                result = await apply_plan(backend, ops)
                links = passplan.links_after(self.state.links, result.done)
                self._timing["apply"] = time.perf_counter() - t0
                log.debug(
                    "pass: observe %.2f ms, apply %.2f ms (%d ops)",
                    self._timing["observe"] * 1e3,
                    self._timing["apply"] * 1e3,
                    len(ops),
                )
                snapshot = await backend.observe()
                self.snapshot = snapshot
                unfinished = bool(plan_ops(backend, d.plan, snapshot))
                self._verify_later(unfinished and not result.failed)
        done, failed, skipped = _described(result)
        self._commit(d, req.trigger, done, failed, skipped, default, links)
        if failed:
            self._retry()
            not_done = failed + [f"skipped {s}" for s in skipped]
            req.fail(ProfileNotApplied(f"{d.profile}: " + "; ".join(not_done)))
        else:
            self._retries = 0
            req.answer(
                {
                    "profile": d.profile,
                    "reason": d.reason,
                    "done": done,
                    "skipped": skipped,
                    "manual": d.manual is not None,
                }
            )
        return snapshot

    def _update_guard(self, plan: Plan | None, snapshot: Snapshot) -> None:
        """New caps for the server-side guard go out at once (before the next re-plug can
        need them), off the pass; only PipeWire runs the guard."""
        self._guard = guard_caps(plan, snapshot, self._guard)
        if snapshot.server is ServerKind.PIPEWIRE and self._guard != self._guard_sent:
            self._guard_sent = self._guard
            self._spawn(self._publish_guard(self._guard))

    async def _publish_guard(self, caps: GuardCaps) -> None:
        running = await capguard.publish(caps)
        if running:
            log.debug("cap guard: %d device(s) guarded", len(caps))
        elif self._guard_running is not False:
            log.info(
                "no server-side cap guard is running (WirePlumber 0.5 with `dawroute init`"
                " and a WirePlumber restart): caps are kept by dawroute alone"
            )
        self._guard_running = running

    async def _undo(self, backend: Backends, req: Request, snapshot: Snapshot) -> Snapshot:
        """`dawroute off`: undo the routing (routing.off), then stop deciding."""
        ops, notes = off.undo_ops(snapshot, self.state.original_default, self.state.links)
        result = await apply_plan(backend, ops) if ops else ApplyResult()
        done, failed, skipped = _described(result)
        if ops:
            snapshot = await backend.observe()
        self.snapshot, self.decision = snapshot, None
        old = self.state
        new = passplan.after_off(
            old, snapshot, result.done, bool(failed), req.stay_off, time.time()
        )
        reason = passplan.OFF_REASON if req.stay_off else passplan.STOPPED_REASON
        self.active_reason = reason
        if new != old:
            self.state = new
            self._save_state(new)
            notify.notify("STATUS=off" if req.stay_off else "STATUS=stopping")
            if self.notifier is not None and req.stay_off:
                self.notifier.profile(None, reason)
            if self.midi is not None and old.active is not None:
                self.midi.send_leds(None)
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
            loop.call_later(VERIFY_SECONDS, self._server_changed, "verify the last apply")

    def _retry(self) -> None:
        # e.g. the device vanished between observe and apply: its remove event will also
        # poke us, but a failure without an event must not wait forever — nor spin.
        self._retries += 1
        if self._retries <= MAX_RETRIES:
            self.scheduler.poke("retry after failed apply")

    def _commit(
        self,
        d: Decision,
        trigger: Trigger,
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
            self._save_state(new)
            if self.midi is not None and new.active != old.active:
                self.midi.send_leds(new.active)
            if self.notifier is not None and new.active != old.active:
                self.notifier.profile(d.profile, d.reason)
        if failed:
            self._notify_problem(f"{d.profile}: not fully applied: {failed[0]}")
        if self.osc is not None:
            self.osc.update(self._osc_view())  # sent only when something shown changed
        self.active_reason = passplan.reason_shown(self.active_reason, d, old, new, trigger.cause)
        if new.active != old.active or done or failed or skipped:
            log.info(
                "%s [%s] (%d op(s)%s%s)",
                d.reason,
                trigger.cause.value,
                len(done),
                f", {len(failed)} failed" if failed else "",
                f", {len(skipped)} skipped" if skipped else "",
            )
            self._record(
                "decision",
                d.reason,
                profile=d.profile,
                cause=trigger.cause.value,
                done=done,
                failed=failed,
                skipped=skipped,
            )

    def _save_state(self, state: State) -> None:
        """Save; a failure (disk full, EMFILE, read-only) is logged once per cause, kept
        for `status`, and never stops the decision from being logged and recorded."""
        try:
            state_store.save(self.settings.state_path, state)
        except OSError as exc:
            why = f"cannot save state to {self.settings.state_path}: {exc.strerror or exc}"
            if why != self.state_error:
                log.error("%s; the active profile is kept in memory only", why)
                self._record("state", why)
                self._notify_problem(why)
            self.state_error = why
            return
        if self.state_error is not None:
            log.info("state saved again to %s", self.settings.state_path)
            self._record("state", "state saved again")
        self.state_error = None

    def _record(self, kind: str, message: str, **extra: Any) -> None:
        self.events.record(kind, message, **extra)

    # ------------------------------------------------------------ config

    async def _reloader(self) -> None:
        """Reloads one at a time, off the loop; requests during one coalesce into the next."""
        while True:
            await self._reload_wanted.wait()
            self._reload_wanted.clear()
            waiters, self._reload_waiters = self._reload_waiters, []
            notify.notify("RELOADING=1\nSTATUS=reloading the configuration")
            ok = await self._reload()
            self._status_sent = None  # the next pass says what is true again
            notify.notify("READY=1")
            for w in waiters:
                if not w.done():
                    w.set_result(ok)
            self.scheduler.poke("configuration reloaded")

    async def _reload(self, initial: bool = False) -> bool:
        """Read and validate in a worker thread with a time limit, so routing, MIDI and the
        control socket carry on while a large or hostile file is parsed."""
        s = self.settings
        where = str(s.config_path or (s.profile_paths[0] if s.profile_paths else "?"))
        if self._reload_thread is not None:  # one that overran: never run two at once
            with contextlib.suppress(Exception, TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._reload_thread), RELOAD_SECONDS)
            if not self._reload_thread.done():
                issue = ConfigIssue(
                    where, 1, 1, "", "the previous reload is still reading the files",
                    "make the files smaller or simpler, then reload again",
                )  # fmt: skip
                return self._use(
                    ProfileSet(()), LoadedConfig(Config(), None, None), [issue], initial
                )
            self._reload_thread = None

        def work() -> tuple[ProfileSet, LoadedConfig, list[ConfigIssue]]:
            with yamlsource.time_limit(RELOAD_SECONDS):
                return check_all(s.profile_paths, s.config_path)

        job = asyncio.get_running_loop().run_in_executor(None, work)
        try:
            # the parser checks the same deadline itself; this is the backstop
            profiles, loaded, issues = await asyncio.wait_for(
                asyncio.shield(job), RELOAD_SECONDS + 2
            )
        except TimeoutError:
            self._reload_thread = job
            issues = [
                ConfigIssue(
                    where, 1, 1, "", f"reading the configuration took longer than "
                    f"{RELOAD_SECONDS:g} s", "make the files smaller or simpler",
                )
            ]  # fmt: skip
            profiles, loaded = ProfileSet(()), LoadedConfig(Config(), None, None)
        except Exception as exc:  # a bug in validation must not end reloading for good
            log.error("reading the configuration failed: %s: %s", type(exc).__name__, exc)
            issues = [
                ConfigIssue(
                    where, 1, 1, "", f"internal error while reading: {type(exc).__name__}: {exc}",
                    "please report it; the last good configuration stays in use",
                )
            ]  # fmt: skip
            profiles, loaded = ProfileSet(()), LoadedConfig(Config(), None, None)
        return self._use(profiles, loaded, issues, initial)

    def _use(
        self, profiles: ProfileSet, loaded: LoadedConfig, issues: list[ConfigIssue], initial: bool
    ) -> bool:
        """Take a validated configuration, or keep the last good one and record why not."""
        errors = tuple(i for i in issues if i.severity == "error")
        warnings = tuple(i for i in issues if i.severity == "warning")
        for issue in issues[: MAX_SHOWN * 2]:  # not 3,000 lines per save of a broken file
            log.log(
                logging.ERROR if issue.severity == "error" else logging.WARNING,
                "%s",
                issue.format(),
            )
        if len(issues) > MAX_SHOWN * 2:
            log.error(
                "… and %d more issue(s); `dawroute check` lists them", len(issues) - MAX_SHOWN * 2
            )
        if errors:
            kept = "keeping the last good configuration" if not initial else "no profiles loaded"
            self.loaded = replace(self.loaded, errors=errors)
            self._record(
                "config",
                f"configuration has {len(errors)} error(s); {kept}",
                errors=issue_lines(errors, 3),  # a summary: events are kept and sent in status
            )
            self._notify_problem(
                f"configuration has {len(errors)} error(s); {kept} — `dawroute check` "
                f"lists them. First: {issue_lines(errors, 1)[0]}"
            )
            return False
        midi_changed = loaded.config.midi != self.loaded.config.midi
        if not self.settings.verbose:
            logging.getLogger().setLevel(loaded.config.log_level.upper())
        osc_changed = loaded.config.osc != self.loaded.config.osc
        if loaded.config.backend != self.loaded.config.backend and not initial:
            self._backend_event.set()  # the server loop starts again with the new choice
        self.loaded = Loaded(
            tuple(p.profile for p in profiles.profiles), loaded.config, (), warnings, time.time()
        )
        self._record("config", f"loaded {len(self.loaded.profiles)} profile(s)")
        if midi_changed and not initial:
            self._trigger_state = TriggerState()
            self._restart_midi()
        elif self.midi is not None:
            self.midi.rescan()  # a reload also looks for controllers again
        if not initial:
            self._configure_notifications()
        if osc_changed and not initial:
            self._restart_osc()
        return True

    # ------------------------------------------------------------ Control

    async def _request(
        self,
        trigger: Trigger,
        volume_step: float = 0.0,
        *,
        off: bool = False,
        stay_off: bool = True,
    ) -> Changed:
        future: asyncio.Future[Changed] = asyncio.get_running_loop().create_future()
        self._requests.append(Request(trigger, future, volume_step, off, stay_off))
        self.scheduler.poke(f"request {trigger.cause.value}")
        try:
            return await asyncio.wait_for(future, REQUEST_TIMEOUT)
        except TimeoutError:
            raise ProfileNotApplied("timed out waiting for the sound server") from None

    async def _off_request(self) -> Changed:
        return await self._request(Trigger(), off=True)

    async def _reload_request(self) -> Reloaded:
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._reload_waiters.append(done)
        self._reload_wanted.set()
        ok = await done
        if not ok:
            raise ConfigInvalid(list(self.loaded.errors))
        return {
            "profiles": [p.name for p in self.loaded.profiles],
            "warnings": issue_lines(self.loaded.warnings),
        }

    def view(self) -> View:
        """What `status` and `list` show, now, as one immutable value."""
        in_use = self.backend_name
        available = (
            (self.backend is not None and in_use == "pulse")
            or (self.alsa is not None and in_use == "alsa")
            or (self.jack is not None and self.jack.alive and in_use == "jack")
        )
        return View(
            state=self.state,
            snapshot=self.snapshot,
            decision=self.decision,
            active_reason=self.active_reason,
            profiles=self.loaded.profiles,
            max_volume=self.loaded.config.safety.max_volume,
            backend=in_use,
            server_available=available,
            server_down_since=self.server_down_since,
            cap_guard=self._guard_running if in_use == "pulse" else None,
            loaded_at=self.loaded.loaded_at,
            errors=self.loaded.errors,
            warnings=self.loaded.warnings,
            state_file=str(self.settings.state_path),
            state_error=self.state_error,
            events=self.events.recent(10),
            midi=self.midi.status() if self.midi is not None else None,
            osc=self.osc.status() if self.osc is not None else None,
        )

    def _down_message(self) -> str:
        since = time.strftime("%H:%M:%S", time.localtime(self.server_down_since or time.time()))
        choice = self.loaded.config.backend
        if choice == "jack":
            return f"no JACK server runs since {since} (backend: jack)"
        if not uses_pulse(choice):
            return "bare ALSA unavailable: no ALSA sound support (no /proc/asound)"
        alsa = "" if uses_alsa(choice) else f" (backend: {choice}: bare ALSA not used)"
        return f"sound server unavailable since {since}{alsa}"


def _described(result: ApplyResult) -> tuple[list[str], list[str], list[str]]:
    """done, failed and skipped as the lines users see (status, watch, switch)."""
    return (
        [op.describe() for op in result.done],
        [f"{op.describe()}: {why}" for op, why in result.failed],
        [f"{op.describe()}: {why}" for op, why in result.skipped],
    )


def run(settings: Settings) -> int:
    daemon = Daemon(settings)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(daemon.run())
    return 0

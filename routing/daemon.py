"""The daemon: the composition root. It builds the parts, wires their callbacks and runs
them; it decides nothing and keeps no connection itself.

    sources                       parts                          answers
    pulse/ALSA/JACK ── connections ─┐
    MIDI, OSC ──────── surfaces ────┼─→ scheduler ─→ passes ─→ Shown ─┐
    control socket ─── service ─────┘     (observe → decide →         ├─ service: status, list
    files, SIGHUP ──── reloader ── Loaded  apply → commit)  events ───┘  watch
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from routing import notify, paths, runtime
from routing import osc as osc_feedback
from routing import state as state_store
from routing.connections import Connections
from routing.contract import Changed
from routing.control import ControlServer
from routing.events import Events
from routing.guardpublisher import GuardPublisher
from routing.model import State
from routing.notices import Notices
from routing.passes import Parts, Passes
from routing.policy import Intent
from routing.profile import Profile
from routing.reloader import Loaded, Reloader
from routing.scheduler import Scheduler
from routing.service import Service
from routing.settings import Config
from routing.statesaver import StateSaver
from routing.surfaces import Surfaces
from routing.tasks import Tasks
from routing.view import View
from routing.watch import DirectoryWatch

log = logging.getLogger(__name__)

HISTORY = 50


@dataclass
class Settings:
    profile_paths: Sequence[Path]
    config_path: Path | None
    state_path: Path
    socket_path: Path
    server: str | None = None  # PULSE_SERVER-style address; None = the default
    verbose: bool = False  # -v: debug logging, whatever config.yaml's log_level says


class Daemon:
    """Builds the parts and wires them: connections and surfaces poke the scheduler, the
    scheduler runs the passes, the service answers the control socket from the View."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.events = Events(HISTORY)
        self.notices = Notices()
        self.tasks = Tasks()
        self._stop = asyncio.Event()
        self.scheduler = Scheduler(self._run_pass)
        self.reloader = Reloader(
            settings.profile_paths,
            settings.config_path,
            self._applied,
            self._reloaded,
            self.events.record,
            self.notices.problem,
        )
        self.guard = GuardPublisher(self.tasks)
        self.connections = Connections(
            settings.server,
            self._config,
            self.scheduler.poke,
            self._changed,
            self._stale,
            self._connected,
            self.events.record,
            self.notices.problem,
        )
        self.surfaces = Surfaces(
            self._config,
            lambda: self.passes.state.active,
            self._osc_view,
            self._surface_request,
            self.events.record,
            self.tasks,
        )
        self.saver = StateSaver(settings.state_path, self.events.record, self.notices.problem)
        parts = Parts(
            self.connections,
            self.saver,
            self.events,
            self.surfaces,
            self.notices,
            self.guard,
            self.scheduler.poke,
        )
        self.passes = Passes(parts, self._config, self._profiles, State())

    # ------------------------------------------------------------ wiring

    def _config(self) -> Config:
        return self.reloader.loaded.config

    def _profiles(self) -> tuple[Profile, ...]:
        return self.reloader.loaded.profiles

    async def _run_pass(self, reasons: list[str]) -> None:
        await self.passes.run(reasons)

    def _changed(self, reason: str) -> None:
        self.passes.changed(reason)

    def _stale(self) -> None:
        self.passes.stale()

    def _connected(self) -> None:
        """A pulse server (re)connected."""
        self.connections.jack.server_restarted()
        self.guard.forget_sent()
        self.notices.clear_problem()

    async def _surface_request(self, intent: Intent, volume_step: float) -> Changed:
        return await self.passes.request(intent, volume_step)

    def _reloaded(self) -> None:
        self.passes.reloaded()

    def _applied(self, old: Loaded, new: Loaded, initial: bool) -> None:
        """A configuration was taken: its settings reach the parts that use them."""
        if not self.settings.verbose:
            logging.getLogger().setLevel(new.config.log_level.upper())
        if new.config.backend != old.config.backend and not initial:
            self.connections.pulse.choice_changed()
        if not initial:
            self.surfaces.reconfigure(old.config, new.config)
            self.notices.configure(new.config.notifications)

    def _osc_view(self) -> osc_feedback.View:
        p = self.passes
        return osc_feedback.View(
            p.state.active,
            p.state.manual is not None,
            tuple(pr.name for pr in self._profiles()),
            p.decision.problems if p.decision is not None else (),
        )

    def view(self) -> View:
        """What `status` and `list` show: the last committed pass (passes.Shown), with the
        configuration, connections, events and surfaces as they are now."""
        shown, loaded = self.passes.shown, self.reloader.loaded
        midi, osc = self.surfaces.status()
        return View(
            state=shown.state,
            snapshot=shown.snapshot,
            decision=shown.decision,
            active_reason=shown.active_reason,
            profiles=loaded.profiles,
            max_volume=loaded.config.safety.max_volume,
            backend=shown.backend,
            server_available=self.connections.available(shown.backend),
            server_down_since=self.connections.pulse.down_since,
            cap_guard=self.guard.running if shown.backend == "pulse" else None,
            loaded_at=loaded.loaded_at,
            errors=loaded.errors,
            warnings=loaded.warnings,
            state_file=str(self.settings.state_path),
            state_error=self.saver.error,
            events=self.events.recent(10),
            midi=midi,
            osc=osc,
        )

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
        self.passes.start_with(state_store.load(self.settings.state_path))
        await self.reloader.reload(initial=True)
        self.notices.configure(self._config().notifications)
        service = Service(
            self.view, self.passes.request, self.passes.off, self.reloader.request, self.events
        )
        control = ControlServer(
            service, self.settings.socket_path, max_connections=runtime.connection_cap(fd_limit)
        )
        await control.start()
        self.surfaces.start()
        watch = DirectoryWatch(self._watched_dirs(), self.reloader.want)
        watch.start(loop)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, self.reloader.want, "SIGHUP")
        tasks = [
            asyncio.create_task(self.scheduler.run(), name="scheduler"),
            asyncio.create_task(self.connections.pulse.supervise(), name="server"),
            asyncio.create_task(self.reloader.run(), name="reloader"),
        ]
        interval = notify.watchdog_interval()
        if interval:
            tasks.append(asyncio.create_task(_watchdog(interval), name="watchdog"))
        log.info(
            "dawroute started: %d profile(s), control socket %s",
            len(self._profiles()),
            self.settings.socket_path,
        )
        runtime.freeze_startup_objects()
        notify.notify("READY=1\nSTATUS=starting")
        await self._stop.wait()
        notify.notify("STOPPING=1")
        log.info("stopping")
        await self.passes.restore_on_stop()
        await self._shutdown(tasks)
        watch.close(loop)
        await control.close()
        self.notices.close()
        self.passes.save()
        return 0

    def stop(self) -> None:
        self._stop.set()

    async def _shutdown(self, tasks: list[asyncio.Task[None]]) -> None:
        """Let the running pass finish, then drop the connections.

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
        self.surfaces.close()
        self.connections.close()

    def _watched_dirs(self) -> list[Path]:
        dirs = {p if p.is_dir() or not p.suffix else p.parent for p in self.settings.profile_paths}
        if self.settings.config_path is not None:
            dirs.add(self.settings.config_path.parent)
        return sorted(dirs)


async def _watchdog(interval: float) -> None:
    while True:
        notify.notify("WATCHDOG=1")
        await asyncio.sleep(interval)


def run(settings: Settings) -> int:
    daemon = Daemon(settings)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(daemon.run())
    return 0

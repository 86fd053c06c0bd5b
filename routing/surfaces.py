"""The control surfaces: MIDI controllers and OSC clients. They open and close with the
configuration, turn what arrives into requests for the next pass, and show the outcome
(MIDI LEDs, OSC feedback). They never decide: routing.triggers maps a message to an
action, the pass decides what it does."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from routing import osc as osc_feedback
from routing import triggers
from routing.contract import Changed
from routing.errors import DawrouteError
from routing.midi import MidiControl
from routing.osc import OscControl
from routing.policy import Cause, Intent
from routing.settings import Config
from routing.tasks import Tasks
from routing.triggers import TriggerState

log = logging.getLogger("routing.daemon")  # the daemon's log lines keep their name

Request = Callable[[Intent, float], Awaitable[Changed]]  # an intent, a volume step


class Surfaces:
    def __init__(
        self,
        config: Callable[[], Config],
        active: Callable[[], str | None],
        shown: Callable[[], osc_feedback.View],
        request: Request,
        record: Callable[[str, str], None],
        tasks: Tasks,
    ) -> None:
        self._config = config
        self._active = active
        self._shown = shown
        self._request = request
        self._record = record
        self._tasks = tasks
        self._trigger_state = TriggerState()
        self._pending: list[str] = []  # profiles a surface switched to, not answered yet
        self.midi: MidiControl | None = None
        self.osc: OscControl | None = None

    def start(self) -> None:
        self._restart_midi()
        self._restart_osc()

    def reconfigure(self, old: Config, new: Config) -> None:
        """After a reload: reopen only what changed."""
        if new.midi != old.midi:
            self._trigger_state = TriggerState()
            self._restart_midi()
        elif self.midi is not None:
            self.midi.rescan()  # a reload also looks for controllers again
        if new.osc != old.osc:
            self._restart_osc()

    def active_changed(self, active: str | None) -> None:
        if self.midi is not None:
            self.midi.send_leds(active)

    def update(self) -> None:
        """OSC feedback after a pass; sent only when something shown changed."""
        if self.osc is not None:
            self.osc.update(self._shown())

    def status(self) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """MIDI's and OSC's parts of `status`."""
        midi = self.midi.status() if self.midi is not None else None
        return midi, self.osc.status() if self.osc is not None else None

    def close(self) -> None:
        if self.midi is not None:
            self.midi.close()
        if self.osc is not None:
            self.osc.close()

    # ------------------------------------------------------------ MIDI

    def _restart_midi(self) -> None:
        """(Re)open MIDI for the current config; no triggers and no LEDs = no MIDI at all."""
        if self.midi is not None:
            self.midi.close()
            self.midi = None
        cfg = self._config().midi
        if not cfg.triggers and cfg.feedback is None:
            return
        self.midi = MidiControl(cfg, self._on_midi, asyncio.get_running_loop())
        self.midi.start()
        self.midi.send_leds(self._active())

    def _on_midi(self, port: str, data: list[int], when: float) -> None:
        """Runs on the loop (handed over from rtmidi's thread); only queues requests."""
        msg = triggers.parse(port, data, when)
        if msg is None:
            return
        cfg = self._config().midi
        actions, self._trigger_state = triggers.evaluate(
            cfg.triggers, msg, self._trigger_state, self._toward(), cfg.debounce_ms
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
            self._spawn(action, "MIDI")

    # ------------------------------------------------------------ OSC

    def _restart_osc(self) -> None:
        """(Re)open OSC for the current config; none configured = no socket at all."""
        if self.osc is not None:
            self.osc.close()
            self.osc = None
        cfg = self._config().osc
        if cfg is None:
            return
        osc = self.osc = OscControl(cfg, self._on_osc, self._toward)

        async def start() -> None:
            await osc.start()
            if osc.problem:
                self._record("osc", osc.problem)
            osc.update(self._shown())

        self._tasks.spawn(start())

    def _on_osc(self, action: triggers.Action, peer: str) -> None:
        log.info("OSC from %s → %s", peer, action.describe())
        self._spawn(action, "OSC")

    # ------------------------------------------------------------ both

    def _toward(self) -> str | None:
        """The profile the surfaces' requests are heading for. A toggle (or a momentary
        switch) pressed while an earlier press's pass still runs starts from there, not
        from the profile still committed: two toggles sent back to back both chose the
        same profile, and one press was lost."""
        return self._pending[-1] if self._pending else self._active()

    def _spawn(self, action: triggers.Action, source: str) -> None:
        """Queue the action's request; a switch counts as pending from now (the next
        message may be read before the request's task has even started)."""
        if action.do is triggers.Do.SWITCH and action.profile:
            self._pending.append(action.profile)
        self._tasks.spawn(self._act(action, source))

    async def _act(self, action: triggers.Action, source: str) -> None:
        step = self._config().safety.volume_step
        do = triggers.Do
        try:
            if action.do is do.SWITCH:
                await self._request(Intent(Cause.SWITCH, action.profile or ""), 0.0)
            elif action.do in (do.NEXT, do.PREVIOUS, do.AUTO):
                await self._request(Intent(Cause(action.do.value)), 0.0)  # the same names
            else:
                await self._request(Intent(), step if action.do is do.VOLUME_UP else -step)
        except DawrouteError as exc:
            log.warning("%s %s: %s", source, action.describe(), exc.message)
            self._record(source.lower(), f"{action.describe()}: {exc.message}")
        finally:
            if action.do is do.SWITCH and action.profile:
                self._pending.remove(action.profile)  # answered: committed or refused

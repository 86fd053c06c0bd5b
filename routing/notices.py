"""Desktop notices (config.yaml `notifications: true`): a notifier while they are wanted,
and nothing at all otherwise — so the rest of the daemon never asks whether one exists."""

from __future__ import annotations

import asyncio

from routing import desktop


class Notices:
    def __init__(self) -> None:
        self._notifier: desktop.Notifier | None = None

    def configure(self, want: bool) -> None:
        if want and self._notifier is None:
            self._notifier = desktop.Notifier(asyncio.get_running_loop())
        elif not want and self._notifier is not None:
            self._notifier.close()
            self._notifier = None

    def profile(self, profile: str | None, reason: str) -> None:
        if self._notifier is not None:
            self._notifier.profile(profile, reason)

    def problem(self, message: str) -> None:
        if self._notifier is not None:
            self._notifier.problem(message)

    def clear_problem(self) -> None:
        if self._notifier is not None:
            self._notifier.clear_problem()

    def close(self) -> None:
        if self._notifier is not None:
            self._notifier.close()

"""Reads the configuration again when its files change, on SIGHUP or on `reload`: one
reload at a time, in a worker thread with a time limit, so routing, MIDI and the control
socket carry on while a large or hostile file is parsed. A configuration with errors is
not taken: the last good one stays, and why is logged, recorded and notified."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from routing import notify
from routing.contract import Reloaded
from routing.errors import MAX_SHOWN, ConfigInvalid, ConfigIssue, issue_lines
from routing.format import yamlsource
from routing.format.config import LoadedConfig, check_all
from routing.format.document import ProfileSet
from routing.profile import Profile
from routing.settings import Config

log = logging.getLogger("routing.daemon")  # the daemon's log lines keep their name

RELOAD_SECONDS = 10.0  # a reload that takes longer is abandoned; the last good config stays


@dataclass
class Loaded:
    profiles: tuple[Profile, ...] = ()
    config: Config = field(default_factory=Config)
    errors: tuple[ConfigIssue, ...] = ()  # of the last reload that failed (config kept)
    warnings: tuple[ConfigIssue, ...] = ()
    loaded_at: float | None = None


Applied = Callable[[Loaded, Loaded, bool], None]  # old, new, initial


class Reloader:
    def __init__(
        self,
        profile_paths: Sequence[Path],
        config_path: Path | None,
        applied: Applied,
        after: Callable[[], None],
        record: Callable[..., None],
        problem: Callable[[str], None],
    ) -> None:
        self.profile_paths = profile_paths
        self.config_path = config_path
        self.loaded = Loaded()
        self._applied = applied  # a new configuration was taken
        self._after = after  # a reload ended, taken or not
        self._record = record
        self._problem = problem
        self._wanted = asyncio.Event()
        self._waiters: list[asyncio.Future[bool]] = []
        self._thread: asyncio.Future[Any] | None = None  # still running past its limit

    def want(self, what: str) -> None:
        """A file changed (or SIGHUP): reload soon; requests during one coalesce."""
        log.debug("reload requested (%s)", what)
        self._wanted.set()

    async def request(self) -> Reloaded:
        """`dawroute reload`: answered once the files were read again."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiters.append(done)
        self._wanted.set()
        if not await done:
            raise ConfigInvalid(list(self.loaded.errors))
        return {
            "profiles": [p.name for p in self.loaded.profiles],
            "warnings": issue_lines(self.loaded.warnings),
        }

    async def run(self) -> None:
        """Reloads one at a time; requests during one coalesce into the next."""
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            waiters, self._waiters = self._waiters, []
            notify.notify("RELOADING=1\nSTATUS=reloading the configuration")
            ok = await self.reload()
            notify.notify("READY=1")
            for w in waiters:
                if not w.done():
                    w.set_result(ok)
            self._after()

    async def reload(self, initial: bool = False) -> bool:
        where = str(self.config_path or (self.profile_paths[0] if self.profile_paths else "?"))
        if self._thread is not None:  # one that overran: never run two at once
            with contextlib.suppress(Exception, TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._thread), RELOAD_SECONDS)
            if not self._thread.done():
                issue = ConfigIssue(
                    where, 1, 1, "", "the previous reload is still reading the files",
                    "make the files smaller or simpler, then reload again",
                )  # fmt: skip
                return self._use(ProfileSet(()), _nothing(), [issue], initial)
            self._thread = None
        profiles, loaded, issues = await self._read(where)
        return self._use(profiles, loaded, issues, initial)

    async def _read(self, where: str) -> tuple[ProfileSet, LoadedConfig, list[ConfigIssue]]:
        paths, config_path = self.profile_paths, self.config_path

        def work() -> tuple[ProfileSet, LoadedConfig, list[ConfigIssue]]:
            with yamlsource.time_limit(RELOAD_SECONDS):
                return check_all(paths, config_path)

        job = asyncio.get_running_loop().run_in_executor(None, work)
        try:
            # the parser checks the same deadline itself; this is the backstop
            return await asyncio.wait_for(asyncio.shield(job), RELOAD_SECONDS + 2)
        except TimeoutError:
            self._thread = job
            issue = ConfigIssue(
                where, 1, 1, "", f"reading the configuration took longer than "
                f"{RELOAD_SECONDS:g} s", "make the files smaller or simpler",
            )  # fmt: skip
        except Exception as exc:  # a bug in validation must not end reloading for good
            log.error("reading the configuration failed: %s: %s", type(exc).__name__, exc)
            issue = ConfigIssue(
                where, 1, 1, "", f"internal error while reading: {type(exc).__name__}: {exc}",
                "please report it; the last good configuration stays in use",
            )  # fmt: skip
        return ProfileSet(()), _nothing(), [issue]

    def _use(
        self, profiles: ProfileSet, loaded: LoadedConfig, issues: list[ConfigIssue], initial: bool
    ) -> bool:
        """Take a validated configuration, or keep the last good one and record why not."""
        errors = tuple(i for i in issues if i.severity == "error")
        warnings = tuple(i for i in issues if i.severity == "warning")
        _log_issues(issues)
        if errors:
            kept = "keeping the last good configuration" if not initial else "no profiles loaded"
            self.loaded = replace(self.loaded, errors=errors)
            self._record(
                "config",
                f"configuration has {len(errors)} error(s); {kept}",
                errors=issue_lines(errors, 3),  # a summary: events are kept and sent in status
            )
            self._problem(
                f"configuration has {len(errors)} error(s); {kept} — `dawroute check` "
                f"lists them. First: {issue_lines(errors, 1)[0]}"
            )
            return False
        old = self.loaded
        self.loaded = Loaded(
            tuple(p.profile for p in profiles.profiles), loaded.config, (), warnings, time.time()
        )
        self._record("config", f"loaded {len(self.loaded.profiles)} profile(s)")
        self._applied(old, self.loaded, initial)
        return True


def _nothing() -> LoadedConfig:
    return LoadedConfig(Config(), None, None)


def _log_issues(issues: list[ConfigIssue]) -> None:
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

"""PipeWire-native extras the pulse protocol does not carry: the forced clock rate and
quantum in the "settings" metadata (what `pw-metadata -n settings` shows and sets).

pw-metadata costs ~3 ms a call (process start; project probe), so the daemon reads the
metadata only when a profile uses `clock`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from collections.abc import Mapping, Sequence

from routing.model import ApplyResult, Clock, Op, SetClock

log = logging.getLogger(__name__)

_LINE = re.compile(r"key:'(?P<key>[^']+)' value:'(?P<value>[^']*)'")


class MetadataError(RuntimeError):
    pass


async def pw_metadata(name: str, *args: str, env: Mapping[str, str] | None = None) -> str:
    """`pw-metadata -n NAME 0 [ARGS]`: read (no args) or set one key of that metadata."""
    if shutil.which("pw-metadata") is None:
        raise MetadataError("pw-metadata not installed (Debian package pipewire-bin)")
    proc = await asyncio.create_subprocess_exec(
        "pw-metadata",
        "-n",
        name,
        "0",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise MetadataError(f"pw-metadata failed: {err.decode(errors='replace').strip()}")
    return out.decode(errors="replace")


def parse_settings(text: str) -> dict[str, str]:
    return {m["key"]: m["value"] for m in _LINE.finditer(text)}


async def read_clock(env: dict[str, str] | None = None) -> tuple[Clock, tuple[int, ...]]:
    """(the forced clock, the rates the graph allows)."""
    settings = parse_settings(await pw_metadata("settings", env=env))
    allowed = tuple(int(r) for r in re.findall(r"\d+", settings.get("clock.allowed-rates", "")))
    return Clock(
        _int(settings.get("clock.force-rate")), _int(settings.get("clock.force-quantum"))
    ), allowed


async def set_clock(clock: Clock, env: dict[str, str] | None = None) -> None:
    await pw_metadata("settings", "clock.force-rate", str(clock.rate), env=env)
    await pw_metadata("settings", "clock.force-quantum", str(clock.quantum), env=env)


class ClockBackend:
    """The forced clock as a backend: observe it, run SetClock ops (see routing.apply)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = env

    async def observe(self) -> tuple[Clock, tuple[int, ...]]:
        return await read_clock(self.env)

    async def apply(self, ops: Sequence[Op]) -> ApplyResult:
        done: list[Op] = []
        failed: list[tuple[Op, str]] = []
        for op in ops:
            if not isinstance(op, SetClock):
                failed.append((op, "not a clock operation"))
                continue
            try:
                await set_clock(op.clock, self.env)
                log.info("%s", op.describe())
                done.append(op)
            except MetadataError as exc:
                log.warning("could not %s: %s", op.describe(), exc)
                failed.append((op, str(exc)))
        return ApplyResult(tuple(done), tuple(failed))


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0


async def read_defaults(env: dict[str, str] | None = None) -> dict[str, str]:
    """WirePlumber's chosen defaults from the "default" metadata: {"audio.sink": name, …};
    empty when it cannot be read (the caller keeps what pipewire-pulse reported)."""
    try:
        text = await pw_metadata("default", env=env)
    except MetadataError:
        return {}
    found: dict[str, str] = {}
    for key, value in parse_settings(text).items():
        m = re.search(r'"name"\s*:\s*"([^"]*)"', value)
        if key.startswith("default.") and m:
            found[key.removeprefix("default.")] = m.group(1)
    return found

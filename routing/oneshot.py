"""`dawroute apply PROFILE`: decide, reconcile and apply once, without the daemon.

The same path as a daemon pass: the backends the profiles need (pulse, or bare ALSA
without a sound server; JACK for `daw.ports`, PipeWire's clock for `clock`),
policy.decide, reconcile.ops (routing.alsaplan on bare ALSA) and
routing.apply.apply_plan; then it re-observes until the server shows the plan.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from pathlib import Path

from routing import paths, policy
from routing.apply import apply_plan, plan_ops
from routing.backends import composite
from routing.backends.composite import Backends
from routing.backends.pulse import ServerError
from routing.errors import (
    ConfigInvalid,
    ProfileNotApplied,
    ServerUnavailable,
    refused,
)
from routing.format.config import check_all
from routing.model import Op, Plan, Snapshot
from routing.refusal import Refusal
from routing.state import State

SETTLE_SECONDS = 3.0  # PipeWire applies moves asynchronously (ms); give it time to show
REAPPLY_SECONDS = 0.1  # how long an op is given to show before it is sent again


async def apply_once(name: str, profile_paths: Sequence[Path], dry_run: bool) -> int:
    loaded_profiles, loaded, issues = check_all(profile_paths, paths.config_file())
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise ConfigInvalid(errors)
    profiles = [p.profile for p in loaded_profiles.profiles]
    try:
        backends = await composite.connect(
            profiles, os.environ.get("PULSE_SERVER"), loaded.config.backend
        )
    except (ServerError, TimeoutError) as exc:
        raise ServerUnavailable(
            f"no sound server answers — start PipeWire or PulseAudio ({exc})"
        ) from exc
    try:
        snapshot = await backends.observe()
        decision = policy.decide(
            profiles,
            snapshot,
            State(),
            policy.Intent(policy.Cause.SWITCH, name),
            loaded.config.safety.max_volume,
        )
        if decision.error or decision.plan is None:
            raise refused(decision.error or Refusal.NOT_MATCHED, decision.reason)
        for problem in decision.problems:
            print(f"problem: {problem}")
        ops = plan_ops(backends, decision.plan, snapshot)
        _print_ops(ops, "would" if dry_run else "will")
        if dry_run or not ops:
            return 0
        result = await apply_plan(backends, ops)
        for op, why in result.failed:
            print(f"failed: {op.describe()}: {why}")
        for op, why in result.skipped:
            print(f"skipped: {op.describe()}: {why}")
        now, remaining = await converge(backends, decision.plan)
        if remaining or result.failed:
            raise ProfileNotApplied(
                f"{name}: not fully applied; still to do: "
                + "; ".join(o.describe() for o in remaining or [op for op, _ in result.failed])
                + f" (the default is {now.default_sink or 'unset'})"
            )
        print(f"{name}: applied")
        return 0
    finally:
        backends.close()


async def converge(backends: Backends, plan: Plan) -> tuple[Snapshot, list[Op]]:
    """Re-observe until the server shows the plan, re-applying what did not stick.

    PipeWire applies asynchronously, and a default set on a sink created a moment
    earlier can be dropped while WirePlumber is still configuring that node (seen on
    PipeWire 0.3.65 with our mono remap), so a second pass is sometimes needed.
    """
    deadline = time.monotonic() + SETTLE_SECONDS
    sent = time.monotonic()
    while True:
        await asyncio.sleep(0.01)
        snapshot = await backends.observe()
        remaining = plan_ops(backends, plan, snapshot)
        now = time.monotonic()
        if not remaining or now > deadline:
            return snapshot, remaining
        if now - sent >= REAPPLY_SECONDS:  # not on every poll: it may still be on its way
            await apply_plan(backends, remaining)
            sent = now


def _print_ops(ops: Sequence[Op], verb: str) -> None:
    if not ops:
        print("nothing to do: already applied")
    for op in ops:
        print(f"{verb}: {op.describe()}")

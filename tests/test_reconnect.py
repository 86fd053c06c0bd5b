"""The one reconnect policy: a delay that doubles up to a limit, reset once it holds."""

from __future__ import annotations

import asyncio

from routing.reconnect import Reconnect


def test_the_delay_doubles_to_its_limit_and_reset_starts_over() -> None:
    async def main() -> tuple[list[float], bool, bool]:
        loop = asyncio.get_running_loop()
        retry = Reconnect(0.01, 0.03)
        delays = [retry.later(loop, lambda: None) for _ in range(4)]
        scheduled = retry.pending
        retry.reset()
        return [*delays, retry.delay], scheduled, retry.pending

    assert asyncio.run(main()) == ([0.01, 0.02, 0.03, 0.03, 0.01], True, False)


def test_a_scheduled_attempt_runs_once_and_is_no_longer_pending() -> None:
    async def main() -> list[str]:
        ran: list[str] = []
        retry = Reconnect(0.001, 1.0)
        retry.later(asyncio.get_running_loop(), ran.append, "again")
        while retry.pending:
            await asyncio.sleep(0.001)
        return ran

    assert asyncio.run(main()) == ["again"]

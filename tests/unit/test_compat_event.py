"""``_compat.AsyncEvent``: asyncio.Event semantics with a timeout on wait, on bare futures."""

from __future__ import annotations

import asyncio

import pytest

from etcdwire._compat import AsyncEvent


def test_wait_times_out_sets_wakes_every_waiter_and_forgets_cancelled_ones() -> None:
    async def main() -> None:
        event = AsyncEvent()
        assert await event.wait(0.02) is False
        assert await event.wait(0) is False
        asyncio.get_running_loop().call_later(0.01, event.set)
        assert await event.wait(5) is True and event.is_set()
        assert await event.wait(0) is True  # already set: no wait at all
        event.clear()
        assert not event.is_set()

        cancelled = asyncio.create_task(event.wait())
        await asyncio.sleep(0.01)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled

        waiters = [asyncio.create_task(event.wait(5)) for _ in range(3)]
        timed_out = asyncio.create_task(event.wait(0.01))
        await asyncio.sleep(0.05)
        event.set()
        assert await asyncio.gather(*waiters) == [True, True, True]
        assert await timed_out is False
        assert event._waiters == []  # nothing left behind by the timeout or the cancel

    asyncio.run(main())

"""``AsyncEvent``: the per-call wait of the asyncio connection, with timeouts kept in shared
timer slots (``_compat._SharedTimers``) instead of a timer handle per wait."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from typing import Any

import pytest

from etcdwire._compat import TIMER_GRANULARITY, AsyncEvent, AsyncSignal, _timers_for


def test_wait_times_out_no_earlier_than_asked_and_at_most_one_slot_late() -> None:
    async def main() -> tuple[bool, float]:
        event = AsyncEvent()
        start = time.monotonic()
        woken = await event.wait(0.05)
        return woken, time.monotonic() - start

    woken, waited = asyncio.run(main())
    assert woken is False
    # The loop's clock may round down by its resolution; a slot ends at most one granule late
    # (and the bound leaves room for a slow machine).
    assert 0.05 - 0.002 <= waited < 0.05 + TIMER_GRANULARITY + 0.5


def test_set_wakes_every_waiter_and_the_slots_forget_them() -> None:
    """A thousand waits that end early leave nothing behind in the timer slots, and the waits
    begun in one slot of time share its one timer."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        events = [AsyncEvent() for _ in range(1000)]
        scheduled_before = len(loop._scheduled)  # type: ignore[attr-defined]
        tasks = [asyncio.ensure_future(event.wait(30)) for event in events]
        await asyncio.sleep(0)
        timers = _timers_for(loop)
        waiting = sum(len(futures) for futures in timers._slots.values())
        assert waiting == 1000
        # The thousand waits began within a few slots: a handful of timer handles, not 1000.
        handles = len(loop._scheduled) - scheduled_before  # type: ignore[attr-defined]
        assert handles <= 10
        for event in events:
            event.set()
        assert all(await asyncio.gather(*tasks))
        assert sum(len(futures) for futures in timers._slots.values()) == 0

    asyncio.run(main())


def test_cancelled_wait_leaves_its_slot_and_the_event() -> None:
    async def main() -> None:
        event = AsyncEvent()
        task = asyncio.ensure_future(event.wait(30))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        timers = _timers_for(asyncio.get_running_loop())
        assert sum(len(futures) for futures in timers._slots.values()) == 0
        assert not event._waiters
        event.set()  # nobody is left to wake
        assert await event.wait(30) is True

    asyncio.run(main())


def test_each_event_loop_has_its_own_timers() -> None:
    """asyncio.run makes a new loop each time; a timer slot never outlives or crosses it."""

    async def waited() -> bool:
        return await AsyncEvent().wait(0.01)

    assert asyncio.run(waited()) is False
    assert asyncio.run(waited()) is False


def test_zero_or_negative_timeout_does_not_wait() -> None:
    async def main() -> tuple[bool, bool, bool]:
        unset, already = AsyncEvent(), AsyncEvent()
        already.set()
        return await unset.wait(0), await unset.wait(-1), await already.wait(0)

    assert asyncio.run(main()) == (False, False, True)


def test_timers_do_not_outlive_their_loop() -> None:
    """The shared timers hold no reference to their loop: when asyncio.run ends, the loop and
    its timers can both be collected (a client's machinery never outlives it)."""
    refs: list[weakref.ref[Any]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await AsyncEvent().wait(0.001)
        refs.extend((weakref.ref(loop), weakref.ref(_timers_for(loop))))

    asyncio.run(main())
    gc.collect()
    assert [ref() for ref in refs] == [None, None]


def test_signal_set_before_during_or_never_and_its_timer_slot_is_left_empty() -> None:
    """AsyncSignal, the one-shot wait of a call on its own stream: set before the wait (the
    wait returns at once), set during it (it wakes), or never (its timeout ends it); a timeout
    of zero or less does not wait. No wait leaves its future in a timer slot."""

    async def main() -> list[bool]:
        loop = asyncio.get_running_loop()
        early = AsyncSignal()
        early.set()
        during = AsyncSignal()
        loop.call_later(0.01, during.set)
        results = [
            await early.wait(5),
            await during.wait(5),
            await AsyncSignal().wait(0.02),
            await AsyncSignal().wait(0),
            during.is_set(),
        ]
        slots = _timers_for(loop)._slots
        assert all(not futures for futures in slots.values())
        return results

    assert asyncio.run(main()) == [True, True, False, False, True]

"""Double barrier and queue recipes (issue 6, "if time allows") against real etcd, after
Go's client/v3/experimental/recipes: nobody passes the barrier before all have entered or
leaves before all have left; every queued item goes to exactly one consumer, in order."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from etcdwire import (
    AsyncClient,
    AsyncDistributedQueue,
    AsyncDoubleBarrier,
    AsyncSession,
    DeadlineExceeded,
    RecipeError,
)
from etcdwire._compat import asleep, aspawn

pytestmark = pytest.mark.etcd

IS_ASYNC = True
PARTIES = 5 if IS_ASYNC else 3
PRODUCERS = 3
CONSUMERS = 4 if IS_ASYNC else 2
ITEMS = 20


def name() -> str:
    return f"bq-{uuid.uuid4().hex[:8]}"


async def test_double_barrier_holds_everyone_until_all_enter_and_all_leave(etcd: Any) -> None:
    barrier_name = name()
    log: list[str] = []
    async with AsyncClient(etcd.url) as client:

        async def party(index: int) -> None:
            async with AsyncSession(client) as session:
                barrier = AsyncDoubleBarrier(session, barrier_name, PARTIES)
                log.append("enter")
                await barrier.enter(timeout=30)
                log.append("entered")
                await asleep(0.05 * index)  # leave at different times
                log.append("leave")
                await barrier.leave(timeout=30)
                log.append("left")

        tasks = [aspawn(party, i) for i in range(PARTIES - 1)]
        await asleep(0.5)
        assert log == ["enter"] * (PARTIES - 1)  # nobody passes before the last one enters
        tasks.append(aspawn(party, PARTIES - 1))
        for task in tasks:
            await task.join(60)
        assert log.index("entered") > max(i for i, e in enumerate(log) if e == "enter")
        assert log.index("left") > max(i for i, e in enumerate(log) if e == "leave")
        assert log.count("left") == PARTIES
        assert (await client.get(barrier_name, prefix=True, count_only=True)).count == 0


async def test_double_barrier_refuses_one_too_many(etcd: Any) -> None:
    barrier_name = name()
    async with AsyncClient(etcd.url) as client, AsyncSession(client) as one:
        first = AsyncDoubleBarrier(one, barrier_name, 1)
        await first.enter(timeout=5)  # one party: the barrier is complete at once
        async with AsyncSession(client) as two:
            with pytest.raises(RecipeError):
                await AsyncDoubleBarrier(two, barrier_name, 1).enter(timeout=5)
        await first.leave(timeout=5)
        assert (await client.get(barrier_name, prefix=True, count_only=True)).count == 0


async def test_queue_each_item_to_exactly_one_consumer_in_fifo_order(etcd: Any) -> None:
    queue_name = name()
    received: list[list[bytes]] = [[] for _ in range(CONSUMERS)]
    async with AsyncClient(etcd.url) as client:
        queue = AsyncDistributedQueue(client, queue_name)
        with pytest.raises(DeadlineExceeded):
            await queue.get(timeout=0.3)

        async def producer(index: int) -> None:
            for item in range(ITEMS):
                await queue.put(f"p{index}-{item:03d}")

        async def consumer(index: int) -> None:
            for _ in range(PRODUCERS * ITEMS // CONSUMERS):
                received[index].append(await queue.get(timeout=30))

        consumers = [aspawn(consumer, i) for i in range(CONSUMERS)]
        producers = [aspawn(producer, i) for i in range(PRODUCERS)]
        for task in producers + consumers:
            await task.join(60)
        everything = sorted(item for got in received for item in got)
        expected = sorted(f"p{p}-{i:03d}".encode() for p in range(PRODUCERS) for i in range(ITEMS))
        assert everything == expected  # nothing lost, nothing delivered twice
        for got in received:  # each consumer saw each producer's items in order
            for p in range(PRODUCERS):
                mine = [item for item in got if item.startswith(f"p{p}-".encode())]
                assert mine == sorted(mine)
        assert (await client.get(f"{queue_name}/", prefix=True, count_only=True)).count == 0

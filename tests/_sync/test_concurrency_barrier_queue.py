# Generated from tests/_async/test_concurrency_barrier_queue.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""Double barrier and queue recipes (issue 6, "if time allows") against real etcd, after
Go's client/v3/experimental/recipes: nobody passes the barrier before all have entered or
leaves before all have left; every queued item goes to exactly one consumer, in order."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from etcdwire import (
    Client,
    DistributedQueue,
    DoubleBarrier,
    Session,
    DeadlineExceeded,
    RecipeError,
)
from etcdwire._compat import sleep, spawn

pytestmark = pytest.mark.etcd

IS_ASYNC = False
PARTIES = 5 if IS_ASYNC else 3
PRODUCERS = 3
CONSUMERS = 4 if IS_ASYNC else 2
ITEMS = 20


def name() -> str:
    return f"bq-{uuid.uuid4().hex[:8]}"


def test_double_barrier_holds_everyone_until_all_enter_and_all_leave(etcd: Any) -> None:
    barrier_name = name()
    log: list[str] = []
    with Client(etcd.url) as client:

        def party(index: int) -> None:
            with Session(client) as session:
                barrier = DoubleBarrier(session, barrier_name, PARTIES)
                log.append("enter")
                barrier.enter(timeout=30)
                log.append("entered")
                sleep(0.05 * index)  # leave at different times
                log.append("leave")
                barrier.leave(timeout=30)
                log.append("left")

        tasks = [spawn(party, i) for i in range(PARTIES - 1)]
        sleep(0.5)
        assert log == ["enter"] * (PARTIES - 1)  # nobody passes before the last one enters
        tasks.append(spawn(party, PARTIES - 1))
        for task in tasks:
            task.join(60)
        assert log.index("entered") > max(i for i, e in enumerate(log) if e == "enter")
        assert log.index("left") > max(i for i, e in enumerate(log) if e == "leave")
        assert log.count("left") == PARTIES
        assert (client.get(barrier_name, prefix=True, count_only=True)).count == 0


def test_double_barrier_refuses_one_too_many(etcd: Any) -> None:
    barrier_name = name()
    with Client(etcd.url) as client, Session(client) as one:
        first = DoubleBarrier(one, barrier_name, 1)
        first.enter(timeout=5)  # one party: the barrier is complete at once
        with Session(client) as two:
            with pytest.raises(RecipeError):
                DoubleBarrier(two, barrier_name, 1).enter(timeout=5)
        first.leave(timeout=5)
        assert (client.get(barrier_name, prefix=True, count_only=True)).count == 0


def test_queue_each_item_to_exactly_one_consumer_in_fifo_order(etcd: Any) -> None:
    queue_name = name()
    received: list[list[bytes]] = [[] for _ in range(CONSUMERS)]
    with Client(etcd.url) as client:
        queue = DistributedQueue(client, queue_name)
        with pytest.raises(DeadlineExceeded):
            queue.get(timeout=0.3)

        def producer(index: int) -> None:
            for item in range(ITEMS):
                queue.put(f"p{index}-{item:03d}")

        def consumer(index: int) -> None:
            for _ in range(PRODUCERS * ITEMS // CONSUMERS):
                received[index].append(queue.get(timeout=30))

        consumers = [spawn(consumer, i) for i in range(CONSUMERS)]
        producers = [spawn(producer, i) for i in range(PRODUCERS)]
        for task in producers + consumers:
            task.join(60)
        everything = sorted(item for got in received for item in got)
        expected = sorted(f"p{p}-{i:03d}".encode() for p in range(PRODUCERS) for i in range(ITEMS))
        assert everything == expected  # nothing lost, nothing delivered twice
        for got in received:  # each consumer saw each producer's items in order
            for p in range(PRODUCERS):
                mine = [item for item in got if item.startswith(f"p{p}-".encode())]
                assert mine == sorted(mine)
        assert (client.get(f"{queue_name}/", prefix=True, count_only=True)).count == 0

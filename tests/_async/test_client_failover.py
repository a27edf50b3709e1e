"""Failover on a 3-member cluster under concurrent load (issue "The client", point 2): the
member the client is pinned to is stopped while 64 tasks (asyncio) or 4 threads (blocking)
run mixed reads and writes. Reads are retried on other members and all succeed; each write
succeeds exactly once or fails with an error saying it may have been applied; no write is
applied twice (checked in the store by version and revision)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from etcdwire import AsyncClient, ConnectionLost, DeadlineExceeded, EtcdError, Unavailable
from etcdwire._compat import AsyncTask, asleep, aspawn, monotonic

pytestmark = [pytest.mark.etcd, pytest.mark.cluster]

IS_ASYNC = True
WORKERS = 64 if IS_ASYNC else 4
RUN_SECONDS = 8.0
STOP_AFTER = 2.5


def ambiguous(error: BaseException) -> bool:
    """Errors that honestly say a write may or may not have been applied."""
    if isinstance(error, ConnectionLost):
        return error.maybe_sent
    return isinstance(error, Unavailable | DeadlineExceeded)


async def test_failover_mixed_load_no_lost_reads_no_double_writes(fresh_cluster: Any) -> None:
    cluster = fresh_cluster(3)
    prefix = f"fo-{uuid.uuid4().hex[:6]}/"
    acked: dict[str, int] = {}
    uncertain: dict[str, BaseException] = {}
    failures: list[BaseException] = []
    reads = [0]
    async with AsyncClient(cluster.urls, timeout=15) as client:
        await client.put(prefix + "seed", "s")
        end = monotonic() + RUN_SECONDS

        async def worker(index: int) -> None:
            seq = 0
            while monotonic() < end:
                seq += 1
                key = f"{prefix}w{index:02d}/{seq:05d}"
                try:
                    result = await client.put(key, str(seq))
                    acked[key] = result.header.revision
                except EtcdError as exc:
                    if ambiguous(exc):
                        uncertain[key] = exc
                    else:
                        failures.append(exc)
                try:
                    got = await client.get(prefix + "seed")
                    assert got.value == b"s"
                    reads[0] += 1
                except EtcdError as exc:
                    failures.append(exc)

        tasks: list[AsyncTask] = [aspawn(worker, i) for i in range(WORKERS)]
        await asleep(STOP_AFTER)
        pinned = next(row.endpoint for row in client.info() if row.active)
        victim = next(m for m in cluster.members if m.url == pinned)
        victim.stop()
        for task in tasks:
            await task.join(60)
        assert failures == [], failures[:3]
        rows = {row.endpoint: row for row in client.info()}
        assert not rows[pinned].active and rows[pinned].failures >= 1
        survivors = [m.url for m in cluster.members if m.url != pinned]
    async with AsyncClient(survivors, timeout=15) as checker:
        stored = {
            kv.key.decode(): kv
            async for kv in checker.kv.get_all(prefix, prefix=True, page_size=2000)
        }
    assert reads[0] > WORKERS
    assert len(acked) > WORKERS
    for key, revision in acked.items():
        kv = stored[key]
        assert kv.version == 1, f"{key} applied {kv.version} times"
        assert kv.mod_revision == revision
    for key in uncertain:
        if key in stored:
            assert stored[key].version == 1, f"{key} applied twice"
    writes = [kv for key, kv in stored.items() if key != prefix + "seed"]
    assert all(kv.version == 1 for kv in writes)
    assert set(stored) <= set(acked) | set(uncertain) | {prefix + "seed"}

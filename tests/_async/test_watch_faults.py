"""Watches across faults on a 3-member cluster (issue "Watch", points 2 and 3): no event lost
or repeated while members are killed and restarted, and a watch that falls behind a compaction
while disconnected ends with the typed error."""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import pytest

from etcdwire import AsyncClient, ChannelOptions, Compacted, Unavailable
from etcdwire._compat import asleep, monotonic

pytestmark = [pytest.mark.etcd, pytest.mark.cluster]

WRITER = """
import sys
from etcdwire import Client, EtcdError
prefix, total, endpoints = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
with Client(endpoints, timeout=10) as client:
    i = 0
    while i < total:
        try:
            client.put(f"{prefix}{i:05d}", str(i))
            i += 1
        except EtcdError:
            pass  # may have been applied: the next attempt writes it again (a new revision)
"""


async def pinned_member(client: AsyncClient, cluster: Any) -> Any:
    url = next(row.endpoint for row in client.info() if row.active)
    return next(m for m in cluster.members if m.url == url)


async def test_watch_loses_nothing_while_members_are_killed_and_restarted(
    fresh_cluster: Any,
) -> None:
    """A writer process puts 20,000 keys; the member the watch is on is killed and restarted
    twice. Every revision reaches the watcher exactly once and in order: for each key, as many
    events as the store's version, the last at the store's mod_revision."""
    cluster = fresh_cluster(3)
    prefix = f"wf-{uuid.uuid4().hex[:6]}/"
    total = 20_000
    events: list[Any] = []
    async with AsyncClient(cluster.urls, timeout=10) as client:
        start = await client.put(prefix[:-1] + "-start", "s")  # outside the prefix
        watch = client.watch(prefix, prefix=True, start_revision=start.header.revision + 1)
        await watch.start()
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, prefix, str(total), *cluster.urls],
            stderr=subprocess.PIPE,
        )
        kills = 0
        next_kill = monotonic() + 2.0
        try:
            while True:
                response = await watch.receive(timeout=0.5)
                if response is not None:
                    events.extend(response.events)
                if kills < 2 and monotonic() >= next_kill:
                    victim = await pinned_member(client, cluster)
                    victim.kill()
                    await asleep(1.5)
                    victim.restart()
                    kills += 1
                    next_kill = monotonic() + 3.0
                if writer.poll() is not None and kills == 2:
                    got = await client.get(prefix, prefix=True, count_only=True)
                    if len(events) >= got.count and response is None:
                        break
        finally:
            if writer.poll() is None:
                writer.kill()
            _, errors = writer.communicate(timeout=30)
        assert writer.returncode == 0, errors
        stored = {kv.key: kv async for kv in client.kv.get_all(prefix, prefix=True)}
        resumes = watch.resumes
        await watch.cancel()
    revisions = [e.kv.mod_revision for e in events]
    assert revisions == sorted(revisions)
    assert len(set(revisions)) == len(revisions), "a revision was delivered twice"
    assert len(stored) == total
    per_key: dict[bytes, list[Any]] = {}
    for event in events:
        per_key.setdefault(event.kv.key, []).append(event)
    assert set(per_key) == set(stored)
    for key, kv in stored.items():
        assert len(per_key[key]) == kv.version, f"{key!r}: {len(per_key[key])} events"
        assert per_key[key][-1].kv.mod_revision == kv.mod_revision
    assert resumes >= 1  # the watch really moved


async def test_watch_behind_a_compaction_while_disconnected_ends_compacted(
    fresh_cluster: Any,
) -> None:
    """The watched member goes down; meanwhile writes and a compaction happen on the others;
    when the watch resumes it needs a compacted revision: Compacted, with the revision."""
    cluster = fresh_cluster(3)
    first, others = cluster.members[0], [m.url for m in cluster.members[1:]]
    async with AsyncClient([first.url], timeout=10) as watcher, \
            AsyncClient(others, timeout=10) as writer:
        await writer.put("cw/k", "0")
        async with watcher.watch("cw/", prefix=True) as watch:
            await writer.put("cw/k", "1")
            response = await watch.receive(timeout=10)
            assert response is not None and response.events
            first.stop()
            for i in range(5):
                last = await writer.put("cw/k", str(i + 2))
            await writer.kv.compact(last.header.revision)
            first.restart()
            with pytest.raises(Compacted) as info:
                for _ in range(20):
                    await watch.receive(timeout=5)
        assert info.value.compact_revision == last.header.revision


async def test_keepalive_moves_a_watch_off_a_black_holed_member(fresh_cluster: Any) -> None:
    """A member that stops answering (SIGSTOP: the TCP connection stays up, nothing comes
    back) would stall a watch forever; with keepalive PINGs the unanswered PING closes the
    connection and the watch resumes on another member, losing nothing."""
    cluster = fresh_cluster(3)
    options = ChannelOptions(keepalive_time=1, keepalive_timeout=2, keepalive_min_time=1)
    async with AsyncClient(cluster.urls, options=options, timeout=10) as client:
        async with client.watch("bh/", prefix=True) as watch:
            victim = await pinned_member(client, cluster)
            others = [m.url for m in cluster.members if m is not victim]
            victim.pause()
            try:
                async with AsyncClient(others, timeout=10) as writer:
                    for i in range(5):
                        # If the frozen member led raft, writes time out until the others
                        # elect a new leader; create-only writes make the retry safe.
                        for _ in range(30):
                            try:
                                await writer.kv.put_if_absent(f"bh/{i}", "v")
                                break
                            except Unavailable:
                                await asleep(0.5)
                t0 = monotonic()
                keys: list[bytes] = []
                while len(keys) < 5 and monotonic() - t0 < 20:
                    response = await watch.receive(timeout=1)
                    if response is not None:
                        keys += [e.kv.key for e in response.events]
                elapsed = monotonic() - t0
            finally:
                victim.resume()
        assert keys == [f"bh/{i}".encode() for i in range(5)]
        assert elapsed < 15
        assert watch.resumes >= 1

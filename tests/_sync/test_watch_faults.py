# Generated from tests/_async/test_watch_faults.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""Watches across faults on a 3-member cluster (issue "Watch", points 2 and 3): no event lost
or repeated while members are killed and restarted, and a watch that falls behind a compaction
while disconnected ends with the typed error."""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import pytest

from etcdwire import Client, ChannelOptions, Compacted, Unavailable
from etcdwire._compat import sleep, monotonic

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


def pinned_member(client: Client, cluster: Any) -> Any:
    url = next(row.endpoint for row in client.info() if row.active)
    return next(m for m in cluster.members if m.url == url)


def test_watch_loses_nothing_while_members_are_killed_and_restarted(
    fresh_cluster: Any,
) -> None:
    """A writer process puts 20,000 keys; the member the watch is on is killed and restarted
    twice. Every revision reaches the watcher exactly once and in order: for each key, as many
    events as the store's version, the last at the store's mod_revision."""
    cluster = fresh_cluster(3)
    prefix = f"wf-{uuid.uuid4().hex[:6]}/"
    total = 20_000
    events: list[Any] = []
    with Client(cluster.urls, timeout=10) as client:
        start = client.put(prefix[:-1] + "-start", "s")  # outside the prefix
        watch = client.watch(prefix, prefix=True, start_revision=start.header.revision + 1)
        watch.start()
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, prefix, str(total), *cluster.urls],
            stderr=subprocess.PIPE,
        )
        kills = 0
        next_kill = monotonic() + 2.0
        try:
            while True:
                response = watch.receive(timeout=0.5)
                if response is not None:
                    events.extend(response.events)
                if kills < 2 and monotonic() >= next_kill:
                    victim = pinned_member(client, cluster)
                    victim.kill()
                    sleep(1.5)
                    victim.restart()
                    kills += 1
                    next_kill = monotonic() + 3.0
                if writer.poll() is not None and kills == 2:
                    got = client.get(prefix, prefix=True, count_only=True)
                    if len(events) >= got.count and response is None:
                        break
        finally:
            if writer.poll() is None:
                writer.kill()
            _, errors = writer.communicate(timeout=30)
        assert writer.returncode == 0, errors
        stored = {kv.key: kv for kv in client.kv.get_all(prefix, prefix=True)}
        resumes = watch.resumes
        watch.cancel()
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


def test_watch_behind_a_compaction_while_disconnected_ends_compacted(
    fresh_cluster: Any,
) -> None:
    """The watched member goes down; meanwhile writes and a compaction happen on the others;
    when the watch resumes it needs a compacted revision: Compacted, with the revision."""
    cluster = fresh_cluster(3)
    first, others = cluster.members[0], [m.url for m in cluster.members[1:]]
    with Client([first.url], timeout=10) as watcher, \
            Client(others, timeout=10) as writer:
        writer.put("cw/k", "0")
        with watcher.watch("cw/", prefix=True) as watch:
            writer.put("cw/k", "1")
            response = watch.receive(timeout=10)
            assert response is not None and response.events
            first.stop()
            for i in range(5):
                last = writer.put("cw/k", str(i + 2))
            writer.kv.compact(last.header.revision)
            first.restart()
            with pytest.raises(Compacted) as info:
                for _ in range(20):
                    watch.receive(timeout=5)
        assert info.value.compact_revision == last.header.revision


def test_keepalive_moves_a_watch_off_a_black_holed_member(fresh_cluster: Any) -> None:
    """A member that stops answering (SIGSTOP: the TCP connection stays up, nothing comes
    back) would stall a watch forever; with keepalive PINGs the unanswered PING closes the
    connection and the watch resumes on another member, losing nothing."""
    cluster = fresh_cluster(3)
    options = ChannelOptions(keepalive_time=1, keepalive_timeout=2, keepalive_min_time=1)
    with Client(cluster.urls, options=options, timeout=10) as client:
        with client.watch("bh/", prefix=True) as watch:
            victim = pinned_member(client, cluster)
            others = [m.url for m in cluster.members if m is not victim]
            victim.pause()
            try:
                with Client(others, timeout=10) as writer:
                    for i in range(5):
                        # If the frozen member led raft, writes time out until the others
                        # elect a new leader; create-only writes make the retry safe.
                        for _ in range(30):
                            try:
                                writer.kv.put_if_absent(f"bh/{i}", "v")
                                break
                            except Unavailable:
                                sleep(0.5)
                t0 = monotonic()
                keys: list[bytes] = []
                while len(keys) < 5 and monotonic() - t0 < 20:
                    response = watch.receive(timeout=1)
                    if response is not None:
                        keys += [e.kv.key for e in response.events]
                elapsed = monotonic() - t0
            finally:
                victim.resume()
        assert keys == [f"bh/{i}".encode() for i in range(5)]
        assert elapsed < 15
        assert watch.resumes >= 1

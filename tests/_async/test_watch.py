"""Watches against real etcd (issue "Watch: many watches on one stream that never lose an
event"): options, one stream for many watches, compaction, fragments, slow consumers."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from etcdwire import AsyncClient, Compacted, Op, UsageError, WatchOverflow
from etcdwire._compat import asleep
from etcdwire.trace import FrameTrace, MessageTrace, TraceEvent
from etcdwire.types import EventType

pytestmark = pytest.mark.etcd


def prefix() -> str:
    return f"w-{uuid.uuid4().hex[:8]}/"


async def collect(watch: Any, count: int, timeout: float = 10) -> list[Any]:
    """The next ``count`` events of a watch."""
    events: list[Any] = []
    while len(events) < count:
        response = await watch.receive(timeout=timeout)
        assert response is not None, f"only {len(events)} of {count} events arrived"
        events.extend(response.events)
    return events


async def test_watch_options(etcd: Any) -> None:
    """key, range_end, prefix, from_key, start_revision, prev_kv and the put/delete filters."""
    p = prefix()
    async with AsyncClient(etcd.url) as client:
        first = await client.put(p + "a", "1")
        await client.put(p + "b", "2")
        await client.delete(p + "a")
        async with client.watch(p, prefix=True, start_revision=first.header.revision,
                                prev_kv=True) as history:
            events = await collect(history, 3)
        assert [(e.type, e.kv.key) for e in events] == [
            (EventType.PUT, (p + "a").encode()),
            (EventType.PUT, (p + "b").encode()),
            (EventType.DELETE, (p + "a").encode()),
        ]
        assert events[2].prev_kv is not None and events[2].prev_kv.value == b"1"
        async with client.watch(p + "b", range_end=p + "c", no_put=True) as deletes, \
                client.watch(p + "b", from_key=True, no_delete=True) as puts:
            await client.put(p + "b", "3")
            await client.delete(p + "b")
            await client.put(p + "z", "4")
            assert [e.type for e in await collect(deletes, 1)] == [EventType.DELETE]
            got = await collect(puts, 2)
            assert [(e.type, e.kv.key) for e in got] == [
                (EventType.PUT, (p + "b").encode()),
                (EventType.PUT, (p + "z").encode()),
            ]
        with pytest.raises(UsageError):
            client.watch(p, no_put=True, no_delete=True)


async def test_events_of_one_revision_arrive_together(etcd: Any) -> None:
    """A txn's events share one revision and are delivered in one response."""
    p = prefix()
    async with AsyncClient(etcd.url) as client, client.watch(p, prefix=True) as watch:
        await client.txn([], [Op.put(p + str(i), "v") for i in range(20)])
        response = await watch.receive(timeout=10)
        assert response is not None and len(response.events) == 20
        assert len({e.kv.mod_revision for e in response.events}) == 1


async def test_progress_requests_and_notifications(etcd: Any) -> None:
    p = prefix()
    async with AsyncClient(etcd.url) as client, client.watch(p, prefix=True) as watch:
        put = await client.put("elsewhere-" + p, "x")
        await watch.request_progress()
        response = await watch.receive(timeout=10)
        assert response is not None and response.progress_notify
        assert response.revision >= put.header.revision and response.events == ()


async def test_callback_form(etcd: Any) -> None:
    p = prefix()
    seen: list[bytes] = []
    async with AsyncClient(etcd.url) as client:
        watch = client.watch(p, prefix=True, callback=lambda r: seen.extend(
            e.kv.key for e in r.events))
        await watch.start()
        for i in range(3):
            await client.put(f"{p}{i}", "v")
        for _ in range(50):
            if len(seen) == 3:
                break
            await asleep(0.1)
        await watch.cancel()
    assert seen == [f"{p}{i}".encode() for i in range(3)]


async def test_1000_watches_share_one_stream_and_cancelling_500_keeps_the_rest(
    etcd: Any,
) -> None:
    """1,000 watches use one HTTP/2 stream (one Watch HEADERS in the frame trace); cancelling
    500 of them leaves the other 500 delivering."""
    p = prefix()
    watch_headers = [0]

    def hook(event: TraceEvent) -> None:
        if isinstance(event, FrameTrace) and event.record.direction == "send":
            headers = event.record.headers or ()
            if any(v == "/etcdserverpb.Watch/Watch" for _, v in headers):
                watch_headers[0] += 1

    async with AsyncClient(etcd.url, trace=hook) as client:
        watches = [client.watch(f"{p}{i:04d}") for i in range(1000)]
        for watch in watches:
            await watch.start(timeout=30)
        assert client.watcher.streams_opened == 1
        assert watch_headers[0] == 1
        for watch in watches[:500]:
            await watch.cancel()
        assert client.watcher.watch_count == 500
        await client.txn([], [Op.put(f"{p}{i:04d}", "v") for i in range(0, 1000, 10)])
        for i in range(500, 1000, 10):
            response = await watches[i].receive(timeout=10)
            assert response is not None and response.events[0].kv.key == f"{p}{i:04d}".encode()
        for i in range(0, 500, 10):
            assert await watches[i].receive(timeout=0.01) is None and watches[i].ended
        assert watch_headers[0] == 1


async def test_watch_from_a_compacted_revision_ends_with_compacted(etcd: Any) -> None:
    p = prefix()
    async with AsyncClient(etcd.url) as client:
        old = await client.put(p + "k", "1")
        new = await client.put(p + "k", "2")
        await client.kv.compact(new.header.revision)
        async with client.watch(p + "k", start_revision=old.header.revision) as watch:
            with pytest.raises(Compacted) as info:
                await watch.receive(timeout=10)
        assert info.value.compact_revision == new.header.revision


async def test_fragmented_response_arrives_whole(etcd_factory: Any) -> None:
    """With ``fragment=True`` the server splits a response larger than its send limit
    (max-request-bytes + 512 KiB, v3rpc/watch.go) into pieces; the watch reassembles them and
    delivers one response. A single txn cannot be that large (it is itself bounded by
    max-request-bytes), so the large response here is the catch-up batch etcd sends a watch
    that starts 1,000 revisions back (about 1 MB of events, up to 1,000 revisions per batch)."""
    member = etcd_factory("--max-request-bytes=65536")
    received: list[int] = []

    def hook(event: TraceEvent) -> None:
        watch_message = isinstance(event, MessageTrace) and event.method.endswith("Watch/Watch")
        if watch_message and event.direction == "recv":  # type: ignore[union-attr]
            received.append(len(event.payload))  # type: ignore[union-attr]

    async with AsyncClient(member.url, trace=hook) as client:
        first = await client.put("frag/0000", "a" * 1000)
        for i in range(1, 1000):
            await client.put(f"frag/{i:04d}", "a" * 1000)
        async with client.watch(
            "frag/", prefix=True, start_revision=first.header.revision, fragment=True
        ) as watch:
            responses = []
            events = 0
            while events < 1000:
                response = await watch.receive(timeout=10)
                assert response is not None
                responses.append(response)
                events += len(response.events)
    keys = [e.kv.key for r in responses for e in r.events]
    assert keys == [f"frag/{i:04d}".encode() for i in range(1000)]
    biggest = max(len(r.events) for r in responses)
    assert biggest * 1000 > 65536 + 512 * 1024  # a response larger than the server sends whole
    assert len(received) - 1 > len(responses)  # more pieces on the wire than deliveries


async def test_slow_consumer_fail_policy_fails_loudly(etcd: Any) -> None:
    p = prefix()
    async with AsyncClient(etcd.url) as client:
        watch = client.watch(p, prefix=True, max_buffered=5, overflow="fail")
        await watch.start()
        for i in range(20):
            await client.put(f"{p}{i}", "v")
        await asleep(1)
        with pytest.raises(WatchOverflow):
            for _ in range(20):
                await watch.receive(timeout=5)


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def test_slow_consumer_block_policy_loses_nothing_and_memory_stays_bounded(
    etcd_factory: Any,
) -> None:
    """A consumer that stops reading pauses the stream (HTTP/2 flow control) instead of
    dropping: 48 MiB of events are written while it does not read, the process grows by far
    less than that (the watch buffer and the stream window bound it), and every event is there
    when it reads again."""
    member = etcd_factory()
    value = b"x" * 65536
    async with AsyncClient(member.url) as client, AsyncClient(member.url) as writer:
        watch = client.watch("slow/", prefix=True, max_buffered=8)
        await watch.start()
        before = rss_bytes()
        for start in range(0, 768, 8):
            await writer.txn([], [Op.put(f"slow/{i:04d}", value) for i in range(start, start + 8)])
        await asleep(1)
        grown = rss_bytes() - before
        assert watch.buffered <= 8
        assert grown < 24 * 1024 * 1024, f"grew {grown / 2**20:.1f} MiB for 48 MiB of events"
        events = await collect(watch, 768)
        await watch.cancel()
    assert [e.kv.key for e in events] == [f"slow/{i:04d}".encode() for i in range(768)]
    assert all(e.kv.value == value for e in events)

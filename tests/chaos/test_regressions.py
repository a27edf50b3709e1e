"""Client bugs the chaos test found, each reduced to the smallest test that showed it."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from etcdwire import Client, DeadlineExceeded, Mutex, Session

pytestmark = [pytest.mark.chaos, pytest.mark.etcd]


def test_watches_started_while_others_end_are_always_created(etcd: Any) -> None:
    """Three threads each start and cancel watches back to back on one client. The stream's
    pump stops when its last watch ends; a watch added at that moment used to find the old
    pump still running (so no new one was started) and then waited forever for its creation,
    as did every later watch of the client (Mutex.lock, Election.campaign and every other
    recipe wait hung). Also: a stream that ended with a create in flight left the next stream
    waiting for that create's answer. Found by the chaos test; failed within ~2,000 rounds."""
    stuck: list[tuple[int, int]] = []
    with Client(etcd.endpoint, timeout=5) as client:

        def churn(worker: int) -> None:
            for i in range(2500):
                watch = client.watch(f"regress/churn/{worker}/{i}")
                try:
                    watch.start(timeout=5)
                except DeadlineExceeded:
                    stuck.append((worker, i))
                    return
                watch.cancel()

        threads = [threading.Thread(target=churn, args=(n,)) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert stuck == []


def test_mutex_lock_timeout_bounds_the_wait_for_its_watch(etcd: Any) -> None:
    """``Mutex.lock(timeout=...)`` waits for its predecessor's key with a watch; the timeout
    must bound the watch's creation too. Here the client's watch stream is held up by a full
    watch nobody reads (overflow="block" pauses the stream for every watch on it), so the
    create is never confirmed: lock() used to wait without end, past its timeout."""
    with Client(etcd.endpoint, timeout=5) as client:
        holder = Session(client, ttl=10).start()
        waiter = Session(client, ttl=10).start()
        try:
            Mutex(holder, "regress/lock").lock(timeout=5)
            stalled = client.watch("regress/stall", max_buffered=1)
            stalled.start(timeout=5)
            for i in range(3):
                client.put("regress/stall", str(i))
            deadline = time.monotonic() + 5
            while stalled.buffered < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            started = time.monotonic()
            with pytest.raises(DeadlineExceeded):
                Mutex(waiter, "regress/lock").lock(timeout=1.0)
            assert time.monotonic() - started < 2.0
            stalled.cancel()
        finally:
            waiter.close()
            holder.close()

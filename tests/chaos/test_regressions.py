"""Client bugs the chaos test found, each reduced to the smallest test that showed it."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from etcdwire import Client, DeadlineExceeded

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

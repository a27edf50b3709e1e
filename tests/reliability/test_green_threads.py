"""The blocking client under gevent and eventlet monkey-patching (issue 8, green threads).

Monkey-patching is process-wide, so each library runs in a process of its own
(tests/reliability/green_worker.py) with 50 green threads sharing one ``Client``: concurrent
puts and gets with value checks, a watch receiving every event while others write, a lease
kept alive for more than two TTLs, a mutex contended by six green threads (never held twice),
and a green thread blocked on a read while another keeps running. The driver waits in
``select.poll`` or ``select.select`` looked up at call time: gevent replaces ``poll`` with a
green one and eventlet removes it, so the wait falls back to eventlet's green ``select``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.etcd

ROOT = Path(__file__).resolve().parents[2]


def run_worker(library: str, endpoint: str, *extra: str) -> dict[str, Any]:
    # Never import the library here: eventlet registers a fork hook that warns in this process.
    assert importlib.util.find_spec(library) is not None, f"{library} is in the test extra"
    prefix = f"green-{library}-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    result = subprocess.run(
        [sys.executable, "-m", "tests.reliability.green_worker", library, endpoint, prefix, *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, f"{library} worker failed:\n{result.stdout}\n{result.stderr}"
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


@pytest.mark.parametrize("library", ["gevent", "eventlet"])
def test_blocking_client_kv_watch_lease_mutex_under_monkey_patching(
    library: str, etcd: Any
) -> None:
    figures = run_worker(library, etcd.url)
    assert figures["library"] == library
    # gevent swaps in a green poll; eventlet removes poll, so the driver falls back to select
    assert figures["wait"] == {"gevent": "gevent.select.poll", "eventlet": "select"}[library]
    assert figures["kv_ops"] == 800
    assert figures["watch_events"] == 100
    assert figures["lease_seconds"] == 5
    assert figures["mutex_acquisitions"] == 18
    assert figures["ticks_while_blocked"] >= 30
    # every wait was a green switch: the client started no OS thread of its own
    assert figures["os_threads_in_use"] == figures["os_threads_before"]


@pytest.mark.parametrize("library", ["gevent", "eventlet"])
def test_blocking_client_over_tls_under_monkey_patching(library: str, etcd_tls: Any) -> None:
    """The patched ssl module: handshake, then reads and writes from many green threads."""
    figures = run_worker(
        library,
        etcd_tls.url,
        "--ca-file",
        etcd_tls.client_tls.ca_file,
        "--scenarios",
        "blocked_read,kv",
    )
    assert figures["kv_ops"] == 800
    assert figures["ticks_while_blocked"] >= 30

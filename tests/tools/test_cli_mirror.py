"""``etcdwire make-mirror`` against real etcd, beside etcdctl's own make-mirror: a prefix
copied to another cluster and kept in step (issue 7's CLI, with etcdctl's commands), and a
copy that catches up after the source's history was compacted while it was away (where
etcdctl ends with an error)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from etcdwire import Client, Op
from tests.etcdctl_process import EtcdctlProcess
from tests.fakes.fault_proxy import FaultProxy

from .conftest import cli, wait_until

pytestmark = pytest.mark.etcd


def contents(client: Client, prefix: str) -> dict[str, str]:
    """The keys under ``prefix``, without it, and their values."""
    return {
        kv.key.decode()[len(prefix) :]: kv.value.decode()
        for kv in client.get(prefix, prefix=True).kvs
    }


def test_make_mirror_copies_a_prefix_and_keeps_it_in_step_as_etcdctl_does(
    etcd: Any, etcd_factory: Any, background: Any
) -> None:
    dest = etcd_factory()
    src = f"mm-{uuid.uuid4().hex[:8]}/"
    with Client(etcd.url, timeout=10) as source, Client(dest.url, timeout=10) as target:
        source.put(src + "a", "1")
        source.put(src + "b", "2")
        source.put(src[:-1] + "0", "outside the prefix")
        ours = background(
            "make-mirror", "--prefix", src, "--dest-prefix", "ours/", dest.url, endpoint=etcd
        )
        theirs = EtcdctlProcess(
            etcd, "make-mirror", "--prefix", src, "--dest-prefix", "theirs/", dest.url
        )
        try:
            base = {"a": "1", "b": "2"}
            wait_until(lambda: contents(target, "ours/") == base, "our base copy")
            wait_until(lambda: contents(target, "theirs/") == base, "etcdctl's base copy")
            source.put(src + "c", "3")
            source.put(src + "a", "changed")
            source.delete(src + "b")
            source.txn(success=[Op.put(src + "d", "4"), Op.delete(src + "c")])
            expected = {"a": "changed", "d": "4"}
            wait_until(lambda: contents(target, "ours/") == expected, "our updates")
            wait_until(lambda: contents(target, "theirs/") == expected, "etcdctl's updates")
        finally:
            theirs.stop()
        assert ours.interrupt() == 130  # as etcdctl, killed by the SIGINT
        assert ours.stderr == ""


def test_make_mirror_catches_up_after_the_source_was_compacted_while_away(
    etcd_factory: Any, background: Any
) -> None:
    """The source is cut off while a key is deleted, one changed, one added and the history
    compacted: the revision the mirror needs is gone, so it reads the source again and the
    destination gets the difference, the delete included."""
    origin, dest = etcd_factory(), etcd_factory()
    with (
        FaultProxy(("127.0.0.1", origin.client_port), name="source") as proxy,
        Client(origin.url, timeout=10) as source,
        Client(dest.url, timeout=10) as target,
    ):
        source.put("k/gone", "1")
        source.put("k/kept", "1")
        ours = background("make-mirror", "--prefix", "k/", dest.url, endpoint=proxy.url)
        wait_until(lambda: contents(target, "k/") == {"gone": "1", "kept": "1"}, "the base copy")
        proxy.refuse()
        proxy.reset()
        source.delete("k/gone")
        source.put("k/kept", "2")
        last = source.put("k/new", "3")
        source.kv.compact(last.header.revision)
        proxy.listen()
        wait_until(lambda: contents(target, "k/") == {"kept": "2", "new": "3"}, "the catch-up")
        source.put("k/after", "4")
        wait_until(lambda: contents(target, "k/").get("after") == "4", "changes after it")
        assert ours.interrupt() == 130
        assert ours.stderr == ""


def test_make_mirror_bad_arguments_are_one_error_line(etcd: Any) -> None:
    both = cli("make-mirror", "--dest-prefix", "x/", "--no-dest-prefix", etcd.url, endpoint=etcd)
    assert both.rc == 128
    assert both.stderr == (
        "Error: `--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one\n"
    )
    missing = cli("make-mirror", "--prefix", "x/", endpoint=etcd)
    assert missing.rc == 128
    assert missing.stderr == "Error: make-mirror takes one destination argument\n"

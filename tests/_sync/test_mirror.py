# Generated from tests/_async/test_mirror.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""A mirror of a key range against real etcd: the range read in pages at one revision, then
followed change by change (Go's mirror.Syncer: SyncBase then SyncUpdates), and rebuilt from a
new read when the revision its watch needs was compacted while it was away (issue "Watch":
"a helper rebuilds state ... as a cache of a prefix would need")."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from etcdwire import Client, EventType, Op, UsageError
from tests.fakes.fault_proxy import FaultProxy

pytestmark = pytest.mark.etcd


def store(client: Client, prefix: str) -> dict[bytes, Any]:
    return {kv.key: kv for kv in client.kv.get_all(prefix, prefix=True)}


def follow_to(mirror: Any, revision: int) -> list[Any]:
    """Updates until the mirror reflects ``revision``."""
    updates = []
    while mirror.revision < revision:
        update = mirror.receive(timeout=10)
        assert update is not None, f"no update; the mirror is at {mirror.revision}"
        updates.append(update)
    return updates


def test_mirror_reads_pages_at_one_revision_then_applies_each_change(etcd: Any) -> None:
    prefix = f"mirror-{uuid.uuid4().hex[:8]}/"
    with Client(etcd.url, timeout=10) as client:
        for i in range(0, 250, 50):
            client.txn(
                success=[Op.put(f"{prefix}{n:03d}", f"v{n}") for n in range(i, i + 50)]
            )
        last = client.put(prefix[:-1] + "0", "outside the prefix")
        with client.mirror(prefix, prefix=True, page_size=100) as mirror:
            assert mirror.revision >= last.header.revision
            assert len(mirror.data) == 250
            assert dict(mirror.data) == store(client, prefix)
            view = mirror.data
            # changes: a new key, an overwrite, a delete, and one txn of two (one revision)
            client.put(f"{prefix}new", "n")
            client.put(f"{prefix}000", "changed")
            client.delete(f"{prefix}001")
            both = client.txn(
                success=[Op.delete(f"{prefix}002"), Op.put(f"{prefix}003", "again")]
            )
            client.put(prefix[:-1] + "0", "still outside")
            updates = follow_to(mirror, both.header.revision)
            assert not any(update.reset for update in updates)
            events = [event for update in updates for event in update.events]
            assert [(e.type, e.kv.key) for e in events] == [
                (EventType.PUT, f"{prefix}new".encode()),
                (EventType.PUT, f"{prefix}000".encode()),
                (EventType.DELETE, f"{prefix}001".encode()),
                (EventType.DELETE, f"{prefix}002".encode()),
                (EventType.PUT, f"{prefix}003".encode()),
            ]
            txn_update = next(u for u in updates if u.revision == both.header.revision)
            assert len(txn_update.events) == 2  # one revision, never split
            assert dict(view) == store(client, prefix)  # the view taken first is current
            assert view[f"{prefix}000".encode()].value == b"changed"
            assert mirror.rebuilds == 0
        assert mirror.closed
        assert mirror.receive(timeout=0.1) is None


def test_mirror_rebuilds_when_its_next_revision_was_compacted_while_away(
    etcd_factory: Any,
) -> None:
    """The mirror's connection is cut and refused while the range changes and the history is
    compacted; when it is back, its watch cannot resume from a compacted revision, so it reads
    the range again: one update with ``reset``, a copy equal to the store, and changes
    followed again from there."""
    member = etcd_factory()
    with FaultProxy(("127.0.0.1", member.client_port), name="mirror") as proxy:
        with (
            Client(member.url, timeout=10) as direct,
            Client([proxy.url], timeout=10) as client,
        ):
            direct.put("m/gone", "1")
            direct.put("m/kept", "1")
            with client.mirror("m/", prefix=True) as mirror:
                assert set(mirror.data) == {b"m/gone", b"m/kept"}
                proxy.refuse()
                proxy.reset()
                direct.delete("m/gone")
                direct.put("m/kept", "2")
                last = direct.put("m/new", "3")
                direct.kv.compact(last.header.revision)
                proxy.listen()
                update = mirror.receive(timeout=30)
                assert update is not None and update.reset and not update.events
                assert mirror.rebuilds == 1
                assert update.revision >= last.header.revision
                assert dict(mirror.data) == store(direct, "m/")
                assert mirror.data[b"m/kept"].value == b"2"
                after = direct.put("m/after", "4")
                updates = follow_to(mirror, after.header.revision)
                assert [e.kv.key for u in updates for e in u.events] == [b"m/after"]
                assert dict(mirror.data) == store(direct, "m/")


def test_mirror_bad_input_is_refused_before_anything_is_sent(etcd: Any) -> None:
    with Client(etcd.url, timeout=10) as client:
        for page_size in (0, -1, True, 1.5):
            with pytest.raises(UsageError, match="page_size"):
                client.mirror("k", page_size=page_size)  # type: ignore[arg-type]
        with pytest.raises(UsageError):
            client.mirror("")  # an empty key addresses nothing
        with pytest.raises(UsageError):
            client.mirror("a", prefix=True, range_end="b")
        mirror = client.mirror("k")
        mirror.close()
        with pytest.raises(UsageError, match="closed"):
            mirror.start()

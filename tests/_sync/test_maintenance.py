# Generated from tests/_async/test_maintenance.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""Maintenance through the client against real etcd: status, hashes, defragmentation, alarms
and the NOSPACE cycle, downgrade, and snapshots taken in constant memory and restored with
``etcdutl`` (issue "Administration", points 1, 2 and 4)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from etcdwire import (
    Client,
    Compacted,
    FutureRevision,
    InvalidDowngradeTargetVersion,
    NoInflightDowngrade,
    NoSpace,
    SnapshotChecksumMismatch,
    Unimplemented,
    UsageError,
    WrongDowngradeVersionFormat,
)
from etcdwire._etcd.convert_admin import SHA256_SIZE
from etcdwire._pb import rpc_pb2
from etcdwire.tools.embedded import EtcdMember, find_etcd_binary
from etcdwire.types import AlarmType, DowngradeAction
from tests.fakes.h2_peer import FakeServer, unary_handler

pytestmark = pytest.mark.etcd

IS_ASYNC = False
MiB = 1024 * 1024


def prefix() -> str:
    return f"maint-{uuid.uuid4().hex[:8]}/"


def test_status_hash_and_hash_kv(etcd: Any) -> None:
    with Client(etcd.url) as client:
        put = client.put(prefix() + "k", "v")
        pinned = client.maintenance.status()
        assert pinned.endpoint is None
        assert pinned.version == etcd.version
        assert pinned.is_leader and pinned.leader == pinned.member_id != 0
        assert pinned.db_size >= pinned.db_size_in_use > 0
        assert pinned.raft_applied_index >= pinned.raft_index > 0 and pinned.raft_term > 0
        assert not pinned.is_learner and pinned.errors == ()
        named = client.maintenance.status(etcd.url)
        assert named.endpoint == etcd.url and named.member_id == pinned.member_id
        assert named.header.revision >= put.header.revision
        crc = client.maintenance.hash(etcd.url)
        assert 0 <= crc.hash < 2**32 and crc.header.member_id == pinned.member_id
        at = client.maintenance.hash_kv(etcd.url, put.header.revision)
        again = client.maintenance.hash_kv(revision=put.header.revision)
        assert at.hash == again.hash and at.header.revision >= put.header.revision
        with pytest.raises(FutureRevision, match="future revision"):
            client.maintenance.hash_kv(revision=put.header.revision + 10**6)
        with pytest.raises(UsageError):
            client.maintenance.hash_kv(revision=-1)


def test_hash_kv_is_repeatable_and_refuses_compacted_revisions(etcd_factory: Any) -> None:
    member = etcd_factory()
    with Client(member.url) as client:
        first = client.put("k", "1")
        second = client.put("k", "2")
        third = client.put("k", "3")
        before = client.maintenance.hash_kv(revision=first.header.revision)
        latest = client.maintenance.hash_kv(revision=third.header.revision)
        assert before.hash != latest.hash and before.compact_revision == -1
        again = client.maintenance.hash_kv(revision=third.header.revision)
        assert again.hash == latest.hash
        client.kv.compact(second.header.revision, physical=True)
        after = client.maintenance.hash_kv(revision=third.header.revision)
        assert after.compact_revision == second.header.revision
        for revision in (first.header.revision, second.header.revision):
            with pytest.raises(Compacted, match="required revision has been compacted"):
                client.maintenance.hash_kv(revision=revision)


def test_defragment_gives_space_back(etcd_factory: Any) -> None:
    member = etcd_factory()
    with Client(member.url) as client:
        for i in range(8):
            client.put(f"big/{i}", b"x" * (512 * 1024))
        deleted = client.delete("big/", prefix=True)
        client.kv.compact(deleted.header.revision, physical=True)
        fragmented = client.maintenance.status(member.url)
        assert fragmented.db_size > 4 * MiB
        done = client.maintenance.defragment(member.url)
        assert done.endpoint == member.url
        compacted = client.maintenance.status(member.url)
        assert compacted.db_size < MiB and compacted.db_size_in_use <= compacted.db_size
        assert (client.maintenance.defragment()).endpoint is None


def test_nospace_alarm_raised_listed_and_disarmed(etcd_factory: Any) -> None:
    """Writes past ``--quota-backend-bytes`` raise NoSpace with etcd's message, the alarm is
    listed, and writes work again once space is reclaimed (compact + defragment) and the alarm
    disarmed (etcd's docs: op-guide/maintenance.md, "Space quota")."""
    member = etcd_factory(f"--quota-backend-bytes={2 * MiB}")
    with Client(member.url) as client:
        value = b"q" * (256 * 1024)
        with pytest.raises(NoSpace) as raised:
            for i in range(200):
                client.put(f"fill/{i % 4}", value)
        assert raised.value.message == "etcdserver: mvcc: database space exceeded"
        alarms = client.maintenance.alarm_list()
        status = client.maintenance.status()
        assert [(a.member_id, a.alarm) for a in alarms.alarms] == [
            (status.member_id, AlarmType.NOSPACE)
        ]
        assert any("NOSPACE" in error for error in status.errors)
        with pytest.raises(NoSpace):
            client.put("more", "x")  # still refused: the alarm stays until disarmed
        gone = client.delete("fill/", prefix=True)  # deletes are allowed
        client.kv.compact(gone.header.revision, physical=True)
        client.maintenance.defragment()
        assert (client.maintenance.status()).db_size < 2 * MiB
        with pytest.raises(NoSpace):
            client.put("more", "x")
        disarmed = client.maintenance.alarm_disarm(status.member_id, AlarmType.NOSPACE)
        assert [a.alarm for a in disarmed.alarms] == [AlarmType.NOSPACE]
        assert (client.maintenance.alarm_list()).alarms == ()
        assert (client.put("more", "x")).header.revision > gone.header.revision
        assert (client.maintenance.alarm_disarm_all()).alarms == ()


def test_alarm_disarm_all_disarms_every_listed_alarm(etcd_factory: Any) -> None:
    member = etcd_factory(f"--quota-backend-bytes={2 * MiB}")
    with Client(member.url) as client:
        with pytest.raises(NoSpace):
            for i in range(200):
                client.put(f"fill/{i % 4}", b"q" * (256 * 1024))
        disarmed = client.maintenance.alarm_disarm_all()
        assert [a.alarm for a in disarmed.alarms] == [AlarmType.NOSPACE]
        assert (client.maintenance.alarm_list()).alarms == ()


def test_downgrade_validate_and_cancel(etcd: Any) -> None:
    """etcd 3.5 answers Downgrade: VALIDATE reports the cluster version, a bad target is
    refused by name, CANCEL without a downgrade in progress is NoInflightDowngrade."""
    with Client(etcd.url) as client:
        major, minor, _ = etcd.version_info
        valid = client.maintenance.downgrade("validate", f"{major}.{minor - 1}")
        assert valid.version == f"{major}.{minor}.0"
        with pytest.raises(WrongDowngradeVersionFormat):
            client.maintenance.downgrade(DowngradeAction.VALIDATE, "not-a-version")
        with pytest.raises(InvalidDowngradeTargetVersion):
            client.maintenance.downgrade(DowngradeAction.VALIDATE, f"{major}.{minor - 2}")
        with pytest.raises(NoInflightDowngrade, match="no inflight downgrade job"):
            client.maintenance.downgrade("cancel")
        with pytest.raises(UsageError):
            client.maintenance.downgrade("enable")
        with pytest.raises(UsageError):
            client.maintenance.downgrade("rollback", "3.4")


def test_downgrade_on_a_server_without_it_says_so() -> None:
    """A server older than 3.5 has no Downgrade method (UNIMPLEMENTED): the error says what
    is missing."""
    with FakeServer(unary_handler({})) as server:
        with Client(server.url, timeout=5) as client:
            with pytest.raises(Unimplemented, match=r"no Downgrade RPC \(etcd 3.5 or later"):
                client.maintenance.downgrade("validate", "3.4")


def snapshot_stream(db: bytes, digest: bytes, chunk: int = 1000) -> list[bytes]:
    """Snapshot responses as etcd sends them: chunks with the bytes still to come, then the
    digest."""
    messages = []
    for start in range(0, len(db), chunk):
        blob = db[start : start + chunk]
        remaining = len(db) - start - len(blob)
        messages.append(
            rpc_pb2.SnapshotResponse(remaining_bytes=remaining, blob=blob).SerializeToString()
        )
    messages.append(rpc_pb2.SnapshotResponse(blob=digest).SerializeToString())
    return messages


def test_snapshot_checksum_mismatch_is_detected() -> None:
    """A stream whose data does not match the SHA-256 that follows it is refused with
    SnapshotChecksumMismatch, and no file is left behind."""
    db = bytes(range(256)) * 20
    good = hashlib.sha256(db).digest()
    path = "/etcdserverpb.Maintenance/Snapshot"
    with FakeServer(unary_handler({path: snapshot_stream(db, good)})) as server:
        with Client(server.url, timeout=5) as client:
            out = io.BytesIO()
            info = client.maintenance.snapshot(out)
        assert out.getvalue() == db + good
        assert info.size == len(db) + SHA256_SIZE and info.sha256 == good.hex()
    corrupt = db[:100] + b"!" + db[101:]
    with FakeServer(unary_handler({path: snapshot_stream(corrupt, good)})) as server:
        with Client(server.url, timeout=5) as client:
            with pytest.raises(SnapshotChecksumMismatch) as raised:
                client.maintenance.snapshot(io.BytesIO())
        assert raised.value.expected == good.hex()
        assert raised.value.actual == hashlib.sha256(corrupt).hexdigest()
    with FakeServer(unary_handler({path: snapshot_stream(db, b"")[:-1]})) as server:
        with Client(server.url, timeout=5) as client:
            with pytest.raises(SnapshotChecksumMismatch, match="0-byte trailer"):
                client.maintenance.snapshot(io.BytesIO())


SNAPSHOT_SCRIPT = """
import asyncio, json, sys
from etcdwire import Client

def peak_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

def main():
    calls = []
    with Client(sys.argv[1], timeout=60) as client:
        client.maintenance.status()
        before = peak_kib()
        info = client.maintenance.snapshot(
            sys.argv[2], progress=lambda done, total: calls.append((done, total))
        )
        after = peak_kib()
    print(json.dumps({
        "before_kib": before, "after_kib": after, "size": info.size, "db_size": info.db_size,
        "sha256": info.sha256, "progress_calls": len(calls), "first": calls[0], "last": calls[-1],
    }))
"""


def test_snapshot_of_50_mib_in_constant_memory_restores_with_etcdutl(
    etcd_factory: Any, tmp_path: Path
) -> None:
    """A 50 MiB store is snapshotted by a separate process whose peak RSS grows by less than
    10 MiB; ``etcdutl snapshot restore`` accepts the file (it checks the trailing SHA-256)
    and a server started on the restored data serves the same keys."""
    member = etcd_factory()
    values = {
        f"snap/{i:03d}": hashlib.sha256(str(i).encode()).digest() * (MiB // 32) for i in range(50)
    }
    with Client(member.url, timeout=30) as client:
        for key, value in values.items():
            client.put(key, value)
    target = tmp_path / "etcd.snapshot"
    runner = "asyncio.run(main())" if IS_ASYNC else "main()"
    done = subprocess.run(
        [sys.executable, "-c", SNAPSHOT_SCRIPT + runner, member.url, str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    growth_mib = (report["after_kib"] - report["before_kib"]) / 1024
    print(
        f"snapshot: {report['size'] / MiB:.1f} MiB, peak RSS growth {growth_mib:.2f} MiB, "
        f"{report['progress_calls']} progress calls"
    )
    assert report["db_size"] >= 50 * MiB
    assert growth_mib < 10
    assert report["size"] == report["db_size"] + SHA256_SIZE == target.stat().st_size
    assert report["last"] == [report["size"], report["size"]]
    assert report["first"][1] == report["size"] and report["progress_calls"] > 10
    with open(target, "rb") as written:
        digest = hashlib.sha256(written.read(report["db_size"])).hexdigest()
    assert digest == report["sha256"]
    assert not Path(str(target) + ".part").exists()

    restored = EtcdMember("restored", data_dir=tmp_path / "restored", unsafe_no_fsync=True)
    try:
        etcdutl = find_etcd_binary("etcdutl")
        restore = subprocess.run(
            [
                etcdutl,
                "snapshot",
                "restore",
                str(target),
                f"--name={restored.name}",
                f"--data-dir={restored.data_dir}",
                f"--initial-cluster={restored.name}={restored.peer_url}",
                f"--initial-advertise-peer-urls={restored.peer_url}",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert restore.returncode == 0, restore.stderr
        restored.start()
        with Client(restored.url, timeout=30) as client:
            listed = client.get("snap/", prefix=True, keys_only=True)
            assert [kv.key.decode() for kv in listed.kvs] == sorted(values)
            for key in ("snap/000", "snap/049"):
                assert (client.get(key)).value == values[key]
    finally:
        restored.close()


def test_snapshot_to_a_writer_by_endpoint_with_progress(etcd: Any, tmp_path: Path) -> None:
    with Client(etcd.url) as client:
        out = io.BytesIO()
        seen: list[tuple[int, int | None]] = []
        info = client.maintenance.snapshot(
            out, endpoint=etcd.url, progress=lambda done, total: seen.append((done, total))
        )
        data = out.getvalue()
        assert info.endpoint == etcd.url and info.size == len(data)
        assert hashlib.sha256(data[:-SHA256_SIZE]).digest() == data[-SHA256_SIZE:]
        assert seen[-1] == (info.size, info.size)
        with pytest.raises(UsageError):
            client.maintenance.snapshot(object())  # type: ignore[arg-type]
        missing_dir = tmp_path / "no" / "such" / "dir" / "snap.db"
        with pytest.raises(OSError):
            client.maintenance.snapshot(os.fspath(missing_dir))

# Generated from tests/_async/test_cluster.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""Membership and leadership through the client against real etcd: member list, a learner
added, started, promoted once in sync, its peer URLs updated, removed; leadership moved to a
named member; status, hashes and defragmentation of every member by endpoint (issue
"Administration", point 1)."""

from __future__ import annotations

from typing import Any

import pytest

from etcdwire import (
    Client,
    BadLeaderTransferee,
    LearnerNotReady,
    MemberBadURLs,
    MemberNotFound,
    MemberNotLearner,
    PeerURLExists,
    Unavailable,
    UsageError,
)
from etcdwire._compat import sleep, monotonic
from etcdwire.tools.embedded import EtcdMember
from etcdwire.types import Member

pytestmark = pytest.mark.etcd


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    end = monotonic() + timeout
    while not predicate():
        if monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        sleep(0.1)


def wait_status(
    client: Client, url: str, holds: Any, what: str, timeout: float = 10
) -> None:
    """Until the Status of the member at `url` satisfies `holds`."""
    end = monotonic() + timeout
    while not holds(client.maintenance.status(url)):
        if monotonic() > end:
            raise AssertionError(f"timed out waiting for {url} {what}")
        sleep(0.05)


def add_learner(client: Client, peer_url: str) -> Any:
    """MemberAdd as a learner; a cluster that started less than etcd's health interval (5 s)
    ago refuses reconfiguration with "unhealthy cluster", so that is waited out."""
    end = monotonic() + 15
    while True:
        try:
            return client.cluster.member_add_as_learner([peer_url])
        except Unavailable as exc:
            if "unhealthy cluster" not in exc.message or monotonic() > end:
                raise
            sleep(0.5)


def by_id(members: tuple[Member, ...], member_id: int) -> Member:
    return next(m for m in members if m.id == member_id)


@pytest.mark.cluster
def test_learner_added_promoted_updated_and_removed(fresh_cluster: Any) -> None:
    cluster = fresh_cluster(3)
    # Launched without a preexec_fn: the client's at-fork handler must not run in the child
    # (see the report on ConnectionManager._after_fork).
    joiner = EtcdMember("c0learner", unsafe_no_fsync=True, log_level="warn", die_with_parent=False)
    try:
        with Client(cluster.urls, timeout=10) as client:
            listed = client.cluster.member_list()
            assert sorted(m.name for m in listed.members) == sorted(m.name for m in cluster)
            assert not any(m.is_learner for m in listed.members)
            local = client.cluster.member_list(serializable=True)
            assert {m.id for m in local.members} == {m.id for m in listed.members}

            added = add_learner(client, joiner.peer_url)
            new_id = added.member.id
            assert added.member.is_learner and added.member.name == ""
            assert added.member.peer_urls == (joiner.peer_url,)
            assert len(added.members) == 4 and by_id(added.members, new_id).is_learner
            with pytest.raises(LearnerNotReady, match="in sync with leader"):
                client.cluster.member_promote(new_id)  # not even started yet

            initial = ",".join(f"{m.name or joiner.name}={m.peer_urls[0]}" for m in added.members)
            joiner.join(initial).start()
            learner = client.maintenance.status(joiner.url)
            assert learner.is_learner and learner.member_id == new_id

            end = monotonic() + 30
            while True:  # etcd refuses until the learner's log caught up with the leader's
                try:
                    promoted = client.cluster.member_promote(new_id)
                    break
                except LearnerNotReady:
                    assert monotonic() < end, "the learner never caught up"
                    sleep(0.2)
            assert not by_id(promoted.members, new_id).is_learner
            assert by_id(promoted.members, new_id).name == joiner.name
            # The promoted member learns of it when it applies the membership change.
            end = monotonic() + 10
            while (client.maintenance.status(joiner.url)).is_learner:
                assert monotonic() < end, "the member still reports itself a learner"
                sleep(0.2)
            with pytest.raises(MemberNotLearner):
                client.cluster.member_promote(new_id)

            urls = [joiner.peer_url, joiner.peer_url.replace("127.0.0.1", "localhost")]
            updated = client.cluster.member_update(new_id, urls)
            assert by_id(updated.members, new_id).peer_urls == tuple(urls)
            relisted = client.cluster.member_list()
            assert by_id(relisted.members, new_id).peer_urls == tuple(urls)
            assert by_id(relisted.members, new_id).client_urls == (joiner.url,)

            removed = client.cluster.member_remove(new_id)
            assert new_id not in {m.id for m in removed.members} and len(removed.members) == 3
            wait_for(lambda: not joiner.running, 20, "the removed member to stop")
            with pytest.raises(MemberNotFound, match="member not found"):
                client.cluster.member_remove(new_id)
            assert len((client.cluster.member_list()).members) == 3
            assert (client.put("after/removal", "ok")).header.revision > 0
    finally:
        joiner.close()


def test_membership_errors_are_named(etcd_factory: Any) -> None:
    member = etcd_factory()
    with Client(member.url) as client:
        (me,) = (client.cluster.member_list()).members
        assert me.client_urls == (member.url,) and me.peer_urls == (member.peer_url,)
        with pytest.raises(MemberBadURLs, match="given member URLs are invalid"):
            client.cluster.member_add(["not a url"])
        with pytest.raises(PeerURLExists):
            client.cluster.member_add_as_learner([member.peer_url])
        with pytest.raises(MemberNotFound):
            client.cluster.member_update(0xBAD, ["http://127.0.0.1:1"])
        with pytest.raises(MemberNotFound):
            client.cluster.member_promote(0xBAD)
        with pytest.raises(MemberNotLearner, match="can only promote a learner member"):
            client.cluster.member_promote(me.id)
        with pytest.raises(BadLeaderTransferee):
            client.maintenance.move_leader(0xBAD)
        with pytest.raises(UsageError):
            client.cluster.member_remove(0)
        with pytest.raises(UsageError):
            client.cluster.member_add([])


@pytest.mark.cluster
def test_move_leader_and_every_member_by_endpoint(fresh_cluster: Any) -> None:
    cluster = fresh_cluster(3)
    with Client(cluster.urls, timeout=10) as client:
        statuses = {url: client.maintenance.status(url) for url in cluster.urls}
        ids = {url: status.member_id for url, status in statuses.items()}
        assert len(set(ids.values())) == 3
        assert {status.leader for status in statuses.values()} != {0}
        assert len({status.leader for status in statuses.values()}) == 1
        (leader_url,) = [url for url, status in statuses.items() if status.is_leader]
        assert cluster.wait_leader().url == leader_url

        target = next(m for m in cluster if m.url != leader_url)
        client.maintenance.move_leader(ids[target.url])
        assert (client.maintenance.status(target.url)).is_leader
        wait_for(lambda: cluster.leader() is target, 10, "the metrics to name the target")
        leader = ids[target.url]
        for url in cluster.urls:
            # A follower learns of the new leader from its first append, a moment later.
            wait_status(client, url, lambda s: s.leader == leader, "to name the leader")

        for i in range(20):
            put = client.put(f"every/{i}", str(i))
        revision = put.header.revision
        for url in cluster.urls:
            # A follower applies the last put a moment after the leader answers it; hashing
            # before then is refused as a future revision.
            wait_status(
                client, url, lambda s: s.header.revision >= revision, f"to apply {revision}"
            )
        hashes = [client.maintenance.hash_kv(url, revision) for url in cluster.urls]
        assert len({h.hash for h in hashes}) == 1  # the members agree
        assert {h.header.member_id for h in hashes} == set(ids.values())
        for url in cluster.urls:
            assert (client.maintenance.hash(url)).header.member_id == ids[url]
            assert (client.maintenance.defragment(url)).endpoint == url
            after = client.maintenance.status(url)
            assert after.member_id == ids[url] and after.db_size >= after.db_size_in_use
        assert (client.get("every/", prefix=True, count_only=True)).count == 20

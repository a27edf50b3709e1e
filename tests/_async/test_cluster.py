"""Membership and leadership through the client against real etcd: member list, a learner
added, started, promoted once in sync, its peer URLs updated, removed; leadership moved to a
named member; status, hashes and defragmentation of every member by endpoint (issue
"Administration", point 1)."""

from __future__ import annotations

from typing import Any

import pytest

from etcdwire import (
    AsyncClient,
    BadLeaderTransferee,
    LearnerNotReady,
    MemberBadURLs,
    MemberNotFound,
    MemberNotLearner,
    PeerURLExists,
    Unavailable,
    UsageError,
)
from etcdwire._compat import asleep, monotonic
from etcdwire.tools.embedded import EtcdMember
from etcdwire.types import Member

pytestmark = pytest.mark.etcd


async def wait_for(predicate: Any, timeout: float, what: str) -> None:
    end = monotonic() + timeout
    while not predicate():
        if monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asleep(0.1)


async def wait_status(
    client: AsyncClient, url: str, holds: Any, what: str, timeout: float = 10
) -> None:
    """Until the Status of the member at `url` satisfies `holds`."""
    end = monotonic() + timeout
    while not holds(await client.maintenance.status(url)):
        if monotonic() > end:
            raise AssertionError(f"timed out waiting for {url} {what}")
        await asleep(0.05)


async def add_learner(client: AsyncClient, peer_url: str) -> Any:
    """MemberAdd as a learner; a cluster that started less than etcd's health interval (5 s)
    ago refuses reconfiguration with "unhealthy cluster", so that is waited out."""
    end = monotonic() + 15
    while True:
        try:
            return await client.cluster.member_add_as_learner([peer_url])
        except Unavailable as exc:
            if "unhealthy cluster" not in exc.message or monotonic() > end:
                raise
            await asleep(0.5)


def by_id(members: tuple[Member, ...], member_id: int) -> Member:
    return next(m for m in members if m.id == member_id)


@pytest.mark.cluster
async def test_learner_added_promoted_updated_and_removed(fresh_cluster: Any) -> None:
    cluster = fresh_cluster(3)
    # Launched without a preexec_fn: the client's at-fork handler must not run in the child
    # (see the report on AsyncConnectionManager._after_fork).
    joiner = EtcdMember("c0learner", unsafe_no_fsync=True, log_level="warn", die_with_parent=False)
    try:
        async with AsyncClient(cluster.urls, timeout=10) as client:
            listed = await client.cluster.member_list()
            assert sorted(m.name for m in listed.members) == sorted(m.name for m in cluster)
            assert not any(m.is_learner for m in listed.members)
            local = await client.cluster.member_list(serializable=True)
            assert {m.id for m in local.members} == {m.id for m in listed.members}

            added = await add_learner(client, joiner.peer_url)
            new_id = added.member.id
            assert added.member.is_learner and added.member.name == ""
            assert added.member.peer_urls == (joiner.peer_url,)
            assert len(added.members) == 4 and by_id(added.members, new_id).is_learner
            with pytest.raises(LearnerNotReady, match="in sync with leader"):
                await client.cluster.member_promote(new_id)  # not even started yet

            initial = ",".join(f"{m.name or joiner.name}={m.peer_urls[0]}" for m in added.members)
            joiner.join(initial).start()
            learner = await client.maintenance.status(joiner.url)
            assert learner.is_learner and learner.member_id == new_id

            end = monotonic() + 30
            while True:  # etcd refuses until the learner's log caught up with the leader's
                try:
                    promoted = await client.cluster.member_promote(new_id)
                    break
                except LearnerNotReady:
                    assert monotonic() < end, "the learner never caught up"
                    await asleep(0.2)
            assert not by_id(promoted.members, new_id).is_learner
            assert by_id(promoted.members, new_id).name == joiner.name
            # The promoted member learns of it when it applies the membership change.
            end = monotonic() + 10
            while (await client.maintenance.status(joiner.url)).is_learner:
                assert monotonic() < end, "the member still reports itself a learner"
                await asleep(0.2)
            with pytest.raises(MemberNotLearner):
                await client.cluster.member_promote(new_id)

            urls = [joiner.peer_url, joiner.peer_url.replace("127.0.0.1", "localhost")]
            updated = await client.cluster.member_update(new_id, urls)
            assert by_id(updated.members, new_id).peer_urls == tuple(urls)
            relisted = await client.cluster.member_list()
            assert by_id(relisted.members, new_id).peer_urls == tuple(urls)
            assert by_id(relisted.members, new_id).client_urls == (joiner.url,)

            removed = await client.cluster.member_remove(new_id)
            assert new_id not in {m.id for m in removed.members} and len(removed.members) == 3
            await wait_for(lambda: not joiner.running, 20, "the removed member to stop")
            with pytest.raises(MemberNotFound, match="member not found"):
                await client.cluster.member_remove(new_id)
            assert len((await client.cluster.member_list()).members) == 3
            assert (await client.put("after/removal", "ok")).header.revision > 0
    finally:
        joiner.close()


async def test_membership_errors_are_named(etcd_factory: Any) -> None:
    member = etcd_factory()
    async with AsyncClient(member.url) as client:
        (me,) = (await client.cluster.member_list()).members
        assert me.client_urls == (member.url,) and me.peer_urls == (member.peer_url,)
        with pytest.raises(MemberBadURLs, match="given member URLs are invalid"):
            await client.cluster.member_add(["not a url"])
        with pytest.raises(PeerURLExists):
            await client.cluster.member_add_as_learner([member.peer_url])
        with pytest.raises(MemberNotFound):
            await client.cluster.member_update(0xBAD, ["http://127.0.0.1:1"])
        with pytest.raises(MemberNotFound):
            await client.cluster.member_promote(0xBAD)
        with pytest.raises(MemberNotLearner, match="can only promote a learner member"):
            await client.cluster.member_promote(me.id)
        with pytest.raises(BadLeaderTransferee):
            await client.maintenance.move_leader(0xBAD)
        with pytest.raises(UsageError):
            await client.cluster.member_remove(0)
        with pytest.raises(UsageError):
            await client.cluster.member_add([])


@pytest.mark.cluster
async def test_move_leader_and_every_member_by_endpoint(fresh_cluster: Any) -> None:
    cluster = fresh_cluster(3)
    async with AsyncClient(cluster.urls, timeout=10) as client:
        statuses = {url: await client.maintenance.status(url) for url in cluster.urls}
        ids = {url: status.member_id for url, status in statuses.items()}
        assert len(set(ids.values())) == 3
        assert {status.leader for status in statuses.values()} != {0}
        assert len({status.leader for status in statuses.values()}) == 1
        (leader_url,) = [url for url, status in statuses.items() if status.is_leader]
        assert cluster.wait_leader().url == leader_url

        target = next(m for m in cluster if m.url != leader_url)
        await client.maintenance.move_leader(ids[target.url])
        assert (await client.maintenance.status(target.url)).is_leader
        await wait_for(lambda: cluster.leader() is target, 10, "the metrics to name the target")
        leader = ids[target.url]
        for url in cluster.urls:
            # A follower learns of the new leader from its first append, a moment later.
            await wait_status(client, url, lambda s: s.leader == leader, "to name the leader")

        for i in range(20):
            put = await client.put(f"every/{i}", str(i))
        revision = put.header.revision
        for url in cluster.urls:
            # A follower applies the last put a moment after the leader answers it; hashing
            # before then is refused as a future revision.
            await wait_status(
                client, url, lambda s: s.header.revision >= revision, f"to apply {revision}"
            )
        hashes = [await client.maintenance.hash_kv(url, revision) for url in cluster.urls]
        assert len({h.hash for h in hashes}) == 1  # the members agree
        assert {h.header.member_id for h in hashes} == set(ids.values())
        for url in cluster.urls:
            assert (await client.maintenance.hash(url)).header.member_id == ids[url]
            assert (await client.maintenance.defragment(url)).endpoint == url
            after = await client.maintenance.status(url)
            assert after.member_id == ids[url] and after.db_size >= after.db_size_in_use
        assert (await client.get("every/", prefix=True, count_only=True)).count == 20

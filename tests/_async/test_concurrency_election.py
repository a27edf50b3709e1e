"""The Election recipe (issue 6, point 2) against real etcd: campaign, proclaim, resign,
leader, observe and resume with Go's key layout, candidates taking turns, and interop with
``etcdctl elect`` (which uses Go's client/v3/concurrency) both ways."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from etcdwire import (
    AsyncClient,
    AsyncElection,
    AsyncSession,
    DeadlineExceeded,
    KeyValue,
    NotLeaderOfElection,
    UsageError,
)
from etcdwire._compat import asleep, aspawn, monotonic
from tests.etcdctl_process import EtcdctlProcess as Ctl

pytestmark = pytest.mark.etcd


def name() -> str:
    return f"el-{uuid.uuid4().hex[:8]}"


class Observer:
    """Collects what ``observe()`` yields, in the background."""

    def __init__(self, election: AsyncElection) -> None:
        self.seen: list[KeyValue] = []
        self._stream = election.observe()
        self.task = aspawn(self._run)

    async def _run(self) -> None:
        try:
            async for kv in self._stream:
                self.seen.append(kv)
        except UsageError:  # "the client is closed": the test is over
            pass

    def values(self) -> list[bytes]:
        return [kv.value for kv in self.seen]

    async def wait_for(self, value: bytes, timeout: float = 10) -> None:
        end = monotonic() + timeout
        while value not in self.values():
            assert monotonic() < end, f"observe never saw {value!r}: {self.values()}"
            await asleep(0.05)


async def test_campaign_leader_proclaim_resign_with_gos_key_layout(etcd: Any) -> None:
    election_name = name()
    async with AsyncClient(etcd.url) as client, AsyncSession(client) as session:
        election = AsyncElection(session, election_name)
        assert await election.leader() is None
        with pytest.raises(NotLeaderOfElection):
            await election.proclaim("x")
        await election.campaign("one")
        assert election.is_leader
        assert election.key == f"{election_name}/{session.lease_id:x}".encode()
        leader = await election.leader()
        assert leader is not None and leader.key == election.key and leader.value == b"one"
        assert leader.lease == session.lease_id and leader.create_revision == election.revision
        await election.proclaim("two")
        assert (await election.leader()).value == b"two"  # type: ignore[union-attr]
        await election.campaign("three")  # the same session: its key is reused, proclaimed
        leader = await election.leader()
        assert leader is not None and leader.value == b"three"
        assert leader.create_revision == election.revision
        await election.resign()
        assert not election.is_leader and await election.leader() is None
        with pytest.raises(NotLeaderOfElection):
            await election.proclaim("four")


async def test_candidates_take_turns_and_observe_follows_the_leader(etcd: Any) -> None:
    election_name = name()
    async with (
        AsyncClient(etcd.url) as client,
        AsyncSession(client) as one,
        AsyncSession(client) as two,
    ):
        first, second = AsyncElection(one, election_name), AsyncElection(two, election_name)
        watcher = Observer(AsyncElection(one, election_name))
        await first.campaign("first")
        await watcher.wait_for(b"first")
        with pytest.raises(DeadlineExceeded):
            await second.campaign("second", timeout=0.5)
        assert not second.is_leader
        assert len((await client.get(f"{election_name}/", prefix=True)).kvs) == 1

        elected: list[float] = []

        async def stand() -> None:
            await second.campaign("second", timeout=15)
            elected.append(monotonic())

        task = aspawn(stand)
        await first.proclaim("first-again")
        await watcher.wait_for(b"first-again")
        assert not elected
        resigned = monotonic()
        await first.resign()
        await task.join(15)
        assert elected and elected[0] >= resigned and second.is_leader
        await watcher.wait_for(b"second")
        assert watcher.values() == [b"first", b"first-again", b"second"]
        await second.resign()


async def test_resume_an_election_from_a_known_leader_key(etcd: Any) -> None:
    election_name = name()
    async with AsyncClient(etcd.url) as client, AsyncSession(client) as session:
        original = AsyncElection(session, election_name)
        await original.campaign("before")
        resumed = AsyncElection.resume(session, election_name, original.key, original.revision)
        assert resumed.is_leader
        await resumed.proclaim("after")
        assert (await resumed.leader()).value == b"after"  # type: ignore[union-attr]
        stale = AsyncElection.resume(session, election_name, original.key, original.revision - 1)
        with pytest.raises(NotLeaderOfElection):
            await stale.proclaim("stale")  # a wrong create revision: not the leader
        await resumed.resign()
        assert await original.leader() is None


async def test_etcdctl_elect_leads_then_etcdwire_campaign_wins_after_it(etcd: Any) -> None:
    """Issue 6 point 2: etcdctl leads, etcdwire's observe sees its value, etcdwire's
    campaign waits and wins once etcdctl is gone."""
    election_name = name()
    async with AsyncClient(etcd.url) as client, AsyncSession(client) as session:
        election = AsyncElection(session, election_name)
        watcher = Observer(election)
        ctl = Ctl(etcd, "elect", election_name, "from-etcdctl")
        try:
            key = ctl.read_line(10.0)
            assert key is not None and key.startswith(f"{election_name}/")
            assert ctl.read_line(5.0) == "from-etcdctl"
            await watcher.wait_for(b"from-etcdctl")
            with pytest.raises(DeadlineExceeded):
                await election.campaign("from-etcdwire", timeout=1.0)
            task = aspawn(election.campaign, "from-etcdwire")
            await asleep(0.3)
            assert not election.is_leader  # campaigning, not elected
            leader = await election.leader()
            assert leader is not None and leader.key.decode() == key
        finally:
            ctl.stop()  # etcdctl revokes its session: its candidacy goes
        await task.join(15)
        leader = await election.leader()
        assert leader is not None and leader.key == election.key
        await watcher.wait_for(b"from-etcdwire")
        assert watcher.values()[0] == b"from-etcdctl"
        await election.resign()


async def test_etcdwire_leads_then_etcdctl_elect_wins_after_resign(etcd: Any) -> None:
    """Issue 6 point 2, the other way round; ``etcdctl elect -l`` observes our value."""
    election_name = name()
    async with AsyncClient(etcd.url) as client, AsyncSession(client) as session:
        election = AsyncElection(session, election_name)
        await election.campaign("from-etcdwire")
        listener = Ctl(etcd, "elect", "-l", election_name)
        ctl = Ctl(etcd, "elect", election_name, "from-etcdctl")
        try:
            assert listener.read_line(10.0) == election.key.decode()
            assert listener.read_line(5.0) == "from-etcdwire"
            assert ctl.read_line(2.0) is None  # etcdctl waits behind our key
            await election.resign()
            key = ctl.read_line(10.0)
            assert key is not None and key != election.key.decode()
            assert ctl.read_line(5.0) == "from-etcdctl"
            leader = await election.leader()
            assert leader is not None and leader.key.decode() == key
            assert leader.value == b"from-etcdctl"
        finally:
            ctl.stop()
            listener.stop()

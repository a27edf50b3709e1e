# Generated from tests/_async/test_concurrency_election.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""The Election recipe (issue 6, point 2) against real etcd: campaign, proclaim, resign,
leader, observe and resume with Go's key layout, candidates taking turns, and interop with
``etcdctl elect`` (which uses Go's client/v3/concurrency) both ways."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from etcdwire import (
    Client,
    Election,
    Session,
    DeadlineExceeded,
    KeyValue,
    NotLeaderOfElection,
    UsageError,
)
from etcdwire._compat import sleep, spawn, monotonic
from tests.etcdctl_process import EtcdctlProcess as Ctl

pytestmark = pytest.mark.etcd


def name() -> str:
    return f"el-{uuid.uuid4().hex[:8]}"


class Observer:
    """Collects what ``observe()`` yields, in the background."""

    def __init__(self, election: Election) -> None:
        self.seen: list[KeyValue] = []
        self._stream = election.observe()
        self.task = spawn(self._run)

    def _run(self) -> None:
        try:
            for kv in self._stream:
                self.seen.append(kv)
        except UsageError:  # "the client is closed": the test is over
            pass

    def values(self) -> list[bytes]:
        return [kv.value for kv in self.seen]

    def wait_for(self, value: bytes, timeout: float = 10) -> None:
        end = monotonic() + timeout
        while value not in self.values():
            assert monotonic() < end, f"observe never saw {value!r}: {self.values()}"
            sleep(0.05)


def test_campaign_leader_proclaim_resign_with_gos_key_layout(etcd: Any) -> None:
    election_name = name()
    with Client(etcd.url) as client, Session(client) as session:
        election = Election(session, election_name)
        assert election.leader() is None
        with pytest.raises(NotLeaderOfElection):
            election.proclaim("x")
        election.campaign("one")
        assert election.is_leader
        assert election.key == f"{election_name}/{session.lease_id:x}".encode()
        leader = election.leader()
        assert leader is not None and leader.key == election.key and leader.value == b"one"
        assert leader.lease == session.lease_id and leader.create_revision == election.revision
        election.proclaim("two")
        assert (election.leader()).value == b"two"  # type: ignore[union-attr]
        election.campaign("three")  # the same session: its key is reused, proclaimed
        leader = election.leader()
        assert leader is not None and leader.value == b"three"
        assert leader.create_revision == election.revision
        election.resign()
        assert not election.is_leader and election.leader() is None
        with pytest.raises(NotLeaderOfElection):
            election.proclaim("four")


def test_candidates_take_turns_and_observe_follows_the_leader(etcd: Any) -> None:
    election_name = name()
    with (
        Client(etcd.url) as client,
        Session(client) as one,
        Session(client) as two,
    ):
        first, second = Election(one, election_name), Election(two, election_name)
        watcher = Observer(Election(one, election_name))
        first.campaign("first")
        watcher.wait_for(b"first")
        with pytest.raises(DeadlineExceeded):
            second.campaign("second", timeout=0.5)
        assert not second.is_leader
        assert len((client.get(f"{election_name}/", prefix=True)).kvs) == 1

        elected: list[float] = []

        def stand() -> None:
            second.campaign("second", timeout=15)
            elected.append(monotonic())

        task = spawn(stand)
        first.proclaim("first-again")
        watcher.wait_for(b"first-again")
        assert not elected
        resigned = monotonic()
        first.resign()
        task.join(15)
        assert elected and elected[0] >= resigned and second.is_leader
        watcher.wait_for(b"second")
        assert watcher.values() == [b"first", b"first-again", b"second"]
        second.resign()


def test_resume_an_election_from_a_known_leader_key(etcd: Any) -> None:
    election_name = name()
    with Client(etcd.url) as client, Session(client) as session:
        original = Election(session, election_name)
        original.campaign("before")
        resumed = Election.resume(session, election_name, original.key, original.revision)
        assert resumed.is_leader
        resumed.proclaim("after")
        assert (resumed.leader()).value == b"after"  # type: ignore[union-attr]
        stale = Election.resume(session, election_name, original.key, original.revision - 1)
        with pytest.raises(NotLeaderOfElection):
            stale.proclaim("stale")  # a wrong create revision: not the leader
        resumed.resign()
        assert original.leader() is None


def test_etcdctl_elect_leads_then_etcdwire_campaign_wins_after_it(etcd: Any) -> None:
    """Issue 6 point 2: etcdctl leads, etcdwire's observe sees its value, etcdwire's
    campaign waits and wins once etcdctl is gone."""
    election_name = name()
    with Client(etcd.url) as client, Session(client) as session:
        election = Election(session, election_name)
        watcher = Observer(election)
        ctl = Ctl(etcd, "elect", election_name, "from-etcdctl")
        try:
            key = ctl.read_line(10.0)
            assert key is not None and key.startswith(f"{election_name}/")
            assert ctl.read_line(5.0) == "from-etcdctl"
            watcher.wait_for(b"from-etcdctl")
            with pytest.raises(DeadlineExceeded):
                election.campaign("from-etcdwire", timeout=1.0)
            task = spawn(election.campaign, "from-etcdwire")
            sleep(0.3)
            assert not election.is_leader  # campaigning, not elected
            leader = election.leader()
            assert leader is not None and leader.key.decode() == key
        finally:
            ctl.stop()  # etcdctl revokes its session: its candidacy goes
        task.join(15)
        leader = election.leader()
        assert leader is not None and leader.key == election.key
        watcher.wait_for(b"from-etcdwire")
        assert watcher.values()[0] == b"from-etcdctl"
        election.resign()


def test_etcdwire_leads_then_etcdctl_elect_wins_after_resign(etcd: Any) -> None:
    """Issue 6 point 2, the other way round; ``etcdctl elect -l`` observes our value."""
    election_name = name()
    with Client(etcd.url) as client, Session(client) as session:
        election = Election(session, election_name)
        election.campaign("from-etcdwire")
        listener = Ctl(etcd, "elect", "-l", election_name)
        ctl = Ctl(etcd, "elect", election_name, "from-etcdctl")
        try:
            assert listener.read_line(10.0) == election.key.decode()
            assert listener.read_line(5.0) == "from-etcdwire"
            assert ctl.read_line(2.0) is None  # etcdctl waits behind our key
            election.resign()
            key = ctl.read_line(10.0)
            assert key is not None and key != election.key.decode()
            assert ctl.read_line(5.0) == "from-etcdctl"
            leader = election.leader()
            assert leader is not None and leader.key.decode() == key
            assert leader.value == b"from-etcdctl"
        finally:
            ctl.stop()
            listener.stop()

# Generated from etcdwire/_async/concurrency/election.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""Leader election on a name (after Go's concurrency/election.go, with its key layout, so Go
programs and ``etcdctl elect`` take part in the same elections).

Each candidate writes ``name/<lease hex>`` with its session's lease and its value; the oldest
key leads. A candidate waits only for the key created just before its own to go."""

from __future__ import annotations

from collections.abc import Iterator

from ..._etcd.ops import Compare, Op, utf8
from ..._etcd.recipes import first_created, key_prefix, session_key
from ...errors import DeadlineExceeded, EtcdError, NotLeaderOfElection, UsageError
from ...types import EventType, GetResponse, KeyValue, ResponseHeader
from ..channel import deadline_after
from ._wait import remaining, wait_deletes
from .session import Session

__all__ = ["Election"]


def _as_bytes(value: bytes | str) -> bytes:
    if isinstance(value, str):
        return utf8(value, "value")
    if isinstance(value, bytes):
        return value
    raise UsageError(f"an election value must be bytes or str, not {type(value).__name__}")


class Election:
    """An election on ``name`` in which ``session`` campaigns.

    ``campaign(value)`` blocks until elected; ``proclaim(value)`` changes the leader's
    value; ``resign()`` gives up; ``leader()`` reads the current leader; ``observe()`` yields
    the leader's key-value each time it changes. :meth:`resume` continues an election from a
    known leader key (after a restart, with a session on the same lease)."""

    def __init__(self, session: Session, name: bytes | str) -> None:
        self.session = session
        self.prefix = key_prefix(name)
        self.key = b""
        self.revision = 0
        self.header: ResponseHeader | None = None
        self._leading = False  # Go's leaderSession: campaigning or elected
        self._elected = False

    @classmethod
    def resume(
        cls, session: Session, name: bytes | str, leader_key: bytes | str, revision: int
    ) -> Election:
        """An election in which ``session`` already leads with ``leader_key`` created at
        ``revision`` (Go's ``ResumeElection``; unlike Go, the name gets its ``/`` here too, so
        ``leader`` and ``observe`` look at the same keys as a fresh election)."""
        election = cls(session, name)
        election.key = _as_bytes(leader_key)
        election.revision = revision
        election._leading = election._elected = True
        return election

    @property
    def is_leader(self) -> bool:
        """True once elected (until resign, or a proclaim that found us no longer leading)."""
        return self._elected and self._leading and bool(self.key)

    def campaign(self, value: bytes | str, *, timeout: float | None = None) -> None:
        """Stand with ``value`` and block until elected. A candidacy that already exists for
        this session is reused (its value proclaimed if it differs). On timeout the candidacy
        is withdrawn and DeadlineExceeded raised."""
        raw = _as_bytes(value)
        deadline = deadline_after(timeout)
        client = self.session.client
        lease_id = self.session.lease_id
        key = session_key(self.prefix, lease_id)
        response = client.kv.do(
            Op.txn(
                [Compare.create_revision(key) == 0],
                [Op.put(key, raw, lease=lease_id)],
                [Op.get(key)],
            ),
            timeout=remaining(deadline),
        )
        self.key, self.revision, self._leading = key, response.header.revision, True
        self._elected = False
        if not response.succeeded:
            mine = response.responses[0]
            assert isinstance(mine, GetResponse)
            self.revision = mine.kvs[0].create_revision
            if mine.kvs[0].value != raw:
                try:
                    self.proclaim(raw, timeout=remaining(deadline))
                except BaseException:
                    self._resign_quietly()
                    raise
        try:
            wait_deletes(client, self.prefix, self.revision - 1, deadline)
        except EtcdError as exc:
            if isinstance(exc, DeadlineExceeded):
                self._resign_quietly()
            else:
                self._leading = False
            raise
        except BaseException:  # cancelled: withdraw, as Go does when its context ends
            self._resign_quietly()
            raise
        self.header = response.header
        self._elected = True

    def proclaim(self, value: bytes | str, *, timeout: float | None = None) -> None:
        """Announce a new value as leader, without a new election. NotLeaderOfElection if
        this election does not lead (never elected, resigned, or its key is gone)."""
        raw = _as_bytes(value)
        if not self._leading:
            raise NotLeaderOfElection(f"not the leader of {self.prefix[:-1]!r}")
        response = self.session.client.kv.do(
            Op.txn(
                [Compare.create_revision(self.key) == self.revision],
                [Op.put(self.key, raw, lease=self.session.lease_id)],
            ),
            timeout=timeout,
        )
        if not response.succeeded:
            self.key = b""
            raise NotLeaderOfElection(f"no longer the leader of {self.prefix[:-1]!r}")
        self.header = response.header

    def resign(self, *, timeout: float | None = None) -> None:
        """Give up leadership (or the candidacy): delete our key if it is still ours."""
        if not self._leading:
            return
        try:
            response = self.session.client.kv.do(
                Op.txn([Compare.create_revision(self.key) == self.revision], [Op.delete(self.key)]),
                timeout=timeout,
            )
            self.header = response.header
        finally:
            self.key = b""
            self._leading = self._elected = False

    def _resign_quietly(self) -> None:
        try:
            self.resign()
        except EtcdError:  # the key goes with the session's lease anyway
            self._leading = False

    def leader(self, *, timeout: float | None = None) -> KeyValue | None:
        """The leader's key-value (the oldest key of the election), None if nobody leads."""
        response = self.session.client.kv.do(first_created(self.prefix), timeout=timeout)
        return response.kvs[0] if response.kvs else None

    def observe(self) -> Iterator[KeyValue]:
        """The leader's key-value now (once there is one), then each new value it proclaims
        and each new leader, in order; it may skip intermediate values but always yields the
        latest (Go's ``Observe``). It ends when the client closes, and raises the error if
        a watch fails."""
        client = self.session.client
        while True:
            response = client.kv.do(first_created(self.prefix))
            if response.kvs:
                kv, revision = response.kvs[0], response.header.revision
            else:
                first = self._first_put(response.header.revision)
                if first is None:
                    return  # the watch ended (the client is closing)
                kv, revision = first
            yield kv
            with client.watch(kv.key, start_revision=revision + 1) as watch:
                deleted = False
                for update in watch:
                    for event in update.events:
                        if event.type is EventType.DELETE:
                            deleted = True
                            break
                        yield event.kv
                    if deleted:
                        break
                if not deleted:
                    return  # the watch ended (the client is closing)

    def _first_put(self, revision: int) -> tuple[KeyValue, int] | None:
        """Wait for the first candidate to appear under the prefix (None if the watch ends
        first)."""
        client = self.session.client
        with client.watch(self.prefix, prefix=True, start_revision=revision) as watch:
            for update in watch:
                for event in update.events:
                    if event.type is EventType.PUT:
                        return event.kv, event.kv.mod_revision
        return None

    def __repr__(self) -> str:
        state = f"leading with {self.key!r}" if self.is_leader else "not leading"
        return f"<Election {self.prefix[:-1]!r} {state}>"

"""Pure pieces of the concurrency recipes (after etcd's client/v3/concurrency): the key a
session owns under a name, the isolation levels of the STM and its read and write sets with
the comparisons that guard a commit. No I/O: the shells in ``_async/concurrency`` send the
operations built here."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..errors import UsageError
from ..types import GetResponse, SortOrder, SortTarget
from .ops import AnyOp, Compare, GetOp, Op, utf8

__all__ = [
    "Isolation",
    "ReadSet",
    "WriteSet",
    "first_created",
    "key_prefix",
    "last_created_before",
    "last_modified_before",
    "session_key",
]

_INT64_MAX = 2**63 - 1


def key_prefix(name: bytes | str) -> bytes:
    """The prefix every participant of a mutex or an election writes under (Go appends
    ``"/"`` to the name)."""
    raw = utf8(name, "recipe name") if isinstance(name, str) else name
    if not isinstance(raw, bytes) or not raw:
        raise UsageError(f"a recipe needs a non-empty name (bytes or str), not {name!r}")
    return raw + b"/"


def session_key(prefix: bytes, lease_id: int) -> bytes:
    """A session's key under ``prefix``: the lease ID in lower-case hex, as Go's
    ``fmt.Sprintf("%s%x", pfx, lease)``, so Go programs and etcdctl share the layout."""
    return prefix + format(lease_id, "x").encode("ascii")


def first_created(prefix: bytes) -> GetOp:
    """The oldest key under ``prefix``: the owner of a lock, the leader of an election (Go's
    ``WithFirstCreate``: sort by create revision ascending, limit 1)."""
    return Op.get(
        prefix,
        prefix=True,
        sort_target=SortTarget.CREATE_REVISION,
        sort_order=SortOrder.ASCEND,
        limit=1,
    )


def last_created_before(prefix: bytes, max_create_revision: int) -> GetOp:
    """The newest key under ``prefix`` created at or before ``max_create_revision`` (Go's
    ``WithLastCreate`` + ``WithMaxCreateRev``, used by ``waitDeletes``)."""
    return Op.get(
        prefix,
        prefix=True,
        sort_target=SortTarget.CREATE_REVISION,
        sort_order=SortOrder.DESCEND,
        limit=1,
        max_create_revision=max_create_revision,
    )


class Isolation(enum.Enum):
    """How STM transactions interfere (Go's ``concurrency.Isolation``).

    ``SERIALIZABLE_SNAPSHOT``: every read is at the revision of the first read, and the commit
    fails if a key read or written changed since then. ``SERIALIZABLE``: reads at the first
    read's revision; the commit checks the keys read. ``REPEATABLE_READS``: a key read twice
    gives the same value; the commit checks the keys read. ``READ_COMMITTED``: reads see any
    committed value and the commit checks nothing (lost updates are possible)."""

    SERIALIZABLE_SNAPSHOT = 0
    SERIALIZABLE = 1
    REPEATABLE_READS = 2
    READ_COMMITTED = 3


class ReadSet(dict[bytes, GetResponse]):
    """Keys read by a transaction attempt and the responses they were read from."""

    def add(self, keys: list[bytes], responses: tuple[GetResponse, ...]) -> None:
        for key, response in zip(keys, responses, strict=False):
            self[key] = response

    def first(self) -> int:
        """The store revision of the first fetch (the lowest header revision)."""
        return min((r.header.revision for r in self.values()), default=_INT64_MAX - 1)

    def cmps(self) -> list[Compare]:
        """Guards: every key read is still at the mod revision it was read at (0: absent)."""
        return [
            Compare.mod_revision(key) == (r.kvs[0].mod_revision if r.kvs else 0)
            for key, r in self.items()
        ]


@dataclass(frozen=True, slots=True)
class _Write:
    value: bytes
    op: AnyOp


class WriteSet(dict[bytes, _Write]):
    """Keys written by a transaction attempt, with the operation that writes each."""

    def put(self, key: bytes, value: bytes, lease: int = 0) -> None:
        self[key] = _Write(value, Op.put(key, value, lease=lease))

    def delete(self, key: bytes) -> None:
        self[key] = _Write(b"", Op.delete(key))

    def lookup(self, keys: tuple[bytes, ...]) -> _Write | None:
        for key in keys:
            if key in self:
                return self[key]
        return None

    def cmps(self, revision: int) -> list[Compare]:
        """Guards: no key written has been modified at or after ``revision``."""
        return [Compare.mod_revision(key) < revision for key in self]

    def ops(self) -> list[AnyOp]:
        return [write.op for write in self.values()]


def last_modified_before(prefix: bytes, max_mod_revision: int) -> GetOp:
    """The key under ``prefix`` modified last at or before ``max_mod_revision`` (Go's
    ``WithLastRev`` + ``WithMaxModRev``, used by the read-write mutex)."""
    return Op.get(
        prefix,
        prefix=True,
        sort_target=SortTarget.MOD_REVISION,
        sort_order=SortOrder.DESCEND,
        limit=1,
        max_mod_revision=max_mod_revision,
    )

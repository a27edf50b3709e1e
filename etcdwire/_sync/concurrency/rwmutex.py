# Generated from etcdwire/_async/concurrency/rwmutex.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""A fair read-write lock on a name (after Go's client/v3/experimental/recipes/rwmutex.go,
with its key layout ``name/read/<ns>`` and ``name/write/<ns>``).

Readers wait only for writers that asked before them; a writer waits for everyone who asked
before it. Requests are served in the order they were made, so a waiting writer holds back
the readers that come after it."""

from __future__ import annotations

import contextlib
import time

from ..._etcd.ops import Compare, Op
from ..._etcd.recipes import key_prefix, last_modified_before
from ...errors import EtcdError, LockNotHeld, UsageError
from ..channel import deadline_after
from ._wait import remaining, wait_delete
from .session import Session

__all__ = ["RWMutex"]


class RWMutex:
    """A read-write lock on ``name`` held with ``session``'s lease: ``rlock``/``runlock``
    for shared access, ``lock``/``unlock`` for exclusive access. One holder per object."""

    def __init__(self, session: Session, name: bytes | str) -> None:
        self.session = session
        self.prefix = key_prefix(name)
        self.key = b""
        self.revision = 0
        self.mode = ""

    @property
    def held(self) -> bool:
        return bool(self.key)

    def rlock(self, timeout: float | None = None) -> None:
        """Block until no writer that asked earlier holds or waits for the lock."""
        self._acquire(b"read", self.prefix + b"write", timeout)

    def lock(self, timeout: float | None = None) -> None:
        """Block until everyone who asked earlier, reader or writer, is gone."""
        self._acquire(b"write", self.prefix, timeout)

    def runlock(self, *, timeout: float | None = None) -> None:
        self._release("read", timeout)

    def unlock(self, *, timeout: float | None = None) -> None:
        self._release("write", timeout)

    def _acquire(self, kind: bytes, blockers: bytes, timeout: float | None) -> None:
        if self.held:
            raise UsageError(f"this object already holds {self.prefix[:-1]!r} ({self.mode})")
        deadline = deadline_after(timeout)
        self._new_key(self.prefix + kind + b"/", deadline)
        self.mode = kind.decode()
        client = self.session.client
        try:
            op = last_modified_before(blockers, self.revision - 1)
            while True:
                response = client.kv.do(op, timeout=remaining(deadline))
                if not response.kvs:
                    return
                wait_delete(client, response.kvs[0].key, self.revision, deadline)
        except BaseException:
            self._withdraw()
            raise

    def _new_key(self, prefix: bytes, deadline: float | None) -> None:
        """Create ``prefix<nanoseconds>`` with the session's lease, retrying on a clash."""
        lease_id = self.session.lease_id
        while True:
            key = prefix + str(time.time_ns()).encode("ascii")
            response = self.session.client.kv.do(
                Op.txn([Compare.version(key) == 0], [Op.put(key, b"", lease=lease_id)]),
                timeout=remaining(deadline),
            )
            if response.succeeded:
                self.key, self.revision = key, response.header.revision
                return

    def _release(self, mode: str, timeout: float | None) -> None:
        if not self.held or self.mode != mode:
            raise LockNotHeld(f"the {mode} lock {self.prefix[:-1]!r} is not held by this object")
        self.session.client.delete(self.key, timeout=timeout)
        self.key, self.revision, self.mode = b"", 0, ""

    def _withdraw(self) -> None:
        with contextlib.suppress(EtcdError):  # else the key goes with the session's lease
            self.session.client.delete(self.key)
        self.key, self.revision, self.mode = b"", 0, ""

    def __repr__(self) -> str:
        state = f"{self.mode} held rev={self.revision}" if self.held else "not held"
        return f"<RWMutex {self.prefix[:-1]!r} {state}>"

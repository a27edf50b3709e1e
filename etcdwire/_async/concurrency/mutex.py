"""A fair distributed lock on a name (after Go's concurrency/mutex.go, with its key layout, so
Go programs and ``etcdctl lock`` contend with it for the same name).

Each contender writes ``name/<lease hex>`` with its session's lease; the oldest key (lowest
create revision) holds the lock and every other contender watches only the key created just
before its own, so the lock passes in the order it was requested."""

from __future__ import annotations

import contextlib
from types import TracebackType

from ..._etcd.ops import Compare, Op
from ..._etcd.recipes import first_created, key_prefix, session_key
from ...errors import EtcdError, LockNotHeld, SessionExpired
from ...types import GetResponse, ResponseHeader, TxnResponse
from ..channel import deadline_after
from ._wait import remaining, wait_deletes
from .session import AsyncSession

__all__ = ["AsyncMutex"]

_NO_KEY = b"\0"


class AsyncMutex:
    """A lock on ``name`` held with ``session``'s lease.

    ``await lock(timeout=None)`` blocks until held; ``try_lock()`` takes it only if free;
    ``unlock()`` releases it. ``async with mutex:`` locks and unlocks. :meth:`is_owner` is a
    comparison that holds only while this mutex owns the lock, to guard a txn. Two mutexes on
    one name and one session share a key, as in Go: use a session per contender."""

    def __init__(self, session: AsyncSession, name: bytes | str) -> None:
        self.session = session
        self.prefix = key_prefix(name)
        self.key = _NO_KEY
        self.revision = -1
        self.header: ResponseHeader | None = None

    @property
    def held(self) -> bool:
        return self.revision > 0

    async def _try_acquire(self, timeout: float | None) -> TxnResponse:
        """One txn: create our key if absent (else read it), and read the owner."""
        client = self.session.client
        lease_id = self.session.lease_id
        key = session_key(self.prefix, lease_id)
        owner = first_created(self.prefix)
        response = await client.kv.do(
            Op.txn(
                [Compare.create_revision(key) == 0],
                [Op.put(key, b"", lease=lease_id), owner],
                [Op.get(key), owner],
            ),
            timeout=timeout,
        )
        self.key = key
        self.revision = response.header.revision
        if not response.succeeded:
            mine = response.responses[0]
            assert isinstance(mine, GetResponse)
            self.revision = mine.kvs[0].create_revision
        return response

    def _owns(self, response: TxnResponse) -> bool:
        owner = response.responses[1]
        assert isinstance(owner, GetResponse)
        return not owner.kvs or owner.kvs[0].create_revision == self.revision

    async def try_lock(self, *, timeout: float | None = None) -> bool:
        """Take the lock if no other session holds it; False (and our key withdrawn) if one
        does. ``timeout`` bounds each call."""
        response = await self._try_acquire(timeout)
        if self._owns(response):
            self.header = response.header
            return True
        await self.session.client.delete(self.key, timeout=timeout)
        self._forget()
        return False

    async def lock(self, timeout: float | None = None) -> None:
        """Block until this mutex holds the lock. After ``timeout`` seconds, or on any error
        while waiting, our key is withdrawn and the error raised (DeadlineExceeded for the
        timeout); SessionExpired if the session's lease ended while we waited."""
        deadline = deadline_after(timeout)
        response = await self._try_acquire(remaining(deadline))
        if self._owns(response):
            self.header = response.header
            return
        client = self.session.client
        try:
            await wait_deletes(client, self.prefix, self.revision - 1, deadline)
            mine = await client.get(self.key, timeout=remaining(deadline))
        except BaseException:
            await self._withdraw()
            raise
        if not mine.kvs:
            self._forget()
            raise SessionExpired(
                f"the session's lease {self.session.lease_id:x} ended while waiting for the lock"
            )
        self.header = mine.header

    async def unlock(self, *, timeout: float | None = None) -> None:
        """Release the lock (delete our key). LockNotHeld if this mutex does not hold it."""
        if not self.held:
            raise LockNotHeld(f"the lock {self.prefix[:-1]!r} is not held by this mutex")
        await self.session.client.delete(self.key, timeout=timeout)
        self._forget()

    def is_owner(self) -> Compare:
        """A txn guard that holds only while this mutex owns the lock (Go's ``IsOwner``)."""
        return Compare.create_revision(self.key) == max(self.revision, 0)

    async def _withdraw(self) -> None:
        with contextlib.suppress(EtcdError):  # else the key goes with the session's lease
            await self.session.client.delete(self.key)
        self._forget()

    def _forget(self) -> None:
        self.key = _NO_KEY
        self.revision = -1

    async def __aenter__(self) -> AsyncMutex:
        await self.lock()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.unlock()

    def __repr__(self) -> str:
        state = f"held rev={self.revision}" if self.held else "not held"
        return f"<Mutex {self.prefix[:-1]!r} {state}>"

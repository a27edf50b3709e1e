"""The Lock service (etcd's v3lock): a distributed lock held by a lease, run by the server.

``lock`` waits on the server until the lock is free and returns the key that proves
ownership; the lock is released by ``unlock(key)`` or when the lease ends (so a crashed holder
never keeps it past its lease's TTL). It interoperates with ``etcdctl lock`` and Go's
``concurrency.Mutex`` on the same name.
"""

from __future__ import annotations

from .._etcd import methods
from .._etcd.convert_admin import as_bytes, lock_response, unlock_response
from .._pb import v3lock_pb2
from ..errors import UsageError
from ..types import LockResponse, UnlockResponse
from .channel import call_deadline
from .lease import AsyncKeptLease
from .manager import AsyncConnectionManager

__all__ = ["AsyncLockService", "LeaseLike", "lease_id_of"]

Key = bytes | str
#: A lease id, or a lease kept alive by the client.
LeaseLike = int | AsyncKeptLease


def lease_id_of(lease: LeaseLike) -> int:
    """The id of ``lease``, which must be a granted lease."""
    lease_id = lease.id if isinstance(lease, AsyncKeptLease) else lease
    if not isinstance(lease_id, int) or isinstance(lease_id, bool) or lease_id <= 0:
        raise UsageError(f"a granted lease (or its positive id) is needed, got {lease!r}")
    return lease_id


class AsyncLockService:
    """Distributed locks kept by the server (``client.lock``)."""

    def __init__(self, manager: AsyncConnectionManager, *, timeout: float | None) -> None:
        self._manager = manager
        self._timeout = timeout

    def _deadline(self, timeout: float | None, *, default: float | None) -> float | None:
        return call_deadline(timeout, default)

    async def lock(
        self, name: Key, *, lease: LeaseLike, timeout: float | None = None
    ) -> LockResponse:
        """Acquire the lock ``name``, waiting as long as another holder has it (or until
        ``timeout`` seconds, then :class:`~etcdwire.errors.DeadlineExceeded`; the server
        withdraws the request). The lock lives as long as ``lease``: keep it alive while
        holding the lock. Pass the returned ``key`` to :meth:`unlock`."""
        request = v3lock_pb2.LockRequest(name=_name(name), lease=lease_id_of(lease))
        response = await self._manager.unary(
            methods.LOCK_LOCK, request, deadline=self._deadline(timeout, default=None)
        )
        return lock_response(response)

    async def unlock(
        self, key: Key | LockResponse, *, timeout: float | None = None
    ) -> UnlockResponse:
        """Release a lock, given the key (or the response) that ``lock`` returned."""
        raw = key.key if isinstance(key, LockResponse) else as_bytes(key)
        if not raw:
            raise UsageError("unlock needs the key returned by lock")
        response = await self._manager.unary(
            methods.LOCK_UNLOCK,
            v3lock_pb2.UnlockRequest(key=raw),
            deadline=self._deadline(timeout, default=self._timeout),
        )
        return unlock_response(response)


def _name(name: Key) -> bytes:
    raw = as_bytes(name, "name")
    if not raw:
        raise UsageError("a lock or election name must not be empty")
    return raw

"""A session: a lease kept alive in the background for as long as the process is alive
(after Go's concurrency/session.go). Mutexes and elections hold their keys with it, so a
process that dies lets them go once its TTL runs out."""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import TYPE_CHECKING

from ..._compat import AsyncEvent
from ...errors import LeaseNotFound, SessionExpired, UsageError
from ..lease import AsyncKeptLease

if TYPE_CHECKING:
    from ..client import AsyncClient

__all__ = ["DEFAULT_SESSION_TTL", "AsyncSession"]

#: Go's ``defaultSessionTTL``, in seconds.
DEFAULT_SESSION_TTL = 60


class AsyncSession:
    """A lease of ``ttl`` seconds granted on :meth:`start` (or on entering the context
    manager) and refreshed in the background, or an existing lease (``lease_id``) kept alive.

    ``done`` is set when the lease is lost (expired, revoked, or not refreshed in time); the
    keys of the recipes using the session are then gone. :meth:`aclose` (or leaving the context
    manager) stops refreshing and revokes the lease."""

    def __init__(
        self, client: AsyncClient, *, ttl: int = DEFAULT_SESSION_TTL, lease_id: int = 0
    ) -> None:
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
            raise UsageError(f"session ttl must be a positive int of seconds, not {ttl!r}")
        if isinstance(lease_id, bool) or not isinstance(lease_id, int) or lease_id < 0:
            raise UsageError(f"lease_id must be a lease ID (int), not {lease_id!r}")
        self.client = client
        self.ttl = ttl
        self._lease_id = lease_id
        self._lease: AsyncKeptLease | None = None
        self._closed = False

    async def start(self) -> AsyncSession:
        """Grant the lease (or adopt the existing one) and start keeping it alive."""
        if self._lease is not None:
            return self
        if self._lease_id:
            status = await self.client.lease.time_to_live(self._lease_id)
            if status.ttl <= 0:
                raise SessionExpired(f"lease {self._lease_id:x} has expired or does not exist")
            self.ttl = status.granted_ttl or self.ttl
            self._lease = await self.client.lease.keep_alive(self._lease_id, self.ttl)
        else:
            self._lease = await self.client.lease(self.ttl).grant()
        return self

    @property
    def lease(self) -> AsyncKeptLease:
        if self._lease is None:
            raise UsageError("the session is not started: use it with `async with` or start()")
        return self._lease

    @property
    def lease_id(self) -> int:
        """The ID of the session's lease (Go's ``Session.Lease``)."""
        return self.lease.id

    @property
    def done(self) -> AsyncEvent:
        """Set once the lease is lost or the session is closed (Go's ``Session.Done``)."""
        return self.lease.lost

    @property
    def alive(self) -> bool:
        return self._lease is not None and self._lease.alive

    async def wait_done(self, timeout: float | None = None) -> bool:
        """Wait until the session is done; False if ``timeout`` passed first."""
        return await self.lease.wait_lost(timeout)

    async def aclose(self) -> None:
        """Stop refreshing and revoke the lease: every key held with it is deleted."""
        if self._closed or self._lease is None:
            return
        self._closed = True
        with contextlib.suppress(LeaseNotFound):  # already gone: nothing left to revoke
            await self._lease.revoke()

    async def __aenter__(self) -> AsyncSession:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        lease = "not started" if self._lease is None else repr(self._lease)
        return f"<Session ttl={self.ttl} {lease}>"

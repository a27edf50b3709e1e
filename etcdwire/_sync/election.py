# Generated from etcdwire/_async/election.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""The Election service (etcd's v3election): leader election run by the server.

``campaign`` waits until this candidate leads and returns its :class:`~etcdwire.types.LeaderKey`,
which ``proclaim`` and ``resign`` take. ``leader`` reads the current leader; ``observe``
streams every new leader and every value it proclaims. Leadership lasts as long as the lease
given to ``campaign``. It interoperates with ``etcdctl elect`` and Go's
``concurrency.Election`` on the same name.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from .._etcd import methods
from .._etcd.convert_admin import (
    as_bytes,
    leader_key,
    leader_key_message,
    leader_response,
    proclaim_response,
    resign_response,
)
from .._pb import v3election_pb2
from ..errors import CallCancelled, EtcdError, UsageError
from ..types import LeaderKey, LeaderResponse, ProclaimResponse, ResignResponse
from .channel import Call, ReceiveTimeout, call_deadline
from .lock import LeaseLike, lease_id_of
from .manager import ConnectionManager

__all__ = ["ElectionService", "Observer"]

logger = logging.getLogger("etcdwire.election")

Key = bytes | str

#: How often a waiting observer checks whether it was cancelled (from another thread, in the
#: blocking client).
POLL_INTERVAL = 0.5


def _name(name: Key) -> bytes:
    raw = as_bytes(name, "name")
    if not raw:
        raise UsageError("an election name must not be empty")
    return raw


class Observer:
    """The leaders of one election as they change: iterate to receive a
    :class:`~etcdwire.types.LeaderResponse` for the current leader and then for every new
    leader or proclaimed value. ``cancel()`` (from anywhere) or leaving the ``with`` block ends
    the iteration. An error of the stream (its connection lost, say) is raised by the
    iteration; observe again to go on."""

    def __init__(self, manager: ConnectionManager, name: bytes) -> None:
        self._manager = manager
        self.name = name
        self._call: Call[Any, Any] | None = None
        self._cancelled = False
        self._ended = False

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def _open(self) -> Call[Any, Any]:
        if self._call is None:
            call = self._manager.open_call(methods.ELECTION_OBSERVE)
            call.send_message(v3election_pb2.LeaderRequest(name=self.name), end=True)
            self._call = call
        return self._call

    def cancel(self) -> None:
        """Stop observing: the stream is cancelled and iteration ends."""
        self._cancelled = True
        call = self._call
        if call is not None and not call.done:
            call.cancel()

    def close(self) -> None:
        self.cancel()

    def __iter__(self) -> Observer:
        return self

    def __next__(self) -> LeaderResponse:
        if self._cancelled or self._ended:
            raise StopIteration
        call = self._open()
        while True:
            try:
                message = call.receive(timeout=POLL_INTERVAL)
            except ReceiveTimeout:
                if self._cancelled:
                    self.cancel()
                    raise StopIteration from None
                continue
            except CallCancelled:
                if self._cancelled:
                    raise StopIteration from None
                raise
            if message is None:
                self._ended = True
                raise StopIteration
            if self._cancelled:
                raise StopIteration
            return leader_response(message)

    def __enter__(self) -> Observer:
        self._open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()


class ElectionService:
    """Leader elections kept by the server (``client.election``)."""

    def __init__(self, manager: ConnectionManager, *, timeout: float | None) -> None:
        self._manager = manager
        self._timeout = timeout

    def _deadline(self, timeout: float | None, *, default: float | None) -> float | None:
        return call_deadline(timeout, default)

    def campaign(
        self,
        name: Key,
        value: Key,
        *,
        lease: LeaseLike,
        timeout: float | None = None,
    ) -> LeaderKey:
        """Run for leader of ``name`` with ``value``, waiting until elected (or until
        ``timeout`` seconds, then :class:`~etcdwire.errors.DeadlineExceeded`). Leadership lasts
        as long as ``lease``; campaigning again with the same lease while leading only
        updates the value."""
        request = v3election_pb2.CampaignRequest(
            name=_name(name), lease=lease_id_of(lease), value=as_bytes(value, "value")
        )
        response = self._manager.unary(
            methods.ELECTION_CAMPAIGN, request, deadline=self._deadline(timeout, default=None)
        )
        if not response.HasField("leader"):
            raise EtcdError("etcd answered a campaign without the leader key")
        return leader_key(response.leader)

    def proclaim(
        self, leader: LeaderKey, value: Key, *, timeout: float | None = None
    ) -> ProclaimResponse:
        """Announce a new value as leader; :class:`~etcdwire.errors.ElectionNotLeader` if
        ``leader`` no longer leads."""
        request = v3election_pb2.ProclaimRequest(
            leader=leader_key_message(leader), value=as_bytes(value, "value")
        )
        response = self._manager.unary(
            methods.ELECTION_PROCLAIM,
            request,
            deadline=self._deadline(timeout, default=self._timeout),
        )
        return proclaim_response(response)

    def leader(self, name: Key, *, timeout: float | None = None) -> LeaderResponse:
        """The current leader of ``name`` and its value;
        :class:`~etcdwire.errors.ElectionNoLeader` when nobody leads."""
        response = self._manager.unary(
            methods.ELECTION_LEADER,
            v3election_pb2.LeaderRequest(name=_name(name)),
            deadline=self._deadline(timeout, default=self._timeout),
        )
        return leader_response(response)

    def observe(self, name: Key) -> Observer:
        """Stream the leaders of ``name``: ``with election.observe(name) as leaders:
        for leader in leaders: ...``."""
        return Observer(self._manager, _name(name))

    def resign(self, leader: LeaderKey, *, timeout: float | None = None) -> ResignResponse:
        """Give up leadership, so the next candidate is elected (a key that no longer leads
        is left alone)."""
        response = self._manager.unary(
            methods.ELECTION_RESIGN,
            v3election_pb2.ResignRequest(leader=leader_key_message(leader)),
            deadline=self._deadline(timeout, default=self._timeout),
        )
        return resign_response(response)

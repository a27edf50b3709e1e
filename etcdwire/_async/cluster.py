"""The Cluster service: list, add (as a voter or a learner), remove, update and promote
members (etcd's api/etcdserverpb Cluster, as Go's client/v3/cluster.go uses it)."""

from __future__ import annotations

from collections.abc import Iterable

from .._etcd import methods
from .._etcd.convert import member_list
from .._etcd.convert_admin import (
    member_add,
    member_promote,
    member_remove,
    member_update,
)
from .._etcd.convert_admin import (
    peer_urls as check_peer_urls,
)
from .._pb import rpc_pb2
from ..errors import UsageError
from ..types import (
    MemberAddResponse,
    MemberListResponse,
    MemberPromoteResponse,
    MemberRemoveResponse,
    MemberUpdateResponse,
)
from .channel import call_deadline
from .manager import AsyncConnectionManager

__all__ = ["AsyncCluster"]


def _member_id(member_id: int) -> int:
    if not isinstance(member_id, int) or isinstance(member_id, bool) or member_id <= 0:
        raise UsageError(f"a member id is a positive integer, got {member_id!r}")
    return member_id


class AsyncCluster:
    """Membership changes. Member ids are the integers etcd reports (``Member.id``)."""

    def __init__(self, manager: AsyncConnectionManager, *, timeout: float | None) -> None:
        self._manager = manager
        self._timeout = timeout

    def _deadline(self, timeout: float | None) -> float | None:
        return call_deadline(timeout, self._timeout)

    async def member_list(
        self, *, serializable: bool = False, timeout: float | None = None
    ) -> MemberListResponse:
        """Every member. Linearizable by default (the answer reflects every committed change);
        ``serializable`` lets the member answer from its local state, even without a leader."""
        response = await self._manager.unary(
            methods.CLUSTER_MEMBER_LIST,
            rpc_pb2.MemberListRequest(linearizable=not serializable),
            deadline=self._deadline(timeout),
        )
        return member_list(response)

    async def member_add(
        self,
        peer_urls: str | Iterable[str],
        *,
        is_learner: bool = False,
        timeout: float | None = None,
    ) -> MemberAddResponse:
        """Add a member that will listen for peers at ``peer_urls``; start it afterwards with
        ``--initial-cluster-state=existing``. A learner receives the log but does not vote
        until promoted."""
        request = rpc_pb2.MemberAddRequest(
            peerURLs=check_peer_urls(peer_urls), isLearner=is_learner
        )
        response = await self._manager.unary(
            methods.CLUSTER_MEMBER_ADD, request, deadline=self._deadline(timeout)
        )
        return member_add(response)

    async def member_add_as_learner(
        self, peer_urls: str | Iterable[str], *, timeout: float | None = None
    ) -> MemberAddResponse:
        """Add a non-voting learner (promote it with :meth:`member_promote` once in sync)."""
        return await self.member_add(peer_urls, is_learner=True, timeout=timeout)

    async def member_remove(
        self, member_id: int, *, timeout: float | None = None
    ) -> MemberRemoveResponse:
        """Remove a member; the removed server stops itself."""
        response = await self._manager.unary(
            methods.CLUSTER_MEMBER_REMOVE,
            rpc_pb2.MemberRemoveRequest(ID=_member_id(member_id)),
            deadline=self._deadline(timeout),
        )
        return member_remove(response)

    async def member_update(
        self,
        member_id: int,
        peer_urls: str | Iterable[str],
        *,
        timeout: float | None = None,
    ) -> MemberUpdateResponse:
        """Replace a member's peer URLs."""
        response = await self._manager.unary(
            methods.CLUSTER_MEMBER_UPDATE,
            rpc_pb2.MemberUpdateRequest(
                ID=_member_id(member_id), peerURLs=check_peer_urls(peer_urls)
            ),
            deadline=self._deadline(timeout),
        )
        return member_update(response)

    async def member_promote(
        self, member_id: int, *, timeout: float | None = None
    ) -> MemberPromoteResponse:
        """Make a learner a voting member. etcd refuses with ``LearnerNotReady`` until the
        learner's log has caught up with the leader's, and with ``MemberNotLearner`` for a
        voter."""
        response = await self._manager.unary(
            methods.CLUSTER_MEMBER_PROMOTE,
            rpc_pb2.MemberPromoteRequest(ID=_member_id(member_id)),
            deadline=self._deadline(timeout),
        )
        return member_promote(response)

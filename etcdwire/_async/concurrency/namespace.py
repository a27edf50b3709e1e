"""A view of a client with every key under a prefix (after Go's client/v3/namespace): keys
are given and returned without the prefix, for KV, txns, watches and lease key lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..._etcd.namespace import namespace_prefix, prefix_interval, prefix_op, strip
from ..._etcd.ops import AnyOp, Compare, Op
from ..._etcd.watching import WatchResponse
from ...types import DeleteResponse, GetResponse, LeaseTimeToLive, PutResponse, TxnResponse
from ..lease import AsyncLease
from ..receiver import AsyncReceiver
from ..watch import AsyncWatch

if TYPE_CHECKING:
    from ..client import AsyncClient

__all__ = ["AsyncNamespace", "AsyncNamespaceWatch"]

Key = bytes | str


class AsyncNamespace:
    """``client`` seen through ``prefix``: ``get``/``put``/``delete``/``txn``/``do`` and
    ``watch`` take and return keys relative to the prefix; ranges (``prefix=True``,
    ``from_key=True``, ``range_end``) stay inside it. ``lease`` is the client's lease
    service; :meth:`time_to_live` lists a lease's keys inside the namespace only."""

    def __init__(self, client: AsyncClient, prefix: Key) -> None:
        self.client = client
        self.prefix = namespace_prefix(prefix)

    @property
    def lease(self) -> AsyncLease:
        return self.client.lease

    async def do(self, op: AnyOp, *, timeout: float | None = None) -> Any:
        """Send one operation (get, put, delete or txn) inside the namespace."""
        prefixed: Op[Any, Any] = prefix_op(self.prefix, op)
        response = await self.client.kv.do(prefixed, timeout=timeout)
        return strip(self.prefix, response)

    async def get(self, key: Key, *, timeout: float | None = None, **options: Any) -> GetResponse:
        """As the client's ``get`` (same options), inside the namespace."""
        response: GetResponse = await self.do(Op.get(key, **options), timeout=timeout)
        return response

    async def put(
        self, key: Key, value: Key, *, timeout: float | None = None, **options: Any
    ) -> PutResponse:
        response: PutResponse = await self.do(Op.put(key, value, **options), timeout=timeout)
        return response

    async def delete(
        self, key: Key, *, timeout: float | None = None, **options: Any
    ) -> DeleteResponse:
        response: DeleteResponse = await self.do(Op.delete(key, **options), timeout=timeout)
        return response

    async def txn(
        self,
        compare: Sequence[Compare] = (),
        success: Sequence[AnyOp] = (),
        failure: Sequence[AnyOp] = (),
        *,
        timeout: float | None = None,
    ) -> TxnResponse:
        response: TxnResponse = await self.do(Op.txn(compare, success, failure), timeout=timeout)
        return response

    async def time_to_live(
        self, lease_id: int, *, keys: bool = False, timeout: float | None = None
    ) -> LeaseTimeToLive:
        """The lease's TTL; with ``keys``, only its keys inside the namespace, unprefixed."""
        response = await self.client.lease.time_to_live(lease_id, keys=keys, timeout=timeout)
        return strip(self.prefix, response)

    def watch(
        self,
        key: Key,
        *,
        range_end: Key | None = None,
        prefix: bool = False,
        from_key: bool = False,
        **options: Any,
    ) -> AsyncNamespaceWatch:
        """As the client's ``watch`` (same options but ``callback``), inside the namespace;
        the events' keys come without the prefix."""
        wanted = Op.get(key, range_end=range_end, prefix=prefix, from_key=from_key)
        full_key, full_end = prefix_interval(self.prefix, wanted.key, wanted.range_end)
        watch = self.client.watch(full_key, range_end=full_end or None, **options)
        return AsyncNamespaceWatch(watch, self.prefix)


class AsyncNamespaceWatch(AsyncReceiver[WatchResponse]):
    """A watch inside a namespace: an :class:`AsyncWatch` whose responses lose the prefix."""

    def __init__(self, watch: AsyncWatch, prefix: bytes) -> None:
        self.watch = watch
        self.prefix = prefix

    async def start(self, timeout: float | None = None) -> AsyncNamespaceWatch:
        await self.watch.start(timeout)
        return self

    async def cancel(self) -> None:
        await self.watch.cancel()

    async def receive(self, timeout: float | None = None) -> WatchResponse | None:
        response = await self.watch.receive(timeout)
        return None if response is None else strip(self.prefix, response)

    async def _leave(self) -> None:
        await self.cancel()

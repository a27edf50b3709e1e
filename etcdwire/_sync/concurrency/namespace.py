# Generated from etcdwire/_async/concurrency/namespace.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""A view of a client with every key under a prefix (after Go's client/v3/namespace): keys
are given and returned without the prefix, for KV, txns, watches and lease key lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..._etcd.namespace import namespace_prefix, prefix_interval, prefix_op, strip
from ..._etcd.ops import AnyOp, Compare, Op
from ..._etcd.watching import WatchResponse
from ...types import DeleteResponse, GetResponse, LeaseTimeToLive, PutResponse, TxnResponse
from ..lease import Lease
from ..receiver import Receiver
from ..watch import Watch

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["Namespace", "NamespaceWatch"]

Key = bytes | str


class Namespace:
    """``client`` seen through ``prefix``: ``get``/``put``/``delete``/``txn``/``do`` and
    ``watch`` take and return keys relative to the prefix; ranges (``prefix=True``,
    ``from_key=True``, ``range_end``) stay inside it. ``lease`` is the client's lease
    service; :meth:`time_to_live` lists a lease's keys inside the namespace only."""

    def __init__(self, client: Client, prefix: Key) -> None:
        self.client = client
        self.prefix = namespace_prefix(prefix)

    @property
    def lease(self) -> Lease:
        return self.client.lease

    def do(self, op: AnyOp, *, timeout: float | None = None) -> Any:
        """Send one operation (get, put, delete or txn) inside the namespace."""
        prefixed: Op[Any, Any] = prefix_op(self.prefix, op)
        response = self.client.kv.do(prefixed, timeout=timeout)
        return strip(self.prefix, response)

    def get(self, key: Key, *, timeout: float | None = None, **options: Any) -> GetResponse:
        """As the client's ``get`` (same options), inside the namespace."""
        response: GetResponse = self.do(Op.get(key, **options), timeout=timeout)
        return response

    def put(
        self, key: Key, value: Key, *, timeout: float | None = None, **options: Any
    ) -> PutResponse:
        response: PutResponse = self.do(Op.put(key, value, **options), timeout=timeout)
        return response

    def delete(
        self, key: Key, *, timeout: float | None = None, **options: Any
    ) -> DeleteResponse:
        response: DeleteResponse = self.do(Op.delete(key, **options), timeout=timeout)
        return response

    def txn(
        self,
        compare: Sequence[Compare] = (),
        success: Sequence[AnyOp] = (),
        failure: Sequence[AnyOp] = (),
        *,
        timeout: float | None = None,
    ) -> TxnResponse:
        response: TxnResponse = self.do(Op.txn(compare, success, failure), timeout=timeout)
        return response

    def time_to_live(
        self, lease_id: int, *, keys: bool = False, timeout: float | None = None
    ) -> LeaseTimeToLive:
        """The lease's TTL; with ``keys``, only its keys inside the namespace, unprefixed."""
        response = self.client.lease.time_to_live(lease_id, keys=keys, timeout=timeout)
        return strip(self.prefix, response)

    def watch(
        self,
        key: Key,
        *,
        range_end: Key | None = None,
        prefix: bool = False,
        from_key: bool = False,
        **options: Any,
    ) -> NamespaceWatch:
        """As the client's ``watch`` (same options but ``callback``), inside the namespace;
        the events' keys come without the prefix."""
        wanted = Op.get(key, range_end=range_end, prefix=prefix, from_key=from_key)
        full_key, full_end = prefix_interval(self.prefix, wanted.key, wanted.range_end)
        watch = self.client.watch(full_key, range_end=full_end or None, **options)
        return NamespaceWatch(watch, self.prefix)


class NamespaceWatch(Receiver[WatchResponse]):
    """A watch inside a namespace: an :class:`Watch` whose responses lose the prefix."""

    def __init__(self, watch: Watch, prefix: bytes) -> None:
        self.watch = watch
        self.prefix = prefix

    def start(self, timeout: float | None = None) -> NamespaceWatch:
        self.watch.start(timeout)
        return self

    def cancel(self) -> None:
        self.watch.cancel()

    def receive(self, timeout: float | None = None) -> WatchResponse | None:
        response = self.watch.receive(timeout)
        return None if response is None else strip(self.prefix, response)

    def _leave(self) -> None:
        self.cancel()

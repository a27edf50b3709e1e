# Generated from etcdwire/_async/kv.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""The KV service: get, put, delete, txn, compact, and a paging iterator.

Requests are data (:class:`~etcdwire._etcd.ops.Op`); :meth:`KV.do` is the one place they
are sent, so every verb below is a one-line wrapper (after etcd's ``kv.Do``)."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from .._compat import monotonic
from .._etcd import methods, ops
from .._etcd.ops import AnyOp, Compare, Op
from ..errors import UsageError
from ..types import (
    CompactResponse,
    DeleteResponse,
    GetResponse,
    KeyValue,
    PutResponse,
    SortOrder,
    SortTarget,
    TxnResponse,
)
from .channel import call_deadline
from .manager import ConnectionManager

__all__ = ["KV"]

R = TypeVar("R")
Key = bytes | str


_GET_OPTIONS = (
    "range_end",
    "prefix",
    "from_key",
    "limit",
    "revision",
    "sort_order",
    "sort_target",
    "serializable",
    "keys_only",
    "count_only",
    "min_mod_revision",
    "max_mod_revision",
    "min_create_revision",
    "max_create_revision",
)


@functools.lru_cache(maxsize=1024)
def _cached_get_op(key: Key, *options: Any) -> ops.GetOp:
    return Op.get(key, **dict(zip(_GET_OPTIONS, options, strict=True)))


def _get_op(key: Key, *options: Any) -> ops.GetOp:
    """``Op.get`` with the options in ``_GET_OPTIONS`` order, memoized: ops are frozen, and a
    client reading the same keys again and again (the common case) need not validate and
    build them each time."""
    try:
        return _cached_get_op(key, *options)
    except TypeError:  # an unhashable argument; Op.get says what is wrong with it
        return Op.get(key, **dict(zip(_GET_OPTIONS, options, strict=True)))


class KV:
    """Key-value operations. Keys and values are bytes; ``str`` is encoded as UTF-8."""

    def __init__(
        self,
        manager: ConnectionManager,
        *,
        timeout: float | None,
        max_txn_ops: int = ops.DEFAULT_MAX_TXN_OPS,
        max_request_bytes: int = ops.DEFAULT_MAX_REQUEST_BYTES,
    ) -> None:
        self._manager = manager
        self._timeout = timeout
        #: The default timeout when it is a plain finite number of seconds (anything else is
        #: left to call_deadline, which says what is wrong with it on each call).
        self._default_seconds = (
            float(timeout)
            if isinstance(timeout, int | float)
            and not isinstance(timeout, bool)
            and 0 < timeout < math.inf
            else None
        )
        self._max_txn_ops = max_txn_ops
        self._max_request_bytes = max_request_bytes
        # Requests of the memoized get operations (see _get_op), by the op's identity: a
        # client reading the same keys again and again builds and checks each request once.
        # Each entry keeps its op, so an id is never reused while its entry is here.
        self._get_requests: dict[int, tuple[Op[Any, Any], Any]] = {}

    def _deadline(self, timeout: float | None) -> float | None:
        if timeout is None and self._default_seconds is not None:
            return monotonic() + self._default_seconds  # checked once, in __init__
        return call_deadline(timeout, self._timeout)

    def do(self, op: Op[Any, R], *, timeout: float | None = None) -> R:
        """Send one operation (get, put, delete or txn) and return its typed response."""
        request = self._request(op)
        response = self._manager.unary(op.method, request, deadline=self._deadline(timeout))
        return op.parse_response(response)

    def _request(self, op: Op[Any, Any]) -> Any:
        memoized = type(op) is ops.GetOp
        cache = self._get_requests
        if memoized:
            entry = cache.get(id(op))
            if entry is not None and entry[0] is op:
                return entry[1]
        request = op.to_request(
            max_txn_ops=self._max_txn_ops, max_request_bytes=self._max_request_bytes
        )
        if memoized:
            if len(cache) >= 1024:
                cache.clear()
            cache[id(op)] = (op, request)
        return request

    def get(
        self,
        key: Key,
        *,
        range_end: Key | None = None,
        prefix: bool = False,
        from_key: bool = False,
        limit: int = 0,
        revision: int = 0,
        sort_order: SortOrder | str | None = None,
        sort_target: SortTarget | str | None = None,
        serializable: bool = False,
        keys_only: bool = False,
        count_only: bool = False,
        min_mod_revision: int = 0,
        max_mod_revision: int = 0,
        min_create_revision: int = 0,
        max_create_revision: int = 0,
        timeout: float | None = None,
    ) -> GetResponse:
        """Read a key, a range, a prefix or everything from a key on (see ``Op.get``)."""
        op = _get_op(
            key,
            range_end,
            prefix,
            from_key,
            limit,
            revision,
            sort_order,
            sort_target,
            serializable,
            keys_only,
            count_only,
            min_mod_revision,
            max_mod_revision,
            min_create_revision,
            max_create_revision,
        )
        return self.do(op, timeout=timeout)

    def put(
        self,
        key: Key,
        value: Key,
        *,
        lease: int = 0,
        prev_kv: bool = False,
        ignore_value: bool = False,
        ignore_lease: bool = False,
        timeout: float | None = None,
    ) -> PutResponse:
        """Write ``value`` at ``key`` (see ``Op.put``)."""
        return self.do(
            Op.put(
                key,
                value,
                lease=lease,
                prev_kv=prev_kv,
                ignore_value=ignore_value,
                ignore_lease=ignore_lease,
            ),
            timeout=timeout,
        )

    def delete(
        self,
        key: Key,
        *,
        range_end: Key | None = None,
        prefix: bool = False,
        from_key: bool = False,
        prev_kv: bool = False,
        timeout: float | None = None,
    ) -> DeleteResponse:
        """Delete a key or a range (see ``Op.delete``)."""
        return self.do(
            Op.delete(key, range_end=range_end, prefix=prefix, from_key=from_key, prev_kv=prev_kv),
            timeout=timeout,
        )

    def txn(
        self,
        compare: Sequence[Compare] = (),
        success: Sequence[AnyOp] = (),
        failure: Sequence[AnyOp] = (),
        *,
        timeout: float | None = None,
    ) -> TxnResponse:
        """If every comparison holds, run ``success``, else ``failure``, atomically."""
        return self.do(Op.txn(compare, success, failure), timeout=timeout)

    def put_if_absent(
        self, key: Key, value: Key, *, lease: int = 0, timeout: float | None = None
    ) -> bool:
        """Create ``key`` only if it does not exist; True if it was created."""
        result = self.do(ops.put_if_absent(key, value, lease=lease), timeout=timeout)
        return result.succeeded

    def compare_and_swap(
        self, key: Key, expected: Key, new: Key, *, timeout: float | None = None
    ) -> bool:
        """Replace the value of ``key`` only if it is ``expected``; True if it was replaced."""
        result = self.do(ops.compare_and_swap(key, expected, new), timeout=timeout)
        return result.succeeded

    def compare_and_delete(
        self, key: Key, expected: Key, *, timeout: float | None = None
    ) -> bool:
        """Delete ``key`` only if its value is ``expected``; True if it was deleted."""
        result = self.do(ops.compare_and_delete(key, expected), timeout=timeout)
        return result.succeeded

    def compact(
        self, revision: int, *, physical: bool = False, timeout: float | None = None
    ) -> CompactResponse:
        """Discard history before ``revision`` (``physical``: wait until it is removed)."""
        response = self._manager.unary(
            methods.KV_COMPACT,
            ops.compact_request(revision, physical=physical),
            deadline=self._deadline(timeout),
        )
        return ops.parse_compact_response(response)

    def get_all(
        self,
        key: Key,
        *,
        range_end: Key | None = None,
        prefix: bool = False,
        from_key: bool = False,
        page_size: int = 1000,
        keys_only: bool = False,
        serializable: bool = False,
        timeout: float | None = None,
    ) -> Iterator[KeyValue]:
        """Every key-value of a range, read in pages of ``page_size`` keys so no response
        exceeds the message limits. All pages are read at the revision of the first one, so
        the walk is one consistent snapshot."""
        if page_size <= 0:
            raise UsageError(f"page_size must be positive, got {page_size!r}")
        op: ops.GetOp | None = Op.get(
            key,
            range_end=range_end,
            prefix=prefix,
            from_key=from_key,
            limit=page_size,
            keys_only=keys_only,
            serializable=serializable,
        )
        while op is not None:
            page = self.do(op, timeout=timeout)
            for item in page.kvs:
                yield item
            op = ops.next_page(op, page)

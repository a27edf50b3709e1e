"""Requests as data: KV operations, comparisons and transactions (after etcd's Go client,
client/v3/op.go, compare.go and txn.go).

An operation is a frozen value built by :meth:`Op.get`, :meth:`Op.put`, :meth:`Op.delete` or
:meth:`Op.txn`. Building one validates it against every rule the server would enforce on its
own (api/v3rpc/key.go ``checkRangeRequest``/``checkPutRequest``/``checkTxnRequest``/
``checkIntervals``) plus a few that only catch caller mistakes, and raises
:class:`~etcdwire.errors.UsageError` with the reason; nothing invalid reaches the wire.
:meth:`to_request` applies the limits that depend on the server's configuration
(``--max-txn-ops``, ``--max-request-bytes``) and returns the protobuf request; the shell sends it
with :attr:`method` and converts the reply with :meth:`parse_response`, so one dispatcher serves
every operation::

    op = Op.get("config/", prefix=True, limit=100)
    reply = call(op.method, op.to_request(max_txn_ops=..., max_request_bytes=...))
    result = op.parse_response(reply)          # -> etcdwire.types.GetResponse

Keys and values are ``bytes`` or ``str`` (encoded as UTF-8); nothing else is accepted.
The input checks live in :mod:`.checks`, the txn guards in :mod:`.compare` and the lease
requests in :mod:`.lease_requests`; this module re-exports their public names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Generic, TypeAlias, TypeVar

from google.protobuf.message import Message

from .._grpc.method import Method
from .._pb import rpc_pb2
from ..errors import UsageError
from ..types import (
    CompactResponse,
    DeleteResponse,
    GetResponse,
    PutResponse,
    SortOrder,
    SortTarget,
    TxnResponse,
)
from . import convert, methods
from .checks import (
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_MAX_TXN_OPS,
    FROM_KEY_END,
    GRPC_OVERHEAD_BYTES,
    INT64_MAX,
    MAX_LEASE_TTL,
    RAFT_ENVELOPE_BYTES,
    as_bytes,
    as_count,
    as_flag,
    as_member,
    check_key,
    check_limits,
    check_range,
    check_size,
    expect,
    prefix_range_end,
    resolve_range,
    utf8,
)
from .compare import Compare, CompareResult, CompareSubject, CompareTarget, key_exists, key_missing
from .lease_requests import (
    lease_grant_request,
    lease_keep_alive_request,
    lease_revoke_request,
    lease_time_to_live_request,
)

__all__ = [
    "DEFAULT_MAX_REQUEST_BYTES",
    "DEFAULT_MAX_TXN_OPS",
    "GRPC_OVERHEAD_BYTES",
    "MAX_LEASE_TTL",
    "RAFT_ENVELOPE_BYTES",
    "AnyOp",
    "Compare",
    "CompareResult",
    "CompareSubject",
    "CompareTarget",
    "DeleteOp",
    "GetOp",
    "Op",
    "PutOp",
    "TxnOp",
    "compact_request",
    "compare_and_delete",
    "compare_and_swap",
    "key_exists",
    "key_missing",
    "lease_grant_request",
    "lease_keep_alive_request",
    "lease_revoke_request",
    "lease_time_to_live_request",
    "next_page",
    "parse_compact_response",
    "prefix_range_end",
    "put_if_absent",
    "utf8",
]

_UNSORTED = SortOrder.NONE
_BY_KEY = SortTarget.KEY

ReqT = TypeVar("ReqT", bound=Message)
R = TypeVar("R")


# ----------------------------------------------------------------------------- operations


class Op(Generic[ReqT, R]):
    """A KV request as data. Build one with :meth:`get`, :meth:`put`, :meth:`delete` or
    :meth:`txn`. ``ReqT`` is the protobuf request :meth:`to_request` returns and ``R`` the
    type :meth:`parse_response` returns."""

    __slots__ = ()
    _ONEOF: ClassVar[str]  # this operation's case in RequestOp

    @property
    def method(self) -> Method[ReqT, Any]:
        """The RPC that carries this operation."""
        raise NotImplementedError

    @property
    def is_write(self) -> bool:
        """True if the operation may change the store (Go's ``Op.isWrite``)."""
        raise NotImplementedError

    def _build(self) -> ReqT:
        raise NotImplementedError

    def _convert(self, message: Any) -> R:
        raise NotImplementedError

    def _check_txn_ops(self, max_txn_ops: int) -> None:
        """Only a txn has operations to count."""

    def to_request(
        self,
        *,
        max_txn_ops: int = DEFAULT_MAX_TXN_OPS,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    ) -> ReqT:
        """The protobuf request, checked against the server's ``--max-txn-ops`` and
        ``--max-request-bytes``."""
        check_limits(max_txn_ops, max_request_bytes)
        self._check_txn_ops(max_txn_ops)
        request = self._build()
        check_size(request, write=self.is_write, max_request_bytes=max_request_bytes)
        return request

    def to_request_op(self) -> rpc_pb2.RequestOp:
        """This operation as one entry of a txn branch (Go's ``Op.toRequestOp``)."""
        request_op = rpc_pb2.RequestOp()
        getattr(request_op, self._ONEOF).CopyFrom(self._build())
        return request_op

    def parse_response(self, message: Message) -> R:
        """Convert the RPC's protobuf response to the user-facing type."""
        return self._convert(expect(message, self.method.response_type))

    @staticmethod
    def get(
        key: bytes | str,
        *,
        range_end: bytes | str | None = None,
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
    ) -> GetOp:
        """Read ``key``, or the range [key, range_end), every key with prefix ``key``
        (``prefix``), or every key >= ``key`` (``from_key``; an empty key then means all keys).

        ``limit`` 0 is unlimited and ``revision`` 0 the latest; reads are linearizable unless
        ``serializable``. A sort target without an order sorts ascending, as etcd does; sorting
        needs a range. The four revision filters are inclusive bounds, 0 meaning unbounded.
        """
        verb = "get"
        raw_key, end = resolve_range(key, range_end, prefix, from_key, verb)
        order = None if sort_order is None else as_member(sort_order, SortOrder, "sort_order")
        target = None if sort_target is None else as_member(sort_target, SortTarget, "sort_target")
        if (order is not None or target is not None) and not end:
            raise UsageError(
                "get: sorting needs a range (range_end, prefix or from_key); "
                "a single key has nothing to sort"
            )
        if target is None:
            target = SortTarget.KEY
        if order is None:
            # etcd sorts ascending when only a target is given (apply.go Range).
            order = SortOrder.NONE if target is SortTarget.KEY else SortOrder.ASCEND
        if target is SortTarget.KEY and order is SortOrder.ASCEND:
            # Keys already come back in ascending order; Go's WithSort drops the order so the
            # server does not fetch the whole range to sort it (op.go WithSort).
            order = SortOrder.NONE
        return GetOp(
            key=raw_key,
            range_end=end,
            limit=limit,
            revision=revision,
            sort_order=order,
            sort_target=target,
            serializable=serializable,
            keys_only=keys_only,
            count_only=count_only,
            min_mod_revision=min_mod_revision,
            max_mod_revision=max_mod_revision,
            min_create_revision=min_create_revision,
            max_create_revision=max_create_revision,
        )

    @staticmethod
    def put(
        key: bytes | str,
        value: bytes | str,
        *,
        lease: int = 0,
        prev_kv: bool = False,
        ignore_value: bool = False,
        ignore_lease: bool = False,
    ) -> PutOp:
        """Write ``value`` at ``key``, attached to ``lease`` (0: none). ``ignore_value`` keeps
        the current value (pass an empty value) and ``ignore_lease`` the current lease (pass
        no lease); both fail on the server if the key does not exist."""
        return PutOp(
            key=as_bytes(key, "key"),
            value=as_bytes(value, "value"),
            lease=lease,
            prev_kv=prev_kv,
            ignore_value=ignore_value,
            ignore_lease=ignore_lease,
        )

    @staticmethod
    def delete(
        key: bytes | str,
        *,
        range_end: bytes | str | None = None,
        prefix: bool = False,
        from_key: bool = False,
        prev_kv: bool = False,
    ) -> DeleteOp:
        """Delete ``key``, or a range chosen as in :meth:`get`; ``prev_kv`` returns the
        deleted key-values."""
        raw_key, end = resolve_range(key, range_end, prefix, from_key, "delete")
        return DeleteOp(key=raw_key, range_end=end, prev_kv=prev_kv)

    @staticmethod
    def txn(
        compare: Sequence[Compare] = (),
        success: Sequence[AnyOp] = (),
        failure: Sequence[AnyOp] = (),
    ) -> TxnOp:
        """If every comparison in ``compare`` holds, run ``success``, else ``failure``; all
        atomically at one revision. Branches may hold nested txns."""
        for what, seq in (("compare", compare), ("success", success), ("failure", failure)):
            if isinstance(seq, (str, bytes)) or not isinstance(seq, Sequence):
                raise UsageError(f"txn: {what} must be a list or tuple")
        return TxnOp(compare=tuple(compare), success=tuple(success), failure=tuple(failure))


@dataclass(frozen=True, slots=True)
class GetOp(Op[rpc_pb2.RangeRequest, GetResponse]):
    """A range read (etcd RangeRequest); fields hold the normalized request."""

    _ONEOF = "request_range"

    key: bytes
    range_end: bytes = b""
    limit: int = 0
    revision: int = 0
    sort_order: SortOrder = SortOrder.NONE
    sort_target: SortTarget = SortTarget.KEY
    serializable: bool = False
    keys_only: bool = False
    count_only: bool = False
    min_mod_revision: int = 0
    max_mod_revision: int = 0
    min_create_revision: int = 0
    max_create_revision: int = 0

    def __post_init__(self) -> None:
        check_key(self.key, "get")
        check_range(self.key, self.range_end, "get")
        for value, name in (
            (self.limit, "limit"),
            (self.revision, "revision"),
            (self.min_mod_revision, "min_mod_revision"),
            (self.max_mod_revision, "max_mod_revision"),
            (self.min_create_revision, "min_create_revision"),
            (self.max_create_revision, "max_create_revision"),
        ):
            if type(value) is not int or not 0 <= value <= INT64_MAX:
                as_count(value, name)  # raises, unless an int subclass in range
        for flag, name in (
            (self.serializable, "serializable"),
            (self.keys_only, "keys_only"),
            (self.count_only, "count_only"),
        ):
            if type(flag) is not bool:
                as_flag(flag, name)  # raises
        if type(self.sort_order) is not SortOrder:  # a name: normalized to the member
            object.__setattr__(
                self, "sort_order", as_member(self.sort_order, SortOrder, "sort_order")
            )
        if type(self.sort_target) is not SortTarget:
            object.__setattr__(
                self, "sort_target", as_member(self.sort_target, SortTarget, "sort_target")
            )
        for low, high in (
            ("min_mod_revision", "max_mod_revision"),
            ("min_create_revision", "max_create_revision"),
        ):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo and hi and lo > hi:
                raise UsageError(f"get: {low} {lo} > {high} {hi} selects nothing")

    @property
    def method(self) -> Method[rpc_pb2.RangeRequest, rpc_pb2.RangeResponse]:
        return methods.KV_RANGE

    @property
    def is_write(self) -> bool:
        return False

    def _build(self) -> rpc_pb2.RangeRequest:
        # Only the fields that differ from their proto3 defaults are set (the message is the
        # same): each keyword costs a conversion, and a typical read sets two or three.
        request = rpc_pb2.RangeRequest(key=self.key, serializable=self.serializable)
        if self.range_end:
            request.range_end = self.range_end
        if self.limit:
            request.limit = self.limit
        if self.revision:
            request.revision = self.revision
        if self.sort_order is not _UNSORTED:
            request.sort_order = _PB_SORT_ORDER[self.sort_order]
        if self.sort_target is not _BY_KEY:
            request.sort_target = _PB_SORT_TARGET[self.sort_target]
        if self.keys_only:
            request.keys_only = True
        if self.count_only:
            request.count_only = True
        if self.min_mod_revision:
            request.min_mod_revision = self.min_mod_revision
        if self.max_mod_revision:
            request.max_mod_revision = self.max_mod_revision
        if self.min_create_revision:
            request.min_create_revision = self.min_create_revision
        if self.max_create_revision:
            request.max_create_revision = self.max_create_revision
        return request

    def _convert(self, message: rpc_pb2.RangeResponse) -> GetResponse:
        return convert.get_response(message)


@dataclass(frozen=True, slots=True)
class PutOp(Op[rpc_pb2.PutRequest, PutResponse]):
    """A write of one key (etcd PutRequest)."""

    _ONEOF = "request_put"

    key: bytes
    value: bytes = b""
    lease: int = 0
    prev_kv: bool = False
    ignore_value: bool = False
    ignore_lease: bool = False

    def __post_init__(self) -> None:
        check_key(self.key, "put")
        if not isinstance(self.value, bytes):
            raise UsageError(f"put: value must be bytes, not {type(self.value).__name__}")
        as_count(self.lease, "lease")
        for name in ("prev_kv", "ignore_value", "ignore_lease"):
            as_flag(getattr(self, name), name)
        if self.ignore_value and self.value:
            raise UsageError(
                "put: ignore_value keeps the current value, so the value must be empty "
                "(etcd: 'value is provided')"
            )
        if self.ignore_lease and self.lease:
            raise UsageError(
                "put: ignore_lease keeps the current lease, so no lease may be given "
                "(etcd: 'lease is provided')"
            )

    @property
    def method(self) -> Method[rpc_pb2.PutRequest, rpc_pb2.PutResponse]:
        return methods.KV_PUT

    @property
    def is_write(self) -> bool:
        return True

    def _build(self) -> rpc_pb2.PutRequest:
        request = rpc_pb2.PutRequest(key=self.key, value=self.value)  # defaults left unset
        if self.lease:
            request.lease = self.lease
        if self.prev_kv:
            request.prev_kv = True
        if self.ignore_value:
            request.ignore_value = True
        if self.ignore_lease:
            request.ignore_lease = True
        return request

    def _convert(self, message: rpc_pb2.PutResponse) -> PutResponse:
        return convert.put_response(message)


@dataclass(frozen=True, slots=True)
class DeleteOp(Op[rpc_pb2.DeleteRangeRequest, DeleteResponse]):
    """A delete of one key or a range (etcd DeleteRangeRequest)."""

    _ONEOF = "request_delete_range"

    key: bytes
    range_end: bytes = b""
    prev_kv: bool = False

    def __post_init__(self) -> None:
        check_key(self.key, "delete")
        check_range(self.key, self.range_end, "delete")
        as_flag(self.prev_kv, "prev_kv")

    @property
    def method(self) -> Method[rpc_pb2.DeleteRangeRequest, rpc_pb2.DeleteRangeResponse]:
        return methods.KV_DELETE_RANGE

    @property
    def is_write(self) -> bool:
        return True

    def _build(self) -> rpc_pb2.DeleteRangeRequest:
        return rpc_pb2.DeleteRangeRequest(
            key=self.key, range_end=self.range_end, prev_kv=self.prev_kv
        )

    def _convert(self, message: rpc_pb2.DeleteRangeResponse) -> DeleteResponse:
        return convert.delete_response(message)


@dataclass(frozen=True, slots=True)
class TxnOp(Op[rpc_pb2.TxnRequest, TxnResponse]):
    """A transaction (etcd TxnRequest): ``compare`` guards, ``success`` and ``failure``
    branches. Either branch may hold nested txns."""

    _ONEOF = "request_txn"

    compare: tuple[Compare, ...] = ()
    success: tuple[AnyOp, ...] = ()
    failure: tuple[AnyOp, ...] = ()

    def __post_init__(self) -> None:
        for name in ("compare", "success", "failure"):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        for i, cmp in enumerate(self.compare):
            if isinstance(cmp, CompareSubject):
                raise UsageError(
                    f"txn: compare[{i}] is an unfinished comparison; complete it with ==, !=, "
                    f"< or >, e.g. Compare.version(key) == 0"
                )
            if not isinstance(cmp, Compare):
                raise UsageError(f"txn: compare[{i}] must be a Compare, not {type(cmp).__name__}")
        for branch in ("success", "failure"):
            for i, op in enumerate(getattr(self, branch)):
                if not isinstance(op, (GetOp, PutOp, DeleteOp, TxnOp)):
                    raise UsageError(
                        f"txn: {branch}[{i}] must be an Op (Op.get/put/delete/txn), "
                        f"not {type(op).__name__}"
                    )
            _writes(getattr(self, branch), branch)

    @property
    def method(self) -> Method[rpc_pb2.TxnRequest, rpc_pb2.TxnResponse]:
        return methods.KV_TXN

    @property
    def is_write(self) -> bool:
        return any(op.is_write for op in (*self.success, *self.failure))

    def _build(self) -> rpc_pb2.TxnRequest:
        return rpc_pb2.TxnRequest(
            compare=[cmp.to_pb() for cmp in self.compare],
            success=[op.to_request_op() for op in self.success],
            failure=[op.to_request_op() for op in self.failure],
        )

    def _check_txn_ops(self, max_txn_ops: int) -> None:
        _count_txn_ops(self, max_txn_ops, max_txn_ops)

    def _convert(self, message: rpc_pb2.TxnResponse) -> TxnResponse:
        return convert.txn_response(message)


AnyOp: TypeAlias = GetOp | PutOp | DeleteOp | TxnOp
"""Every concrete operation, for exhaustive matching in a dispatcher."""

_PB_SORT_ORDER = {
    SortOrder.NONE: rpc_pb2.RangeRequest.NONE,
    SortOrder.ASCEND: rpc_pb2.RangeRequest.ASCEND,
    SortOrder.DESCEND: rpc_pb2.RangeRequest.DESCEND,
}
_PB_SORT_TARGET = {
    SortTarget.KEY: rpc_pb2.RangeRequest.KEY,
    SortTarget.VERSION: rpc_pb2.RangeRequest.VERSION,
    SortTarget.CREATE_REVISION: rpc_pb2.RangeRequest.CREATE,
    SortTarget.MOD_REVISION: rpc_pb2.RangeRequest.MOD,
    SortTarget.VALUE: rpc_pb2.RangeRequest.VALUE,
}


def _count_txn_ops(txn: TxnOp, budget: int, configured: int) -> None:
    """etcd's ``checkTxnRequest``: the longest of the compare, success and failure lists may
    hold at most ``--max-txn-ops`` entries; a nested txn gets what its parent left over."""
    longest = max(len(txn.compare), len(txn.success), len(txn.failure))
    if longest > budget:
        nested = "" if budget == configured else f" (a nested txn gets {budget} after its parents)"
        raise UsageError(
            f"txn: too many operations: {len(txn.compare)} compares, {len(txn.success)} "
            f"success and {len(txn.failure)} failure ops, but etcd allows {budget} per list"
            f"{nested}; the server's --max-txn-ops is {configured} "
            f"(etcd: 'too many operations in txn request')"
        )
    for op in (*txn.success, *txn.failure):
        if isinstance(op, TxnOp):
            _count_txn_ops(op, budget - longest, configured)


def _deleted(dels: list[tuple[bytes, bytes]], key: bytes) -> bool:
    """Does a delete of this list cover ``key``? Each is [key, range_end) with an empty end
    meaning the single key, compared as etcd's interval tree does (so, as on the server, a
    from-key delete, whose end b"\\0" sorts before every key, covers nothing)."""
    return any((key == start) if not end else (start <= key < end) for start, end in dels)


def _writes(ops: tuple[AnyOp, ...], branch: str) -> tuple[set[bytes], list[tuple[bytes, bytes]]]:
    """etcd's ``checkIntervals`` for one branch: the keys it puts and the ranges it deletes.

    Rejected, as the server rejects them ('duplicate key given in txn request'): two puts of
    one key, a put inside a range deleted at the same level or by an earlier nested txn, and
    the same key put by two nested txns (a nested txn's own success and failure branches may
    share keys since only one of them runs).
    """
    dels = [(op.key, op.range_end) for op in ops if isinstance(op, DeleteOp)]
    puts: set[bytes] = set()

    def duplicate(key: bytes) -> UsageError:
        return UsageError(
            f"txn: duplicate key given in txn request: {key!r} is written twice in the "
            f"{branch} branch (etcd rejects a put that meets another put or a delete of the "
            f"same branch)"
        )

    for op in ops:
        if not isinstance(op, TxnOp):
            continue
        puts_then, dels_then = _writes(op.success, branch)
        puts_else, dels_else = _writes(op.failure, branch)
        for key in puts_then:
            if key in puts or _deleted(dels, key):
                raise duplicate(key)
            puts.add(key)
        for key in puts_else:
            if (key in puts and key not in puts_then) or _deleted(dels, key):
                raise duplicate(key)
            puts.add(key)
        dels += dels_then + dels_else
    for op in ops:
        if isinstance(op, PutOp):
            if op.key in puts or _deleted(dels, op.key):
                raise duplicate(op.key)
            puts.add(op.key)
    return puts, dels


# ----------------------------------------------------------------------------- txn helpers


def put_if_absent(
    key: bytes | str, value: bytes | str, *, lease: int = 0, prev_kv: bool = False
) -> TxnOp:
    """Create ``key`` only if it does not exist. ``succeeded`` tells whether it was created;
    otherwise ``responses[0]`` is a GetResponse with the existing key."""
    return Op.txn(
        [key_missing(key)],
        [Op.put(key, value, lease=lease, prev_kv=prev_kv)],
        [Op.get(key)],
    )


def compare_and_swap(
    key: bytes | str,
    expected: bytes | str,
    new: bytes | str,
    *,
    lease: int = 0,
    prev_kv: bool = False,
) -> TxnOp:
    """Replace the value of ``key`` with ``new`` only if it is ``expected``. On failure
    (including a missing key) ``responses[0]`` is a GetResponse with the current state."""
    return Op.txn(
        [Compare.value(key) == expected],
        [Op.put(key, new, lease=lease, prev_kv=prev_kv)],
        [Op.get(key)],
    )


def compare_and_delete(key: bytes | str, expected: bytes | str, *, prev_kv: bool = False) -> TxnOp:
    """Delete ``key`` only if its value is ``expected``. On failure ``responses[0]`` is a
    GetResponse with the current state."""
    return Op.txn(
        [Compare.value(key) == expected],
        [Op.delete(key, prev_kv=prev_kv)],
        [Op.get(key)],
    )


# ----------------------------------------------------------------------------- paging


def next_page(op: GetOp, response: GetResponse) -> GetOp | None:
    """The read for the chunk after ``response`` of a range read with a ``limit``, or None when
    the range is exhausted.

    The next chunk starts just after the last key returned (its key + b"\\0"; for a range
    sorted by key descending, it ends at that key) and keeps the range end and every other
    option. A read at the latest revision is pinned to the revision of the first response,
    so all chunks see one consistent snapshot (as etcd's mirror.Syncer does). Ranges sorted by
    something other than the key cannot be resumed from a key and are refused.
    """
    if not isinstance(op, GetOp):
        raise UsageError(f"next_page pages a GetOp, not {type(op).__name__}")
    if op.count_only or not op.range_end or not op.limit:
        return None
    if op.sort_target is not SortTarget.KEY:
        raise UsageError(
            f"next_page: a range sorted by {op.sort_target.name.lower()} cannot be resumed "
            "from its last key; page in key order and sort locally"
        )
    if not response.more or not response.kvs:
        return None
    last = response.kvs[-1].key
    revision = op.revision or response.header.revision
    if op.sort_order is SortOrder.DESCEND:
        if last <= op.key:
            return None
        return replace(op, range_end=last, revision=revision)
    start = last + b"\0"
    if op.range_end != FROM_KEY_END and start >= op.range_end:
        return None
    return replace(op, key=start, revision=revision)


# ----------------------------------------------------------------------------- other requests


def compact_request(revision: int, *, physical: bool = False) -> rpc_pb2.CompactionRequest:
    """Compact the history before ``revision``; ``physical`` waits until the space is freed."""
    if as_count(revision, "revision") == 0:
        raise UsageError("compact: revision must be at least 1")
    return rpc_pb2.CompactionRequest(revision=revision, physical=as_flag(physical, "physical"))


def parse_compact_response(message: Message) -> CompactResponse:
    return convert.compact_response(expect(message, rpc_pb2.CompactionResponse))

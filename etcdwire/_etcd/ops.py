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
"""

from __future__ import annotations

import enum
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
]

#: etcd's default ``--max-txn-ops``: the most entries one txn list (compare, success or
#: failure) may hold.
DEFAULT_MAX_TXN_OPS = 128
#: etcd's default ``--max-request-bytes`` (1.5 MiB).
DEFAULT_MAX_REQUEST_BYTES = 1_572_864
#: etcd accepts gRPC messages up to ``--max-request-bytes`` plus this much
#: (server/etcdserver/api/v3rpc/grpc.go ``grpcOverheadBytes``); reads are bounded by that sum.
GRPC_OVERHEAD_BYTES = 512 * 1024
#: A write is proposed to raft wrapped in an InternalRaftRequest whose header adds some bytes
#: before etcd compares the size with ``--max-request-bytes``. Measured against etcd 3.5.1 the
#: envelope is 17 bytes (the largest PutRequest accepted at the default limit is 1,572,847
#: bytes); we count 16 so that a request refused here is always one the server would refuse.
RAFT_ENVELOPE_BYTES = 16
#: The longest lease TTL etcd grants, in seconds (server/lease/lessor.go ``MaxLeaseTTL``).
MAX_LEASE_TTL = 9_000_000_000

_INT64_MAX = 2**63 - 1
_FROM_KEY_END = b"\0"
_UNSORTED = SortOrder.NONE
_BY_KEY = SortTarget.KEY

ReqT = TypeVar("ReqT", bound=Message)
R = TypeVar("R")


# ----------------------------------------------------------------------------- input checks


def _as_bytes(value: object, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return utf8(value, what)
    raise UsageError(f"{what} must be bytes or str, not {type(value).__name__}")


def utf8(text: str, what: str) -> bytes:
    """``text`` encoded as UTF-8; a str UTF-8 cannot encode (a lone surrogate, as
    ``os.fsdecode`` makes from undecodable bytes) is bad input, not a crash."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UsageError(
            f"{what} is a str that UTF-8 cannot encode ({exc.reason} at index {exc.start});"
            " pass bytes instead"
        ) from None


def _as_count(value: object, what: str) -> int:
    """A non-negative int64 (limits, revisions, lease IDs, versions)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{what} must be an int, not {type(value).__name__}")
    if value < 0:
        raise UsageError(f"{what} must not be negative (got {value})")
    if value > _INT64_MAX:
        raise UsageError(f"{what} does not fit etcd's int64 (got {value})")
    return value


def _as_flag(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise UsageError(f"{what} must be True or False, not {type(value).__name__}")
    return value


_E = TypeVar("_E", bound=enum.Enum)


def _as_member(value: object, kind: type[_E], what: str) -> _E:
    """An enum member, or its name in any case (``"descend"``)."""
    if isinstance(value, kind):
        return value
    if isinstance(value, str) and value.upper() in kind.__members__:
        return kind[value.upper()]
    choices = ", ".join(kind.__members__)
    raise UsageError(f"{what} must be a {kind.__name__} ({choices}), not {value!r}")


def _check_key(key: object, verb: str) -> None:
    if not isinstance(key, bytes):
        raise UsageError(f"{verb}: key must be bytes, not {type(key).__name__}")
    if not key:
        raise UsageError(
            f"{verb}: the key must not be empty (etcd: 'key is not provided'); "
            "to address every key, pass an empty key with from_key=True or prefix=True"
        )


def _check_range(key: bytes, range_end: object, verb: str) -> None:
    """``range_end``: b"" for the single key, b"\\0" for every key >= key, else > key."""
    if not isinstance(range_end, bytes):
        raise UsageError(f"{verb}: range_end must be bytes, not {type(range_end).__name__}")
    if range_end not in (b"", _FROM_KEY_END) and range_end <= key:
        raise UsageError(
            f"{verb}: range_end {range_end!r} must sort after key {key!r}; "
            f"the range [key, range_end) would be empty"
        )


def _resolve_range(
    key: object, range_end: object, prefix: bool, from_key: bool, verb: str
) -> tuple[bytes, bytes]:
    """Turn the range options into (key, range_end) as etcd's Go client does (op.go
    ``WithPrefix``, ``WithFromKey``, ``WithRange``)."""
    raw = _as_bytes(key, "key")
    _as_flag(prefix, "prefix")
    _as_flag(from_key, "from_key")
    if (range_end is not None) + prefix + from_key > 1:
        chosen = [
            name
            for name, on in (
                ("range_end", range_end is not None),
                ("prefix", prefix),
                ("from_key", from_key),
            )
            if on
        ]
        raise UsageError(f"{verb}: {' and '.join(chosen)} cannot be combined; choose one")
    if prefix:
        if not raw:  # Go: an empty prefix means every key
            return _FROM_KEY_END, _FROM_KEY_END
        return raw, prefix_range_end(raw)
    if from_key:
        return raw or _FROM_KEY_END, _FROM_KEY_END
    if range_end is None:
        return raw, b""
    end = _as_bytes(range_end, "range_end")
    if not end:
        raise UsageError(f"{verb}: range_end must not be empty; omit it to address a single key")
    return raw, end


def prefix_range_end(prefix: bytes | str) -> bytes:
    """The range end that selects every key starting with ``prefix`` (Go's
    ``GetPrefixRangeEnd``): the prefix with its last byte below 0xFF incremented and the rest
    dropped. A prefix of 0xFF bytes only, or an empty one, has no such end: the result is
    b"\\0", which etcd reads as "to the end of the key space"."""
    raw = bytearray(_as_bytes(prefix, "prefix"))
    for i in range(len(raw) - 1, -1, -1):
        if raw[i] < 0xFF:
            raw[i] += 1
            return bytes(raw[: i + 1])
    return _FROM_KEY_END


def _check_size(message: Message, *, write: bool, max_request_bytes: int) -> None:
    """etcd refuses a write whose raft proposal exceeds ``--max-request-bytes``
    (etcdserver ``ErrRequestTooLarge``) and any gRPC message over that limit plus 512 KiB."""
    size = message.ByteSize()
    if write and size + RAFT_ENVELOPE_BYTES > max_request_bytes:
        raise UsageError(
            f"request too large: {size} bytes, and etcd adds about {RAFT_ENVELOPE_BYTES} bytes "
            f"of raft header to a write; the server's --max-request-bytes is "
            f"{max_request_bytes} (etcd: 'request is too large')"
        )
    if not write and size > max_request_bytes + GRPC_OVERHEAD_BYTES:
        raise UsageError(
            f"request too large: {size} bytes; etcd accepts at most --max-request-bytes "
            f"({max_request_bytes}) + {GRPC_OVERHEAD_BYTES} bytes per gRPC message"
        )


def _check_limits(max_txn_ops: object, max_request_bytes: object) -> None:
    if (
        type(max_txn_ops) is int
        and type(max_request_bytes) is int
        and 0 < max_txn_ops <= _INT64_MAX
        and 0 < max_request_bytes <= _INT64_MAX
    ):
        return  # the usual case, checked without building the messages below
    for value, what in ((max_txn_ops, "max_txn_ops"), (max_request_bytes, "max_request_bytes")):
        if _as_count(value, what) == 0:
            raise UsageError(f"{what} must be positive")


def _expect(message: object, kind: type[Any]) -> Any:
    if not isinstance(message, kind):
        raise UsageError(f"expected a {kind.__name__}, got {type(message).__name__}")
    return message


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
        _check_limits(max_txn_ops, max_request_bytes)
        self._check_txn_ops(max_txn_ops)
        request = self._build()
        _check_size(request, write=self.is_write, max_request_bytes=max_request_bytes)
        return request

    def to_request_op(self) -> rpc_pb2.RequestOp:
        """This operation as one entry of a txn branch (Go's ``Op.toRequestOp``)."""
        request_op = rpc_pb2.RequestOp()
        getattr(request_op, self._ONEOF).CopyFrom(self._build())
        return request_op

    def parse_response(self, message: Message) -> R:
        """Convert the RPC's protobuf response to the user-facing type."""
        return self._convert(_expect(message, self.method.response_type))

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
        raw_key, end = _resolve_range(key, range_end, prefix, from_key, verb)
        order = None if sort_order is None else _as_member(sort_order, SortOrder, "sort_order")
        target = None if sort_target is None else _as_member(sort_target, SortTarget, "sort_target")
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
            key=_as_bytes(key, "key"),
            value=_as_bytes(value, "value"),
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
        raw_key, end = _resolve_range(key, range_end, prefix, from_key, "delete")
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
        _check_key(self.key, "get")
        _check_range(self.key, self.range_end, "get")
        for value, name in (
            (self.limit, "limit"),
            (self.revision, "revision"),
            (self.min_mod_revision, "min_mod_revision"),
            (self.max_mod_revision, "max_mod_revision"),
            (self.min_create_revision, "min_create_revision"),
            (self.max_create_revision, "max_create_revision"),
        ):
            if type(value) is not int or not 0 <= value <= _INT64_MAX:
                _as_count(value, name)  # raises, unless an int subclass in range
        for flag, name in (
            (self.serializable, "serializable"),
            (self.keys_only, "keys_only"),
            (self.count_only, "count_only"),
        ):
            if type(flag) is not bool:
                _as_flag(flag, name)  # raises
        if type(self.sort_order) is not SortOrder:  # a name: normalized to the member
            object.__setattr__(
                self, "sort_order", _as_member(self.sort_order, SortOrder, "sort_order")
            )
        if type(self.sort_target) is not SortTarget:
            object.__setattr__(
                self, "sort_target", _as_member(self.sort_target, SortTarget, "sort_target")
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
        _check_key(self.key, "put")
        if not isinstance(self.value, bytes):
            raise UsageError(f"put: value must be bytes, not {type(self.value).__name__}")
        _as_count(self.lease, "lease")
        for name in ("prev_kv", "ignore_value", "ignore_lease"):
            _as_flag(getattr(self, name), name)
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
        _check_key(self.key, "delete")
        _check_range(self.key, self.range_end, "delete")
        _as_flag(self.prev_kv, "prev_kv")

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


# ----------------------------------------------------------------------------- comparisons


class CompareTarget(enum.Enum):
    """What a comparison looks at (Compare.CompareTarget)."""

    VERSION = 0
    CREATE_REVISION = 1
    MOD_REVISION = 2
    VALUE = 3
    LEASE = 4


class CompareResult(enum.Enum):
    """The relation a comparison asks for (Compare.CompareResult)."""

    EQUAL = 0
    GREATER = 1
    LESS = 2
    NOT_EQUAL = 3


_PB_TARGET = {
    CompareTarget.VERSION: rpc_pb2.Compare.VERSION,
    CompareTarget.CREATE_REVISION: rpc_pb2.Compare.CREATE,
    CompareTarget.MOD_REVISION: rpc_pb2.Compare.MOD,
    CompareTarget.VALUE: rpc_pb2.Compare.VALUE,
    CompareTarget.LEASE: rpc_pb2.Compare.LEASE,
}
_PB_RESULT = {
    CompareResult.EQUAL: rpc_pb2.Compare.EQUAL,
    CompareResult.GREATER: rpc_pb2.Compare.GREATER,
    CompareResult.LESS: rpc_pb2.Compare.LESS,
    CompareResult.NOT_EQUAL: rpc_pb2.Compare.NOT_EQUAL,
}
_UNION_FIELD = {
    CompareTarget.VERSION: "version",
    CompareTarget.CREATE_REVISION: "create_revision",
    CompareTarget.MOD_REVISION: "mod_revision",
    CompareTarget.VALUE: "value",
    CompareTarget.LEASE: "lease",
}


@dataclass(frozen=True, slots=True)
class Compare:
    """One txn guard: ``target`` of ``key`` (or of every key in [key, range_end)) compared
    with ``operand``. Build it with the operators of :class:`CompareSubject`::

        Compare.value("k") == b"v"       Compare.version("k") == 0   # key absent
        Compare.mod_revision("k") < 42   Compare.lease("k") != 0

    etcd evaluates a value comparison on a missing key as false, and a numeric one as if the
    key had all zero fields (server/etcdserver/apply.go ``applyCompare``).
    """

    key: bytes
    target: CompareTarget
    result: CompareResult
    operand: bytes | int
    range_end: bytes = b""

    def __post_init__(self) -> None:
        _check_key(self.key, "compare")
        _check_range(self.key, self.range_end, "compare")
        object.__setattr__(self, "target", _as_member(self.target, CompareTarget, "target"))
        object.__setattr__(self, "result", _as_member(self.result, CompareResult, "result"))
        if self.target is CompareTarget.VALUE:
            if not isinstance(self.operand, bytes):
                raise UsageError(
                    f"compare: a value is compared with bytes, not {type(self.operand).__name__}"
                )
        else:
            _as_count(self.operand, f"compare: the {self.target.name.lower()} operand")

    def __bool__(self) -> bool:
        raise UsageError(
            "a Compare is evaluated by etcd inside a txn, not by Python; pass it to Op.txn()"
        )

    @staticmethod
    def value(
        key: bytes | str, *, range_end: bytes | str | None = None, prefix: bool = False
    ) -> CompareSubject:
        """Compare the value of ``key`` (with bytes or str)."""
        return CompareSubject._make(key, range_end, prefix, CompareTarget.VALUE)

    @staticmethod
    def version(
        key: bytes | str, *, range_end: bytes | str | None = None, prefix: bool = False
    ) -> CompareSubject:
        """Compare the version of ``key`` (0 when the key does not exist)."""
        return CompareSubject._make(key, range_end, prefix, CompareTarget.VERSION)

    @staticmethod
    def create_revision(
        key: bytes | str, *, range_end: bytes | str | None = None, prefix: bool = False
    ) -> CompareSubject:
        """Compare the revision at which ``key`` was created."""
        return CompareSubject._make(key, range_end, prefix, CompareTarget.CREATE_REVISION)

    @staticmethod
    def mod_revision(
        key: bytes | str, *, range_end: bytes | str | None = None, prefix: bool = False
    ) -> CompareSubject:
        """Compare the revision at which ``key`` was last modified."""
        return CompareSubject._make(key, range_end, prefix, CompareTarget.MOD_REVISION)

    @staticmethod
    def lease(
        key: bytes | str, *, range_end: bytes | str | None = None, prefix: bool = False
    ) -> CompareSubject:
        """Compare the lease ID attached to ``key`` (0: no lease)."""
        return CompareSubject._make(key, range_end, prefix, CompareTarget.LEASE)

    def to_pb(self) -> rpc_pb2.Compare:
        message = rpc_pb2.Compare(
            key=self.key,
            range_end=self.range_end,
            target=_PB_TARGET[self.target],
            result=_PB_RESULT[self.result],
        )
        # Setting the member selects the oneof case even for 0, so the target is explicit.
        setattr(message, _UNION_FIELD[self.target], self.operand)
        return message


@dataclass(frozen=True, slots=True, eq=False)
class CompareSubject:
    """The left side of a comparison; ``==``, ``!=``, ``<`` and ``>`` turn it into a
    :class:`Compare`. etcd has no ``<=`` or ``>=``."""

    key: bytes
    range_end: bytes
    target: CompareTarget

    def __post_init__(self) -> None:
        _check_key(self.key, "compare")
        _check_range(self.key, self.range_end, "compare")

    @classmethod
    def _make(
        cls, key: object, range_end: object, prefix: bool, target: CompareTarget
    ) -> CompareSubject:
        raw_key, end = _resolve_range(key, range_end, prefix, False, "compare")
        return cls(key=raw_key, range_end=end, target=target)

    def _compare(self, result: CompareResult, operand: object) -> Compare:
        if self.target is CompareTarget.VALUE:
            operand = _as_bytes(operand, "compare: the value operand")
        elif isinstance(operand, bool) or not isinstance(operand, int):
            raise UsageError(
                f"compare: the {self.target.name.lower()} of a key is compared with an int, "
                f"not {type(operand).__name__}"
            )
        return Compare(
            key=self.key,
            target=self.target,
            result=result,
            operand=operand,
            range_end=self.range_end,
        )

    def __eq__(self, other: object) -> Compare:  # type: ignore[override]
        return self._compare(CompareResult.EQUAL, other)

    def __ne__(self, other: object) -> Compare:  # type: ignore[override]
        return self._compare(CompareResult.NOT_EQUAL, other)

    def __lt__(self, other: object) -> Compare:
        return self._compare(CompareResult.LESS, other)

    def __gt__(self, other: object) -> Compare:
        return self._compare(CompareResult.GREATER, other)

    def __le__(self, other: object) -> Compare:
        raise UsageError("etcd compares with =, !=, < and > only; for <= n use < n + 1")

    def __ge__(self, other: object) -> Compare:
        raise UsageError("etcd compares with =, !=, < and > only; for >= n use > n - 1")

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        raise UsageError(
            "an unfinished comparison has no truth value; complete it with ==, !=, < or >"
        )


def key_exists(key: bytes | str) -> Compare:
    """Holds when ``key`` exists (Go's clientv3util.KeyExists: version > 0)."""
    return Compare.version(key) > 0


def key_missing(key: bytes | str) -> Compare:
    """Holds when ``key`` does not exist (Go's clientv3util.KeyMissing: version == 0)."""
    return Compare.version(key) == 0


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
    if op.range_end != _FROM_KEY_END and start >= op.range_end:
        return None
    return replace(op, key=start, revision=revision)


# ----------------------------------------------------------------------------- other requests


def compact_request(revision: int, *, physical: bool = False) -> rpc_pb2.CompactionRequest:
    """Compact the history before ``revision``; ``physical`` waits until the space is freed."""
    if _as_count(revision, "revision") == 0:
        raise UsageError("compact: revision must be at least 1")
    return rpc_pb2.CompactionRequest(revision=revision, physical=_as_flag(physical, "physical"))


def parse_compact_response(message: Message) -> CompactResponse:
    return convert.compact_response(_expect(message, rpc_pb2.CompactionResponse))


def lease_grant_request(ttl: int, *, lease_id: int = 0) -> rpc_pb2.LeaseGrantRequest:
    """Grant a lease of ``ttl`` seconds (etcd raises a TTL below its minimum to that minimum);
    ``lease_id`` 0 lets the server choose the ID."""
    if _as_count(ttl, "ttl") > MAX_LEASE_TTL:
        raise UsageError(f"lease ttl {ttl} exceeds etcd's maximum of {MAX_LEASE_TTL} seconds")
    return rpc_pb2.LeaseGrantRequest(TTL=ttl, ID=_as_count(lease_id, "lease_id"))


def _lease_id(lease_id: int) -> int:
    if _as_count(lease_id, "lease_id") == 0:
        raise UsageError("lease_id must not be 0 (0 means 'no lease')")
    return lease_id


def lease_revoke_request(lease_id: int) -> rpc_pb2.LeaseRevokeRequest:
    return rpc_pb2.LeaseRevokeRequest(ID=_lease_id(lease_id))


def lease_keep_alive_request(lease_id: int) -> rpc_pb2.LeaseKeepAliveRequest:
    return rpc_pb2.LeaseKeepAliveRequest(ID=_lease_id(lease_id))


def lease_time_to_live_request(
    lease_id: int, *, keys: bool = False
) -> rpc_pb2.LeaseTimeToLiveRequest:
    """Ask for a lease's remaining TTL; ``keys`` also lists the keys attached to it."""
    return rpc_pb2.LeaseTimeToLiveRequest(ID=_lease_id(lease_id), keys=_as_flag(keys, "keys"))

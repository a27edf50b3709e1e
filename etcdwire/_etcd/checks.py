"""Checks of caller input shared by the request builders: keys, ranges, counts, flags,
enum members and message sizes, each failing with :class:`~etcdwire.errors.UsageError`; and
the server limits they are checked against (etcd's defaults)."""

from __future__ import annotations

import enum
from typing import Any, TypeVar

from google.protobuf.message import Message

from ..errors import UsageError

__all__ = [
    "DEFAULT_MAX_REQUEST_BYTES",
    "DEFAULT_MAX_TXN_OPS",
    "FROM_KEY_END",
    "GRPC_OVERHEAD_BYTES",
    "INT64_MAX",
    "MAX_LEASE_TTL",
    "RAFT_ENVELOPE_BYTES",
    "as_bytes",
    "as_count",
    "as_flag",
    "as_member",
    "check_key",
    "check_limits",
    "check_range",
    "check_size",
    "expect",
    "prefix_range_end",
    "resolve_range",
    "utf8",
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

#: The largest value etcd's int64 fields hold.
INT64_MAX = 2**63 - 1
#: The range end that means "every key from the key on" (and, with an empty key, every key).
FROM_KEY_END = b"\0"


def as_bytes(value: object, what: str) -> bytes:
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


def as_count(value: object, what: str) -> int:
    """A non-negative int64 (limits, revisions, lease IDs, versions)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{what} must be an int, not {type(value).__name__}")
    if value < 0:
        raise UsageError(f"{what} must not be negative (got {value})")
    if value > INT64_MAX:
        raise UsageError(f"{what} does not fit etcd's int64 (got {value})")
    return value


def as_flag(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise UsageError(f"{what} must be True or False, not {type(value).__name__}")
    return value


_E = TypeVar("_E", bound=enum.Enum)


def as_member(value: object, kind: type[_E], what: str) -> _E:
    """An enum member, or its name in any case (``"descend"``)."""
    if isinstance(value, kind):
        return value
    if isinstance(value, str) and value.upper() in kind.__members__:
        return kind[value.upper()]
    choices = ", ".join(kind.__members__)
    raise UsageError(f"{what} must be a {kind.__name__} ({choices}), not {value!r}")


def check_key(key: object, verb: str) -> None:
    if not isinstance(key, bytes):
        raise UsageError(f"{verb}: key must be bytes, not {type(key).__name__}")
    if not key:
        raise UsageError(
            f"{verb}: the key must not be empty (etcd: 'key is not provided'); "
            "to address every key, pass an empty key with from_key=True or prefix=True"
        )


def check_range(key: bytes, range_end: object, verb: str) -> None:
    """``range_end``: b"" for the single key, b"\\0" for every key >= key, else > key."""
    if not isinstance(range_end, bytes):
        raise UsageError(f"{verb}: range_end must be bytes, not {type(range_end).__name__}")
    if range_end not in (b"", FROM_KEY_END) and range_end <= key:
        raise UsageError(
            f"{verb}: range_end {range_end!r} must sort after key {key!r}; "
            f"the range [key, range_end) would be empty"
        )


def resolve_range(
    key: object, range_end: object, prefix: bool, from_key: bool, verb: str
) -> tuple[bytes, bytes]:
    """Turn the range options into (key, range_end) as etcd's Go client does (op.go
    ``WithPrefix``, ``WithFromKey``, ``WithRange``)."""
    raw = as_bytes(key, "key")
    as_flag(prefix, "prefix")
    as_flag(from_key, "from_key")
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
            return FROM_KEY_END, FROM_KEY_END
        return raw, prefix_range_end(raw)
    if from_key:
        return raw or FROM_KEY_END, FROM_KEY_END
    if range_end is None:
        return raw, b""
    end = as_bytes(range_end, "range_end")
    if not end:
        raise UsageError(f"{verb}: range_end must not be empty; omit it to address a single key")
    return raw, end


def prefix_range_end(prefix: bytes | str) -> bytes:
    """The range end that selects every key starting with ``prefix`` (Go's
    ``GetPrefixRangeEnd``): the prefix with its last byte below 0xFF incremented and the rest
    dropped. A prefix of 0xFF bytes only, or an empty one, has no such end: the result is
    b"\\0", which etcd reads as "to the end of the key space"."""
    raw = bytearray(as_bytes(prefix, "prefix"))
    for i in range(len(raw) - 1, -1, -1):
        if raw[i] < 0xFF:
            raw[i] += 1
            return bytes(raw[: i + 1])
    return FROM_KEY_END


def check_size(message: Message, *, write: bool, max_request_bytes: int) -> None:
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


def check_limits(max_txn_ops: object, max_request_bytes: object) -> None:
    if (
        type(max_txn_ops) is int
        and type(max_request_bytes) is int
        and 0 < max_txn_ops <= INT64_MAX
        and 0 < max_request_bytes <= INT64_MAX
    ):
        return  # the usual case, checked without building the messages below
    for value, what in ((max_txn_ops, "max_txn_ops"), (max_request_bytes, "max_request_bytes")):
        if as_count(value, what) == 0:
            raise UsageError(f"{what} must be positive")


def expect(message: object, kind: type[Any]) -> Any:
    if not isinstance(message, kind):
        raise UsageError(f"expected a {kind.__name__}, got {type(message).__name__}")
    return message

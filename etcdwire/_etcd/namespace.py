"""Key namespaces, pure (after Go's client/v3/namespace): operations get a prefix in front of
every key and range, and responses and watch events lose it, so code written for a whole
key space runs unchanged inside a part of one."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar

from ..errors import UsageError
from ..types import (
    DeleteResponse,
    Event,
    GetResponse,
    KeyValue,
    LeaseTimeToLive,
    PutResponse,
    TxnResponse,
)
from .ops import AnyOp, Compare, DeleteOp, GetOp, PutOp, TxnOp, prefix_range_end, utf8
from .watching import WatchResponse

__all__ = ["namespace_prefix", "prefix_compare", "prefix_interval", "prefix_op", "strip"]

Stripped = TypeVar(
    "Stripped",
    GetResponse,
    PutResponse,
    DeleteResponse,
    TxnResponse,
    WatchResponse,
    LeaseTimeToLive,
)


def namespace_prefix(prefix: bytes | str) -> bytes:
    raw = utf8(prefix, "namespace prefix") if isinstance(prefix, str) else prefix
    if not isinstance(raw, bytes) or not raw:
        raise UsageError(f"a namespace needs a non-empty prefix (bytes or str), not {prefix!r}")
    return raw


def prefix_interval(prefix: bytes, key: bytes, range_end: bytes) -> tuple[bytes, bytes]:
    """[key, range_end) inside the namespace: an end of b"\\0" (to the end of the key space)
    becomes the end of the prefix, as Go's ``prefixInterval`` does."""
    if range_end == b"\0":
        return prefix + key, prefix_range_end(prefix)
    return prefix + key, (prefix + range_end if range_end else b"")


def prefix_compare(prefix: bytes, compare: Compare) -> Compare:
    key, end = prefix_interval(prefix, compare.key, compare.range_end)
    return replace(compare, key=key, range_end=end)


def prefix_op(prefix: bytes, op: AnyOp) -> AnyOp:
    """The operation with every key and range under ``prefix``."""
    if isinstance(op, GetOp | DeleteOp):
        key, end = prefix_interval(prefix, op.key, op.range_end)
        return replace(op, key=key, range_end=end)
    if isinstance(op, PutOp):
        return replace(op, key=prefix + op.key)
    return TxnOp(
        compare=tuple(prefix_compare(prefix, c) for c in op.compare),
        success=tuple(prefix_op(prefix, o) for o in op.success),
        failure=tuple(prefix_op(prefix, o) for o in op.failure),
    )


def _kv(prefix: bytes, kv: KeyValue) -> KeyValue:
    return replace(kv, key=kv.key[len(prefix) :]) if kv.key.startswith(prefix) else kv


def _kv_or_none(prefix: bytes, kv: KeyValue | None) -> KeyValue | None:
    return None if kv is None else _kv(prefix, kv)


def _event(prefix: bytes, event: Event) -> Event:
    return replace(event, kv=_kv(prefix, event.kv), prev_kv=_kv_or_none(prefix, event.prev_kv))


def strip(prefix: bytes, response: Stripped) -> Stripped:
    """The response with ``prefix`` removed from every key it carries."""
    if isinstance(response, GetResponse):
        return replace(response, kvs=tuple(_kv(prefix, kv) for kv in response.kvs))
    if isinstance(response, PutResponse):
        return replace(response, prev_kv=_kv_or_none(prefix, response.prev_kv))
    if isinstance(response, DeleteResponse):
        return replace(response, prev_kvs=tuple(_kv(prefix, kv) for kv in response.prev_kvs))
    if isinstance(response, TxnResponse):
        inner: tuple[Any, ...] = response.responses  # each is one of the types above
        return replace(response, responses=tuple(strip(prefix, r) for r in inner))
    if isinstance(response, WatchResponse):
        return replace(response, events=tuple(_event(prefix, e) for e in response.events))
    keys = tuple(k[len(prefix) :] for k in response.keys if k.startswith(prefix))
    return replace(response, keys=keys)

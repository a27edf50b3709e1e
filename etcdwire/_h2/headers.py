"""Field blocks: HPACK decoding with a cache for repeated blocks, response validation (RFC 9113
§8.2, §8.3.2) and request encoding/validation.

The cache: a block made only of single-octet indexed fields (every octet in 0x80..0xFE) reads
the tables but never changes them (RFC 7541 §6.1), so the same octets decode to the same fields
for as long as the dynamic table is unchanged. Only another kind of block (a literal with
indexing, a table size update) can change the table, so decoding any other block empties the
cache. grpc-go encodes every response after the first as exactly such blocks (``:status 200``
and ``content-type`` from the tables, then ``grpc-status: 0`` likewise), so most blocks on a busy
connection skip HPACK decoding and header validation altogether.

Request blocks of one shape (the same fields but one, e.g. gRPC's ``grpc-timeout``) are checked
and HPACK-encoded once by a :class:`RequestHeaderTemplate`: each call then checks and encodes
only the field that changes.
"""

from __future__ import annotations

from collections.abc import Iterable

import hpack

from etcdwire._h2.frames import ErrorCode
from etcdwire.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "CheckedHeaders",
    "DecodedBlock",
    "HeaderDecoder",
    "HeaderEncoder",
    "RequestHeaderTemplate",
    "check_request_headers",
    "header_list_size",
    "inspect_response_headers",
]

Header = tuple[bytes, bytes]

#: (fields, header-list size per §6.5.2, :status as int or 0 when absent, problem or None).
DecodedBlock = tuple[tuple[Header, ...], int, int, str | None]

_INDEXED_ONLY = bytes(range(0x80, 0xFF))
_CACHE_LIMIT = 64

# RFC 9113 §8.2.1: names exclude 0x00-0x20, 0x41-0x5a (uppercase), 0x7f-0xff and the colon.
_NAME_CHARS = bytes(c for c in range(0x21, 0x7F) if not 0x41 <= c <= 0x5A and c != 0x3A)
# Values exclude NUL, LF and CR, and must not start or end with SP or HTAB.
_VALUE_CHARS = bytes(c for c in range(256) if c not in (0x00, 0x0A, 0x0D))
_WHITESPACE = (0x20, 0x09)
# §8.2.2
_CONNECTION_SPECIFIC = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade")
)
_REQUEST_PSEUDO = frozenset((b":method", b":scheme", b":path", b":authority"))
#: Sent as never-indexed literals: secrets (RFC 7541 §7.1.3) and per-call values that would only
#: churn the peer's dynamic table.
_NOT_INDEXED = frozenset((b"authorization", b"proxy-authorization", b"token", b"grpc-timeout"))


def header_list_size(headers: Iterable[Header]) -> int:
    """Σ(len(name) + len(value) + 32), the measure of SETTINGS_MAX_HEADER_LIST_SIZE (§6.5.2)."""
    return sum(len(name) + len(value) + 32 for name, value in headers)


def _field_problem(name: bytes, value: bytes) -> str | None:
    if not name or name.translate(None, _NAME_CHARS):
        return f"invalid field name {name!r}"
    if name in _CONNECTION_SPECIFIC:
        return f"connection-specific field {name!r}"
    return _value_problem(name, value)


def _value_problem(name: bytes, value: bytes) -> str | None:
    if value and (
        value.translate(None, _VALUE_CHARS) or value[0] in _WHITESPACE or value[-1] in _WHITESPACE
    ):
        return f"invalid value for field {name!r}"
    return None


def inspect_response_headers(headers: Iterable[Header]) -> tuple[int, str | None]:
    """``(status, problem)`` for a response header block, independent of where it occurs.

    ``status`` is the ``:status`` value, 0 when there is none. ``problem`` names the first rule
    of §8.2/§8.3.2 the block breaks (the caller treats it as malformed), else None."""
    status = 0
    regular = False
    for name, value in headers:
        if name[:1] == b":":
            if regular:
                return status, "pseudo-header field after a regular field"
            if name != b":status":
                return status, f"pseudo-header field {name!r} is not allowed in a response"
            if status:
                return status, "duplicate :status"
            if len(value) != 3 or not value.isdigit() or value[0] == 0x30:
                return status, f"invalid :status {value!r}"
            status = int(value)
            continue
        regular = True
        problem = _field_problem(name, value)
        if problem is not None:
            return status, problem
    return status, None


def check_request_headers(headers: Iterable[Header], trailers: bool = False) -> None:
    """Raise LocalProtocolError for a request block we must not send (§8.2, §8.3.1)."""
    regular = False
    seen: set[bytes] = set()
    for field in headers:
        name, value = field[0], field[1]
        if not isinstance(name, bytes) or not isinstance(value, bytes):
            raise LocalProtocolError(f"header fields must be bytes: {field!r}")
        if name[:1] == b":":
            if trailers:
                raise LocalProtocolError("pseudo-header fields are not allowed in trailers")
            if regular:
                raise LocalProtocolError(f"pseudo-header {name!r} after a regular field")
            if name not in _REQUEST_PSEUDO or name in seen:
                raise LocalProtocolError(f"unknown or repeated pseudo-header {name!r}")
            seen.add(name)
            continue
        regular = True
        if field in _CHECKED_FIELDS:
            continue
        problem = _field_problem(name, value)
        if problem is not None:
            raise LocalProtocolError(problem)
        if name == b"te" and value != b"trailers":
            raise LocalProtocolError("the te field may only carry 'trailers'")
        if name not in _NOT_INDEXED:  # per-call values and secrets are not remembered
            if len(_CHECKED_FIELDS) >= _FIELD_CACHE_LIMIT:
                _CHECKED_FIELDS.clear()
            _CHECKED_FIELDS.add((name, value))
    if not trailers and not {b":method", b":scheme", b":path"} <= seen:
        raise LocalProtocolError("a request needs :method, :scheme and :path")


#: Regular fields already found valid: most fields repeat on every call of a connection.
_CHECKED_FIELDS: set[Header] = set()


class HeaderDecoder:
    """The connection's HPACK decoder; failures become connection COMPRESSION_ERRORs (§4.3)."""

    __slots__ = ("_cache", "_decoder")

    def __init__(self, hard_limit: int) -> None:
        self._decoder = hpack.Decoder(max_header_list_size=hard_limit)
        self._cache: dict[bytes, DecodedBlock] = {}

    @property
    def max_allowed_table_size(self) -> int:
        value: int = self._decoder.max_allowed_table_size
        return value

    @max_allowed_table_size.setter
    def max_allowed_table_size(self, value: int) -> None:
        """The HEADER_TABLE_SIZE we advertised, once the peer has acknowledged it (§4.3.1)."""
        self._decoder.max_allowed_table_size = value
        self._cache.clear()

    def decode(self, block: bytes) -> DecodedBlock:
        cache = self._cache
        entry = cache.get(block)
        if entry is not None:
            return entry
        try:
            fields = tuple(self._decoder.decode(block, raw=True))
        except Exception as exc:  # hpack raises several unrelated types on garbage
            raise RemoteProtocolError(
                f"HPACK decoding failed: {exc}", h2_error_code=ErrorCode.COMPRESSION_ERROR
            ) from exc
        status, problem = inspect_response_headers(fields)
        entry = (fields, header_list_size(fields), status, problem)
        if block.translate(None, _INDEXED_ONLY):
            cache.clear()  # this block may have changed the dynamic table
        else:
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[block] = entry
        return entry


def _encode_integer(value: int, prefix_bits: int, first: int) -> bytes:
    """RFC 7541 §5.1 integer with an N-bit prefix; ``first`` carries the pattern bits."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out = bytearray((first | limit,))
    value -= limit
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _encode_string(data: bytes) -> bytes:
    """RFC 7541 §5.2 string literal, raw octets (H = 0)."""
    return _encode_integer(len(data), 7, 0x00) + data


_STATIC_FIELDS: dict[Header, int] = {}
_STATIC_NAMES: dict[bytes, int] = {}
for _index, (_name, _value) in enumerate(hpack.table.HeaderTable.STATIC_TABLE, start=1):
    _STATIC_FIELDS.setdefault((_name, _value), _index)
    _STATIC_NAMES.setdefault(_name, _index)
_FIELD_CACHE_LIMIT = 4096
_SIZE_UPDATE_TO_ZERO = b"\x20"  # RFC 7541 §6.3: dynamic table size update, new size 0


def _encode_field(name: bytes, value: bytes) -> bytes:
    """One field that never touches the dynamic table: indexed from the static table when the
    whole field is there, else a literal without indexing (§6.2.2), or never indexed (§6.2.3)
    for secrets and per-call values, with the name from the static table when it is there."""
    index = _STATIC_FIELDS.get((name, value))
    if index is not None:
        return _encode_integer(index, 7, 0x80)
    return _encode_name(name) + _encode_string(value)


def _encode_name(name: bytes) -> bytes:
    """The start of a literal field (§6.2.2, §6.2.3): its pattern and name; the value follows."""
    pattern = 0x10 if name in _NOT_INDEXED else 0x00
    name_index = _STATIC_NAMES.get(name)
    if name_index is not None:
        return _encode_integer(name_index, 4, pattern)
    return bytes((pattern,)) + _encode_string(name)


class CheckedHeaders(list[Header]):
    """Request header fields that already passed :func:`check_request_headers`, with their
    HPACK encoding in ``block``: ``H2Connection.send_headers`` neither checks nor encodes them
    again. Only :meth:`RequestHeaderTemplate.fill` makes them; never change one."""

    __slots__ = ("block",)

    #: The fields as :class:`HeaderEncoder` encodes them (it never uses the dynamic table, so a
    #: field's encoding does not depend on the connection).
    block: bytes


class RequestHeaderTemplate:
    """A request header block checked and encoded once, with one optional regular field
    (``name``) whose value changes per call and goes between ``before`` and ``after``.

    Raises :class:`LocalProtocolError` as :func:`check_request_headers` would, for the block
    with the field or without it. :meth:`fill` checks only the new value."""

    __slots__ = (
        "_after",
        "_after_block",
        "_before",
        "_before_block",
        "_in_static_table",
        "_literal",
        "_name",
    )

    def __init__(self, before: Iterable[Header], name: bytes, after: Iterable[Header]) -> None:
        self._before = list(before)
        self._after = list(after)
        self._name = name
        check_request_headers([*self._before, *self._after])
        check_request_headers([*self._before, (name, b"0"), *self._after])
        self._before_block = b"".join(_encode_field(n, v) for n, v in self._before)
        self._after_block = b"".join(_encode_field(n, v) for n, v in self._after)
        # The field as a literal, up to its value; fill() indexes the static table instead when
        # that has the whole field.
        self._literal = _encode_name(name)
        self._in_static_table = any(field[0] == name for field in _STATIC_FIELDS)

    def fill(self, value: bytes | None) -> CheckedHeaders:
        """The block with ``name: value``, or without that field when ``value`` is None."""
        if value is None:
            headers = CheckedHeaders([*self._before, *self._after])
            headers.block = self._before_block + self._after_block
            return headers
        name = self._name
        if not isinstance(value, bytes):
            raise LocalProtocolError(f"header fields must be bytes: {(name, value)!r}")
        problem = _value_problem(name, value)  # the name was checked with the template
        if problem is not None:
            raise LocalProtocolError(problem)
        field = (name, value)
        if self._in_static_table and field in _STATIC_FIELDS:
            middle = _encode_field(name, value)
        elif len(value) < 127:  # the length fits the 7-bit prefix (RFC 7541 §5.1)
            middle = self._literal + bytes((len(value),)) + value
        else:
            middle = self._literal + _encode_string(value)
        headers = CheckedHeaders([*self._before, field, *self._after])
        headers.block = b"".join((self._before_block, middle, self._after_block))
        return headers


class HeaderEncoder:
    """The connection's HPACK encoder.

    It never inserts into the dynamic table, so a block depends only on its fields: each
    field's encoding is cached (except secrets and ``grpc-timeout``, which change per call or
    must not linger). The first block, and the first after the peer changes
    SETTINGS_HEADER_TABLE_SIZE, starts with a size update to 0 (RFC 7541 §4.2), so the peer
    never expects us to keep table state. Strings are sent raw rather than Huffman-coded:
    request blocks are small and per-call CPU matters more than a few dozen octets."""

    __slots__ = ("_cache", "_size_update_due", "_table_size")

    def __init__(self) -> None:
        self._cache: dict[Header, bytes] = {}
        self._table_size = 4096
        self._size_update_due = True

    @property
    def table_size(self) -> int:
        return self._table_size

    @table_size.setter
    def table_size(self, value: int) -> None:
        """The peer's HEADER_TABLE_SIZE; we use none of it, and say so in the next block."""
        self._table_size = value
        self._size_update_due = True

    def encode(self, headers: Iterable[Header]) -> bytes:
        if type(headers) is CheckedHeaders:  # encoded by its template, field by field as below
            if self._size_update_due:
                self._size_update_due = False
                return _SIZE_UPDATE_TO_ZERO + headers.block
            return headers.block
        cache = self._cache
        parts: list[bytes] = []
        if self._size_update_due:
            self._size_update_due = False
            parts.append(_SIZE_UPDATE_TO_ZERO)
        for field in headers:
            encoded = cache.get(field)
            if encoded is None:
                name, value = field
                encoded = _encode_field(name, value)
                if name not in _NOT_INDEXED:
                    if len(cache) >= _FIELD_CACHE_LIMIT:
                        cache.clear()
                    cache[field] = encoded
            parts.append(encoded)
        return b"".join(parts)

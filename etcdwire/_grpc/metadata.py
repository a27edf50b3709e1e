"""Request headers, custom metadata and ``grpc-timeout`` (PROTOCOL-HTTP2.md "Requests").

Custom metadata is a sequence of ``(name, value)`` pairs. Names match ``[0-9a-z_.-]+`` and do
not start with ``grpc-``. Names ending in ``-bin`` take ``bytes`` values, sent as unpadded
base64; every other name takes a ``str`` of printable ASCII (0x20-0x7E) without leading or
trailing whitespace.
"""

from __future__ import annotations

import binascii
import math
import re
from collections.abc import Sequence
from importlib import metadata as _distribution

from etcdwire._h2.headers import RequestHeaderTemplate
from etcdwire.errors import LocalProtocolError, UsageError

__all__ = [
    "SENSITIVE_HEADERS",
    "USER_AGENT",
    "Metadata",
    "build_request_headers",
    "decode_binary",
    "decode_timeout",
    "encode_binary",
    "encode_metadata",
    "encode_timeout",
    "validate_metadata_key",
]

Metadata = Sequence[tuple[str, str | bytes]]

#: Header names the HTTP/2 layer sends as never-indexed HPACK literals (RFC 7541 §7.1.3), so
#: credentials never enter a dynamic table that a compression side channel could probe.
SENSITIVE_HEADERS = frozenset({b"authorization", b"token"})


def _version() -> str:
    try:
        return _distribution.version("etcdwire")
    except _distribution.PackageNotFoundError:
        return "0+unknown"


#: "grpc-" Language "-" Variant "/" Version (PROTOCOL-HTTP2.md "User Agents").
USER_AGENT = f"grpc-python-etcdwire/{_version()}"

_KEY = re.compile(r"[0-9a-z_.\-]+")
_ASCII_VALUE = re.compile(r"[\x20-\x7e]*")

# Names a caller may not set: the Call-Definition headers this module writes, and the
# connection-specific fields HTTP/2 forbids (RFC 9113 §8.2.2).
_FORBIDDEN_KEYS = frozenset(
    {
        "content-type",
        "user-agent",
        "te",
        "host",
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
    }
)


# --- grpc-timeout --------------------------------------------------------------------------

_MAX_TIMEOUT_VALUE = 99_999_999  # TimeoutValue: "positive integer ... of at most 8 digits"
_NANOS_PER_UNIT: tuple[tuple[str, int], ...] = (
    ("n", 1),
    ("u", 1_000),
    ("m", 1_000_000),
    ("S", 1_000_000_000),
    ("M", 60_000_000_000),
    ("H", 3_600_000_000_000),
)
_UNIT_NANOS = dict(_NANOS_PER_UNIT)
#: (most nanoseconds the unit can express in 8 digits, unit, nanoseconds per unit)
_UNIT_LIMITS = tuple((_MAX_TIMEOUT_VALUE * size, unit, size) for unit, size in _NANOS_PER_UNIT)


def encode_timeout(seconds: float) -> str:
    """Encode a remaining time as ``grpc-timeout``: the finest unit whose value fits in 8
    digits, rounded up so the server never sees a shorter deadline than ours; ``"0n"`` for
    zero or less. Longer than 99,999,999 hours is capped there."""
    if math.isnan(seconds):
        raise UsageError("timeout must be a number, not NaN")
    if seconds <= 0:
        return "0n"
    if 0.1 < seconds < 99.0:
        # The usual call timeout, in microseconds (a float's error here is far below the
        # nanosecond the exact path below rounds to).
        nanos = int(seconds * 1e9 + 0.5)
        return f"{-(-nanos // 1000)}u"
    if math.isinf(seconds):
        return f"{_MAX_TIMEOUT_VALUE}H"
    return _encode_timeout_exactly(seconds)


def _encode_timeout_exactly(seconds: float) -> str:
    """:func:`encode_timeout` for a positive finite time, in integer arithmetic throughout."""
    # Round the float's exact value to whole nanoseconds (integer arithmetic, so neither
    # 1.1 * 1e9 = 1100000000.0000002 nor precision loss on huge values pushes it up a unit).
    # The denominator is a power of two, so the division is a shift.
    numerator, denominator = float(seconds).as_integer_ratio()
    shift = denominator.bit_length() - 1
    nanos = max(1, (numerator * 1_000_000_000 + (denominator >> 1)) >> shift)
    for limit, unit, size in _UNIT_LIMITS:
        if nanos <= limit:  # i.e. ceil(nanos / size) fits in 8 digits
            return f"{-(-nanos // size)}{unit}"
    return f"{_MAX_TIMEOUT_VALUE}H"


def decode_timeout(value: str) -> float:
    """Decode a ``grpc-timeout`` value into seconds; :class:`UsageError` if malformed."""
    digits, unit = value[:-1], value[-1:]
    if (
        not 1 <= len(digits) <= 8
        or not digits.isascii()
        or not digits.isdigit()
        or unit not in _UNIT_NANOS
    ):
        raise UsageError(f"malformed grpc-timeout {value!r}")
    return int(digits) * _UNIT_NANOS[unit] / 1_000_000_000


# --- custom metadata -----------------------------------------------------------------------


def validate_metadata_key(key: str) -> None:
    """Raise :class:`UsageError` unless ``key`` may be sent as custom metadata."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise UsageError(f"invalid metadata key {key!r}: must match [0-9a-z_.-]+")
    if key.startswith("grpc-"):
        raise UsageError(f"metadata key {key!r} is reserved: grpc-* keys belong to gRPC")
    if key in _FORBIDDEN_KEYS:
        raise UsageError(f"metadata key {key!r} is reserved for the transport")


def encode_binary(value: bytes) -> bytes:
    """Base64 (RFC 4648 §4) without padding, as gRPC senders should emit."""
    return binascii.b2a_base64(value, newline=False).rstrip(b"=")


def decode_binary(value: str | bytes) -> list[bytes]:
    """Decode a received ``-bin`` value: split on "," (joined duplicates), accept padded and
    unpadded base64. :class:`UsageError` if a part is not base64."""
    raw = value.encode("latin-1") if isinstance(value, str) else value
    parts = []
    for part in raw.split(b","):
        text = part.strip()
        text += b"=" * (-len(text) % 4)
        try:
            parts.append(binascii.a2b_base64(text, strict_mode=True))
        except (binascii.Error, ValueError) as exc:
            raise UsageError(f"invalid base64 in binary metadata value {part!r}") from exc
    return parts


def _encode_value(key: str, value: str | bytes) -> bytes:
    if key.endswith("-bin"):
        if not isinstance(value, bytes | bytearray | memoryview):
            raise UsageError(f"metadata key {key!r} ends in -bin and takes a bytes value")
        return encode_binary(bytes(value))
    if not isinstance(value, str):
        raise UsageError(f"metadata key {key!r} takes a str value (use a -bin key for bytes)")
    if not _ASCII_VALUE.fullmatch(value):
        raise UsageError(f"metadata value for {key!r} must be printable ASCII (0x20-0x7E)")
    if value != value.strip(" "):
        raise UsageError(f"metadata value for {key!r} has leading or trailing whitespace")
    return value.encode("ascii")


def encode_metadata(metadata: Metadata) -> list[tuple[bytes, bytes]]:
    """Validate custom metadata and encode it as header fields, order kept."""
    fields = []
    for key, value in metadata:
        validate_metadata_key(key)
        fields.append((key.encode("ascii"), _encode_value(key, value)))
    return fields


# --- request headers -----------------------------------------------------------------------


def build_request_headers(
    path: str,
    *,
    authority: str,
    scheme: str,
    timeout: float | None = None,
    metadata: Metadata = (),
    user_agent: str = USER_AGENT,
    content_type: str = "application/grpc",
) -> list[tuple[bytes, bytes]]:
    """The Request-Headers of a call, in the order PROTOCOL-HTTP2.md gives: pseudo-headers,
    ``te``, ``grpc-timeout`` (omitted when ``timeout`` is None: no deadline), content-type,
    user-agent, then custom metadata. No ``grpc-accept-encoding``: only identity is accepted,
    which is implied. Raises :class:`UsageError` for bad input, before anything is sent."""
    key = (path, authority, scheme, tuple(metadata), user_agent, content_type)
    template = _HEADER_CACHE.get(key)
    if template is None:
        template = _template(path, authority, scheme, metadata, user_agent, content_type)
        if len(_HEADER_CACHE) >= _HEADER_CACHE_LIMIT:
            _HEADER_CACHE.clear()
        _HEADER_CACHE[key] = template
    value = None if timeout is None else encode_timeout(timeout).encode("ascii")
    if isinstance(template, tuple):
        before, after = template
        return [*before, *after] if value is None else [*before, (b"grpc-timeout", value), *after]
    return template.fill(value)


#: Header lists per call shape: everything but grpc-timeout is the same for every call of a
#: method with the same metadata, so it is built, checked and HPACK-encoded once (a template,
#: whose lists the HTTP/2 layer sends as they are). A shape HTTP/2 would refuse stays plain
#: lists, so that sending it fails as any other bad header block does.
_HeaderParts = tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]
_HEADER_CACHE: dict[tuple[object, ...], RequestHeaderTemplate | _HeaderParts] = {}
_HEADER_CACHE_LIMIT = 512


def _template(
    path: str,
    authority: str,
    scheme: str,
    metadata: Metadata,
    user_agent: str,
    content_type: str,
) -> RequestHeaderTemplate | _HeaderParts:
    before, after = _build_header_parts(path, authority, scheme, metadata, user_agent, content_type)
    try:
        return RequestHeaderTemplate(before, b"grpc-timeout", after)
    except LocalProtocolError:
        return before, after


def _build_header_parts(
    path: str,
    authority: str,
    scheme: str,
    metadata: Metadata,
    user_agent: str,
    content_type: str,
) -> _HeaderParts:
    """The headers before and after ``grpc-timeout``, validated."""
    if not path.startswith("/"):
        raise UsageError(f"method path {path!r} must start with '/'")
    if scheme not in ("http", "https"):
        raise UsageError(f"scheme must be 'http' or 'https', not {scheme!r}")
    if not authority:
        raise UsageError("authority must not be empty")
    before = [
        (b":method", b"POST"),
        (b":scheme", scheme.encode("ascii")),
        (b":path", _field("path", path)),
        (b":authority", _field("authority", authority)),
        (b"te", b"trailers"),
    ]
    after = [
        (b"content-type", _field("content-type", content_type)),
        (b"user-agent", _field("user-agent", user_agent)),
        *encode_metadata(metadata),
    ]
    return before, after


def _field(what: str, value: str) -> bytes:
    if not _ASCII_VALUE.fullmatch(value) or value != value.strip(" "):
        raise UsageError(f"{what} {value!r} must be printable ASCII without outer spaces")
    return value.encode("ascii")

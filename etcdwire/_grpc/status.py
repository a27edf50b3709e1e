"""gRPC status: from trailers, Trailers-Only, HTTP status, or RST_STREAM.

Sources: grpc/grpc ``doc/PROTOCOL-HTTP2.md`` ("Responses", "Errors"),
``doc/http-grpc-status-mapping.md`` and ``doc/statuscodes.md``.
"""

from __future__ import annotations

import binascii
import http
from collections.abc import Iterable
from dataclasses import dataclass, field

from etcdwire._h2.frames import ErrorCode
from etcdwire.errors import EtcdError, StatusCode, error_from_status

__all__ = [
    "H2ErrorCode",
    "Status",
    "http_status_to_code",
    "is_grpc_content_type",
    "percent_decode",
    "percent_encode",
    "response_metadata",
    "status_from_http",
    "status_from_reset",
    "status_from_trailers",
]

Headers = Iterable[tuple[bytes, bytes]]


#: RFC 9113 §7 error codes: the HTTP/2 layer's table (gRPC sits on HTTP/2, so it may use it).
H2ErrorCode = ErrorCode


@dataclass(frozen=True, slots=True)
class Status:
    """The outcome of one call.

    ``trailers`` holds the custom trailing metadata (reserved gRPC and HTTP fields removed;
    ``-bin`` values stay base64 text). ``not_processed`` is True only when the server said it
    did not process the request (RST_STREAM REFUSED_STREAM, or a stream above a GOAWAY's
    last-stream-id): the call may be retried even if it is not idempotent.
    """

    code: StatusCode
    message: str = ""
    details: bytes | None = None
    trailers: list[tuple[str, str]] = field(default_factory=list)
    not_processed: bool = False

    @property
    def ok(self) -> bool:
        return self.code is StatusCode.OK

    def to_exception(self, endpoint: str | None = None) -> EtcdError:
        """The named exception for this (non-OK) status; see :func:`errors.error_from_status`.

        ``not_processed`` is not carried by the exception: the retry policy reads it from the
        status (as ``maybe_sent = not status.not_processed``).
        """
        if self.ok:
            raise ValueError("an OK status has no exception")
        return error_from_status(
            self.code,
            self.message,
            details=self.details,
            trailers=self.trailers,
            endpoint=endpoint,
        )


# --- grpc-message percent-encoding ---------------------------------------------------------

# Percent-Byte-Unencoded = %x20-24 / %x26-7E ("space and VCHAR, except %").
_UNENCODED = frozenset(range(0x20, 0x7F)) - {0x25}
_HEX = b"0123456789ABCDEFabcdef"


def percent_encode(message: str) -> str:
    """Encode a status message for ``grpc-message``: UTF-8, then ``%XX`` (uppercase) for every
    byte outside 0x20-0x7E and for ``%`` itself."""
    raw = message.encode("utf-8", "replace")
    if all(byte in _UNENCODED for byte in raw):
        return message
    return "".join(chr(byte) if byte in _UNENCODED else f"%{byte:02X}" for byte in raw)


def percent_decode(value: str | bytes) -> str:
    """Decode ``grpc-message``. Never fails: a broken ``%`` escape is kept as it is, and bytes
    that do not form UTF-8 become U+FFFD (PROTOCOL-HTTP2.md: "MUST NOT error or throw away the
    message")."""
    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    if b"%" not in raw:
        return raw.decode("utf-8", "replace")
    out = bytearray()
    i = 0
    n = len(raw)
    while i < n:
        byte = raw[i]
        if byte == 0x25 and i + 2 < n and raw[i + 1] in _HEX and raw[i + 2] in _HEX:
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(byte)
            i += 1
    return bytes(out).decode("utf-8", "replace")


# --- HTTP status and content-type (doc/http-grpc-status-mapping.md) -----------------------

_HTTP_TO_GRPC: dict[int, StatusCode] = {
    400: StatusCode.INTERNAL,
    401: StatusCode.UNAUTHENTICATED,
    403: StatusCode.PERMISSION_DENIED,
    404: StatusCode.UNIMPLEMENTED,
    429: StatusCode.UNAVAILABLE,
    431: StatusCode.INTERNAL,
    502: StatusCode.UNAVAILABLE,
    503: StatusCode.UNAVAILABLE,
    504: StatusCode.UNAVAILABLE,
}


def http_status_to_code(http_status: int) -> StatusCode:
    """Map an HTTP status to a gRPC code, for responses without ``grpc-status`` only ("all
    other codes" and 200 itself are UNKNOWN)."""
    return _HTTP_TO_GRPC.get(http_status, StatusCode.UNKNOWN)


def is_grpc_content_type(content_type: str | None) -> bool:
    """``application/grpc``, optionally followed by ``+subtype`` or ``;parameters``."""
    if content_type is None:
        return False
    value = content_type.strip().lower()
    return value == "application/grpc" or value.startswith(
        ("application/grpc+", "application/grpc;")
    )


def _describe_http_status(http_status: int) -> str:
    try:
        return f"{http_status} ({http.HTTPStatus(http_status).phrase})"
    except ValueError:
        return str(http_status)


def status_from_http(
    http_status: int | None, content_type: str | None, body: bytes = b""
) -> Status:
    """Synthesize a status for a response that is not gRPC (wrong ``:status`` or content-type)
    and carries no ``grpc-status``: a proxy's or load balancer's error page, usually.

    ``body`` (already bounded by the caller) is appended to the message as text.
    """
    if http_status is None:
        return Status(StatusCode.INTERNAL, "malformed header: missing HTTP status")
    problems = []
    if http_status != 200:
        described = _describe_http_status(http_status)
        problems.append(f"unexpected HTTP status code received from server: {described}")
    if content_type is None:
        problems.append("malformed header: missing HTTP content-type")
    elif not is_grpc_content_type(content_type):
        problems.append(f"received unexpected content-type {content_type!r}")
    if not problems:
        problems.append("missing grpc-status")
    text = body.decode("utf-8", "replace").strip()
    if text:
        problems.append(f"body: {text}")
    return Status(http_status_to_code(http_status), "; ".join(problems))


# --- trailers --------------------------------------------------------------------------------

# Response fields this layer consumes; never reported as metadata (grpc-go isReservedHeader).
_RESERVED = frozenset(
    {
        "content-type",
        "te",
        "user-agent",
        "grpc-status",
        "grpc-message",
        "grpc-status-details-bin",
        "grpc-encoding",
        "grpc-accept-encoding",
        "grpc-timeout",
        "grpc-message-type",
    }
)


def _text(value: bytes) -> str:
    # Receivers must not fail on values HTTP allows but gRPC's ASCII range does not.
    return value.decode("utf-8", "replace")


def response_metadata(headers: Headers) -> list[tuple[str, str]]:
    """Custom metadata of a response header block: pseudo-headers and reserved fields dropped,
    names lowercased, ``-bin`` values left as their base64 text."""
    result = []
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        if name.startswith(":") or name in _RESERVED:
            continue
        result.append((name, _text(raw_value)))
    return result


def _decode_details(value: bytes) -> bytes | None:
    """``grpc-status-details-bin``: base64, padded or not. Undecodable values are dropped."""
    text = value.strip()
    text += b"=" * (-len(text) % 4)
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        return None


def status_from_trailers(headers: Headers, *, http_status: int | None = None) -> Status:
    """The status carried by a Trailers or Trailers-Only header block.

    ``grpc-status`` wins whenever it is present ("If grpc-status was provided, it must be
    used"); a non-integer value is UNKNOWN "malformed grpc-status". Without it the status is
    synthesized from the block's own ``:status`` and ``content-type`` (Trailers-Only) or, for
    trailers, from ``http_status`` of the response headers.
    """
    headers = list(headers)
    if headers in _PLAIN_OK:  # what servers send after nearly every successful call
        return Status(StatusCode.OK, "", None, [])
    grpc_status: bytes | None = None
    grpc_message = b""
    details: bytes | None = None
    block_status: bytes | None = None
    content_type: str | None = None
    for name, value in headers:
        if name == b"grpc-status":
            grpc_status = value
        elif name == b"grpc-message":
            grpc_message = value
        elif name == b"grpc-status-details-bin":
            details = _decode_details(value)
        elif name == b":status":
            block_status = value
        elif name == b"content-type":
            content_type = _text(value)
    trailers = response_metadata(headers)
    if grpc_status is None:
        if block_status is not None:
            synthesized = status_from_http(_parse_http_status(block_status), content_type)
        elif http_status is not None and http_status != 200:
            synthesized = status_from_http(http_status, "application/grpc")
        else:
            synthesized = Status(StatusCode.UNKNOWN, "missing grpc-status")
        return Status(synthesized.code, synthesized.message, None, trailers)
    message = percent_decode(grpc_message)
    code = _parse_grpc_status(grpc_status)
    if code is None:
        text = f"malformed grpc-status {_text(grpc_status)!r}"
        if message:
            text = f"{text}: {message}"
        return Status(StatusCode.UNKNOWN, text, details, trailers)
    return Status(code, message, details, trailers)


#: OK trailers with no message and no metadata, as grpc-go (etcd) and others send them.
_PLAIN_OK = (
    [(b"grpc-status", b"0"), (b"grpc-message", b"")],
    [(b"grpc-status", b"0")],
)
_CODES: dict[int, StatusCode] = {code.value: code for code in StatusCode}


def _parse_grpc_status(value: bytes) -> StatusCode | None:
    # 1*DIGIT; codes outside 0-16 are kept as UNKNOWN (statuscodes.md: unknown to the client).
    if not value or not value.isdigit() or len(value) > 10:
        return None
    return _CODES.get(int(value), StatusCode.UNKNOWN)


def _parse_http_status(value: bytes) -> int | None:
    if len(value) != 3 or not value.isdigit():
        return None
    return int(value)


# --- RST_STREAM (PROTOCOL-HTTP2.md "Errors") --------------------------------------------------

_RESET_TO_GRPC: dict[int, StatusCode] = {
    H2ErrorCode.REFUSED_STREAM: StatusCode.UNAVAILABLE,
    H2ErrorCode.CANCEL: StatusCode.CANCELLED,
    H2ErrorCode.ENHANCE_YOUR_CALM: StatusCode.RESOURCE_EXHAUSTED,
    H2ErrorCode.INADEQUATE_SECURITY: StatusCode.PERMISSION_DENIED,
}
# Every other code, known or not, is INTERNAL: NO_ERROR (an OK status should have come in
# trailers), PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, SETTINGS_TIMEOUT,
# STREAM_CLOSED (the spec has no mapping: the stream is gone either way), FRAME_SIZE_ERROR,
# COMPRESSION_ERROR, CONNECT_ERROR, HTTP_1_1_REQUIRED and unknown codes (RFC 9113 §7).


def _error_code_name(error_code: int) -> str:
    try:
        return f"{H2ErrorCode(error_code).name} (0x{error_code:x})"
    except ValueError:
        return f"unknown error code 0x{error_code:x}"


def status_from_reset(error_code: int, *, deadline_passed: bool, remote: bool = True) -> Status:
    """The status of a call whose stream was reset before its trailers arrived.

    REFUSED_STREAM is UNAVAILABLE with ``not_processed`` set. A CANCEL after our deadline is
    DEADLINE_EXCEEDED, generated locally. ``remote`` is False when our own HTTP/2 connection
    reset the stream (the peer broke a stream rule, or a GOAWAY excluded it).
    """
    code = _RESET_TO_GRPC.get(error_code, StatusCode.INTERNAL)
    if code is StatusCode.CANCELLED and deadline_passed:
        return Status(StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
    who = "by the server" if remote else "by the client's HTTP/2 layer"
    message = f"stream reset {who} with {_error_code_name(error_code)}"
    if error_code == H2ErrorCode.REFUSED_STREAM:
        return Status(code, message + ": request not processed", not_processed=True)
    if error_code == H2ErrorCode.ENHANCE_YOUR_CALM:
        message += ": bandwidth exhausted"
    elif error_code == H2ErrorCode.INADEQUATE_SECURITY:
        message += ": transport not secure enough for the call"
    return Status(code, message)

"""HTTP/2 frame layout (RFC 9113 §4, §6): constants, the 9-octet header, and one encoder and
one payload decoder per frame type.

Encoders return ``bytes`` ready for the wire. Decoders read a payload in place from a buffer
between ``start`` and ``end`` (the connection hands them the receive buffer itself, never a
re-sliced copy) and raise :class:`~etcdwire.errors.RemoteProtocolError` carrying the RFC 9113 §7
code when a mandatory field does not fit. Whether such an error is a stream or a connection error
is the connection's decision; these functions only know the layout.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Iterator

from etcdwire.errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "ACK",
    "CONNECTION_PREFACE",
    "END_HEADERS",
    "END_STREAM",
    "FLAG_NAMES",
    "FRAME_HEADER_SIZE",
    "MAX_FRAME_SIZE_LIMIT",
    "MAX_STREAM_ID",
    "MAX_WINDOW_INCREMENT",
    "MIN_MAX_FRAME_SIZE",
    "PADDED",
    "PRIORITY_FLAG",
    "ErrorCode",
    "FrameType",
    "SettingCode",
    "decode_data",
    "decode_goaway",
    "decode_headers",
    "decode_ping",
    "decode_priority",
    "decode_rst_stream",
    "decode_settings",
    "decode_window_update",
    "encode_continuation",
    "encode_data",
    "encode_frame",
    "encode_goaway",
    "encode_headers",
    "encode_ping",
    "encode_priority",
    "encode_rst_stream",
    "encode_settings",
    "encode_settings_ack",
    "encode_window_update",
    "flag_names",
    "iter_frames",
    "pack_header",
    "parse_header",
]

#: The client connection preface, RFC 9113 §3.4.
CONNECTION_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

FRAME_HEADER_SIZE = 9
MIN_MAX_FRAME_SIZE = 16_384  # also the initial SETTINGS_MAX_FRAME_SIZE
MAX_FRAME_SIZE_LIMIT = 16_777_215  # 2**24 - 1
MAX_STREAM_ID = 2**31 - 1
MAX_WINDOW_INCREMENT = 2**31 - 1


class FrameType(enum.IntEnum):
    """Frame type codes, RFC 9113 §6 and §11.2."""

    DATA = 0x0
    HEADERS = 0x1
    PRIORITY = 0x2
    RST_STREAM = 0x3
    SETTINGS = 0x4
    PUSH_PROMISE = 0x5
    PING = 0x6
    GOAWAY = 0x7
    WINDOW_UPDATE = 0x8
    CONTINUATION = 0x9


class ErrorCode(enum.IntEnum):
    """Error codes for RST_STREAM and GOAWAY, RFC 9113 §7."""

    NO_ERROR = 0x0
    PROTOCOL_ERROR = 0x1
    INTERNAL_ERROR = 0x2
    FLOW_CONTROL_ERROR = 0x3
    SETTINGS_TIMEOUT = 0x4
    STREAM_CLOSED = 0x5
    FRAME_SIZE_ERROR = 0x6
    REFUSED_STREAM = 0x7
    CANCEL = 0x8
    COMPRESSION_ERROR = 0x9
    CONNECT_ERROR = 0xA
    ENHANCE_YOUR_CALM = 0xB
    INADEQUATE_SECURITY = 0xC
    HTTP_1_1_REQUIRED = 0xD


class SettingCode(enum.IntEnum):
    """SETTINGS identifiers, RFC 9113 §6.5.2 (plus the two later registrations servers send)."""

    HEADER_TABLE_SIZE = 0x1
    ENABLE_PUSH = 0x2
    MAX_CONCURRENT_STREAMS = 0x3
    INITIAL_WINDOW_SIZE = 0x4
    MAX_FRAME_SIZE = 0x5
    MAX_HEADER_LIST_SIZE = 0x6
    ENABLE_CONNECT_PROTOCOL = 0x8  # RFC 8441
    NO_RFC7540_PRIORITIES = 0x9  # RFC 9218


# Flags. The same bit has different names on different frame types (§6).
END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20

FLAG_NAMES: dict[int, tuple[tuple[int, str], ...]] = {
    FrameType.DATA: ((END_STREAM, "END_STREAM"), (PADDED, "PADDED")),
    FrameType.HEADERS: (
        (END_STREAM, "END_STREAM"),
        (END_HEADERS, "END_HEADERS"),
        (PADDED, "PADDED"),
        (PRIORITY_FLAG, "PRIORITY"),
    ),
    FrameType.SETTINGS: ((ACK, "ACK"),),
    FrameType.PUSH_PROMISE: ((END_HEADERS, "END_HEADERS"), (PADDED, "PADDED")),
    FrameType.PING: ((ACK, "ACK"),),
    FrameType.CONTINUATION: ((END_HEADERS, "END_HEADERS"),),
}


def flag_names(frame_type: int, flags: int) -> tuple[str, ...]:
    """Names of the flags defined for ``frame_type`` that are set in ``flags``."""
    return tuple(name for bit, name in FLAG_NAMES.get(frame_type, ()) if flags & bit)


# Length (24 bits) and type share the first 32-bit word; then flags; then R + stream id.
_HEADER = struct.Struct(">LBL")
_U32 = struct.Struct(">L")
_U32x2 = struct.Struct(">LL")
_SETTING = struct.Struct(">HL")
_PRIORITY = struct.Struct(">LB")


def pack_header(length: int, frame_type: int, flags: int, stream_id: int) -> bytes:
    """The 9-octet frame header (§4.1); the reserved bit is sent as 0."""
    return _HEADER.pack((length << 8) | frame_type, flags, stream_id & 0x7FFFFFFF)


def parse_header(buf: bytes | bytearray | memoryview, offset: int = 0) -> tuple[int, int, int, int]:
    """``(length, type, flags, stream_id)`` of the header at ``offset``; R bit ignored (§4.1)."""
    word, flags, stream_id = _HEADER.unpack_from(buf, offset)
    return word >> 8, word & 0xFF, flags, stream_id & 0x7FFFFFFF


def encode_frame(frame_type: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """Any frame, as given: no validation. Used for control frames and by tests."""
    return pack_header(len(payload), frame_type, flags, stream_id) + payload


def iter_frames(
    buf: bytes | bytearray | memoryview,
) -> Iterator[tuple[int, int, int, int, int]]:
    """Yield ``(type, flags, stream_id, start, end)`` for each complete frame in ``buf``."""
    offset = 0
    total = len(buf)
    while total - offset >= FRAME_HEADER_SIZE:
        length, frame_type, flags, stream_id = parse_header(buf, offset)
        end = offset + FRAME_HEADER_SIZE + length
        if end > total:
            return
        yield frame_type, flags, stream_id, offset + FRAME_HEADER_SIZE, end
        offset = end


def _padding(pad_length: int | None) -> tuple[int, bytes, bytes]:
    if pad_length is None:
        return 0, b"", b""
    if not 0 <= pad_length <= 255:
        raise LocalProtocolError(f"pad length {pad_length} out of range 0..255")
    return PADDED, bytes((pad_length,)), b"\x00" * pad_length


# --- encoders ------------------------------------------------------------------------------


def encode_data(
    stream_id: int,
    data: bytes | bytearray | memoryview,
    end_stream: bool = False,
    pad_length: int | None = None,
) -> bytes:
    """One DATA frame (§6.1). ``pad_length`` adds the PADDED flag and that many zero octets."""
    pad_flag, pad_octet, padding = _padding(pad_length)
    payload = pad_octet + bytes(data) + padding
    flags = pad_flag | (END_STREAM if end_stream else 0)
    return pack_header(len(payload), FrameType.DATA, flags, stream_id) + payload


def encode_headers(
    stream_id: int,
    block: bytes,
    *,
    end_stream: bool = False,
    max_frame_size: int = MIN_MAX_FRAME_SIZE,
    pad_length: int | None = None,
    priority: tuple[int, int, bool] | None = None,
) -> bytes:
    """A HEADERS frame plus as many CONTINUATION frames as ``block`` needs at ``max_frame_size``
    (§6.2, §6.10). END_STREAM stays on the HEADERS frame; END_HEADERS goes on the last frame.
    ``priority`` is ``(depends_on, weight 1..256, exclusive)`` (deprecated, for tests only)."""
    pad_flag, pad_octet, padding = _padding(pad_length)
    prefix = pad_octet
    flags = pad_flag | (END_STREAM if end_stream else 0)
    if priority is not None:
        depends_on, weight, exclusive = priority
        word = (depends_on & 0x7FFFFFFF) | (0x80000000 if exclusive else 0)
        prefix += _PRIORITY.pack(word, weight - 1)
        flags |= PRIORITY_FLAG
    room = max_frame_size - len(prefix) - len(padding)
    if room < 0:
        raise LocalProtocolError("padding does not fit in one frame")
    first = block[:room]
    rest = block[room:]
    if not rest:
        flags |= END_HEADERS
    payload = prefix + first + padding
    parts = [pack_header(len(payload), FrameType.HEADERS, flags, stream_id), payload]
    if rest:
        view = memoryview(rest)
        for pos in range(0, len(rest), max_frame_size):
            chunk = view[pos : pos + max_frame_size]
            last = pos + max_frame_size >= len(rest)
            parts.append(encode_continuation(stream_id, chunk, end_headers=last))
    return b"".join(parts)


def encode_continuation(
    stream_id: int, fragment: bytes | memoryview, end_headers: bool = True
) -> bytes:
    """One CONTINUATION frame (§6.10)."""
    flags = END_HEADERS if end_headers else 0
    return pack_header(len(fragment), FrameType.CONTINUATION, flags, stream_id) + bytes(fragment)


def encode_settings(settings: Iterable[tuple[int, int]] = ()) -> bytes:
    """A SETTINGS frame (§6.5) with the (identifier, value) pairs in order."""
    payload = b"".join(_SETTING.pack(code, value) for code, value in settings)
    return pack_header(len(payload), FrameType.SETTINGS, 0, 0) + payload


def encode_settings_ack() -> bytes:
    """An empty SETTINGS frame with ACK (§6.5.3)."""
    return pack_header(0, FrameType.SETTINGS, ACK, 0)


def encode_ping(data: bytes, ack: bool = False) -> bytes:
    """A PING (§6.7); ``data`` must be exactly 8 octets."""
    if len(data) != 8:
        raise LocalProtocolError(f"PING payload must be 8 octets, not {len(data)}")
    return pack_header(8, FrameType.PING, ACK if ack else 0, 0) + bytes(data)


def encode_window_update(stream_id: int, increment: int) -> bytes:
    """A WINDOW_UPDATE (§6.9); increment 1..2**31-1."""
    if not 1 <= increment <= MAX_WINDOW_INCREMENT:
        raise LocalProtocolError(f"window increment {increment} out of range 1..2**31-1")
    return pack_header(4, FrameType.WINDOW_UPDATE, 0, stream_id) + _U32.pack(increment)


def encode_rst_stream(stream_id: int, error_code: int) -> bytes:
    """A RST_STREAM (§6.4)."""
    return pack_header(4, FrameType.RST_STREAM, 0, stream_id) + _U32.pack(error_code)


def encode_goaway(last_stream_id: int, error_code: int, debug_data: bytes = b"") -> bytes:
    """A GOAWAY (§6.8) on stream 0."""
    payload = _U32x2.pack(last_stream_id & 0x7FFFFFFF, error_code) + bytes(debug_data)
    return pack_header(len(payload), FrameType.GOAWAY, 0, 0) + payload


def encode_priority(stream_id: int, depends_on: int, weight: int, exclusive: bool = False) -> bytes:
    """A PRIORITY frame (§6.3, deprecated). We never send it; tests use it as a peer would."""
    payload = _PRIORITY.pack(
        (depends_on & 0x7FFFFFFF) | (0x80000000 if exclusive else 0), weight - 1
    )
    return pack_header(5, FrameType.PRIORITY, 0, stream_id) + payload


# --- decoders ------------------------------------------------------------------------------
# Each takes the payload as buf[start:end]. Sizes the caller must check first (because the
# error class depends on the stream) are noted; the rest raise here.

Buffer = bytes | bytearray | memoryview


def _error(code: ErrorCode, message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, h2_error_code=code)


def decode_padding(flags: int, buf: Buffer, start: int, end: int) -> tuple[int, int, int]:
    """``(content_start, content_end, pad_length)``; padding that does not fit is a
    PROTOCOL_ERROR, a missing Pad Length octet a FRAME_SIZE_ERROR (§6.1, §6.2)."""
    if not flags & PADDED:
        return start, end, 0
    if end <= start:
        raise _error(ErrorCode.FRAME_SIZE_ERROR, "PADDED frame without a Pad Length octet")
    pad_length = buf[start]
    if pad_length > end - start - 1:
        raise _error(ErrorCode.PROTOCOL_ERROR, "padding exceeds the frame payload")
    return start + 1, end - pad_length, pad_length


def decode_data(flags: int, buf: Buffer, start: int, end: int) -> tuple[bytes, int]:
    """``(data, pad_length)`` of a DATA payload (§6.1)."""
    content_start, content_end, pad_length = decode_padding(flags, buf, start, end)
    return bytes(buf[content_start:content_end]), pad_length


def decode_headers(
    flags: int, buf: Buffer, start: int, end: int
) -> tuple[bytes, int, tuple[int, int, bool] | None]:
    """``(fragment, pad_length, priority)`` of a HEADERS payload (§6.2)."""
    content_start, content_end, pad_length = decode_padding(flags, buf, start, end)
    priority = None
    if flags & PRIORITY_FLAG:
        if content_end - content_start < 5:
            raise _error(ErrorCode.FRAME_SIZE_ERROR, "HEADERS too short for its priority fields")
        word, weight = _PRIORITY.unpack_from(buf, content_start)
        priority = (word & 0x7FFFFFFF, weight + 1, bool(word & 0x80000000))
        content_start += 5
    return bytes(buf[content_start:content_end]), pad_length, priority


def decode_settings(buf: Buffer, start: int, end: int) -> list[tuple[int, int]]:
    """The (identifier, value) pairs of a SETTINGS payload (§6.5)."""
    if (end - start) % 6:
        raise _error(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS length is not a multiple of 6")
    unpack = _SETTING.unpack_from
    return [unpack(buf, pos) for pos in range(start, end, 6)]


def decode_ping(buf: Buffer, start: int, end: int) -> bytes:
    """The 8 opaque octets of a PING (§6.7)."""
    if end - start != 8:
        raise _error(ErrorCode.FRAME_SIZE_ERROR, "PING length is not 8")
    return bytes(buf[start:end])


def decode_window_update(buf: Buffer, start: int, end: int) -> int:
    """The increment of a WINDOW_UPDATE (§6.9); the reserved bit is dropped; 0 is returned as is
    (whether it is a stream or a connection error depends on the stream id)."""
    if end - start != 4:
        raise _error(ErrorCode.FRAME_SIZE_ERROR, "WINDOW_UPDATE length is not 4")
    value: int = _U32.unpack_from(buf, start)[0]
    return value & 0x7FFFFFFF


def decode_rst_stream(buf: Buffer, start: int, end: int) -> int:
    """The error code of a RST_STREAM (§6.4)."""
    if end - start != 4:
        raise _error(ErrorCode.FRAME_SIZE_ERROR, "RST_STREAM length is not 4")
    value: int = _U32.unpack_from(buf, start)[0]
    return value


def decode_goaway(buf: Buffer, start: int, end: int) -> tuple[int, int, bytes]:
    """``(last_stream_id, error_code, debug_data)`` of a GOAWAY (§6.8)."""
    if end - start < 8:
        raise _error(ErrorCode.FRAME_SIZE_ERROR, "GOAWAY shorter than 8 octets")
    last, code = _U32x2.unpack_from(buf, start)
    return last & 0x7FFFFFFF, code, bytes(buf[start + 8 : end])


def decode_priority(buf: Buffer, start: int, end: int) -> tuple[int, int, bool]:
    """``(depends_on, weight, exclusive)`` of a PRIORITY frame (§6.3); the caller checks the
    length first when it wants a stream error instead of this FRAME_SIZE_ERROR."""
    if end - start != 5:
        raise _error(ErrorCode.FRAME_SIZE_ERROR, "PRIORITY length is not 5")
    word, weight = _PRIORITY.unpack_from(buf, start)
    return word & 0x7FFFFFFF, weight + 1, bool(word & 0x80000000)

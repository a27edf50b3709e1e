"""gRPC message framing: the 5-byte Length-Prefixed-Message (PROTOCOL-HTTP2.md "Requests").

::

    Length-Prefixed-Message = Compressed-Flag (1 octet, 0 or 1)
                              Message-Length  (4 octets, big-endian, unsigned)
                              Message

DATA frame boundaries have no relation to message boundaries, so :class:`MessageReader` buffers
bytes across ``feed`` calls and hands back whole messages only.
"""

from __future__ import annotations

import struct

from etcdwire.errors import Internal, ResourceExhausted, RpcError, UsageError

__all__ = ["HEADER_LENGTH", "MAX_WIRE_LENGTH", "MessageReader", "encode_message"]

HEADER_LENGTH = 5
MAX_WIRE_LENGTH = 0xFFFF_FFFF  # Message-Length is a 4-octet unsigned integer

# Compact the buffer once this many consumed bytes sit in front of the unread ones (and they
# are at least half of it), so a long stream of small messages never copies quadratically.
_COMPACT_THRESHOLD = 64 * 1024

_PREFIX = struct.Struct(">BL")  # Compressed-Flag, Message-Length
_unpack_length = struct.Struct(">L").unpack_from


def encode_message(payload: bytes, *, compressed: bool = False) -> bytes:
    """Prefix ``payload`` with the compressed flag and its 4-octet big-endian length."""
    length = len(payload)
    if length > MAX_WIRE_LENGTH:
        raise UsageError(f"message of {length} bytes does not fit a gRPC length prefix")
    return _PREFIX.pack(1 if compressed else 0, length) + payload


class MessageReader:
    """Reassemble length-prefixed messages from DATA payloads.

    ``feed`` raises :class:`~etcdwire.errors.ResourceExhausted` as soon as a prefix declares a
    message longer than ``max_message_length`` (before any of its body is waited for), and
    :class:`~etcdwire.errors.Internal` for a compressed message: etcdwire negotiates no
    compression, so the flag may only be set if the server ignored that, and an unknown flag
    value is a framing error. After an error the reader is poisoned and re-raises it.
    """

    __slots__ = ("_buffer", "_error", "_length", "_offset", "encoding", "max_message_length")

    def __init__(self, max_message_length: int, *, encoding: str | None = None) -> None:
        if max_message_length < 0:
            raise UsageError("max_message_length must be >= 0")
        self.max_message_length = max_message_length
        #: The response's ``grpc-encoding`` (None or "identity" means uncompressed). Only used
        #: to explain the error when a compressed message arrives.
        self.encoding = encoding
        self._buffer = bytearray()
        self._offset = 0  # start of the unread bytes in _buffer
        self._length = -1  # body length of the current message once its prefix is read
        self._error: RpcError | None = None

    @property
    def pending_bytes(self) -> int:
        """Bytes received but not yet returned as part of a message (prefix included)."""
        pending = len(self._buffer) - self._offset
        if self._length >= 0:
            pending += HEADER_LENGTH
        return pending

    @property
    def needed_bytes(self) -> int:
        """How many more bytes complete the current partial message (0 at a boundary).

        While only part of a prefix is buffered this is what completes the prefix; once the
        prefix is read it is the rest of the body. The I/O layer grows the HTTP/2 stream window
        to cover it, so one message larger than the window cannot deadlock the stream.
        """
        available = len(self._buffer) - self._offset
        if self._length >= 0:
            return self._length - available
        if available == 0:
            return 0
        return HEADER_LENGTH - available

    @property
    def at_boundary(self) -> bool:
        """True when no partial message is buffered (a stream may end here)."""
        return self._length < 0 and len(self._buffer) == self._offset

    def feed(self, data: bytes) -> list[bytes]:
        """Add DATA payload bytes; return every message they complete, in order."""
        if self._error is not None:
            raise self._error
        buffer = self._buffer
        if self._length < 0 and not buffer and type(data) is bytes:
            # The common case: at a message boundary, one DATA frame carrying exactly one
            # whole uncompressed message. Anything else (or any error) takes the loop below.
            body = len(data) - HEADER_LENGTH
            if (
                body >= 0
                and data[0] == 0
                and _unpack_length(data, 1)[0] == body
                and body <= self.max_message_length
            ):
                return [data[HEADER_LENGTH:]]
        buffer += data
        end = len(buffer)
        offset = self._offset
        length = self._length
        messages: list[bytes] = []
        try:
            while True:
                if length < 0:
                    if end - offset < HEADER_LENGTH:
                        break
                    length = self._read_prefix(buffer, offset)
                    offset += HEADER_LENGTH
                if end - offset < length:
                    break
                messages.append(bytes(buffer[offset : offset + length]))
                offset += length
                length = -1
        finally:
            self._length = length
            if offset == end:
                buffer.clear()
                offset = 0
            elif offset >= _COMPACT_THRESHOLD and offset * 2 >= end:
                del buffer[:offset]
                offset = 0
            self._offset = offset
        return messages

    def _read_prefix(self, buffer: bytearray, offset: int) -> int:
        flag = buffer[offset]
        length = int.from_bytes(buffer[offset + 1 : offset + HEADER_LENGTH], "big")
        error: RpcError | None = None
        if flag == 1:
            if self.encoding in (None, "identity"):
                error = Internal("compressed flag set on a message but grpc-encoding is absent")
            else:
                error = Internal(f"unsupported grpc-encoding {self.encoding!r}")
        elif flag != 0:
            error = Internal(f"invalid compressed flag {flag} in message prefix")
        elif length > self.max_message_length:
            error = ResourceExhausted(
                f"received message larger than max ({length} vs. {self.max_message_length})"
            )
        if error is not None:
            self._error = error
            raise error
        return length

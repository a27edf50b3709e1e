"""The passive decoder behind ``etcdwire spy``: the bytes of one proxied connection in, trace
events out. No I/O.

:class:`ConnectionSniffer` reads both directions of one HTTP/2 connection as a bystander: the
client connection preface (RFC 9113 §3.4), then frames (§4.1) with etcdwire's own frame decoder,
field blocks with one HPACK decoder per direction (§4.3; a block may span HEADERS and
CONTINUATION frames, §6.10), gRPC length-prefixed messages reassembled across DATA frames, and
the flow-control windows each side grants (§6.9). It produces the same events a client's
``trace=`` hook receives (:mod:`etcdwire.trace`), so the same printers show them: ``"send"`` is
client to server, ``"recv"`` server to client.

Everything is best effort: the proxy forwards the bytes whatever they hold, so when a direction
cannot be decoded (not HTTP/2, an HPACK error) the sniffer reports it once and stops decoding
that connection instead of raising.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hpack

from .._etcd.methods import ALL_METHODS
from .._grpc.framing import MAX_WIRE_LENGTH, MessageReader
from .._grpc.method import Method
from .._grpc.status import status_from_reset, status_from_trailers
from .._h2.frames import (
    CONNECTION_PREFACE,
    END_HEADERS,
    END_STREAM,
    FRAME_HEADER_SIZE,
    ErrorCode,
    FrameType,
    SettingCode,
    decode_headers,
    decode_padding,
    decode_rst_stream,
    decode_settings,
    decode_window_update,
    parse_header,
)
from .._h2.trace import FrameRecord, record_frame, redact_headers
from ..trace import CallTrace, ConnectionTrace, FrameTrace, MessageTrace, TraceEvent

__all__ = ["CLIENT", "METHODS", "SERVER", "ConnectionSniffer"]

#: Direction names, as in trace events.
CLIENT = "send"  # bytes the client sent toward the server
SERVER = "recv"  # bytes the server sent back

#: Every etcd RPC by its ``:path``.
METHODS: dict[str, Method[Any, Any]] = {method.path: method for method in ALL_METHODS}

_DEFAULT_WINDOW = 65_535  # RFC 9113 §6.9.2
_DEFAULT_TABLE = 4_096  # RFC 9113 §6.5.2 SETTINGS_HEADER_TABLE_SIZE initial value
_HEADER_LIST_LIMIT = 1 << 24  # a bystander accepts whatever the peers agreed on


def _other(direction: str) -> str:
    return SERVER if direction == CLIENT else CLIENT


@dataclass
class _Side:
    """What one direction has sent so far."""

    name: str
    expect_preface: bool
    decoder: hpack.Decoder = field(default_factory=lambda: hpack.Decoder(_HEADER_LIST_LIMIT))
    buffer: bytearray = field(default_factory=bytearray)
    #: How much DATA this side may still send on the connection (granted by the other side).
    window: int = _DEFAULT_WINDOW
    #: The initial stream window for DATA this side sends (the other side's setting).
    initial_stream_window: int = _DEFAULT_WINDOW
    #: A field block in progress: (stream id, END_STREAM flag, fragments so far).
    block: tuple[int, bool, bytearray] | None = None


@dataclass
class _Stream:
    """One stream, from the request HEADERS on."""

    stream_id: int
    path: str
    method: Method[Any, Any] | None
    started: float
    readers: dict[str, MessageReader]
    windows: dict[str, int]
    http_status: int | None = None
    broken: bool = False


class ConnectionSniffer:
    """Decode both directions of one HTTP/2 connection into trace events.

    ``feed(direction, data)`` takes the bytes as they pass (``CLIENT`` or ``SERVER``) and
    returns the events they complete, in order. ``close(reason)`` ends the calls still open.
    """

    def __init__(
        self, connection_id: int, endpoint: str, *, clock: Callable[[], float] | None = None
    ) -> None:
        self.connection_id = connection_id
        self.endpoint = endpoint
        self._clock = clock or time.monotonic
        self._sides = {
            CLIENT: _Side(CLIENT, expect_preface=True),
            SERVER: _Side(SERVER, expect_preface=False),
        }
        self._streams: dict[int, _Stream] = {}
        #: Why decoding stopped, once it has.
        self.broken: str | None = None
        self.calls_started = 0
        self.calls_ended = 0

    # --- input ---------------------------------------------------------------------------

    def feed(self, direction: str, data: bytes) -> list[TraceEvent]:
        if self.broken is not None or not data:
            return []
        side = self._sides[direction]
        side.buffer += data
        events: list[TraceEvent] = []
        try:
            if side.expect_preface and not self._take_preface(side):
                return events
            self._take_frames(side, events)
        except Exception as exc:  # a bystander reports what it cannot read, never raises
            self.broken = f"stopped decoding: {exc}"
            side.buffer.clear()
            events.append(
                ConnectionTrace(self.connection_id, self.endpoint, "decode-error", self.broken)
            )
        return events

    def close(self, reason: str) -> list[TraceEvent]:
        """End every call still open (``reason`` becomes its message)."""
        events: list[TraceEvent] = []
        now = self._clock()
        for stream in list(self._streams.values()):
            events.append(self._end(stream, None, reason, now))
        return events

    def _take_preface(self, side: _Side) -> bool:
        size = len(CONNECTION_PREFACE)
        head = bytes(side.buffer[:size])
        if not CONNECTION_PREFACE.startswith(head):
            hint = ""
            if head[:2] == b"\x16\x03":
                hint = " (a TLS ClientHello: this client expects TLS)"
            raise ValueError(
                f"the client did not send the HTTP/2 connection preface ({head[:16]!r}){hint}"
            )
        if len(head) < size:
            return False
        del side.buffer[:size]
        side.expect_preface = False
        return True

    def _take_frames(self, side: _Side, events: list[TraceEvent]) -> None:
        buffer = side.buffer
        offset = 0
        total = len(buffer)
        try:
            while total - offset >= FRAME_HEADER_SIZE:
                length, frame_type, flags, stream_id = parse_header(buffer, offset)
                end = offset + FRAME_HEADER_SIZE + length
                if end > total:
                    break
                self._frame(side, frame_type, flags, stream_id, offset + FRAME_HEADER_SIZE, end,
                            events)
                offset = end
        finally:
            del buffer[:offset]

    # --- frames --------------------------------------------------------------------------

    def _frame(
        self,
        side: _Side,
        frame_type: int,
        flags: int,
        stream_id: int,
        start: int,
        end: int,
        events: list[TraceEvent],
    ) -> None:
        buf = side.buffer
        record = record_frame(side.name, frame_type, flags, stream_id, buf, start, end)
        # The event is made first (its time is the frame's); what the frame completes is
        # filled into the record and added after it.
        events.append(FrameTrace(self.connection_id, record))
        after = events
        if frame_type == FrameType.DATA:
            self._data(side, record, flags, stream_id, start, end, after)
        elif frame_type == FrameType.HEADERS:
            fragment, _, _ = decode_headers(flags, buf, start, end)
            side.block = (stream_id, bool(flags & END_STREAM), bytearray(fragment))
            if flags & END_HEADERS:
                self._block_done(side, record, after)
        elif frame_type == FrameType.CONTINUATION and side.block is not None:
            side.block[2].extend(buf[start:end])
            if flags & END_HEADERS:
                self._block_done(side, record, after)
        elif frame_type == FrameType.SETTINGS and not record.ack:
            self._settings(side, decode_settings(buf, start, end))
        elif frame_type == FrameType.WINDOW_UPDATE:
            self._window_update(side, record, stream_id, decode_window_update(buf, start, end))
        elif frame_type == FrameType.RST_STREAM:
            self._reset(side, stream_id, decode_rst_stream(buf, start, end), after)

    def _data(
        self,
        side: _Side,
        record: FrameRecord,
        flags: int,
        stream_id: int,
        start: int,
        end: int,
        events: list[TraceEvent],
    ) -> None:
        side.window -= end - start  # the whole payload counts, padding included (§6.9.1)
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        stream.windows[side.name] -= end - start
        if stream.broken:
            return
        content_start, content_end, _ = decode_padding(flags, side.buffer, start, end)
        chunk = bytes(side.buffer[content_start:content_end])
        try:
            payloads = stream.readers[side.name].feed(chunk)
        except Exception as exc:  # e.g. a compressed message: the rest of the stream is opaque
            stream.broken = True
            events.append(
                ConnectionTrace(
                    self.connection_id,
                    self.endpoint,
                    "decode-error",
                    f"stream {stream_id} {stream.path}: {exc}; its messages are not decoded",
                )
            )
            return
        message_type = None
        if stream.method is not None:
            method = stream.method
            message_type = method.request_type if side.name == CLIENT else method.response_type
        for payload in payloads:
            events.append(
                MessageTrace(
                    self.connection_id, stream_id, stream.path, side.name, payload, message_type
                )
            )

    def _block_done(self, side: _Side, record: FrameRecord, events: list[TraceEvent]) -> None:
        assert side.block is not None
        stream_id, end_stream, block = side.block
        side.block = None
        fields = [(bytes(n), bytes(v)) for n, v in side.decoder.decode(bytes(block), raw=True)]
        record.headers = redact_headers(fields)
        if side.name == CLIENT:
            self._request_headers(stream_id, fields, events)
        else:
            self._response_headers(stream_id, fields, end_stream, events)

    def _request_headers(
        self, stream_id: int, fields: list[tuple[bytes, bytes]], events: list[TraceEvent]
    ) -> None:
        if stream_id in self._streams:
            return  # client trailers: gRPC clients send none
        path = next((v for n, v in fields if n == b":path"), b"").decode("utf-8", "replace")
        client, server = self._sides[CLIENT], self._sides[SERVER]
        stream = _Stream(
            stream_id,
            path,
            METHODS.get(path),
            self._clock(),
            {CLIENT: MessageReader(MAX_WIRE_LENGTH), SERVER: MessageReader(MAX_WIRE_LENGTH)},
            {CLIENT: client.initial_stream_window, SERVER: server.initial_stream_window},
        )
        self._streams[stream_id] = stream
        self.calls_started += 1
        events.append(CallTrace(self.connection_id, stream_id, path, "start"))

    def _response_headers(
        self,
        stream_id: int,
        fields: list[tuple[bytes, bytes]],
        end_stream: bool,
        events: list[TraceEvent],
    ) -> None:
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        is_trailers = end_stream or any(name == b"grpc-status" for name, _ in fields)
        if not is_trailers:
            status = next((v for n, v in fields if n == b":status"), b"")
            stream.http_status = int(status) if status.isdigit() else None
            return
        outcome = status_from_trailers(fields, http_status=stream.http_status)
        events.append(self._end(stream, int(outcome.code), outcome.message, self._clock()))

    def _end(self, stream: _Stream, code: int | None, message: str, now: float) -> CallTrace:
        self._streams.pop(stream.stream_id, None)
        self.calls_ended += 1
        return CallTrace(
            self.connection_id,
            stream.stream_id,
            stream.path,
            "end",
            code=code,
            message=message,
            duration=now - stream.started,
        )

    def _reset(
        self, side: _Side, stream_id: int, error_code: int, events: list[TraceEvent]
    ) -> None:
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        code = status_from_reset(error_code, deadline_passed=False).code
        try:
            name = ErrorCode(error_code).name
        except ValueError:
            name = f"0x{error_code:x}"
        who = "client" if side.name == CLIENT else "server"
        events.append(self._end(stream, int(code), f"RST_STREAM {name} from the {who}",
                                self._clock()))

    # --- settings and windows --------------------------------------------------------------

    def _settings(self, side: _Side, pairs: list[tuple[int, int]]) -> None:
        peer = self._sides[_other(side.name)]
        for code, value in pairs:
            if code == SettingCode.HEADER_TABLE_SIZE:
                # The sender's decoder limit bounds what the peer's encoder may use (§4.3.1);
                # a bystander takes it at once (the peer may only use it after the ACK).
                peer.decoder.max_allowed_table_size = max(value, _DEFAULT_TABLE)
            elif code == SettingCode.INITIAL_WINDOW_SIZE:
                delta = value - peer.initial_stream_window
                peer.initial_stream_window = value
                for stream in self._streams.values():  # §6.9.2: open streams move by the delta
                    stream.windows[peer.name] += delta

    def _window_update(
        self, side: _Side, record: FrameRecord, stream_id: int, increment: int
    ) -> None:
        # A WINDOW_UPDATE from one side lets the other side send more.
        peer = self._sides[_other(side.name)]
        if stream_id == 0:
            before = peer.window
            peer.window += increment
            record.conn_window = (before, peer.window)
            return
        stream = self._streams.get(stream_id)
        if stream is not None:
            before = stream.windows[peer.name]
            stream.windows[peer.name] = before + increment
            record.stream_window = (before, before + increment)

    # --- inspection ----------------------------------------------------------------------

    @property
    def open_streams(self) -> list[int]:
        return sorted(self._streams)

    def window(self, direction: str, stream_id: int = 0) -> int:
        """The send window of ``direction`` on the connection or on a stream."""
        if stream_id == 0:
            return self._sides[direction].window
        return self._streams[stream_id].windows[direction]

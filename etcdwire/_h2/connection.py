"""The sans-IO HTTP/2 client connection: bytes in, events out (RFC 9113).

:class:`H2Connection` does no I/O, reads no clock and starts no thread. The I/O shell feeds it
what the socket read (:meth:`~H2Connection.receive_data`, which returns events from
:mod:`etcdwire._h2.events`), calls the ``send_*`` methods, and writes whatever
:meth:`~H2Connection.data_to_send` returns.

Public interface::

    H2Connection(*, max_concurrent_streams_cap=1000, initial_window_size=4 MiB,
                 connection_window=16 MiB, max_frame_size=16384, max_header_list_size=65536,
                 header_table_size=4096, max_stream_id=2**31-1, trace=None)
    initiate_connection() -> None
    receive_data(data: bytes | bytearray | memoryview) -> list[Event]
    data_to_send(amount: int | None = None) -> bytes
    has_data_to_send -> bool                            # without building the bytes
    get_next_available_stream_id() -> int
    open_stream(headers, end_stream=False) -> int      # allocate the id and send HEADERS at once
    send_headers(stream_id, headers, end_stream=False) -> None
    send_data(stream_id, data, end_stream=False) -> None
    end_stream(stream_id) -> None
    reset_stream(stream_id, error_code=ErrorCode.CANCEL) -> None
    acknowledge_received_data(stream_id, n) -> None
    ensure_stream_window(stream_id, needed) -> None
    ping(data: bytes) -> None
    close_connection(error_code=0, last_stream_id=0, debug=b"") -> None
    local_flow_control_window(stream_id) -> int
    stream_state(stream_id) -> StreamState
    receive_window(stream_id) -> ReceiveWindow | None     # 0 = the connection; read-only use
    properties: max_outbound_frame_size, max_inbound_frame_size, open_outbound_streams,
        can_open_stream, remote_settings, local_settings, goaway_received, closed,
        preface_received

Errors. A peer that breaks a connection-level rule makes ``receive_data`` queue a GOAWAY with
the RFC 9113 §7 code, mark the connection :attr:`~H2Connection.closed` and raise
:class:`~etcdwire.errors.RemoteProtocolError` (``h2_error_code`` set); events decoded earlier in
the same call are dropped with it, since every stream dies with the connection. Flush
``data_to_send()`` (it ends with that GOAWAY) and close the socket. No other exception type
leaves ``receive_data``. A stream-level violation queues RST_STREAM and yields
``StreamReset(remote=False)``; the connection goes on. Calls that would send something illegal
raise :class:`~etcdwire.errors.LocalProtocolError` and change nothing.

Stream ids. Ids are allocated when the HEADERS is serialised, so they always go out in
increasing order: ``open_stream`` does both at once; ``get_next_available_stream_id`` only
peeks (it returns the same id until a HEADERS uses it). Once the id would pass
``max_stream_id``, ``can_open_stream`` is False and a new connection is needed.

Flow control. Sending: ``send_data`` refuses more than ``local_flow_control_window`` (which may
be negative after a SETTINGS change); wait for ``WindowUpdated`` (``WindowUpdated(0, 0)`` means
"every stream's window moved") and retry. Receiving: connection credit goes back automatically
as DATA is parsed; stream credit only through ``acknowledge_received_data`` with the event's
``flow_controlled_length``; both in batches of a quarter window. ``ensure_stream_window`` grows a
stream's window when the reader waits for more bytes than the window allows.

GOAWAY. After one is received no new stream may be opened; open streams above its last stream id
are closed at once with ``StreamReset(REFUSED_STREAM, remote=False)`` (no RST_STREAM is sent: the
server ignores those streams, §6.8). When no stream is left, a GOAWAY(NO_ERROR) reply is queued
and the connection becomes ``closed``: flush and close the socket.
"""

from __future__ import annotations

import collections
import logging
import struct
from collections.abc import Callable, Sequence
from typing import Final

from etcdwire._h2.events import (
    DataReceived,
    Event,
    GoAwayReceived,
    InformationalResponseReceived,
    PingAckReceived,
    PingReceived,
    RemoteSettingsChanged,
    ResponseReceived,
    SettingsAcknowledged,
    StreamEnded,
    StreamReset,
    TrailersReceived,
    UnknownFrameReceived,
    WindowUpdated,
)
from etcdwire._h2.flow import MAX_WINDOW_SIZE, ReceiveWindow
from etcdwire._h2.frames import (
    ACK,
    CONNECTION_PREFACE,
    END_HEADERS,
    END_STREAM,
    PADDED,
    PRIORITY_FLAG,
    ErrorCode,
    FrameType,
    SettingCode,
    decode_goaway,
    decode_padding,
    decode_ping,
    decode_rst_stream,
    decode_settings,
    decode_window_update,
    encode_goaway,
    encode_headers,
    encode_ping,
    encode_rst_stream,
    encode_settings,
    encode_settings_ack,
    encode_window_update,
    iter_frames,
)
from etcdwire._h2.headers import (
    CheckedHeaders,
    HeaderDecoder,
    HeaderEncoder,
    check_request_headers,
)
from etcdwire._h2.settings import DEFAULT_INITIAL_WINDOW_SIZE, Settings, check_remote_setting
from etcdwire._h2.settings import client_settings as _client_settings
from etcdwire._h2.stream import _NEXT, Stream, StreamInput, StreamState
from etcdwire._h2.trace import FrameRecord, TraceHook, record_frame, redact_headers
from etcdwire.errors import LocalProtocolError, RemoteProtocolError, UsageError

__all__ = ["H2Connection"]

log = logging.getLogger("etcdwire.h2")

MiB: Final = 1 << 20
_HEADER = struct.Struct(">LBL")
_DATA_HEADER = _HEADER.pack  # (length << 8 | DATA, flags, stream_id)
_MAX_QUEUED_ACKS: Final = 1_000  # §10.5: unflushed PING/SETTINGS ACKs before ENHANCE_YOUR_CALM
_ENCODER_TABLE_CAP: Final = 4_096  # we never let our encoder use a larger table
_CLOSED_STATE = StreamState.CLOSED

_OPEN_STATE = StreamState.OPEN
_IDLE_STATE = StreamState.IDLE

_SEND_HEADERS = StreamInput.SEND_HEADERS
_SEND_DATA = StreamInput.SEND_DATA
_SEND_END_STREAM = StreamInput.SEND_END_STREAM
_SEND_WINDOW_UPDATE = StreamInput.SEND_WINDOW_UPDATE
_RECV_HEADERS = StreamInput.RECV_HEADERS
_RECV_DATA = StreamInput.RECV_DATA
_RECV_END_STREAM = StreamInput.RECV_END_STREAM
_RECV_WINDOW_UPDATE = StreamInput.RECV_WINDOW_UPDATE
_HEADERS_FRAME = FrameType.HEADERS
_PING_ACK_HEADER = encode_ping(bytes(8), ack=True)[:9]  # what precedes the 8 echoed octets
_AWAITING = Stream.AWAITING_RESPONSE
_BODY = Stream.BODY
_TRAILERS = Stream.TRAILERS

Headers = Sequence[tuple[bytes, bytes]]
_Handler = Callable[["H2Connection", int, int, bytes, int, int], None]


def _error(code: int, message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, h2_error_code=code)


class H2Connection:
    """One HTTP/2 client connection's state. See the module docstring for the whole interface."""

    def __init__(
        self,
        *,
        max_concurrent_streams_cap: int = 1000,
        initial_window_size: int = 4 * MiB,
        connection_window: int = 16 * MiB,
        max_frame_size: int = 16_384,
        max_header_list_size: int = 65_536,
        header_table_size: int = 4_096,
        max_stream_id: int = 2**31 - 1,
        trace: TraceHook | None = None,
    ) -> None:
        if max_concurrent_streams_cap < 1:
            raise UsageError("max_concurrent_streams_cap must be at least 1")
        if not 1 <= max_stream_id <= 2**31 - 1:
            raise UsageError("max_stream_id must be within 1..2**31-1")
        if not DEFAULT_INITIAL_WINDOW_SIZE <= connection_window <= MAX_WINDOW_SIZE:
            raise UsageError("connection_window must be within 65535..2**31-1")
        self._local, self._settings_pairs = _client_settings(
            header_table_size=header_table_size,
            initial_window_size=initial_window_size,
            max_frame_size=max_frame_size,
            max_header_list_size=max_header_list_size,
        )
        self._remote = Settings()
        self._cap = max_concurrent_streams_cap
        self._limit = max_concurrent_streams_cap  # _stream_limit(), kept current by SETTINGS
        self._max_stream_id = max_stream_id
        self._max_header_list_size = max_header_list_size
        # A field block may be at most this long on the wire (CONTINUATION flood, CVE-2023-45288).
        self._block_limit = 2 * max_header_list_size + max_frame_size
        self._trace = trace

        self._streams: dict[int, Stream] = {}
        self._next_stream_id = 1
        self._conn_send_window = DEFAULT_INITIAL_WINDOW_SIZE
        # The peer starts with 65535 octets of connection credit; initiate_connection grants
        # the rest of connection_window right after the preface.
        self._conn_in = ReceiveWindow(connection_window, available=DEFAULT_INITIAL_WINDOW_SIZE)
        self._hdec = HeaderDecoder(hard_limit=max(MiB, 4 * max_header_list_size))
        self._henc = HeaderEncoder()
        self._unacked_settings: collections.deque[list[tuple[int, int]]] = collections.deque()

        self._initiated = False
        self._closed = False
        self._preface_received = False
        self._goaway: GoAwayReceived | None = None

        # Receive buffer: a partial frame kept between calls, and how many octets it must
        # reach before parsing is worth trying again.
        self._pending = bytearray()
        self._need = 9
        self._events: list[Event] = []
        self._rec: FrameRecord | None = None
        self._deferred: list[FrameRecord] = []
        # A field block being assembled: stream id (0 = none), HEADERS flags, fragments, size.
        self._hb_sid = 0
        self._hb_flags = 0
        self._hb_parts: list[bytes] = []
        self._hb_size = 0

        # Output: control frames that jump ahead (preface, PING, PING ACK, connection
        # WINDOW_UPDATE), then everything else in order; _head is what a partial
        # data_to_send(amount) left of a joined buffer.
        self._ctrl: list[bytes] = []
        self._out: list[bytes | memoryview] = []
        self._head: memoryview | None = None
        self._queued_acks = 0

    # --- properties -----------------------------------------------------------------------

    @property
    def remote_settings(self) -> Settings:
        """The server's settings as received so far (initial values until its SETTINGS)."""
        return self._remote

    @property
    def local_settings(self) -> Settings:
        """The settings we advertise."""
        return self._local

    @property
    def max_outbound_frame_size(self) -> int:
        return self._remote.max_frame_size

    @property
    def max_inbound_frame_size(self) -> int:
        return self._local.max_frame_size

    @property
    def open_outbound_streams(self) -> int:
        """Streams we opened that are not closed yet (each counts against the peer's limit)."""
        return len(self._streams)

    @property
    def can_open_stream(self) -> bool:
        """False once closed, after a GOAWAY, at the concurrency limit or out of stream ids."""
        return (
            self._initiated
            and not self._closed
            and self._goaway is None
            and self._next_stream_id <= self._max_stream_id
            and len(self._streams) < self._limit
        )

    @property
    def goaway_received(self) -> GoAwayReceived | None:
        return self._goaway

    @property
    def closed(self) -> bool:
        """True after a connection error, close_connection(), or the GOAWAY drain finished."""
        return self._closed

    @property
    def preface_received(self) -> bool:
        """True once the server's first SETTINGS arrived: the connection is ready."""
        return self._preface_received

    def _stream_limit(self) -> int:
        peer = self._remote.max_concurrent_streams
        return self._cap if peer is None else min(peer, self._cap)

    def stream_state(self, stream_id: int) -> StreamState:
        stream = self._streams.get(stream_id)
        if stream is not None:
            return stream.state
        if stream_id & 1 and stream_id >= self._next_stream_id and not self._closed:
            return StreamState.IDLE
        return StreamState.CLOSED

    def local_flow_control_window(self, stream_id: int) -> int:
        """Octets of DATA we may send on the stream now: min(stream, connection) window."""
        stream = self._streams.get(stream_id)
        if stream is None:
            raise LocalProtocolError(f"stream {stream_id} is not open")
        return min(stream.send_window, self._conn_send_window)

    def receive_window(self, stream_id: int) -> ReceiveWindow | None:
        """The receive window of a stream, or of the connection for 0; None for a stream that
        is not open. For inspection only."""
        if stream_id == 0:
            return self._conn_in
        stream = self._streams.get(stream_id)
        return None if stream is None else stream.inbound

    # --- output ---------------------------------------------------------------------------

    @property
    def has_data_to_send(self) -> bool:
        """True when :meth:`data_to_send` would return something: a cheap check for the I/O
        layer before it takes a write lock."""
        return bool(self._ctrl or self._out or self._head)

    def data_to_send(self, amount: int | None = None) -> bytes:
        """Everything queued for the wire (or its first ``amount`` octets)."""
        self._queued_acks = 0
        head = self._head
        if amount is None:
            if not (self._ctrl or self._out or head):
                return b""
            parts: list[bytes | memoryview] = [head] if head else []
            parts += self._ctrl
            parts += self._out
            self._ctrl.clear()
            self._out.clear()
            self._head = None
            return b"".join(parts)
        if head is None or (len(head) < amount and (self._ctrl or self._out)):
            parts = [head] if head else []
            parts += self._ctrl
            parts += self._out
            self._ctrl.clear()
            self._out.clear()
            head = memoryview(b"".join(parts))
        chunk = head[:amount].tobytes()
        rest = head[amount:]
        self._head = rest if len(rest) else None
        return chunk

    def _queue(self, frame: bytes) -> None:
        self._out.append(frame)
        if self._trace is not None:
            self._trace_sent(frame)

    def _queue_control(self, frame: bytes) -> None:
        self._ctrl.append(frame)
        if self._trace is not None:
            self._trace_sent(frame)

    def _trace_sent(
        self,
        frames: bytes,
        headers: Headers | None = None,
        conn_window: tuple[int, int] | None = None,
        stream_window: tuple[int, int] | None = None,
    ) -> None:
        trace = self._trace
        assert trace is not None
        for frame_type, flags, stream_id, start, end in iter_frames(frames):
            record = record_frame("send", frame_type, flags, stream_id, frames, start, end)
            if headers is not None and frame_type == FrameType.HEADERS:
                record.headers = redact_headers(headers)
            record.conn_window = conn_window
            record.stream_window = stream_window
            self._call_trace(record)

    def _call_trace(self, record: FrameRecord) -> None:
        assert self._trace is not None
        if self._rec is not None and record.direction == "send":
            self._deferred.append(record)
            return
        try:
            self._trace(record)
        except Exception:  # a broken hook must not break the connection
            log.exception("frame trace hook failed")

    # --- starting and stopping -------------------------------------------------------------

    def initiate_connection(self) -> None:
        """Queue the client preface: the magic octets, our SETTINGS (ENABLE_PUSH=0 and the
        configured values) and a WINDOW_UPDATE opening the connection window (§3.4)."""
        if self._initiated:
            raise LocalProtocolError("the connection was already initiated")
        self._initiated = True
        self._ctrl.append(CONNECTION_PREFACE)
        self._queue_control(encode_settings(self._settings_pairs))
        self._unacked_settings.append(self._settings_pairs)
        extra = self._conn_in.size - self._conn_in.available
        if extra > 0:
            before = self._conn_in.available
            self._conn_in.available += extra
            frame = encode_window_update(0, extra)
            self._ctrl.append(frame)
            if self._trace is not None:
                self._trace_sent(frame, conn_window=(before, self._conn_in.available))

    def close_connection(
        self, error_code: int = ErrorCode.NO_ERROR, last_stream_id: int = 0, debug: bytes = b""
    ) -> None:
        """Queue a GOAWAY and mark the connection closed; nothing more can be sent on it."""
        self._check_initiated()
        if self._closed:
            return
        self._queue(encode_goaway(last_stream_id, error_code, debug))
        self._mark_closed()

    def _mark_closed(self) -> None:
        self._closed = True
        self._streams.clear()
        self._hb_sid = 0
        self._pending.clear()

    def _check_initiated(self) -> None:
        if not self._initiated:
            raise LocalProtocolError("call initiate_connection() first")

    def _check_open(self) -> None:
        if not self._initiated:
            raise LocalProtocolError("call initiate_connection() first")
        if self._closed:
            raise LocalProtocolError("the connection is closed")

    # --- sending on streams ------------------------------------------------------------------

    def get_next_available_stream_id(self) -> int:
        """The id the next new stream will get. Nothing is reserved: it stays the same until a
        HEADERS uses it. LocalProtocolError once ids are exhausted."""
        self._check_open()
        stream_id = self._next_stream_id
        if stream_id > self._max_stream_id:
            raise LocalProtocolError("stream ids exhausted; open a new connection")
        return stream_id

    def open_stream(self, headers: Headers, end_stream: bool = False) -> int:
        """Allocate the next stream id and send the request HEADERS on it; returns the id."""
        stream_id = self.get_next_available_stream_id()
        self.send_headers(stream_id, headers, end_stream)
        return stream_id

    def open_request(self, headers: Headers, body: bytes | None = None) -> tuple[int, bool]:
        """Open the next stream with ``headers`` and, when the flow-control windows take
        ``body`` whole in one frame, queue it right behind them with END_STREAM (a unary
        request). Returns the stream id and whether the body went; when it did not, the
        stream is open and the caller sends the body with :meth:`send_data`."""
        stream_id = self.get_next_available_stream_id()
        self.send_headers(stream_id, headers)
        if body is None or type(body) is not bytes:
            return stream_id, False
        stream = self._streams[stream_id]
        length = len(body)
        room = min(stream.send_window, self._conn_send_window, self._remote.max_frame_size)
        if not 0 < length <= room:
            return stream_id, False
        stream.send_window -= length
        self._conn_send_window -= length
        self._queue_data(stream_id, END_STREAM, body)
        self._send_end_stream(stream)
        return stream_id, True

    def send_headers(self, stream_id: int, headers: Headers, end_stream: bool = False) -> None:
        """Send a request header block (opening the stream) or, on an open stream, trailers
        (which must end the stream). Split into CONTINUATION frames at the peer's
        MAX_FRAME_SIZE. ``authorization``/``token`` are sent never-indexed."""
        self._check_open()
        stream = self._streams.get(stream_id)
        if stream is None:
            self._check_new_stream(stream_id)
            if type(headers) is not CheckedHeaders:
                check_request_headers(headers)
            stream = Stream(
                stream_id, self._remote.initial_window_size, self._local.initial_window_size
            )
            new_state = _OPEN_STATE  # TRANSITIONS[(IDLE, SEND_HEADERS)]
        else:
            nxt = _NEXT[stream.state][_SEND_HEADERS]
            if nxt is None:
                raise LocalProtocolError(
                    f"cannot send HEADERS on stream {stream_id} in state {stream.state.name}"
                )
            if not end_stream:
                raise LocalProtocolError("a second header block (trailers) must end the stream")
            check_request_headers(headers, trailers=True)
            new_state = nxt
        block = self._henc.encode(headers)
        if len(block) <= self._remote.max_frame_size:  # one HEADERS frame, the usual case
            flags = END_HEADERS | END_STREAM if end_stream else END_HEADERS
            frames = _HEADER.pack(len(block) << 8 | _HEADERS_FRAME, flags, stream_id) + block
        else:
            frames = encode_headers(
                stream_id, block, end_stream=end_stream, max_frame_size=self._remote.max_frame_size
            )
        self._out.append(frames)
        if self._trace is not None:
            self._trace_sent(frames, headers=headers)
        if stream.state is _IDLE_STATE:
            self._streams[stream_id] = stream
            self._next_stream_id = stream_id + 2
        stream.state = new_state
        if end_stream:
            self._send_end_stream(stream)

    def _check_new_stream(self, stream_id: int) -> None:
        if stream_id < self._next_stream_id:
            raise LocalProtocolError(
                f"stream {stream_id} is closed, or lower than an id already used"
            )
        if not stream_id & 1:
            raise LocalProtocolError(f"client stream ids are odd, not {stream_id}")
        if stream_id > self._max_stream_id:
            raise LocalProtocolError("stream ids exhausted; open a new connection")
        if self._goaway is not None:
            raise LocalProtocolError("GOAWAY received: no new streams on this connection")
        if len(self._streams) >= self._limit:
            raise LocalProtocolError(
                f"{len(self._streams)} streams open; the limit is {self._stream_limit()}"
            )

    def _send_end_stream(self, stream: Stream) -> None:
        nxt = _NEXT[stream.state][_SEND_END_STREAM]
        assert nxt is not None  # callers checked SEND_HEADERS/SEND_DATA from the same state
        stream.state = nxt
        if nxt is _CLOSED_STATE:
            self._forget(stream)

    def send_data(
        self, stream_id: int, data: bytes | bytearray | memoryview, end_stream: bool = False
    ) -> None:
        """Send DATA, split at the peer's MAX_FRAME_SIZE. All of it must fit the flow-control
        window (``local_flow_control_window``) or LocalProtocolError is raised and nothing is
        sent; an empty DATA (e.g. to end the stream) is always allowed (§6.9.1)."""
        self._check_open()
        stream = self._streams.get(stream_id)
        if stream is None:
            raise LocalProtocolError(f"stream {stream_id} is not open")
        if _NEXT[stream.state][_SEND_DATA] is None:
            raise LocalProtocolError(
                f"cannot send DATA on stream {stream_id} in state {stream.state.name}"
            )
        length = len(data)
        flags = END_STREAM if end_stream else 0
        if length:
            window = min(stream.send_window, self._conn_send_window)
            if length > window:
                raise LocalProtocolError(
                    f"{length} octets exceed the flow-control window ({window}) of stream "
                    f"{stream_id}"
                )
            if type(data) is not bytes:
                data = bytes(data)  # never keep a reference to a buffer the caller may reuse
            stream.send_window -= length
            self._conn_send_window -= length
            max_size = self._remote.max_frame_size
            if length <= max_size:
                self._queue_data(stream_id, flags, data)
            else:
                view = memoryview(data)
                for pos in range(0, length, max_size):
                    last = pos + max_size >= length
                    self._queue_data(stream_id, flags if last else 0, view[pos : pos + max_size])
        else:
            self._queue_data(stream_id, flags, b"")
        if end_stream:
            self._send_end_stream(stream)

    def _queue_data(self, stream_id: int, flags: int, chunk: bytes | memoryview) -> None:
        out = self._out
        out.append(_DATA_HEADER(len(chunk) << 8, flags, stream_id))  # type DATA is 0
        if chunk:
            out.append(chunk)
        if self._trace is not None:
            self._call_trace(FrameRecord("send", FrameType.DATA, flags, stream_id, len(chunk)))

    def end_stream(self, stream_id: int) -> None:
        """End our side of the stream with an empty DATA frame (allowed at zero window)."""
        self.send_data(stream_id, b"", end_stream=True)

    def reset_stream(self, stream_id: int, error_code: int = ErrorCode.CANCEL) -> None:
        """Send RST_STREAM. A stream that is already closed is left alone (at most one
        RST_STREAM per stream, and never one in answer to the peer's)."""
        self._check_initiated()
        if self._closed:
            return
        stream = self._streams.get(stream_id)
        if stream is None:
            if stream_id & 1 and stream_id >= self._next_stream_id:
                raise LocalProtocolError(f"stream {stream_id} is idle; there is nothing to reset")
            return
        self._queue(encode_rst_stream(stream_id, error_code))
        stream.state = _CLOSED_STATE
        self._forget(stream)

    def acknowledge_received_data(self, stream_id: int, n: int) -> None:
        """The application consumed ``n`` flow-controlled octets (``DataReceived.
        flow_controlled_length``) of the stream; credit goes back in batches. Closed streams
        are ignored: their connection credit was already returned."""
        if n < 0:
            raise LocalProtocolError("cannot acknowledge a negative amount")
        stream = self._streams.get(stream_id)
        if stream is None or not n or self._closed:
            return
        inbound = stream.inbound
        before = inbound.available
        try:
            increment = inbound.acknowledge(n)
        except ValueError as exc:
            raise LocalProtocolError(str(exc)) from exc
        if increment:
            self._send_stream_window_update(stream, increment, before)

    def ensure_stream_window(self, stream_id: int, needed: int) -> None:
        """Let the peer send at least ``needed`` more octets on the stream, growing its window
        when needed (for a message larger than the window); a no-op when already possible."""
        stream = self._streams.get(stream_id)
        if stream is None or self._closed:
            return
        inbound = stream.inbound
        before = inbound.available
        increment = inbound.ensure(needed)
        if increment:
            self._send_stream_window_update(stream, increment, before)

    def _send_stream_window_update(self, stream: Stream, increment: int, before: int) -> None:
        if _NEXT[stream.state][_SEND_WINDOW_UPDATE] is None:
            return  # the peer has ended the stream; credit no longer matters
        frame = encode_window_update(stream.stream_id, increment)
        self._out.append(frame)
        if self._trace is not None:
            self._trace_sent(frame, stream_window=(before, stream.inbound.available))

    def ping(self, data: bytes) -> None:
        """Send a PING with 8 opaque octets; the ACK arrives as PingAckReceived."""
        self._check_open()
        self._queue_control(encode_ping(data))

    # --- receiving ----------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Parse what the socket delivered; returns the events of every complete frame."""
        if self._closed:
            return []
        self._check_initiated()
        pending = self._pending
        if pending:
            pending += data
            if len(pending) < self._need:
                return []
            buf = bytes(pending)
            pending.clear()
        elif type(data) is bytes:
            buf = data
        else:
            buf = bytes(data)
        total = len(buf)
        if total < self._need:
            pending += buf
            return []
        events: list[Event] = []
        self._events = events
        offset = 0
        try:
            if not self._preface_received and (buf[3] != FrameType.SETTINGS or buf[4] & ACK):
                raise _error(
                    ErrorCode.PROTOCOL_ERROR, "the server's first frame must be SETTINGS (§3.4)"
                )
            handlers = _HANDLERS
            unpack = _HEADER.unpack_from
            max_length = self._local.max_frame_size
            while total - offset >= 9:
                word, flags, stream_id = unpack(buf, offset)
                length = word >> 8
                if length > max_length:
                    raise _error(
                        ErrorCode.FRAME_SIZE_ERROR,
                        f"frame of {length} octets exceeds our MAX_FRAME_SIZE {max_length}",
                    )
                end = offset + 9 + length
                if end > total:
                    break
                frame_type = word & 0xFF
                stream_id &= 0x7FFFFFFF
                if self._hb_sid and (frame_type != 9 or stream_id != self._hb_sid):
                    raise _error(
                        ErrorCode.PROTOCOL_ERROR,
                        f"frame type {frame_type} on stream {stream_id} interrupts the field "
                        f"block of stream {self._hb_sid} (§6.10)",
                    )
                if self._trace is None:
                    handlers[frame_type](self, flags, stream_id, buf, offset + 9, end)
                else:
                    self._traced(frame_type, flags, stream_id, buf, offset + 9, end)
                offset = end
        except RemoteProtocolError as exc:
            self._connection_error(exc)
            raise
        except Exception as exc:  # a bug of ours met by remote input: still a clean failure
            error = _error(ErrorCode.INTERNAL_ERROR, f"internal error on received data: {exc!r}")
            self._connection_error(error)
            raise error from exc
        finally:
            self._events = []
        if offset < total:
            pending += memoryview(buf)[offset:]
            if total - offset >= 9:
                self._need = 9 + ((buf[offset] << 16) | (buf[offset + 1] << 8) | buf[offset + 2])
            else:
                self._need = 9
        else:
            self._need = 9
        return events

    def _traced(
        self, frame_type: int, flags: int, stream_id: int, buf: bytes, start: int, end: int
    ) -> None:
        record = record_frame("recv", frame_type, flags, stream_id, buf, start, end)
        self._rec = record
        self._deferred = []
        try:
            _HANDLERS[frame_type](self, flags, stream_id, buf, start, end)
        finally:
            # The received frame is reported first, then what it made us queue.
            self._rec = None
            deferred = self._deferred
            self._call_trace(record)
            for sent in deferred:
                self._call_trace(sent)

    def _connection_error(self, exc: RemoteProtocolError) -> None:
        code = exc.h2_error_code
        log.debug("HTTP/2 connection error %s: %s", code, exc)
        # Complete frames not yet handed out are dropped; a partial one (_head) must finish.
        self._ctrl.clear()
        self._out.clear()
        self._queue(encode_goaway(0, code, str(exc).encode("utf-8", "replace")[:256]))
        self._mark_closed()

    def _stream_error(self, stream: Stream, code: int, message: str) -> None:
        stream_id = stream.stream_id
        log.debug("HTTP/2 stream %d error %s: %s", stream_id, code, message)
        self._queue(encode_rst_stream(stream_id, code))
        stream.state = _CLOSED_STATE
        self._forget(stream)
        self._events.append(StreamReset(stream_id, code, remote=False))

    def _forget(self, stream: Stream) -> None:
        del self._streams[stream.stream_id]
        if self._goaway is not None and not self._streams and not self._closed:
            # Drained after the peer's GOAWAY: answer it and let the shell close (§6.8).
            self._queue(encode_goaway(0, ErrorCode.NO_ERROR))
            self._mark_closed()

    def _idle(self, stream_id: int) -> bool:
        return not stream_id & 1 or stream_id >= self._next_stream_id

    # --- frame handlers: (flags, stream_id, buf, start, end) ----------------------------------

    def _on_data(self, flags: int, stream_id: int, buf: bytes, start: int, end: int) -> None:
        if not stream_id:
            raise _error(ErrorCode.PROTOCOL_ERROR, "DATA on stream 0")
        length = end - start
        if flags & PADDED:
            start, end, _ = decode_padding(flags, buf, start, end)
        if length:
            # §6.9: every DATA counts against the connection window, whatever its stream, and
            # the connection credit goes straight back (batched).
            conn = self._conn_in
            if length > conn.available:
                raise _error(ErrorCode.FLOW_CONTROL_ERROR, "DATA exceeds the connection window")
            conn.available -= length
            pending = conn.pending + length
            if pending >= conn.threshold:
                self._return_connection_credit(pending)
            else:
                conn.pending = pending
        stream = self._streams.get(stream_id)
        if stream is None:
            if self._idle(stream_id):
                raise _error(ErrorCode.PROTOCOL_ERROR, f"DATA on idle stream {stream_id}")
            return None  # closed: charged and credited above, then discarded (§5.1)
        if _NEXT[stream.state][_RECV_DATA] is None:
            return self._stream_error(stream, ErrorCode.STREAM_CLOSED, "DATA after END_STREAM")
        if stream.response_phase != _BODY:
            return self._stream_error(
                stream, ErrorCode.PROTOCOL_ERROR, "DATA before the response headers (§8.1)"
            )
        inbound = stream.inbound
        if length > inbound.available:
            return self._stream_error(
                stream, ErrorCode.FLOW_CONTROL_ERROR, "DATA exceeds the stream window"
            )
        inbound.available -= length
        end_stream = flags & END_STREAM
        events = self._events
        events.append(DataReceived(stream_id, buf[start:end], length, bool(end_stream)))
        if end_stream:
            events.append(StreamEnded(stream_id))
            self._recv_end_stream(stream)
        return None

    def _return_connection_credit(self, increment: int) -> None:
        conn = self._conn_in
        before = conn.available
        conn.pending = 0
        conn.available = before + increment
        frame = encode_window_update(0, increment)
        self._ctrl.append(frame)
        if self._trace is not None:
            self._trace_sent(frame, conn_window=(before, conn.available))

    def _recv_end_stream(self, stream: Stream) -> None:
        nxt = _NEXT[stream.state][_RECV_END_STREAM]
        assert nxt is not None  # RECV_DATA / RECV_HEADERS were allowed in this state
        stream.state = nxt
        if nxt is _CLOSED_STATE:
            self._forget(stream)

    def _on_headers(self, flags: int, stream_id: int, buf: bytes, start: int, end: int) -> None:
        if not stream_id:
            raise _error(ErrorCode.PROTOCOL_ERROR, "HEADERS on stream 0")
        if stream_id not in self._streams and self._idle(stream_id):  # an open one is not idle
            raise _error(ErrorCode.PROTOCOL_ERROR, f"HEADERS on idle stream {stream_id}")
        if flags & (PADDED | PRIORITY_FLAG):
            start, end, _ = decode_padding(flags, buf, start, end)
            if flags & PRIORITY_FLAG:
                if end - start < 5:
                    raise _error(ErrorCode.FRAME_SIZE_ERROR, "HEADERS too short for priority")
                start += 5
        fragment = buf[start:end]
        if flags & END_HEADERS:
            self._on_field_block(stream_id, flags, fragment)
            return
        self._hb_sid = stream_id
        self._hb_flags = flags
        self._hb_parts = [fragment]
        self._hb_size = len(fragment) + 9

    def _on_continuation(
        self, flags: int, stream_id: int, buf: bytes, start: int, end: int
    ) -> None:
        if not self._hb_sid:
            raise _error(ErrorCode.PROTOCOL_ERROR, "CONTINUATION without a field block (§6.10)")
        size = self._hb_size + end - start + 9
        if size > self._block_limit:
            raise _error(
                ErrorCode.PROTOCOL_ERROR,
                f"field block over {self._block_limit} octets (CONTINUATION flood)",
            )
        self._hb_size = size
        self._hb_parts.append(buf[start:end])
        if flags & END_HEADERS:
            block = b"".join(self._hb_parts)
            stream_id = self._hb_sid
            self._hb_sid = 0
            self._hb_parts = []
            self._on_field_block(stream_id, self._hb_flags, block)

    def _on_field_block(self, stream_id: int, flags: int, block: bytes) -> None:
        # HPACK first, always: the table is shared by every stream (§4.3).
        fields, size, status, problem = self._hdec.decode(block)
        if self._rec is not None:
            self._rec.headers = redact_headers(fields)
        stream = self._streams.get(stream_id)
        if stream is None:
            return None  # closed: decoded for the HPACK state, then discarded (§5.1)
        if _NEXT[stream.state][_RECV_HEADERS] is None:
            return self._stream_error(stream, ErrorCode.STREAM_CLOSED, "HEADERS after END_STREAM")
        if size > self._max_header_list_size:
            return self._stream_error(
                stream,
                ErrorCode.ENHANCE_YOUR_CALM,
                f"header list of {size} octets exceeds {self._max_header_list_size}",
            )
        if problem is not None:
            return self._stream_error(stream, ErrorCode.PROTOCOL_ERROR, f"malformed: {problem}")
        end_stream = flags & END_STREAM
        events = self._events
        if stream.response_phase == _AWAITING:
            if not status:
                return self._stream_error(
                    stream, ErrorCode.PROTOCOL_ERROR, "malformed: response without :status"
                )
            if status < 200:
                if end_stream or status == 101:
                    return self._stream_error(
                        stream, ErrorCode.PROTOCOL_ERROR, f"malformed: {status} response (§8.1)"
                    )
                events.append(InformationalResponseReceived(stream_id, list(fields)))
                return None
            stream.response_phase = _BODY
            events.append(ResponseReceived(stream_id, list(fields), bool(end_stream)))
        else:
            if not end_stream:
                return self._stream_error(
                    stream,
                    ErrorCode.PROTOCOL_ERROR,
                    "malformed: HEADERS without END_STREAM after the response headers (§8.1)",
                )
            if status:
                return self._stream_error(
                    stream, ErrorCode.PROTOCOL_ERROR, "malformed: pseudo-header in trailers"
                )
            stream.response_phase = _TRAILERS
            events.append(TrailersReceived(stream_id, list(fields)))
        if end_stream:
            self._recv_end_stream(stream)
        return None

    def _on_priority(self, flags: int, stream_id: int, buf: bytes, start: int, end: int) -> None:
        if not stream_id:
            raise _error(ErrorCode.PROTOCOL_ERROR, "PRIORITY on stream 0")
        if end - start != 5:
            stream = self._streams.get(stream_id)
            if stream is None:
                raise _error(ErrorCode.FRAME_SIZE_ERROR, "PRIORITY length is not 5")
            self._stream_error(stream, ErrorCode.FRAME_SIZE_ERROR, "PRIORITY length is not 5")
        # Otherwise ignored: RFC 9113 deprecates the priority scheme (§5.3.2).

    def _on_rst_stream(self, flags: int, stream_id: int, buf: bytes, start: int, end: int) -> None:
        if not stream_id:
            raise _error(ErrorCode.PROTOCOL_ERROR, "RST_STREAM on stream 0")
        code = decode_rst_stream(buf, start, end)
        stream = self._streams.get(stream_id)
        if stream is None:
            if self._idle(stream_id):
                raise _error(ErrorCode.PROTOCOL_ERROR, f"RST_STREAM on idle stream {stream_id}")
            return  # already closed: ignored, and never answered (§5.4.2)
        stream.state = _CLOSED_STATE
        self._forget(stream)
        self._events.append(StreamReset(stream_id, code, remote=True))

    def _on_settings(self, flags: int, stream_id: int, buf: bytes, start: int, end: int) -> None:
        if stream_id:
            raise _error(ErrorCode.PROTOCOL_ERROR, "SETTINGS on a stream")
        if flags & ACK:
            if end != start:
                raise _error(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS ACK with a payload")
            if not self._unacked_settings:
                log.debug("ignoring a SETTINGS ACK we did not ask for")
                return
            for code, value in self._unacked_settings.popleft():
                if code == SettingCode.HEADER_TABLE_SIZE:
                    # Our decoder may now hold the peer to the size we advertised (§4.3.1).
                    self._hdec.max_allowed_table_size = value
            self._events.append(SettingsAcknowledged())
            return
        changed: dict[int, tuple[int | None, int]] = {}
        window_moved = False
        remote = self._remote
        for code, value in decode_settings(buf, start, end):
            problem = check_remote_setting(code, value)
            if problem is not None:
                raise _error(*problem)
            if not Settings.is_known(code):
                continue  # unknown settings MUST be ignored (§6.5.2)
            old = remote.set(code, value)
            changed[code] = (changed[code][0] if code in changed else old, value)
            if code == SettingCode.INITIAL_WINDOW_SIZE and old is not None and value != old:
                self._shift_send_windows(value - old)
                window_moved = True
            elif code == SettingCode.HEADER_TABLE_SIZE:
                self._henc.table_size = min(value, _ENCODER_TABLE_CAP)
        self._limit = self._stream_limit()
        self._queue(encode_settings_ack())
        self._count_ack()
        self._preface_received = True
        self._events.append(RemoteSettingsChanged(changed))
        if window_moved:
            self._events.append(WindowUpdated(0, 0))

    def _shift_send_windows(self, delta: int) -> None:
        """Apply an INITIAL_WINDOW_SIZE change to every stream (§6.9.2); windows may go
        negative, but none may pass 2**31-1."""
        for stream in self._streams.values():
            window = stream.send_window + delta
            if window > MAX_WINDOW_SIZE:
                raise _error(
                    ErrorCode.FLOW_CONTROL_ERROR,
                    f"INITIAL_WINDOW_SIZE change overflows the window of stream {stream.stream_id}",
                )
            stream.send_window = window

    def _count_ack(self) -> None:
        self._queued_acks += 1
        if self._queued_acks > _MAX_QUEUED_ACKS:
            raise _error(
                ErrorCode.ENHANCE_YOUR_CALM, "too many PING/SETTINGS to acknowledge (§10.5)"
            )

    def _on_push_promise(
        self, flags: int, stream_id: int, buf: bytes, start: int, end: int
    ) -> None:
        raise _error(ErrorCode.PROTOCOL_ERROR, "PUSH_PROMISE although we disabled push (§8.4)")

    def _on_ping(self, flags: int, stream_id: int, buf: bytes, start: int, end: int) -> None:
        if stream_id:
            raise _error(ErrorCode.PROTOCOL_ERROR, "PING on a stream")
        data = decode_ping(buf, start, end)
        if flags & ACK:
            self._events.append(PingAckReceived(data))
            return
        # Answered ahead of queued HEADERS/DATA (§6.7 "SHOULD be given higher priority").
        self._queue_control(_PING_ACK_HEADER + data)
        self._count_ack()
        self._events.append(PingReceived(data))

    def _on_goaway(self, flags: int, stream_id: int, buf: bytes, start: int, end: int) -> None:
        if stream_id:
            raise _error(ErrorCode.PROTOCOL_ERROR, "GOAWAY on a stream")
        last, code, debug = decode_goaway(buf, start, end)
        if last and not last & 1:
            raise _error(ErrorCode.PROTOCOL_ERROR, f"GOAWAY names server stream {last}")
        previous = self._goaway
        if previous is not None and last > previous.last_stream_id:
            raise _error(
                ErrorCode.PROTOCOL_ERROR,
                f"GOAWAY last stream id rose from {previous.last_stream_id} to {last} (§6.8)",
            )
        event = GoAwayReceived(last, code, debug)
        self._goaway = event
        events = self._events
        events.append(event)
        refused = sorted(sid for sid in self._streams if sid > last)
        for sid in refused:
            stream = self._streams[sid]
            stream.state = _CLOSED_STATE
            del self._streams[sid]
            events.append(StreamReset(sid, ErrorCode.REFUSED_STREAM, remote=False))
        if not self._streams and not self._closed:
            self._queue(encode_goaway(0, ErrorCode.NO_ERROR))
            self._mark_closed()

    def _on_window_update(
        self, flags: int, stream_id: int, buf: bytes, start: int, end: int
    ) -> None:
        increment = decode_window_update(buf, start, end)
        if not stream_id:
            if not increment:
                raise _error(ErrorCode.PROTOCOL_ERROR, "connection WINDOW_UPDATE of 0 (§6.9)")
            before = self._conn_send_window
            after = before + increment
            if after > MAX_WINDOW_SIZE:
                raise _error(ErrorCode.FLOW_CONTROL_ERROR, "connection window over 2**31-1")
            self._conn_send_window = after
            if self._rec is not None:
                self._rec.conn_window = (before, after)
            self._events.append(WindowUpdated(0, increment))
            return None
        stream = self._streams.get(stream_id)
        if stream is None:
            if self._idle(stream_id):
                raise _error(ErrorCode.PROTOCOL_ERROR, f"WINDOW_UPDATE on idle stream {stream_id}")
            return None  # closed: ignored (§6.9)
        if _NEXT[stream.state][_RECV_WINDOW_UPDATE] is None:  # pragma: no cover - table
            return self._stream_error(stream, ErrorCode.STREAM_CLOSED, "WINDOW_UPDATE")
        if not increment:
            return self._stream_error(stream, ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0")
        before = stream.send_window
        after = before + increment
        if after > MAX_WINDOW_SIZE:
            return self._stream_error(
                stream, ErrorCode.FLOW_CONTROL_ERROR, "stream window over 2**31-1"
            )
        stream.send_window = after
        if self._rec is not None:
            self._rec.stream_window = (before, after)
        self._events.append(WindowUpdated(stream_id, increment))
        return None


def _unknown_frame_handler(frame_type: int) -> _Handler:
    def on_unknown(
        conn: H2Connection, flags: int, stream_id: int, buf: bytes, start: int, end: int
    ) -> None:
        # Unknown types are ignored (§4.1, §5.5); inside a field block the receive loop has
        # already refused them.
        conn._events.append(UnknownFrameReceived(frame_type, stream_id, buf[start:end]))

    return on_unknown


#: Frame type -> handler(connection, flags, stream_id, buf, start, end); built once.
_HANDLERS: list[_Handler] = [_unknown_frame_handler(t) for t in range(256)]
_HANDLERS[FrameType.DATA] = H2Connection._on_data
_HANDLERS[FrameType.HEADERS] = H2Connection._on_headers
_HANDLERS[FrameType.PRIORITY] = H2Connection._on_priority
_HANDLERS[FrameType.RST_STREAM] = H2Connection._on_rst_stream
_HANDLERS[FrameType.SETTINGS] = H2Connection._on_settings
_HANDLERS[FrameType.PUSH_PROMISE] = H2Connection._on_push_promise
_HANDLERS[FrameType.PING] = H2Connection._on_ping
_HANDLERS[FrameType.GOAWAY] = H2Connection._on_goaway
_HANDLERS[FrameType.WINDOW_UPDATE] = H2Connection._on_window_update
_HANDLERS[FrameType.CONTINUATION] = H2Connection._on_continuation

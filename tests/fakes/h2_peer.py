"""A fake gRPC server on the ``h2`` package, for what real etcd will not do on demand.

It shares no code with etcdwire. Each accepted connection gets a reader thread that feeds
h2 and records every frame and event; each request runs the test's handler in its own thread,
so a scenario is straight-line code::

    def handler(req: FakeRequest) -> None:
        req.wait_end()                                   # the client half-closed
        req.goaway(last_stream_id=req.stream_id)         # new streams must go elsewhere
        req.respond([b"payload"])                        # headers, one message, grpc-status 0

    with FakeServer(handler) as server:
        ...  # point the client at server.address
        assert server.connections_accepted == 2

Actions that h2 would refuse are built by hand: GOAWAY (h2 would stop sending after its own),
unknown frame types and anything malformed go through :meth:`FakeConnection.send_raw` with
:func:`frame` and friends. DATA respects the client's flow-control windows and waits for
credit. Handler exceptions are re-raised by :meth:`FakeServer.close` unless they only mean the
client went away.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self, cast

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

__all__ = [
    "PREFACE",
    "FakeConnection",
    "FakeRequest",
    "FakeServer",
    "Flag",
    "FrameReader",
    "FrameType",
    "GrpcMessageReader",
    "PeerGone",
    "RawFrame",
    "echo_handler",
    "frame",
    "goaway_frame",
    "grpc_message",
    "ping_frame",
    "rst_stream_frame",
    "settings_frame",
    "stall_handler",
    "status_handler",
    "unary_handler",
    "window_update_frame",
]

logger = logging.getLogger("tests.fakes.h2_peer")

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
Headers = Sequence[tuple[str, str]]
Handler = Callable[["FakeRequest"], None]
DEFAULT_TIMEOUT = 10.0


class FrameType(enum.IntEnum):
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


class Flag(enum.IntFlag):
    END_STREAM = 0x1
    ACK = 0x1
    END_HEADERS = 0x4
    PADDED = 0x8
    PRIORITY = 0x20


class PeerGone(Exception):
    """The connection closed (or the server is closing) while a handler waited or wrote."""


# ============================================================================================
# hand-built frames
# ============================================================================================


def frame(type_: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """One HTTP/2 frame: 24-bit length, type, flags, 31-bit stream id (bit 32 kept if given)."""
    return (
        struct.pack(">I", len(payload))[1:]
        + struct.pack(">BBI", type_, flags, stream_id)
        + (payload)
    )


def settings_frame(settings: Mapping[int, int] | None = None, *, ack: bool = False) -> bytes:
    payload = b"".join(struct.pack(">HI", k, v) for k, v in (settings or {}).items())
    return frame(FrameType.SETTINGS, Flag.ACK if ack else 0, 0, payload)


def goaway_frame(last_stream_id: int, error_code: int = 0, debug: bytes = b"") -> bytes:
    return frame(FrameType.GOAWAY, 0, 0, struct.pack(">II", last_stream_id, error_code) + debug)


def rst_stream_frame(stream_id: int, error_code: int) -> bytes:
    return frame(FrameType.RST_STREAM, 0, stream_id, struct.pack(">I", error_code))


def window_update_frame(stream_id: int, increment: int) -> bytes:
    return frame(FrameType.WINDOW_UPDATE, 0, stream_id, struct.pack(">I", increment))


def ping_frame(payload: bytes = b"\0" * 8, *, ack: bool = False) -> bytes:
    return frame(FrameType.PING, Flag.ACK if ack else 0, 0, payload)


def grpc_message(payload: bytes, *, compressed: bool = False) -> bytes:
    """gRPC length-prefixed message: 1-byte compressed flag, 4-byte big-endian length."""
    return struct.pack(">BI", int(compressed), len(payload)) + payload


@dataclass(frozen=True)
class RawFrame:
    """A frame as received, before h2 interprets it."""

    type: int
    flags: int
    stream_id: int
    payload: bytes

    @property
    def name(self) -> str:
        try:
            return FrameType(self.type).name
        except ValueError:
            return f"UNKNOWN_0x{self.type:02x}"

    def has(self, flag: int) -> bool:
        return bool(self.flags & flag)


class FrameReader:
    """Split a byte stream into :class:`RawFrame` s (optionally after the client preface)."""

    def __init__(self, *, expect_preface: bool = True) -> None:
        self._buffer = bytearray()
        self._preface_left = len(PREFACE) if expect_preface else 0

    def feed(self, data: bytes) -> list[RawFrame]:
        self._buffer += data
        if self._preface_left:
            skip = min(self._preface_left, len(self._buffer))
            del self._buffer[:skip]
            self._preface_left -= skip
        frames: list[RawFrame] = []
        while len(self._buffer) >= 9:
            length = int.from_bytes(self._buffer[:3], "big")
            if len(self._buffer) < 9 + length:
                break
            type_, flags, stream_id = struct.unpack(">BBI", self._buffer[3:9])
            payload = bytes(self._buffer[9 : 9 + length])
            del self._buffer[: 9 + length]
            frames.append(RawFrame(type_, flags, stream_id & 0x7FFFFFFF, payload))
        return frames


class GrpcMessageReader:
    """Reassemble gRPC length-prefixed messages from DATA payloads."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.compressed: list[bool] = []

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        out: list[bytes] = []
        while len(self._buffer) >= 5:
            flag, length = struct.unpack(">BI", self._buffer[:5])
            if len(self._buffer) < 5 + length:
                break
            out.append(bytes(self._buffer[5 : 5 + length]))
            self.compressed.append(bool(flag))
            del self._buffer[: 5 + length]
        return out

    @property
    def pending(self) -> int:
        """Bytes of an incomplete message still buffered."""
        return len(self._buffer)


def _percent_encode(text: str) -> str:
    """grpc-message encoding: printable ASCII except '%' as is, everything else %XX."""
    return "".join(
        chr(b) if 0x20 <= b <= 0x7E and b != 0x25 else f"%{b:02X}" for b in text.encode()
    )


# ============================================================================================
# one request (one client-initiated stream)
# ============================================================================================


class FakeRequest:
    """A request stream seen by the handler, with the actions a scenario needs."""

    def __init__(self, conn: FakeConnection, stream_id: int, headers: Headers) -> None:
        self.conn = conn
        self.stream_id = stream_id
        self.headers: list[tuple[str, str]] = list(headers)
        self.body = bytearray()
        self.messages: list[bytes] = []
        self.ended = False
        self.reset_code: int | None = None
        self._reader = GrpcMessageReader()
        self._taken = 0

    # ---- what the client sent ------------------------------------------------------------

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    @property
    def path(self) -> str:
        return self.header(":path") or ""

    @property
    def method(self) -> str:
        return self.header(":method") or ""

    @property
    def compressed(self) -> list[bool]:
        return self._reader.compressed

    def _feed(self, data: bytes) -> None:
        self.body += data
        self.messages += self._reader.feed(data)

    def wait_end(self, timeout: float = DEFAULT_TIMEOUT) -> list[bytes]:
        """Wait for the client's END_STREAM; return every message it sent."""
        self.conn.wait_until(
            lambda: self.ended or self.reset_code is not None, timeout, "end of request"
        )
        if not self.ended:
            raise PeerGone(f"stream {self.stream_id} reset by client ({self.reset_code})")
        return list(self.messages)

    def next_message(self, timeout: float = DEFAULT_TIMEOUT) -> bytes | None:
        """The next message not yet taken, or None once the client ended the stream."""
        self.conn.wait_until(
            lambda: self._taken < len(self.messages) or self.ended or self.reset_code is not None,
            timeout,
            "a request message",
        )
        if self._taken < len(self.messages):
            self._taken += 1
            return self.messages[self._taken - 1]
        if self.reset_code is not None:
            raise PeerGone(f"stream {self.stream_id} reset by client ({self.reset_code})")
        return None

    def stall(self, timeout: float | None = None) -> None:
        """Do nothing until the client resets the stream or the connection goes away."""
        with contextlib.suppress(PeerGone, TimeoutError):
            self.conn.wait_until(lambda: self.reset_code is not None, timeout, "client reset")

    # ---- responses -----------------------------------------------------------------------

    def send_headers(
        self, headers: Headers | None = None, *, end_stream: bool = False, exact: bool = False
    ) -> None:
        """``:status 200`` + ``content-type: application/grpc`` + ``headers``; or exactly
        ``headers`` with ``exact=True`` (nothing is validated either way)."""
        block = list(headers or ()) if exact else _grpc_headers(headers)
        with self.conn.lock:
            self.conn.h2.send_headers(self.stream_id, block, end_stream=end_stream)
            self.conn.flush()

    def send_headers_with_continuation(
        self,
        headers: Headers | None = None,
        *,
        end_stream: bool = False,
        exact: bool = False,
        split: int = 16_384,
    ) -> None:
        """Send one header block as HEADERS + CONTINUATION frames of at most ``split`` bytes.

        h2 slices header blocks at the stream's outbound frame size; it is narrowed to
        ``split`` for this one block, so HPACK and stream state stay consistent.
        """
        block = list(headers or ()) if exact else _grpc_headers(headers)
        with self.conn.lock:
            stream = self.conn.h2.streams[self.stream_id]
            saved = stream.max_outbound_frame_size
            stream.max_outbound_frame_size = split
            try:
                self.conn.h2.send_headers(self.stream_id, block, end_stream=end_stream)
            finally:
                stream.max_outbound_frame_size = saved
            self.conn.flush()

    def send_data(
        self,
        data: bytes,
        *,
        end_stream: bool = False,
        pad_length: int | None = None,
        chunk_size: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """DATA frames carrying ``data``, each padded with ``pad_length`` bytes if given, at
        most ``chunk_size`` data bytes each, waiting for flow-control credit as needed."""
        overhead = 0 if pad_length is None else pad_length + 1
        sent = 0
        while True:
            with self.conn.lock:
                need = overhead + (1 if sent < len(data) else 0)
                window = self.wait_for_window(need, timeout) if need else 0
                h2conn = self.conn.h2
                size = min(len(data) - sent, h2conn.max_outbound_frame_size - overhead)
                if need:
                    size = min(size, window - overhead)
                if chunk_size is not None:
                    size = min(size, chunk_size)
                last = sent + size >= len(data)
                h2conn.send_data(
                    self.stream_id,
                    data[sent : sent + size],
                    end_stream=end_stream and last,
                    pad_length=pad_length,
                )
                self.conn.flush()
            sent += size
            if last:
                return

    def send_message(
        self,
        message: bytes,
        *,
        compressed: bool = False,
        end_stream: bool = False,
        pad_length: int | None = None,
        chunk_size: int | None = None,
    ) -> None:
        """One gRPC message (5-byte prefix + payload) as DATA."""
        self.send_data(
            grpc_message(message, compressed=compressed),
            end_stream=end_stream,
            pad_length=pad_length,
            chunk_size=chunk_size,
        )

    def send_trailers(
        self, status: int | None = 0, message: str = "", extra: Headers | None = None
    ) -> None:
        """Trailers with END_STREAM; ``status=None`` leaves ``grpc-status`` out."""
        self.send_headers(_trailers(status, message, extra), end_stream=True, exact=True)

    def respond(
        self,
        messages: Sequence[bytes] = (),
        status: int = 0,
        message: str = "",
        *,
        trailers_only: bool = False,
        headers: Headers | None = None,
        trailers: Headers | None = None,
    ) -> None:
        """A whole gRPC response: headers, messages, trailers; or one Trailers-Only HEADERS."""
        if trailers_only:
            if messages:
                raise ValueError("a Trailers-Only response carries no messages")
            block = _grpc_headers(headers) + _trailers(status, message, trailers)
            self.send_headers(block, end_stream=True, exact=True)
            return
        self.send_headers(headers)
        for payload in messages:
            self.send_message(payload)
        self.send_trailers(status, message, trailers)

    def respond_http(
        self,
        status: int,
        body: bytes = b"",
        *,
        content_type: str = "text/html; charset=utf-8",
        headers: Headers | None = None,
    ) -> None:
        """A plain HTTP reply (e.g. a proxy's 503 page), no gRPC framing or status."""
        block = [(":status", str(status)), ("content-type", content_type), *(headers or ())]
        self.send_headers(block, exact=True, end_stream=not body)
        if body:
            self.send_data(body, end_stream=True)

    def reset(self, error_code: int = 0) -> None:
        """RST_STREAM on this stream."""
        with self.conn.lock:
            self.conn.h2.reset_stream(self.stream_id, error_code)
            self.conn.flush()

    def wait_for_window(self, size: int = 1, timeout: float = DEFAULT_TIMEOUT) -> int:
        """Wait until the client lets us send ``size`` bytes on this stream; return the
        window (the smaller of stream and connection windows)."""

        def window() -> int:
            try:
                return self.conn.h2.local_flow_control_window(self.stream_id)
            except h2.exceptions.StreamClosedError as exc:
                raise PeerGone(f"stream {self.stream_id} is closed") from exc

        self.conn.wait_until(lambda: window() >= size, timeout, f"{size} bytes of window")
        return window()

    # ---- connection-wide actions, for convenience -----------------------------------------

    def goaway(
        self, last_stream_id: int | None = None, error_code: int = 0, debug: bytes = b""
    ) -> None:
        self.conn.goaway(last_stream_id, error_code, debug)

    def ping(self, payload: bytes = b"fakeping") -> bytes:
        return self.conn.ping(payload)

    def update_settings(self, settings: Mapping[int, int]) -> None:
        self.conn.update_settings(settings)

    def send_raw(self, data: bytes) -> None:
        self.conn.send_raw(data)

    def close_socket(self, *, abort: bool = False) -> None:
        self.conn.close_socket(abort=abort)

    def __repr__(self) -> str:
        return f"<FakeRequest conn={self.conn.index} stream={self.stream_id} {self.path}>"


def _grpc_headers(extra: Headers | None) -> list[tuple[str, str]]:
    return [(":status", "200"), ("content-type", "application/grpc"), *(extra or ())]


def _trailers(status: int | None, message: str, extra: Headers | None) -> list[tuple[str, str]]:
    block: list[tuple[str, str]] = []
    if status is not None:
        block.append(("grpc-status", str(status)))
    if message:
        block.append(("grpc-message", _percent_encode(message)))
    return block + list(extra or ())


# ============================================================================================
# one connection
# ============================================================================================


class FakeConnection:
    """One accepted connection: its h2 state, what it received, and connection actions."""

    def __init__(self, server: FakeServer, sock: socket.socket, index: int) -> None:
        self.server = server
        self.sock = sock
        self.index = index
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(
                client_side=False,
                header_encoding="utf-8",
                validate_outbound_headers=False,
                normalize_outbound_headers=False,
            )
        )
        if server.settings:
            # h2 annotates known codes only, but sends unknown ids as given
            initial = cast("dict[h2.settings.SettingCodes, int]", dict(server.settings))
            self.h2.local_settings = h2.settings.Settings(client=False, initial_values=initial)
            self.h2.max_inbound_frame_size = self.h2.local_settings.max_frame_size
        self.auto_window_update = server.auto_window_update
        self.send_preface = True
        self.events: list[h2.events.Event] = []
        self.frames: list[RawFrame] = []
        self.requests: dict[int, FakeRequest] = {}
        self.refused_streams: list[int] = []
        self.ping_acks: list[bytes] = []
        self.settings_acks = 0
        self.goaway_sent: int | None = None
        self.remote_goaway: h2.events.ConnectionTerminated | None = None
        self.protocol_error: h2.exceptions.ProtocolError | None = None
        self.alpn_protocol: str | None = None
        self.closed = False
        self._reader = FrameReader()
        self._threads: list[threading.Thread] = []

    # ---- waiting ---------------------------------------------------------------------------

    def wait_until(
        self, predicate: Callable[[], bool], timeout: float | None, what: str = "condition"
    ) -> None:
        """Block until ``predicate()`` holds (checked under the lock); PeerGone if the
        connection closes first, TimeoutError after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.changed:
            while not predicate():
                if self.closed or self.server.closing:
                    raise PeerGone(f"connection {self.index} closed while waiting for {what}")
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"connection {self.index}: no {what} after {timeout}s")
                self.changed.wait(0.1 if left is None else min(left, 0.1))

    def wait_for_frame(
        self,
        type_: int,
        *,
        stream_id: int | None = None,
        flags: int = 0,
        after: int = 0,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> RawFrame:
        """The first received frame of ``type_`` (index >= ``after``) with all ``flags``."""
        found: list[RawFrame] = []

        def match() -> bool:
            for raw in self.frames[after:]:
                wanted = stream_id is None or raw.stream_id == stream_id
                if raw.type == type_ and raw.flags & flags == flags and wanted:
                    found.append(raw)
                    return True
            return False

        self.wait_until(match, timeout, f"a {FrameType(type_).name} frame")
        return found[0]

    def wait_for_ping_ack(self, payload: bytes, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.wait_until(lambda: payload in self.ping_acks, timeout, f"PING ACK {payload!r}")

    def wait_for_settings_ack(self, count: int = 1, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.wait_until(lambda: self.settings_acks >= count, timeout, "SETTINGS ACK")

    def wait_closed(self, timeout: float | None = None) -> None:
        """Wait until the client closes the connection (or the server closes)."""
        with contextlib.suppress(PeerGone):
            self.wait_until(lambda: False, timeout, "the connection to close")

    # ---- actions ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Write whatever h2 has queued."""
        with self.lock:
            self._write(self.h2.data_to_send())

    def send_raw(self, data: bytes) -> None:
        """Bytes straight to the socket, after anything h2 had queued (h2 does not see them)."""
        with self.lock:
            self._write(self.h2.data_to_send() + data)

    def _write(self, data: bytes) -> None:
        if not data:
            return
        if self.closed:
            raise PeerGone(f"connection {self.index} is closed")
        try:
            self.sock.settimeout(DEFAULT_TIMEOUT)
            self.sock.sendall(data)
        except (OSError, ValueError) as exc:
            self._mark_closed()
            raise PeerGone(f"connection {self.index}: write failed: {exc}") from exc

    def goaway(
        self, last_stream_id: int | None = None, error_code: int = 0, debug: bytes = b""
    ) -> None:
        """GOAWAY, hand-built so h2 keeps serving streams up to ``last_stream_id`` (default:
        the highest one opened so far). Later streams are refused with REFUSED_STREAM."""
        with self.lock:
            last = self.h2.highest_inbound_stream_id if last_stream_id is None else last_stream_id
            self.goaway_sent = last
            self.send_raw(goaway_frame(last, error_code, debug))

    def ping(self, payload: bytes = b"fakeping") -> bytes:
        """PING (8 bytes); see :meth:`wait_for_ping_ack`."""
        with self.lock:
            self.h2.ping(payload)
            self.flush()
        return payload

    def update_settings(self, settings: Mapping[int, int]) -> None:
        """A SETTINGS frame; h2 applies it to its own side once the client ACKs it."""
        with self.lock:
            self.h2.update_settings(dict(settings))
            self.flush()

    def grant_window(self, increment: int, stream_id: int | None = None) -> None:
        """WINDOW_UPDATE for the connection (or a stream) by hand of the test."""
        with self.lock:
            self.h2.increment_flow_control_window(increment, stream_id)
            self.flush()

    def close_socket(self, *, abort: bool = False) -> None:
        """Drop the TCP connection without GOAWAY; ``abort`` sends a TCP RST."""
        with self.lock:
            self._mark_closed()
            if abort:
                with contextlib.suppress(OSError):
                    self.sock.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
            else:
                with contextlib.suppress(OSError):
                    self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()

    def _mark_closed(self) -> None:
        with self.changed:
            self.closed = True
            self.changed.notify_all()

    # ---- the reader thread ------------------------------------------------------------------

    def serve(self) -> None:
        try:
            self._handshake()
            if self.server.on_connect is not None:
                self.server.on_connect(self)
            with self.lock:
                self.h2.initiate_connection()
                if self.send_preface:
                    self.flush()
                else:
                    self.h2.clear_outbound_data_buffer()
            while not self.closed and not self.server.closing:
                data = self._read()
                if data is None:
                    continue
                if not data:
                    break
                self._receive(data)
        except PeerGone:
            pass
        except (OSError, ValueError) as exc:
            logger.debug("connection %d: %s", self.index, exc)
        finally:
            with contextlib.suppress(OSError):
                self.sock.close()
            self._mark_closed()

    def _handshake(self) -> None:
        context = self.server.tls_context
        if context is None:
            return
        self.sock.settimeout(DEFAULT_TIMEOUT)
        tls = context.wrap_socket(self.sock, server_side=True)
        self.sock = tls
        self.alpn_protocol = tls.selected_alpn_protocol()

    def _read(self) -> bytes | None:
        """Bytes from the socket; None when nothing arrived in a short while; b"" at EOF."""
        sock = self.sock
        pending = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
        if not pending:
            readable, _, _ = select.select([sock], [], [], 0.1)
            if not readable:
                return None
        with self.lock:
            if self.closed:
                return b""
            sock.settimeout(0.05)
            try:
                return sock.recv(65_536)
            except (TimeoutError, ssl.SSLWantReadError):
                return None

    def _receive(self, data: bytes) -> None:
        with self.changed:
            self.frames += self._reader.feed(data)
            try:
                events = self.h2.receive_data(data)
            except h2.exceptions.ProtocolError as exc:
                logger.info("connection %d: client broke the protocol: %s", self.index, exc)
                self.protocol_error = exc
                with contextlib.suppress(PeerGone):
                    self.flush()  # h2 queued a GOAWAY
                self.changed.notify_all()
                raise PeerGone(str(exc)) from exc
            self.events += events
            for event in events:
                self._dispatch(event)
            with contextlib.suppress(PeerGone):
                self.flush()
            self.changed.notify_all()

    def _dispatch(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            self._new_request(event.stream_id, event.headers or [])
        elif isinstance(event, h2.events.DataReceived):
            request = self.requests.get(event.stream_id)
            if request is not None:
                request._feed(event.data or b"")
            if self.auto_window_update and event.flow_controlled_length:
                with contextlib.suppress(h2.exceptions.StreamClosedError):
                    self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            if event.stream_id in self.requests:
                self.requests[event.stream_id].ended = True
        elif isinstance(event, h2.events.StreamReset):
            if event.stream_id in self.requests:
                self.requests[event.stream_id].reset_code = int(event.error_code or 0)
        elif isinstance(event, h2.events.PingAckReceived):
            self.ping_acks.append(event.ping_data or b"")
        elif isinstance(event, h2.events.SettingsAcknowledged):
            self.settings_acks += 1
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.remote_goaway = event

    def _new_request(
        self, stream_id: int, headers: Sequence[tuple[bytes | str, bytes | str]]
    ) -> None:
        decoded = [(_text(k), _text(v)) for k, v in headers]
        if self.goaway_sent is not None and stream_id > self.goaway_sent:
            self.refused_streams.append(stream_id)
            self.h2.reset_stream(stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
            return
        request = FakeRequest(self, stream_id, decoded)
        self.requests[stream_id] = request
        self.server._add_request(request)
        thread = threading.Thread(
            target=self.server._run_handler,
            args=(request,),
            name=f"fake-h2-handler-{self.index}-{stream_id}",
            daemon=True,
        )
        self._threads.append(thread)
        thread.start()

    def __repr__(self) -> str:
        return f"<FakeConnection {self.index} requests={len(self.requests)} closed={self.closed}>"


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


# ============================================================================================
# the server
# ============================================================================================


class FakeServer:
    """Listens on 127.0.0.1:0 from construction until :meth:`close`.

    ``settings`` go in the server's first SETTINGS frame (keys may be unknown ids).
    ``auto_window_update=False`` makes every connection hold back WINDOW_UPDATE (tests call
    ``conn.grant_window``). ``on_connect(conn)`` runs in the connection's thread before the
    server preface: set ``conn.send_preface = False`` to withhold SETTINGS, or block in it for
    a black hole (``conn.wait_closed()``).
    """

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        settings: Mapping[int, int] | None = None,
        tls_context: ssl.SSLContext | None = None,
        alpn: Sequence[str] | None = ("h2",),
        auto_window_update: bool = True,
        on_connect: Callable[[FakeConnection], None] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.handler: Handler = handler or unary_handler({})
        self.settings = dict(settings or {})
        self.tls_context = tls_context
        if tls_context is not None and alpn is not None:
            tls_context.set_alpn_protocols(list(alpn))
        self.auto_window_update = auto_window_update
        self.on_connect = on_connect
        self.host = host
        self.connections: list[FakeConnection] = []
        self.requests: list[FakeRequest] = []
        self.errors: list[BaseException] = []
        self.closing = False
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._listener = socket.create_server((host, 0))
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept_loop, name="fake-h2-accept")
        self._acceptor.daemon = True
        self._acceptor.start()

    @property
    def address(self) -> str:
        """``"127.0.0.1:port"``."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls_context else 'http'}://{self.address}"

    @property
    def connections_accepted(self) -> int:
        return len(self.connections)

    def _accept_loop(self) -> None:
        while not self.closing:
            try:
                readable, _, _ = select.select([self._listener], [], [], 0.1)
            except (OSError, ValueError):  # the listener was closed under us
                return
            if not readable or self.closing:
                continue
            try:
                sock, _ = self._listener.accept()
            except OSError:
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._changed:
                conn = FakeConnection(self, sock, len(self.connections))
                self.connections.append(conn)
                self._changed.notify_all()
            thread = threading.Thread(target=conn.serve, name=f"fake-h2-conn-{conn.index}")
            thread.daemon = True
            self._threads.append(thread)
            thread.start()

    def _add_request(self, request: FakeRequest) -> None:
        with self._changed:
            self.requests.append(request)
            self._changed.notify_all()

    def _run_handler(self, request: FakeRequest) -> None:
        try:
            self.handler(request)
        except BaseException as exc:
            if _benign(exc, request):
                logger.debug("%r: client went away: %s", request, exc)
                return
            logger.exception("%r: handler failed", request)
            self.errors.append(exc)
            with contextlib.suppress(Exception):
                request.reset(h2.errors.ErrorCodes.INTERNAL_ERROR)

    def wait_for_requests(self, count: int, timeout: float = DEFAULT_TIMEOUT) -> list[FakeRequest]:
        """Wait until ``count`` requests have arrived (over all connections)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.requests) >= count, timeout):
                raise TimeoutError(f"{len(self.requests)} of {count} requests after {timeout}s")
            return list(self.requests)

    def wait_for_connections(
        self, count: int, timeout: float = DEFAULT_TIMEOUT
    ) -> list[FakeConnection]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.connections) >= count, timeout):
                raise TimeoutError(f"{len(self.connections)} of {count} connections")
            return list(self.connections)

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting, drop every connection, join all threads, re-raise handler errors."""
        if not self.closing:
            self.closing = True
            self._acceptor.join(timeout)  # it polls `closing` every 0.1 s
            self._listener.close()
            for conn in list(self.connections):
                with contextlib.suppress(OSError), conn.changed:
                    conn.changed.notify_all()
            threads = [self._acceptor, *self._threads]
            threads += [t for conn in self.connections for t in conn._threads]
            deadline = time.monotonic() + timeout
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
            for conn in self.connections:
                with contextlib.suppress(OSError):
                    conn.sock.close()
            stuck = [t.name for t in threads if t.is_alive()]
            if stuck:
                logger.warning("threads still running after close: %s", stuck)
        if self.errors:
            error, self.errors = self.errors[0], []
            raise error

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
        else:
            with contextlib.suppress(BaseException):
                self.close()


def _benign(exc: BaseException, request: FakeRequest) -> bool:
    """True for errors that only say the client (or the test) ended things first."""
    if isinstance(exc, PeerGone | OSError | h2.exceptions.StreamClosedError):
        return True
    conn = request.conn
    return isinstance(exc, h2.exceptions.ProtocolError) and (
        conn.closed or conn.remote_goaway is not None or request.reset_code is not None
    )


# ============================================================================================
# ready-made handlers
# ============================================================================================


def echo_handler(request: FakeRequest) -> None:
    """Send back every message of the request, then status OK."""
    request.respond(request.wait_end())


def unary_handler(
    responses: Mapping[str, bytes | Sequence[bytes] | Handler],
    *,
    missing_status: int = 12,
) -> Handler:
    """Answer by ``:path``: bytes → one message, a list → those messages, a callable → it
    handles the request; unknown paths get Trailers-Only UNIMPLEMENTED (12)."""

    def handle(request: FakeRequest) -> None:
        answer = responses.get(request.path)
        if callable(answer):
            answer(request)
            return
        request.wait_end()
        if answer is None:
            request.respond(
                status=missing_status, message=f"unknown method {request.path}", trailers_only=True
            )
        elif isinstance(answer, bytes):
            request.respond([answer])
        else:
            request.respond(list(answer))

    return handle


def status_handler(status: int, message: str = "", *, trailers_only: bool = True) -> Handler:
    """Fail every call with ``status``."""

    def handle(request: FakeRequest) -> None:
        request.wait_end()
        request.respond(status=status, message=message, trailers_only=trailers_only)

    return handle


def stall_handler(request: FakeRequest) -> None:
    """Never answer; return when the client gives up or the server closes."""
    request.stall()

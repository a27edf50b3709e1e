"""The fake server checked with the ``h2`` package as client (no etcdwire code involved).

Frames the client receives are split with hyperframe, independently of the fake's FrameReader.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Sequence
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import pytest
from hyperframe.exceptions import HyperframeError
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    ExtensionFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    RstStreamFrame,
)

from tests.fakes.h2_peer import (
    FakeRequest,
    FakeServer,
    Flag,
    FrameType,
    GrpcMessageReader,
    PeerGone,
    echo_handler,
    frame,
    grpc_message,
    status_handler,
    unary_handler,
)

METHOD = "/etcdserverpb.KV/Range"


def request_headers(path: str = METHOD) -> list[tuple[str, str]]:
    return [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", path),
        (":authority", "fake"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ]


class H2Client:
    """A minimal gRPC-shaped client on h2, recording events and raw frames."""

    def __init__(self, address: str, *, tls_context: ssl.SSLContext | None = None) -> None:
        host, port = address.rsplit(":", 1)
        sock = socket.create_connection((host, int(port)), timeout=5)
        if tls_context is not None:
            sock = tls_context.wrap_socket(sock, server_hostname=host)
        self.sock = sock
        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        )
        self.h2.initiate_connection()
        self.events: list[h2.events.Event] = []
        self.frames: list[Frame] = []
        self.bad_frames: list[tuple[int | None, bytes]] = []
        self._raw = bytearray()
        self.eof = False
        self.flush()

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def start_call(
        self, messages: Sequence[bytes] = (), path: str = METHOD, end: bool = True
    ) -> int:
        stream_id = self.h2.get_next_available_stream_id()
        self.h2.send_headers(stream_id, request_headers(path))
        body = b"".join(grpc_message(m) for m in messages)
        self.h2.send_data(stream_id, body, end_stream=end)
        self.flush()
        return stream_id

    def pump(
        self, until: Callable[[], bool], timeout: float = 5.0, *, feed_h2: bool = True
    ) -> None:
        """Read until ``until()``; with ``feed_h2=False`` only raw frames are recorded."""
        deadline = time.monotonic() + timeout
        while not until():
            if self.eof or time.monotonic() > deadline:
                raise AssertionError(f"condition not reached; events: {self.events}")
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65_536)
            except TimeoutError:
                continue
            if not data:
                self.eof = True
                continue
            self._split(data)
            if not feed_h2:
                continue
            for event in self.h2.receive_data(data):
                self.events.append(event)
                if isinstance(event, h2.events.DataReceived) and event.flow_controlled_length:
                    self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            self.flush()

    def _split(self, data: bytes) -> None:
        self._raw += data
        while len(self._raw) >= 9:
            parsed, length = Frame.parse_frame_header(memoryview(self._raw[:9]))
            if len(self._raw) < 9 + length:
                return
            body = bytes(self._raw[9 : 9 + length])
            del self._raw[: 9 + length]
            try:
                parsed.parse_body(memoryview(body))
            except HyperframeError:
                self.bad_frames.append((parsed.type, body))
                continue
            self.frames.append(parsed)

    def stream_finished(self, stream_id: int) -> bool:
        """A raw frame with END_STREAM (or RST_STREAM) arrived on ``stream_id``."""
        return any(
            f.stream_id == stream_id and (isinstance(f, RstStreamFrame) or "END_STREAM" in f.flags)
            for f in self.frames
        )

    def ended(self, stream_id: int) -> Callable[[], bool]:
        def check() -> bool:
            return any(
                isinstance(e, h2.events.StreamEnded | h2.events.StreamReset)
                and e.stream_id == stream_id
                for e in self.events
            )

        return check

    def of(self, kind: type[Any], stream_id: int | None = None) -> list[Any]:
        return [
            e
            for e in self.events
            if isinstance(e, kind) and (stream_id is None or e.stream_id == stream_id)
        ]

    def call(
        self, messages: list[bytes], path: str = METHOD
    ) -> tuple[dict[str, str], list[bytes], dict[str, str]]:
        stream_id = self.start_call(messages, path)
        self.pump(self.ended(stream_id))
        headers = dict(self.of(h2.events.ResponseReceived, stream_id)[0].headers)
        reader = GrpcMessageReader()
        replies = [
            m for e in self.of(h2.events.DataReceived, stream_id) for m in reader.feed(e.data)
        ]
        trailers = self.of(h2.events.TrailersReceived, stream_id)
        return headers, replies, dict(trailers[0].headers) if trailers else {}

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def connect() -> Any:
    clients: list[H2Client] = []

    def make(server: FakeServer, **kwargs: Any) -> H2Client:
        client = H2Client(server.address, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


# -------------------------------------------------------------------------------------------
# exchanges
# -------------------------------------------------------------------------------------------


def test_unary_exchange_from_path_table(connect: Any) -> None:
    with FakeServer(unary_handler({METHOD: b"reply"})) as server:
        client = connect(server)
        headers, replies, trailers = client.call([b"request"])
        assert headers[":status"] == "200"
        assert headers["content-type"] == "application/grpc"
        assert replies == [b"reply"]
        assert trailers == {"grpc-status": "0"}
        (request,) = server.wait_for_requests(1)
        assert request.path == METHOD
        assert request.messages == [b"request"]
        assert request.ended and request.compressed == [False]
        assert server.connections_accepted == 1
        # an unknown path: Trailers-Only UNIMPLEMENTED
        headers, replies, trailers = client.call([b"x"], path="/no.Such/Method")
        assert replies == []
        assert headers["grpc-status"] == "12"
        assert "no.Such" in headers["grpc-message"]


def test_echo_streams_messages_back(connect: Any) -> None:
    with FakeServer(echo_handler) as server:
        client = connect(server)
        _, replies, trailers = client.call([b"a", b"bb", b""])
        assert replies == [b"a", b"bb", b""]
        assert trailers["grpc-status"] == "0"


def test_grpc_message_is_percent_encoded(connect: Any) -> None:
    with FakeServer(status_handler(14, "etcdserver: 100% down ✗", trailers_only=False)) as server:
        _, _, trailers = connect(server).call([b""])
        assert trailers == {
            "grpc-status": "14",
            "grpc-message": "etcdserver: 100%25 down %E2%9C%97",
        }


def test_trailers_only_is_one_headers_frame(connect: Any) -> None:
    with FakeServer(status_handler(5, "not found")) as server:
        client = connect(server)
        stream_id = client.start_call([b""])
        client.pump(client.ended(stream_id))
        on_stream = [f for f in client.frames if f.stream_id == stream_id]
        assert len(on_stream) == 1 and isinstance(on_stream[0], HeadersFrame)
        assert {"END_STREAM", "END_HEADERS"} <= on_stream[0].flags
        (response,) = client.of(h2.events.ResponseReceived, stream_id)
        assert ("grpc-status", "5") in response.headers


def test_missing_grpc_status_and_plain_http_replies(connect: Any) -> None:
    def handler(req: FakeRequest) -> None:
        req.wait_end()
        if req.path == "/proxy":
            req.respond_http(503, b"<html>upstream down</html>")
        else:
            req.send_headers()
            req.send_message(b"m")
            req.send_trailers(status=None, extra=[("x-why", "forgot")])

    with FakeServer(handler) as server:
        client = connect(server)
        headers, _, _ = client.call([b""], path="/proxy")
        assert headers[":status"] == "503"
        assert headers["content-type"].startswith("text/html")
        assert "grpc-status" not in headers
        _, replies, trailers = client.call([b""])
        assert replies == [b"m"]
        assert trailers == {"x-why": "forgot"}


# -------------------------------------------------------------------------------------------
# connection-level scenarios
# -------------------------------------------------------------------------------------------


def test_goaway_finishes_the_stream_then_refuses_new_ones(connect: Any) -> None:
    """gRPC interop 'goaway': the stream below last-stream-id completes, the second call
    must use a new connection."""

    def handler(req: FakeRequest) -> None:
        req.wait_end()
        if req.conn.index == 0:
            req.goaway(debug=b"drain")  # last-stream-id defaults to this stream
        req.respond([f"conn {req.conn.index}".encode()])

    with FakeServer(handler) as server:
        client = connect(server)
        stream_id = client.start_call([b""])
        # h2 as a client drops every stream once it sees GOAWAY: read the frames raw
        client.pump(lambda: client.stream_finished(stream_id), feed_h2=False)
        goaway = next(f for f in client.frames if isinstance(f, GoAwayFrame))
        assert (goaway.last_stream_id, goaway.error_code) == (1, 0)
        assert goaway.additional_data == b"drain"
        on_stream = [f for f in client.frames if f.stream_id == stream_id]
        assert client.frames.index(goaway) < client.frames.index(on_stream[0])
        data = b"".join(f.data for f in on_stream if isinstance(f, DataFrame))
        assert data == grpc_message(b"conn 0")
        # a client that ignores the GOAWAY is refused and no handler runs (HEADERS by hand)
        conn = server.connections[0]
        assert conn.goaway_sent == 1
        block = client.h2.encoder.encode(request_headers())
        client.sock.sendall(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 3, block))
        client.pump(
            lambda: any(isinstance(f, RstStreamFrame) for f in client.frames), feed_h2=False
        )
        (refusal,) = [f for f in client.frames if isinstance(f, RstStreamFrame)]
        assert (refusal.stream_id, refusal.error_code) == (3, h2.errors.ErrorCodes.REFUSED_STREAM)
        assert conn.refused_streams == [3]
        assert len(server.requests) == 1
        # a fresh connection is served
        other = connect(server)
        _, replies, _ = other.call([b""])
        assert replies == [b"conn 1"]
        assert server.connections_accepted == 2
        assert server.requests[1].conn is server.connections[1]


def test_goaway_with_explicit_last_stream_and_error(connect: Any) -> None:
    def handler(req: FakeRequest) -> None:
        req.respond([b"ok"])
        req.goaway(
            last_stream_id=2**31 - 1,
            error_code=h2.errors.ErrorCodes.ENHANCE_YOUR_CALM,
            debug=b"too_many_pings",
        )

    with FakeServer(handler) as server:
        client = connect(server)
        _, replies, _ = client.call([b""])
        assert replies == [b"ok"]
        client.pump(lambda: bool(client.of(h2.events.ConnectionTerminated)))
        (goaway,) = client.of(h2.events.ConnectionTerminated)
        assert goaway.last_stream_id == 2**31 - 1
        assert goaway.error_code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
        assert goaway.additional_data == b"too_many_pings"


@pytest.mark.parametrize("when", ["after_header", "during_data", "after_data"])
def test_rst_stream_at_each_point(connect: Any, when: str) -> None:
    """gRPC interop rst_after_header / rst_during_data / rst_after_data."""

    def handler(req: FakeRequest) -> None:
        req.wait_end()
        req.send_headers()
        if when == "during_data":
            req.send_data(grpc_message(b"x" * 100)[:50])
        elif when == "after_data":
            req.send_message(b"x" * 100)
        req.reset(h2.errors.ErrorCodes.INTERNAL_ERROR)

    with FakeServer(handler) as server:
        client = connect(server)
        stream_id = client.start_call([b""])
        client.pump(client.ended(stream_id))
        (reset,) = client.of(h2.events.StreamReset, stream_id)
        assert reset.error_code == h2.errors.ErrorCodes.INTERNAL_ERROR
        received = sum(len(e.data) for e in client.of(h2.events.DataReceived, stream_id))
        assert received == {"after_header": 0, "during_data": 50, "after_data": 105}[when]


def test_server_ping_is_acked_by_the_client(connect: Any) -> None:
    def handler(req: FakeRequest) -> None:
        req.ping(b"before!!")
        req.conn.wait_for_ping_ack(b"before!!", timeout=5)
        req.respond([b"pong"])

    with FakeServer(handler) as server:
        client = connect(server)
        _, replies, _ = client.call([b""])
        assert replies == [b"pong"]
        conn = server.connections[0]
        ack = conn.wait_for_frame(FrameType.PING, flags=Flag.ACK)
        assert ack.payload == b"before!!"
        assert conn.ping_acks == [b"before!!"]


def test_settings_reach_the_client_including_unknown_ids(connect: Any) -> None:
    settings = {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1, 0x99: 7}
    with FakeServer(echo_handler, settings=settings) as server:
        client = connect(server)
        client.call([b""])
        assert client.h2.remote_settings.max_concurrent_streams == 1
        (changed,) = client.of(h2.events.RemoteSettingsChanged)
        assert changed.changed_settings[0x99].new_value == 7
        server.connections[0].wait_for_settings_ack()


def test_initial_window_shrink_mid_stream_is_acked(connect: Any) -> None:
    def handler(req: FakeRequest) -> None:
        req.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1000})
        req.conn.wait_for_settings_ack(count=2)  # the initial SETTINGS, then this one
        req.respond(req.wait_end())

    with FakeServer(handler) as server:
        client = connect(server)
        stream_id = client.start_call([b"a" * 2000], end=False)
        client.pump(lambda: client.h2.remote_settings.initial_window_size == 1000)
        # the open stream's send window shrank by 64535 and went below zero
        assert client.h2.local_flow_control_window(stream_id) < 0
        server.requests[0].conn.grant_window(100_000, stream_id)
        client.h2.end_stream(stream_id)
        client.flush()
        client.pump(client.ended(stream_id))


def test_data_padding_255_bytes_per_frame(connect: Any) -> None:
    """gRPC interop data_frame_padding: 5 data bytes + 255 bytes of padding per frame."""

    def handler(req: FakeRequest) -> None:
        req.wait_end()
        req.send_headers()
        req.send_message(b"0123456789" * 3, pad_length=255, chunk_size=5)
        req.send_trailers()

    with FakeServer(handler) as server:
        client = connect(server)
        _, replies, _ = client.call([b""])
        assert replies == [b"0123456789" * 3]
        data_frames = [f for f in client.frames if isinstance(f, DataFrame)]
        assert len(data_frames) == 7  # 35 bytes in 5-byte pieces
        assert all("PADDED" in f.flags and f.pad_length == 255 for f in data_frames)
        assert all(len(f.data) == 5 for f in data_frames)
        assert sum(f.flow_controlled_length for f in data_frames) == 7 * (5 + 255 + 1)


def test_big_response_waits_for_window_updates(connect: Any) -> None:
    big = bytes(range(256)) * 1200  # 307,200 bytes: several windows' worth

    with FakeServer(unary_handler({METHOD: big})) as server:
        _, replies, _ = connect(server).call([b""])
        assert replies == [big]


def test_connection_window_starvation_until_granted(connect: Any) -> None:
    with FakeServer(echo_handler, auto_window_update=False) as server:
        client = connect(server)
        stream_id = client.start_call([], end=False)
        payload = grpc_message(b"z" * 100_000)
        sent = client.h2.local_flow_control_window(stream_id)
        for start in range(0, sent, 16_384):
            client.h2.send_data(stream_id, payload[start : min(start + 16_384, sent)])
        client.flush()
        (req,) = server.wait_for_requests(1)
        req.conn.wait_until(lambda: len(req.body) == 65_535, 5, "the first window")
        with pytest.raises(AssertionError, match="not reached"):  # no WINDOW_UPDATE comes
            client.pump(lambda: client.h2.local_flow_control_window(stream_id) > 0, 0.3)
        req.conn.grant_window(len(payload))
        req.conn.grant_window(len(payload), stream_id)
        client.pump(lambda: client.h2.local_flow_control_window(stream_id) > 0)
        for start in range(sent, len(payload), 16_384):
            client.h2.send_data(stream_id, payload[start : start + 16_384])
        client.h2.end_stream(stream_id)
        client.flush()
        client.pump(client.ended(stream_id))
        assert req.messages == [b"z" * 100_000]


@pytest.mark.parametrize("split", [16_384, 1_000])
def test_headers_split_by_continuation(connect: Any, split: int) -> None:
    big = "v" * 40_000

    def handler(req: FakeRequest) -> None:
        req.wait_end()
        req.send_headers_with_continuation([("x-big", big)], split=split)
        req.send_message(b"after")
        req.send_trailers()

    with FakeServer(handler) as server:
        client = connect(server)
        headers, replies, trailers = client.call([b""])
        assert headers["x-big"] == big
        assert replies == [b"after"]
        assert trailers["grpc-status"] == "0"
        block = [f for f in client.frames if isinstance(f, HeadersFrame | ContinuationFrame)][:-1]
        assert isinstance(block[0], HeadersFrame) and "END_HEADERS" not in block[0].flags
        assert all(isinstance(f, ContinuationFrame) for f in block[1:])
        assert "END_HEADERS" in block[-1].flags
        sizes = [len(f.data) for f in block]
        assert sizes[:-1] == [split] * (len(block) - 1)
        assert 0 < sizes[-1] <= split
        assert len(block) >= 2


def test_raw_frames_unknown_type_and_malformed(connect: Any) -> None:
    def handler(req: FakeRequest) -> None:
        req.wait_end()
        req.send_raw(frame(0xBB, 0xFF, 0, b"extension payload"))
        req.respond([b"still fine"])

    with FakeServer(handler) as server:
        client = connect(server)
        _, replies, _ = client.call([b""])
        assert replies == [b"still fine"]
        (unknown,) = [f for f in client.frames if isinstance(f, ExtensionFrame)]
        assert (unknown.type, unknown.body) == (0xBB, b"extension payload")
        assert client.of(h2.events.UnknownFrameReceived)

    def bad(req: FakeRequest) -> None:
        req.send_raw(frame(FrameType.PING, 0, 0, b"short"))  # PING must be 8 bytes

    with FakeServer(bad) as server:
        client = connect(server)
        stream_id = client.start_call([b""])
        with pytest.raises(h2.exceptions.ProtocolError):
            client.pump(client.ended(stream_id))
        assert client.bad_frames == [(FrameType.PING, b"short")]


def test_client_protocol_error_is_recorded(connect: Any) -> None:
    with FakeServer(echo_handler) as server:
        client = connect(server)
        client.call([b""])
        client.sock.sendall(frame(FrameType.DATA, 0, 0, b"x"))  # DATA on stream 0
        conn = server.connections[0]
        conn.wait_until(lambda: conn.closed, 5, "close")
        assert conn.protocol_error is not None
        client.pump(lambda: bool(client.of(h2.events.ConnectionTerminated)))
        (goaway,) = client.of(h2.events.ConnectionTerminated)
        assert goaway.error_code == h2.errors.ErrorCodes.PROTOCOL_ERROR


@pytest.mark.parametrize("abort", [False, True])
def test_close_socket_with_fin_or_rst(connect: Any, abort: bool) -> None:
    def handler(req: FakeRequest) -> None:
        req.wait_end()
        req.close_socket(abort=abort)

    with FakeServer(handler) as server:
        client = connect(server)
        client.start_call([b""])
        if abort:
            with pytest.raises(ConnectionResetError):
                client.pump(lambda: False)
        else:
            client.pump(lambda: client.eof)
        assert server.connections[0].closed


def test_handler_errors_reset_the_stream_and_surface_at_close(connect: Any) -> None:
    def broken(req: FakeRequest) -> None:
        raise ValueError("scenario bug")

    server = FakeServer(broken)
    client = connect(server)
    stream_id = client.start_call([b""])
    client.pump(client.ended(stream_id))
    assert client.of(h2.events.StreamReset, stream_id)[0].error_code == 2
    with pytest.raises(ValueError, match="scenario bug"):
        server.close()


def test_stall_until_client_resets_and_peer_gone(connect: Any) -> None:
    seen: list[str] = []

    def handler(req: FakeRequest) -> None:
        req.stall()
        seen.append(f"reset {req.reset_code}")
        with pytest.raises(PeerGone):
            req.wait_end()

    with FakeServer(handler) as server:
        client = connect(server)
        stream_id = client.start_call([b""], end=False)
        server.wait_for_requests(1)
        client.h2.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
        client.flush()
        server.connections[0].wait_for_frame(FrameType.RST_STREAM, stream_id=stream_id)
    assert seen == ["reset 8"]


def test_tls_with_alpn(connect: Any, tls_certs: Any) -> None:
    context = ssl.create_default_context(cafile=tls_certs.ca_file)
    context.set_alpn_protocols(["h2"])
    with FakeServer(echo_handler, tls_context=tls_certs.server_context()) as server:
        assert server.url.startswith("https://")
        client = connect(server, tls_context=context)
        _, replies, _ = client.call([b"secret"])
        assert replies == [b"secret"]
        assert server.connections[0].alpn_protocol == "h2"

# Generated from tests/_async/test_transport_errors.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""Every transport failure surfaces as a typed etcdwire error (STYLE.md §2: no OSError,
ssl.SSLError or hpack exception escapes), deadlines are enforced locally and propagated as
grpc-timeout, and whose fault an error is stays distinguishable."""

from __future__ import annotations

import io
import socket
import threading
from typing import Any

import pytest

from etcdwire._sync.channel import Channel
from etcdwire._backends.base import TLSConfig
from etcdwire._grpc.method import Cardinality, Method
from etcdwire._options import ChannelOptions
from etcdwire._pb import rpc_pb2
from etcdwire.errors import (
    ConnectFailed,
    ConnectionLost,
    DeadlineExceeded,
    EtcdError,
    RemoteProtocolError,
    ResourceExhausted,
    UsageError,
)
from etcdwire.trace import TraceWriter
from tests.fakes.h2_peer import FakeRequest, FakeServer, FrameType, frame

Msg = rpc_pb2.PutRequest
UNARY = Method("/test.Errors/Unary", Msg, Msg, Cardinality.UNARY_UNARY)


def ok_handler(request: FakeRequest) -> None:
    request.wait_end()
    request.respond([Msg(key=b"ok").SerializeToString()])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connect_refused_is_connect_failed() -> None:
    """A refused TCP connection is ConnectFailed (a TransportError), chained to the OSError."""
    with Channel(f"127.0.0.1:{closed_port()}") as channel:
        with pytest.raises(ConnectFailed) as info:
            channel.unary_unary(UNARY, Msg(key=b"a"), timeout=5)
    assert isinstance(info.value.__cause__, OSError)
    assert info.value.endpoint is not None


def test_tls_to_a_cleartext_server_is_connect_failed() -> None:
    """A TLS handshake against a cleartext HTTP/2 server fails as ConnectFailed, not SSLError."""
    with FakeServer(ok_handler) as server:
        with Channel(f"https://{server.address}", tls=TLSConfig()) as channel:
            with pytest.raises(ConnectFailed):
                channel.unary_unary(UNARY, Msg(key=b"a"), timeout=5)


def test_tls_wrong_ca_is_connect_failed(tls_certs: Any) -> None:
    """Verification is on by default: a server whose certificate is not signed by the given CA
    is refused with ConnectFailed naming the TLS error."""
    with FakeServer(ok_handler, tls_context=tls_certs.server_context()) as server:
        wrong = TLSConfig(ca_file=tls_certs.other_ca_file)
        with Channel(f"https://{server.address}", tls=wrong) as channel:
            with pytest.raises(ConnectFailed) as info:
                channel.unary_unary(UNARY, Msg(key=b"a"), timeout=5)
        assert "certificate" in str(info.value).lower()
        right = TLSConfig(ca_file=tls_certs.ca_file)
        with Channel(f"https://{server.address}", tls=right) as channel:
            reply = channel.unary_unary(UNARY, Msg(key=b"a"), timeout=5)
        assert reply.key == b"ok"


def test_tls_without_alpn_h2_is_connect_failed(tls_certs: Any) -> None:
    """RFC 9113 §3.3: over TLS, HTTP/2 must be negotiated with ALPN h2."""
    context = tls_certs.server_context(alpn=("http/1.1",))
    with FakeServer(ok_handler, tls_context=context, alpn=None) as server:
        tls = TLSConfig(ca_file=tls_certs.ca_file)
        with Channel(f"https://{server.address}", tls=tls) as channel:
            with pytest.raises(ConnectFailed) as info:
                channel.unary_unary(UNARY, Msg(key=b"a"), timeout=5)
    assert "ALPN" in str(info.value)


def test_server_closing_mid_call_is_connection_lost_maybe_sent() -> None:
    """EOF after the request was written: ConnectionLost with maybe_sent=True (the server may
    have applied it), and the next call reconnects."""

    def handle(request: FakeRequest) -> None:
        request.wait_end()
        if request.conn.index == 0:
            request.close_socket()
        else:
            request.respond([Msg(key=b"ok").SerializeToString()])

    with FakeServer(handle) as server:
        with Channel(server.address) as channel:
            with pytest.raises(ConnectionLost) as info:
                channel.unary_unary(UNARY, Msg(key=b"a"), timeout=5)
            assert info.value.maybe_sent is True
            reply = channel.unary_unary(UNARY, Msg(key=b"b"), timeout=5)
            assert reply.key == b"ok"


def test_grpc_deadline_propagated_and_enforced_locally() -> None:
    """PROTOCOL-HTTP2.md: grpc-timeout carries the time left; when the deadline passes the
    client fails the call with DEADLINE_EXCEEDED locally and resets the stream (CANCEL)."""
    seen: dict[str, Any] = {}
    handled = threading.Event()

    def handle(request: FakeRequest) -> None:
        seen["timeout"] = request.header("grpc-timeout")
        request.wait_end()
        request.stall(timeout=10)
        seen["reset"] = request.reset_code
        handled.set()

    with FakeServer(handle) as server:
        with Channel(server.address) as channel:
            with pytest.raises(DeadlineExceeded):
                channel.unary_unary(UNARY, Msg(key=b"a"), timeout=0.5)
        server.wait_for_requests(1)
        # The server reads what the client sent last (RST_STREAM, GOAWAY) before it stops:
        # leaving this block first would stop its reader with those bytes unread.
        assert handled.wait(10)
    server_timeout = seen["timeout"]
    assert server_timeout is not None and server_timeout[-1] in "mu"
    value = int(server_timeout[:-1]) / (1000 if server_timeout[-1] == "m" else 1_000_000)
    assert 0.3 < value <= 0.5
    assert seen["reset"] == 0x8  # CANCEL


def test_grpc_binary_metadata_is_base64_on_the_wire() -> None:
    """PROTOCOL-HTTP2.md: '-bin' metadata values are sent base64 (unpadded)."""
    seen: dict[str, Any] = {}

    def handle(request: FakeRequest) -> None:
        seen["bin"] = request.header("x-trace-bin")
        seen["text"] = request.header("x-text")
        request.wait_end()
        request.respond([Msg().SerializeToString()])

    with FakeServer(handle) as server:
        with Channel(server.address) as channel:
            channel.unary_unary(
                UNARY,
                Msg(key=b"a"),
                timeout=5,
                metadata=[("x-trace-bin", b"\x00\xff\x10"), ("x-text", "plain")],
            )
    assert seen == {"bin": "AP8Q", "text": "plain"}


def test_bad_metadata_is_usage_error_before_sending() -> None:
    """Invalid metadata keys are rejected with UsageError and nothing is sent."""
    with FakeServer(ok_handler) as server:
        with Channel(server.address) as channel:
            with pytest.raises(UsageError):
                channel.unary_unary(UNARY, Msg(), metadata=[("Bad Key", "v")])
            reply = channel.unary_unary(UNARY, Msg(key=b"a"), timeout=5)
            assert reply.key == b"ok"
        assert len(server.requests) == 1


def test_send_message_over_limit_is_resource_exhausted_before_sending() -> None:
    """A request message over max_send_message_length fails before anything is sent."""
    with FakeServer(ok_handler) as server:
        options = ChannelOptions(max_send_message_length=1000)
        with Channel(server.address, options=options) as channel:
            with pytest.raises(ResourceExhausted):
                channel.unary_unary(UNARY, Msg(value=b"x" * 2000), timeout=5)
        assert server.requests == []


def test_rfc9113_5_1_1_stream_id_exhaustion_opens_a_new_connection() -> None:
    """RFC 9113 §5.1.1: stream ids cannot be reused; when they run out the client opens a new
    connection (ids 1, 3, 5 then a fresh connection)."""
    with FakeServer(ok_handler) as server:
        with Channel(
            server.address, options=ChannelOptions(max_stream_id=5)
        ) as channel:
            for index in range(7):
                reply = channel.unary_unary(UNARY, Msg(key=b"%d" % index), timeout=5)
                assert reply.key == b"ok"
        assert [r.stream_id for r in server.requests] == [1, 3, 5, 1, 3, 5, 1]
        assert server.connections_accepted == 3


def test_peer_protocol_violation_is_remote_protocol_error() -> None:
    """RFC 9113 §6.7: a PING on a stream other than 0 is a connection PROTOCOL_ERROR; the
    call fails with a RemoteProtocolError carrying the code, and we say GOAWAY."""

    def handle(request: FakeRequest) -> None:
        request.wait_end()
        request.send_raw(frame(0x6, 0x0, request.stream_id, b"12345678"))
        request.conn.wait_closed(timeout=5)

    with FakeServer(handle) as server:
        with Channel(server.address) as channel:
            with pytest.raises(RemoteProtocolError) as info:
                channel.unary_unary(UNARY, Msg(key=b"a"), timeout=5)
        goaway = server.connections[0].wait_for_frame(FrameType.GOAWAY)
    assert info.value.h2_error_code == 0x1
    assert int.from_bytes(goaway.payload[4:8], "big") == 0x1  # PROTOCOL_ERROR


def test_trace_writer_redacts_token_and_decodes_messages() -> None:
    """The trace shows every frame and decoded message, and never the token's value."""
    out = io.StringIO()
    with FakeServer(ok_handler) as server:
        with Channel(
            server.address, trace=TraceWriter(out, decode_messages=True)
        ) as channel:
            channel.unary_unary(
                UNARY, Msg(key=b"traced"), timeout=5, metadata=[("token", "s3cr3t-token")]
            )
    text = out.getvalue()
    assert "s3cr3t-token" not in text
    assert "redacted" in text
    assert "HEADERS" in text and "SETTINGS" in text and "DATA" in text
    assert 'key: "traced"' in text


class RawServer:
    """Accepts one connection, answers with a server preface, then sends ``tail`` bytes."""

    def __init__(self, tail: bytes) -> None:
        self.tail = tail
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        self.sock.settimeout(10)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(2)
            try:
                conn.recv(65536)
                conn.sendall(frame(0x4, 0, 0) + self.tail)
                while conn.recv(65536):
                    pass
            except OSError:
                pass

    def close(self) -> None:
        self.sock.close()
        self.thread.join(5)


@pytest.mark.parametrize(
    "tail",
    [
        b"",
        b"\x00",
        b"garbage that is not http/2 at all" * 10,
        frame(0x0, 0x1, 1, b"data on a stream never opened by us"),
        frame(0x1, 0x4, 2, b"\x88"),  # HEADERS on an even (server) stream
        frame(0x1, 0x4, 1, b"\xff\xff\xff\xff\xff"),  # HPACK garbage
        frame(0x8, 0x0, 0, b"\x00\x00\x00\x00"),  # WINDOW_UPDATE of 0 on the connection
        b"\x00\xff\xff\x00\x00\x00\x00\x00\x01",  # a 65,535-byte DATA header, then nothing
        frame(0x3, 0x0, 1, b"\x00\x00\x00\x01") * 3,  # RST_STREAM (ok) then repeats
    ],
)
def test_arbitrary_server_bytes_end_in_a_typed_error(tail: bytes) -> None:
    """Whatever the peer sends after its preface, a call ends with a result or a typed
    etcdwire error within its deadline: never another exception, never a hang."""
    server = RawServer(tail)
    try:
        with Channel(f"127.0.0.1:{server.port}") as channel:
            with pytest.raises(EtcdError):
                channel.unary_unary(UNARY, Msg(key=b"a"), timeout=1)
    finally:
        server.close()


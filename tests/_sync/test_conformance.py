# Generated from tests/_async/test_conformance.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""HTTP/2 and gRPC conformance of the channel against an independent peer (the fake server on
the ``h2`` package), for what real etcd cannot be made to do on demand.

Each test names the rule it checks: RFC 9113 sections, and the scenarios of gRPC's
doc/http2-interop-test-descriptions.md (``goaway``, ``rst_after_header``, ``ping``,
``max_streams``, ``data_frame_padding``...) and PROTOCOL-HTTP2.md.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from etcdwire._sync.channel import Channel
from etcdwire._compat import Task, sleep, spawn
from etcdwire._grpc.method import Cardinality, Method
from etcdwire._options import ChannelOptions
from etcdwire._pb import rpc_pb2
from etcdwire.errors import (
    DeadlineExceeded,
    Internal,
    NotFound,
    ResourceExhausted,
    Unavailable,
    Unimplemented,
    Unknown,
)
from etcdwire.trace import FrameTrace, TraceEvent
from tests.fakes.h2_peer import FakeRequest, FakeServer, FrameType, frame, settings_frame

Msg = rpc_pb2.PutRequest
UNARY = Method("/test.Conformance/Unary", Msg, Msg, Cardinality.UNARY_UNARY)
SERVER_STREAM = Method("/test.Conformance/ServerStream", Msg, Msg, Cardinality.UNARY_STREAM)
CLIENT_STREAM = Method("/test.Conformance/ClientStream", Msg, Msg, Cardinality.STREAM_UNARY)

REQUEST_SIZE = 271_828  # the interop tests' request and response payload sizes
RESPONSE_SIZE = 314_159
SETTINGS_MAX_CONCURRENT_STREAMS = 0x3
SETTINGS_INITIAL_WINDOW_SIZE = 0x4


def payload(size: int) -> bytes:
    return Msg(key=b"k", value=b"\0" * size).SerializeToString()


def respond_value(size: int) -> Any:
    def handle(request: FakeRequest) -> None:
        request.wait_end()
        request.respond([payload(size)])

    return handle


def channel_to(server: FakeServer, **options: Any) -> Channel:
    return Channel(server.address, options=ChannelOptions(**options))


def gather(count: int, work: Any) -> list[Any]:
    """Run ``work(i)`` for i in range(count) concurrently; return results or exceptions."""
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            results[index] = work(index)
        except Exception as exc:
            results[index] = exc

    tasks: list[Task] = [spawn(run, i) for i in range(count)]
    for task in tasks:
        task.join(30)
    return results


def test_grpc_interop_goaway_next_call_uses_new_connection() -> None:
    """interop ``goaway``: after GOAWAY the next call goes on a new connection and both
    calls succeed (RFC 9113 §6.8: no new streams on a connection after GOAWAY)."""

    def handle(request: FakeRequest) -> None:
        request.wait_end()
        if request.conn.index == 0:
            request.goaway(last_stream_id=request.stream_id)
        request.respond([payload(10)])

    with FakeServer(handle) as server:
        with channel_to(server) as channel:
            first = channel.unary_unary(UNARY, Msg(key=b"a"))
            second = channel.unary_unary(UNARY, Msg(key=b"b"))
        assert first.value == second.value == b"\0" * 10
        assert server.connections_accepted == 2
        assert channel.connections_opened == 2


def test_rfc9113_6_8_streams_above_last_stream_id_are_retried_once() -> None:
    """RFC 9113 §6.8 / gRPC A6 transparent retry: a stream above GOAWAY's last-stream-id was
    not processed, so a unary call on it is retried on a new connection."""

    def handle(request: FakeRequest) -> None:
        request.wait_end()
        if request.conn.index == 0:
            request.goaway(last_stream_id=0)  # refuses the stream we are on
            return
        request.respond([payload(3)])

    with FakeServer(handle) as server:
        with channel_to(server) as channel:
            reply = channel.unary_unary(UNARY, Msg(key=b"a"), timeout=10)
        assert reply.value == b"\0" * 3
        assert server.connections_accepted == 2


def test_rfc9113_8_7_refused_stream_is_retried_once() -> None:
    """RFC 9113 §8.7: RST_STREAM REFUSED_STREAM means not processed; retried transparently."""
    attempts: list[int] = []

    def handle(request: FakeRequest) -> None:
        request.wait_end()
        attempts.append(request.stream_id)
        if len(attempts) == 1:
            request.reset(0x7)  # REFUSED_STREAM
        else:
            request.respond([payload(1)])

    with FakeServer(handle) as server:
        with channel_to(server) as channel:
            reply = channel.unary_unary(UNARY, Msg(key=b"a"), timeout=10)
        assert reply.value == b"\0"
        assert len(attempts) == 2


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("rst_after_header", Internal),
        ("rst_during_data", Internal),
        ("rst_after_data", Internal),
    ],
)
def test_grpc_interop_rst_fails_the_call(scenario: str, expected: type) -> None:
    """interop ``rst_after_header`` / ``rst_during_data`` / ``rst_after_data``: the call fails
    (PROTOCOL-HTTP2.md Errors: RST_STREAM NO_ERROR before trailers maps to INTERNAL) and the
    connection stays usable."""

    def handle(request: FakeRequest) -> None:
        request.wait_end()
        if request.header("x-scenario") is None:
            request.respond([payload(1)])
            return
        request.send_headers()
        body = payload(RESPONSE_SIZE)
        framed = len(body).to_bytes(4, "big")
        if scenario == "rst_during_data":
            request.send_data(b"\0" + framed + body[: len(body) // 2])
        elif scenario == "rst_after_data":
            request.send_data(b"\0" + framed + body)
        request.reset(0)

    with FakeServer(handle) as server:
        with channel_to(server) as channel:
            with pytest.raises(expected):
                channel.unary_unary(
                    UNARY, Msg(key=b"a"), timeout=10, metadata=[("x-scenario", scenario)]
                )
            again = channel.unary_unary(UNARY, Msg(key=b"b"), timeout=10)
            assert again.value == b"\0"
            assert channel.connections_opened == 1


def test_grpc_interop_ping_server_pings_are_acknowledged() -> None:
    """interop ``ping`` / RFC 9113 §6.7: a PING from the server is answered with an ACK
    carrying the same payload, before and after the response headers."""
    payloads = [b"beforeHD", b"after-HD"]

    def handle(request: FakeRequest) -> None:
        request.wait_end()
        request.ping(payloads[0])
        request.send_headers()
        request.ping(payloads[1])
        request.send_message(payload(100))
        for data in payloads:
            request.conn.wait_for_ping_ack(data)
        request.send_trailers(0)

    with FakeServer(handle) as server:
        with channel_to(server) as channel:
            reply = channel.unary_unary(UNARY, Msg(key=b"a"), timeout=10)
        assert len(reply.value) == 100
        assert server.connections[0].ping_acks == payloads


def test_grpc_interop_max_streams_one_with_ten_concurrent_calls() -> None:
    """interop ``max_streams`` / RFC 9113 §5.1.2: with MAX_CONCURRENT_STREAMS = 1, ten
    concurrent calls all succeed, one stream at a time, on one connection."""
    lock = threading.Lock()
    active = [0, 0]  # now, most

    def handle(request: FakeRequest) -> None:
        with lock:
            active[0] += 1
            active[1] = max(active)
        request.wait_end()
        with lock:
            active[0] -= 1
        request.respond([payload(10)])

    with FakeServer(handle, settings={SETTINGS_MAX_CONCURRENT_STREAMS: 1}) as server:
        with channel_to(server) as channel:
            channel.unary_unary(UNARY, Msg(key=b"warm-up"), timeout=10)

            def one(index: int) -> int:
                reply = channel.unary_unary(UNARY, Msg(key=b"%d" % index), timeout=20)
                return len(reply.value)

            results = gather(10, one)
        assert results == [10] * 10
        assert active[1] == 1
        assert server.connections_accepted == 1


def test_grpc_interop_data_frame_padding_credit_is_returned() -> None:
    """interop ``data_frame_padding`` / RFC 9113 §6.1: DATA carrying 5 bytes plus 255 bytes of
    padding each; the padding counts for flow control and is credited back, so a response
    whose padded size is many times the receive windows still arrives."""
    body_size = 40_000

    def handle(request: FakeRequest) -> None:
        request.wait_end()
        request.send_headers()
        request.send_message(payload(body_size), pad_length=255, chunk_size=5)
        request.send_trailers(0)

    with FakeServer(handle) as server:
        with channel_to(
            server, stream_window_size=65_535, connection_window_size=65_535
        ) as channel:
            reply = channel.unary_unary(UNARY, Msg(key=b"a"), timeout=60)
        assert len(reply.value) == body_size
        # ~8,000 frames of 5 + 1 + 255 bytes: about 2 MB of flow-controlled bytes, 30 times
        # the 64 KiB windows, all of which the client credited back on the connection.
        credit = sum(
            int.from_bytes(f.payload[:4], "big") & 0x7FFF_FFFF
            for f in server.connections[0].frames
            if f.type == FrameType.WINDOW_UPDATE and f.stream_id == 0
        )
        assert credit >= (body_size // 5) * 261 - 65_535


def test_rfc9113_6_9_2_initial_window_shrink_mid_stream() -> None:
    """RFC 9113 §6.9.2: a SETTINGS_INITIAL_WINDOW_SIZE that shrinks mid-stream may make the
    send window negative; the client waits for WINDOW_UPDATE and the request arrives whole."""
    received: list[bytes] = []
    negative: list[int] = []

    def hook(event: TraceEvent) -> None:
        record = event.record if isinstance(event, FrameTrace) else None
        window = record.stream_window if record is not None else None
        if window is not None and window[0] < 0:
            negative.append(window[0])

    def handle(request: FakeRequest) -> None:
        conn = request.conn
        # No credit is given back, so the client stops at exactly 65,535 bytes sent...
        conn.wait_until(lambda: len(request.body) >= 65_535, 10, "the initial window")
        # ...then the shrink takes its send window to 16,384 - 65,535 = -49,151.
        request.update_settings({SETTINGS_INITIAL_WINDOW_SIZE: 16_384})
        conn.wait_for_settings_ack(2)
        conn.grant_window(1_000_000)
        conn.grant_window(1_000_000, stream_id=request.stream_id)
        received.extend(request.wait_end())
        request.respond([payload(1)])

    with FakeServer(handle, auto_window_update=False) as server:
        with Channel(server.address, trace=hook) as channel:
            call = channel.stream_unary(CLIENT_STREAM, timeout=30)
            for index in range(4):
                call.send_message(Msg(key=b"%d" % index, value=b"x" * 60_000))
            call.done_writing()
            reply = call.receive()
            assert reply is not None and reply.value == b"\0"
            assert call.receive() is None
        assert [Msg.FromString(m).key for m in received] == [b"0", b"1", b"2", b"3"]
        assert all(len(Msg.FromString(m).value) == 60_000 for m in received)
        assert negative == [-49_151]


def test_rfc9113_6_9_sender_blocks_on_connection_window_then_resumes() -> None:
    """RFC 9113 §6.9: with the server granting no credit, the client sends at most the
    initial 65,535-byte connection window, blocks without spinning, and resumes when a
    WINDOW_UPDATE arrives; a deadline ends the wait."""

    def handle(request: FakeRequest) -> None:
        request.wait_end(timeout=30)
        request.respond([payload(1)])

    with FakeServer(handle, auto_window_update=False) as server:
        with channel_to(server) as channel:
            with pytest.raises(DeadlineExceeded):
                channel.unary_unary(UNARY, Msg(value=b"y" * 200_000), timeout=1)
            conn = server.connections[0]
            sent = sum(len(f.payload) for f in conn.frames if f.type == FrameType.DATA)
            assert sent <= 65_535

            def call() -> int:
                reply = channel.unary_unary(UNARY, Msg(value=b"z" * 100_000), timeout=30)
                return len(reply.value)

            task = gather_later(call)
            while len(server.requests) < 2:
                sleep(0.01)
            conn.grant_window(1_000_000)
            conn.grant_window(1_000_000, stream_id=server.requests[1].stream_id)
            result = task()
        assert result == 1


def gather_later(work: Any) -> Any:
    """Start ``work()`` in the background; return an awaitable giving its result."""
    box: list[Any] = []

    def run() -> None:
        try:
            box.append(work())
        except Exception as exc:
            box.append(exc)

    task = spawn(run)

    def result() -> Any:
        task.join(30)
        assert box, "background call did not finish"
        if isinstance(box[0], Exception):
            raise box[0]
        return box[0]

    return result


def streams_and_answers(count: int, sent: list[int]) -> Any:
    """A handler: SERVER_STREAM gets ``count`` messages of 16,000 octets (their indexes go to
    ``sent`` as each is written), any other call a 2-octet answer."""

    def handle(request: FakeRequest) -> None:
        request.wait_end()
        if request.path != SERVER_STREAM.path:
            request.respond([payload(2)])
            return
        request.send_headers()
        for index in range(count):
            request.send_message(payload(16_000))
            sent.append(index)
        request.send_trailers(0)

    return handle


def test_rfc9113_5_2_2_unread_stream_does_not_starve_the_connection() -> None:
    """RFC 9113 §5.2.2: a stream whose messages are not read stalls only itself; connection
    credit is returned as data is received, so other calls keep working."""
    handle = streams_and_answers(20, [])
    with FakeServer(handle) as server:
        with channel_to(
            server, stream_window_size=65_535, connection_window_size=65_535
        ) as channel:
            stream = channel.unary_stream(SERVER_STREAM, Msg(key=b"s"), timeout=30)
            first = stream.receive()  # starts the stream, then stop reading it
            assert first is not None
            for _ in range(5):
                reply = channel.unary_unary(UNARY, Msg(key=b"u"), timeout=10)
                assert reply.value == b"\0\0"
            rest = [m for m in stream]
            assert len(rest) == 19


def test_rfc9113_6_9_unread_stream_is_held_to_its_window() -> None:
    """RFC 9113 §6.9: stream credit is what bounds a stream the application does not read.
    While the connection goes on reading (other calls' answers, or asyncio pushing every
    read), the server of an unread stream gets no more credit than the stream window and the
    message it completes: the client grants extra credit for a message larger than the
    window only once the messages before it have been taken."""
    sent: list[int] = []
    with FakeServer(streams_and_answers(100, sent)) as server:
        with channel_to(server, stream_window_size=65_535) as channel:
            stream = channel.unary_stream(SERVER_STREAM, Msg(key=b"s"), timeout=30)
            first = stream.receive()
            assert first is not None
            for _ in range(20):
                channel.unary_unary(UNARY, Msg(key=b"u"), timeout=10)
            sleep(0.3)
            # The window held the first message plus 65,535 octets: 5 messages at most
            # (the fifth completed with the credit it lacked), never the 100 of the stream.
            assert len(sent) <= 5, f"the server sent {len(sent)} messages nobody read"
            rest = [m for m in stream]
        assert len(rest) == 99


def test_grpc_trailers_only_response_maps_status() -> None:
    """PROTOCOL-HTTP2.md Trailers-Only: one HEADERS with END_STREAM carries the status."""

    def handle(request: FakeRequest) -> None:
        request.wait_end()
        request.respond(status=5, message="no such thing: 100%", trailers_only=True)

    with FakeServer(handle) as server:
        with channel_to(server) as channel:
            with pytest.raises(NotFound) as info:
                channel.unary_unary(UNARY, Msg(key=b"a"), timeout=10)
        assert info.value.message == "no such thing: 100%"


@pytest.mark.parametrize(("http_status", "expected"), [(503, Unavailable), (404, Unimplemented)])
def test_grpc_http_status_mapping_non_grpc_reply(http_status: int, expected: type) -> None:
    """http-grpc-status-mapping.md: a non-gRPC reply (an HTML error page from a proxy) maps
    503 to UNAVAILABLE and 404 to UNIMPLEMENTED, with the body in the message."""

    def handle(request: FakeRequest) -> None:
        request.wait_end()
        request.respond_http(http_status, b"<html>proxy says no</html>")

    with FakeServer(handle) as server:
        with channel_to(server) as channel:
            with pytest.raises(expected) as info:
                channel.unary_unary(UNARY, Msg(key=b"a"), timeout=10)
        assert str(http_status) in info.value.message
        assert "proxy says no" in info.value.message


def test_grpc_missing_grpc_status_is_unknown() -> None:
    """PROTOCOL-HTTP2.md: trailers without grpc-status give UNKNOWN."""

    def handle(request: FakeRequest) -> None:
        request.wait_end()
        request.respond([payload(1)], trailers=[("x-other", "1")], status=None)  # type: ignore[arg-type]

    with FakeServer(handle) as server:
        with channel_to(server) as channel:
            with pytest.raises(Unknown):
                channel.unary_unary(UNARY, Msg(key=b"a"), timeout=10)


def test_grpc_oversized_message_is_resource_exhausted_and_connection_survives() -> None:
    """A response message over the receive limit fails that call with RESOURCE_EXHAUSTED
    before it is buffered, the stream is reset, and the connection stays usable."""

    def handle(request: FakeRequest) -> None:
        request.wait_end()
        size = 100_000 if request.header("x-big") else 10
        request.respond([payload(size)])

    with FakeServer(handle) as server:
        with channel_to(server, max_receive_message_length=50_000) as channel:
            with pytest.raises(ResourceExhausted):
                channel.unary_unary(
                    UNARY, Msg(key=b"a"), timeout=10, metadata=[("x-big", "1")]
                )
            reply = channel.unary_unary(UNARY, Msg(key=b"b"), timeout=10)
            assert len(reply.value) == 10
            assert channel.connections_opened == 1


def test_rfc9113_6_10_headers_split_by_continuation_at_16384() -> None:
    """RFC 9113 §6.10: a response header block split into HEADERS + CONTINUATION frames at
    16,384 bytes is reassembled (here a 40 KB metadata value)."""
    big = "v" * 40_000
    frames_seen: list[str] = []

    def hook(event: TraceEvent) -> None:
        if isinstance(event, FrameTrace) and event.record.direction == "recv":
            frames_seen.append(event.record.frame_type)

    def handle(request: FakeRequest) -> None:
        request.wait_end()
        request.send_headers_with_continuation([("x-big", big)], split=16_384)
        request.send_message(payload(1))
        request.send_trailers(0)

    with FakeServer(handle) as server:
        with Channel(server.address, trace=hook) as channel:
            call = channel.unary_stream(SERVER_STREAM, Msg(key=b"a"), timeout=10)
            assert [m.value for m in call] == [b"\0"]
            assert call.initial_metadata is not None
            assert ("x-big", big) in call.initial_metadata
    assert frames_seen.count("CONTINUATION") >= 2


def test_rfc9113_4_1_and_6_5_2_unknown_frames_and_settings_are_ignored() -> None:
    """RFC 9113 §4.1/§5.5: unknown frame types are ignored; §6.5.2: unknown settings ids are
    ignored. The call completes normally."""

    def handle(request: FakeRequest) -> None:
        request.wait_end()
        request.send_raw(frame(0xAB, 0x0, 0, b"connection-level"))
        request.send_raw(frame(0xCD, 0xFF, request.stream_id, b"stream-level"))
        request.send_raw(settings_frame({0x99: 12345, 0x8: 1}))
        request.respond([payload(7)])

    with FakeServer(handle, settings={0x77: 1}) as server:
        with channel_to(server) as channel:
            reply = channel.unary_unary(UNARY, Msg(key=b"a"), timeout=10)
            assert len(reply.value) == 7
            again = channel.unary_unary(UNARY, Msg(key=b"b"), timeout=10)
            assert len(again.value) == 7

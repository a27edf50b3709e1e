"""RFC 9113 §8: response framing (1xx, final headers, trailers), field validity (§8.2),
pseudo-header rules (§8.3), and the header list limit (§6.5.2, §10.5.1)."""

from __future__ import annotations

import hpack
import pytest

from etcdwire._h2 import frames as fr
from etcdwire._h2.events import (
    DataReceived,
    InformationalResponseReceived,
    ResponseReceived,
    StreamReset,
    TrailersReceived,
)
from etcdwire._h2.frames import ErrorCode, FrameType
from etcdwire._h2.stream import StreamState
from etcdwire.errors import LocalProtocolError

from .helpers import (
    REQUEST,
    RESPONSE,
    TRAILERS,
    connect,
    expect_stream_error,
    open_stream,
    sent_frames,
)

# --- §8.1 message framing ---------------------------------------------------------------------


def test_rfc9113_8_1_informational_responses_precede_the_final_one() -> None:
    conn, peer = connect()
    stream_id = open_stream(conn)
    events = conn.receive_data(
        peer.headers(stream_id, [(b":status", b"100")])
        + peer.headers(stream_id, [(b":status", b"103"), (b"link", b"</a>")])
        + peer.response(stream_id)
        + peer.data(stream_id, b"m")
        + peer.trailers(stream_id)
    )
    assert events == [
        InformationalResponseReceived(stream_id, [(b":status", b"100")]),
        InformationalResponseReceived(stream_id, [(b":status", b"103"), (b"link", b"</a>")]),
        ResponseReceived(stream_id, RESPONSE, False),
        DataReceived(stream_id, b"m", 1, False),
        TrailersReceived(stream_id, TRAILERS),
    ]
    assert conn.stream_state(stream_id) is StreamState.CLOSED


def test_rfc9113_8_1_trailers_only_response() -> None:
    conn, peer = connect()
    stream_id = open_stream(conn)
    fields = [*RESPONSE, (b"grpc-status", b"14"), (b"grpc-message", b"unavailable")]
    events = conn.receive_data(peer.headers(stream_id, fields, end_stream=True))
    assert events == [ResponseReceived(stream_id, fields, True)]
    assert conn.stream_state(stream_id) is StreamState.CLOSED


@pytest.mark.parametrize(
    ("fields", "end_stream"),
    [
        ([(b":status", b"100")], True),  # 1xx with END_STREAM
        ([(b":status", b"101")], False),  # no Upgrade in HTTP/2 (§8.6)
        ([(b"content-type", b"application/grpc")], False),  # no :status
    ],
    ids=["1xx-end-stream", "101", "no-status"],
)
def test_rfc9113_8_1_malformed_first_header_block(
    fields: list[tuple[bytes, bytes]], end_stream: bool
) -> None:
    conn, peer = connect()
    stream_id = open_stream(conn)
    frame = peer.headers(stream_id, fields, end_stream=end_stream)
    expect_stream_error(conn, frame, stream_id, ErrorCode.PROTOCOL_ERROR)


def test_rfc9113_8_1_headers_without_end_stream_after_the_final_headers_is_malformed() -> None:
    conn, peer = connect()
    stream_id = open_stream(conn)
    conn.receive_data(peer.response(stream_id))
    frame = peer.headers(stream_id, TRAILERS, end_stream=False)
    expect_stream_error(conn, frame, stream_id, ErrorCode.PROTOCOL_ERROR)


def test_rfc9113_8_1_pseudo_header_in_trailers_is_malformed() -> None:
    conn, peer = connect()
    stream_id = open_stream(conn)
    conn.receive_data(peer.response(stream_id))
    frame = peer.headers(stream_id, [(b":status", b"200"), *TRAILERS], end_stream=True)
    expect_stream_error(conn, frame, stream_id, ErrorCode.PROTOCOL_ERROR)


def test_rfc9113_8_1_rst_stream_no_error_after_a_complete_response() -> None:
    conn, peer = connect()
    stream_id = open_stream(conn, end_stream=False)  # still sending the request
    events = conn.receive_data(
        peer.response(stream_id)
        + peer.trailers(stream_id)
        + fr.encode_rst_stream(stream_id, ErrorCode.NO_ERROR)
    )
    # The response is delivered in full; the reset only stops our request body.
    assert events[1] == TrailersReceived(stream_id, TRAILERS)
    assert events[2] == StreamReset(stream_id, ErrorCode.NO_ERROR, remote=True)


# --- §8.2, §8.3 field validity -------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        [(b":status", b"200"), (b"Content-Type", b"application/grpc")],
        [(b":status", b"200"), (b"connection", b"close")],
        [(b":status", b"200"), (b"transfer-encoding", b"chunked")],
        [(b":status", b"200"), (b"x-bad", b"a\r\nb")],
        [(b":status", b"200"), (b"x-bad", b"nul\x00")],
        [(b":status", b"200"), (b"x-bad", b" leading")],
        [(b":status", b"200"), (b"x-bad", b"trailing\t")],
        [(b":status", b"200"), (b"x:colon", b"v")],
        [(b":status", b"200"), (b"", b"v")],
        [(b"content-type", b"application/grpc"), (b":status", b"200")],
        [(b":status", b"200"), (b":path", b"/")],
        [(b":status", b"200"), (b":status", b"204")],
        [(b":status", b"2000")],
        [(b":status", b"abc")],
        [(b":status", b"099")],
    ],
    ids=[
        "uppercase-name",
        "connection",
        "transfer-encoding",
        "crlf-in-value",
        "nul-in-value",
        "leading-space",
        "trailing-tab",
        "colon-in-name",
        "empty-name",
        "pseudo-after-regular",
        "request-pseudo",
        "duplicate-status",
        "status-4-digits",
        "status-not-digits",
        "status-below-100",
    ],
)
def test_rfc9113_8_2_and_8_3_malformed_response_fields(
    fields: list[tuple[bytes, bytes]],
) -> None:
    conn, _peer = connect()
    stream_id = open_stream(conn)
    encoder = hpack.Encoder()
    frame = fr.encode_headers(stream_id, encoder.encode(fields, huffman=False))
    expect_stream_error(conn, frame, stream_id, ErrorCode.PROTOCOL_ERROR)


def test_rfc9113_8_2_valid_unusual_fields_are_accepted() -> None:
    conn, peer = connect()
    stream_id = open_stream(conn)
    fields = [
        (b":status", b"200"),
        (b"x-empty", b""),
        (b"x-inner", b"a b\tc"),
        (b"x-utf8", "é".encode()),
        (b"grpc-status-details-bin", bytes(range(1, 9))),
    ]
    assert conn.receive_data(peer.headers(stream_id, fields)) == [
        ResponseReceived(stream_id, fields, False)
    ]


# --- §6.5.2 / §10.5.1 header list size ----------------------------------------------------------


def test_rfc9113_10_5_1_oversized_header_list_is_a_stream_error_and_hpack_stays_in_sync() -> None:
    conn, peer = connect(max_header_list_size=1000)
    big = open_stream(conn)
    small = open_stream(conn)
    oversized = [(b":status", b"200"), (b"x-big", b"v" * 1000)]
    expect_stream_error(conn, peer.headers(big, oversized), big, ErrorCode.ENHANCE_YOUR_CALM)
    # x-big went into the peer's dynamic table; the next block refers to it.
    events = conn.receive_data(peer.headers(small, [(b":status", b"200")]))
    assert events == [ResponseReceived(small, [(b":status", b"200")], False)]
    assert not conn.closed


def test_header_list_size_limit_counts_32_octets_per_field() -> None:
    fields = [(b":status", b"200"), (b"x", b"y" * 10)]
    size = sum(len(n) + len(v) + 32 for n, v in fields)
    conn, peer = connect(max_header_list_size=size)
    stream_id = open_stream(conn)
    assert conn.receive_data(peer.headers(stream_id, fields))[0] == ResponseReceived(
        stream_id, fields, False
    )
    conn2, peer2 = connect(max_header_list_size=size - 1)
    stream_id = open_stream(conn2)
    expect_stream_error(
        conn2, peer2.headers(stream_id, fields), stream_id, ErrorCode.ENHANCE_YOUR_CALM
    )


# --- what we send ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        [(b":method", b"POST"), (b":scheme", b"http")],  # no :path
        [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/"), (b"X-Up", b"1")],
        [(b":method", b"POST"), (b"a", b"1"), (b":scheme", b"http"), (b":path", b"/")],
        [(b":method", b"POST"), (b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/")],
        [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/"), (b":status", b"200")],
        [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/"), (b"te", b"gzip")],
        [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/"), (b"upgrade", b"h2c")],
        [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/"), (b"x", b"a\nb")],
        [(":method", "POST"), (":scheme", "http"), (":path", "/")],  # str, not bytes
    ],
)
def test_rfc9113_8_3_1_we_never_send_a_malformed_request(fields: list) -> None:  # type: ignore[type-arg]
    conn, _ = connect()
    with pytest.raises(LocalProtocolError):
        conn.open_stream(fields)
    assert conn.data_to_send() == b""
    assert conn.get_next_available_stream_id() == 1


def test_rfc9113_8_1_request_trailers() -> None:
    conn, _ = connect()
    stream_id = open_stream(conn, end_stream=False)
    with pytest.raises(LocalProtocolError):
        conn.send_headers(stream_id, [(b"x-trailer", b"1")])  # must end the stream
    with pytest.raises(LocalProtocolError):
        conn.send_headers(stream_id, [(b":path", b"/")], end_stream=True)
    conn.send_headers(stream_id, [(b"x-trailer", b"1")], end_stream=True)
    frames = sent_frames(conn)
    assert (frames[-1].type, frames[-1].flags) == (
        FrameType.HEADERS,
        fr.END_HEADERS | fr.END_STREAM,
    )
    assert conn.stream_state(stream_id) is StreamState.HALF_CLOSED_LOCAL


def test_rfc7541_7_1_3_secrets_are_never_indexed() -> None:
    conn, _ = connect()
    conn.open_stream([*REQUEST, (b"authorization", b"Bearer x"), (b"token", b"secret")])
    headers = next(f for f in sent_frames(conn) if f.type == FrameType.HEADERS)
    decoded = hpack.Decoder().decode(headers.payload, raw=True)
    never = [h for h in decoded if isinstance(h, hpack.NeverIndexedHeaderTuple)]
    assert [h[0] for h in never] == [b"authorization", b"token"]


def test_rfc9113_6_10_large_request_header_block_is_split_at_the_peer_frame_size() -> None:
    conn, _ = connect()
    conn.open_stream([*REQUEST, (b"x-big", bytes(range(33, 127)) * 400)])
    frames = sent_frames(conn)
    assert [f.type for f in frames] == [
        FrameType.HEADERS,
        FrameType.CONTINUATION,
        FrameType.CONTINUATION,
    ]
    assert all(len(f.payload) <= 16_384 for f in frames)
    assert [f.flags & fr.END_HEADERS for f in frames] == [0, 0, fr.END_HEADERS]

"""RFC 9113 §6: the rules of each frame type as a client receives and sends them."""

from __future__ import annotations

import hpack
import pytest

from etcdwire._h2 import frames as fr
from etcdwire._h2.events import (
    DataReceived,
    GoAwayReceived,
    PingAckReceived,
    PingReceived,
    RemoteSettingsChanged,
    ResponseReceived,
    StreamEnded,
    StreamReset,
    TrailersReceived,
    WindowUpdated,
)
from etcdwire._h2.frames import ErrorCode, FrameType, SettingCode
from etcdwire._h2.stream import StreamState
from etcdwire.errors import LocalProtocolError

from .helpers import (
    REQUEST,
    RESPONSE,
    TRAILERS,
    connect,
    expect_connection_error,
    expect_stream_error,
    open_stream,
    parse_frames,
    rst_frames,
    sent_frames,
)

# --- §6.1 DATA ----------------------------------------------------------------------------------


def _responding(**kwargs: object):  # type: ignore[no-untyped-def]
    conn, peer = connect(**kwargs)
    stream_id = open_stream(conn)
    conn.receive_data(peer.response(stream_id))
    return conn, peer, stream_id


def test_rfc9113_6_1_data_on_stream_0_is_a_protocol_error() -> None:
    conn, _ = connect()
    expect_connection_error(conn, fr.encode_data(0, b"x"), ErrorCode.PROTOCOL_ERROR)


def test_rfc9113_6_1_padding_is_removed_but_counted_for_flow_control() -> None:
    conn, peer, stream_id = _responding()
    events = conn.receive_data(peer.data(stream_id, b"hello", pad_length=10))
    # 1 Pad Length octet + 5 data + 10 padding: the whole payload is flow-controlled.
    assert events == [DataReceived(stream_id, b"hello", 16, False)]
    window = conn.receive_window(stream_id)
    assert window is not None and window.buffered == 16


def test_rfc9113_6_1_padding_only_frame() -> None:
    conn, peer, stream_id = _responding()
    events = conn.receive_data(peer.data(stream_id, b"", end_stream=True, pad_length=255))
    assert events == [DataReceived(stream_id, b"", 256, True), StreamEnded(stream_id)]


def test_rfc9113_6_1_padding_as_long_as_the_payload_is_a_protocol_error() -> None:
    conn, _peer, stream_id = _responding()
    frame = fr.encode_frame(FrameType.DATA, fr.PADDED, stream_id, b"\x04abc")
    expect_connection_error(conn, frame, ErrorCode.PROTOCOL_ERROR)


def test_rfc9113_6_1_padded_data_without_pad_length_is_a_frame_size_error() -> None:
    conn, _peer, stream_id = _responding()
    frame = fr.encode_frame(FrameType.DATA, fr.PADDED, stream_id, b"")
    expect_connection_error(conn, frame, ErrorCode.FRAME_SIZE_ERROR)


def test_rfc9113_8_1_data_before_the_response_headers_is_malformed() -> None:
    conn, peer = connect()
    stream_id = open_stream(conn)
    expect_stream_error(conn, peer.data(stream_id, b"x"), stream_id, ErrorCode.PROTOCOL_ERROR)


def test_rfc9113_6_1_empty_data_with_end_stream_may_be_sent_at_zero_window() -> None:
    conn, _peer = connect()
    stream_id = open_stream(conn, end_stream=False)
    conn.send_data(stream_id, b"x" * 65_535)
    assert conn.local_flow_control_window(stream_id) == 0
    with pytest.raises(LocalProtocolError):
        conn.send_data(stream_id, b"y")
    conn.end_stream(stream_id)
    frames = sent_frames(conn)
    assert (frames[-1].type, frames[-1].flags, frames[-1].payload) == (
        FrameType.DATA,
        fr.END_STREAM,
        b"",
    )
    assert conn.stream_state(stream_id) is StreamState.HALF_CLOSED_LOCAL


def test_rfc9113_6_1_outgoing_data_is_split_at_the_peer_max_frame_size() -> None:
    conn, _peer = connect()
    conn.receive_data(fr.encode_settings([(SettingCode.INITIAL_WINDOW_SIZE, 100_000)]))
    conn.receive_data(fr.encode_window_update(0, 100_000))
    stream_id = open_stream(conn, end_stream=False)
    payload = bytes(range(256)) * 160  # 40,960 octets
    conn.send_data(stream_id, bytearray(payload), end_stream=True)
    frames = [f for f in sent_frames(conn) if f.type == FrameType.DATA]
    assert [len(f.payload) for f in frames] == [16_384, 16_384, 8_192]
    assert [f.flags for f in frames] == [0, 0, fr.END_STREAM]
    assert b"".join(f.payload for f in frames) == payload
    assert conn.stream_state(stream_id) is StreamState.HALF_CLOSED_LOCAL


# --- §6.2 HEADERS --------------------------------------------------------------------------------


def test_rfc9113_6_2_headers_on_stream_0_is_a_protocol_error() -> None:
    conn, _ = connect()
    expect_connection_error(conn, fr.encode_headers(0, b"\x88"), ErrorCode.PROTOCOL_ERROR)


def test_rfc9113_6_2_padded_headers_with_priority() -> None:
    conn, peer = connect()
    stream_id = open_stream(conn)
    frame = peer.headers(stream_id, RESPONSE, pad_length=7, priority=(0, 16, True))
    assert conn.receive_data(frame) == [ResponseReceived(stream_id, RESPONSE, False)]


def test_rfc9113_6_2_headers_padding_longer_than_the_payload_is_a_protocol_error() -> None:
    conn, _peer = connect()
    stream_id = open_stream(conn)
    frame = fr.encode_frame(FrameType.HEADERS, fr.PADDED | fr.END_HEADERS, stream_id, b"\x05\x88")
    expect_connection_error(conn, frame, ErrorCode.PROTOCOL_ERROR)


def test_rfc9113_6_2_headers_too_short_for_priority_is_a_frame_size_error() -> None:
    conn, _peer = connect()
    stream_id = open_stream(conn)
    flags = fr.PRIORITY_FLAG | fr.END_HEADERS
    frame = fr.encode_frame(FrameType.HEADERS, flags, stream_id, b"\x00\x00\x00")
    expect_connection_error(conn, frame, ErrorCode.FRAME_SIZE_ERROR)


# --- §6.3 PRIORITY --------------------------------------------------------------------------------


def test_rfc9113_6_3_priority_is_ignored() -> None:
    conn, _peer = connect()
    stream_id = open_stream(conn)
    assert conn.receive_data(fr.encode_priority(stream_id, 0, 200, exclusive=True)) == []
    assert sent_frames(conn) == []


def test_rfc9113_6_3_priority_on_stream_0_is_a_protocol_error() -> None:
    conn, _ = connect()
    expect_connection_error(conn, fr.encode_priority(0, 1, 16), ErrorCode.PROTOCOL_ERROR)


def test_rfc9113_6_3_priority_of_wrong_length_is_a_stream_frame_size_error() -> None:
    conn, _peer = connect()
    stream_id = open_stream(conn)
    frame = fr.encode_frame(FrameType.PRIORITY, 0, stream_id, b"\x00" * 4)
    expect_stream_error(conn, frame, stream_id, ErrorCode.FRAME_SIZE_ERROR)
    # On a stream we do not track there is nothing to reset: the connection goes.
    frame = fr.encode_frame(FrameType.PRIORITY, 0, 99, b"\x00" * 6)
    expect_connection_error(conn, frame, ErrorCode.FRAME_SIZE_ERROR)


# --- §6.4 RST_STREAM ------------------------------------------------------------------------------


def test_rfc9113_6_4_rst_stream_closes_the_stream() -> None:
    conn, _peer = connect()
    stream_id = open_stream(conn, end_stream=False)
    events = conn.receive_data(fr.encode_rst_stream(stream_id, ErrorCode.NO_ERROR))
    assert events == [StreamReset(stream_id, ErrorCode.NO_ERROR, remote=True)]
    assert conn.stream_state(stream_id) is StreamState.CLOSED
    with pytest.raises(LocalProtocolError):
        conn.send_data(stream_id, b"after reset")


def test_rfc9113_6_4_rst_stream_on_stream_0_is_a_protocol_error() -> None:
    conn, _ = connect()
    expect_connection_error(conn, fr.encode_rst_stream(0, 0), ErrorCode.PROTOCOL_ERROR)


def test_rfc9113_6_4_rst_stream_of_wrong_length_is_a_frame_size_error() -> None:
    conn, _peer = connect()
    stream_id = open_stream(conn)
    frame = fr.encode_frame(FrameType.RST_STREAM, 0, stream_id, b"\x00" * 5)
    expect_connection_error(conn, frame, ErrorCode.FRAME_SIZE_ERROR)


def test_rfc9113_6_4_our_reset_is_sent_once() -> None:
    conn, _peer = connect()
    stream_id = open_stream(conn, end_stream=False)
    conn.reset_stream(stream_id, ErrorCode.CANCEL)
    conn.reset_stream(stream_id, ErrorCode.CANCEL)
    assert rst_frames(sent_frames(conn)) == [(stream_id, ErrorCode.CANCEL)]
    with pytest.raises(LocalProtocolError):
        conn.reset_stream(99)  # idle


# --- §6.5 SETTINGS -------------------------------------------------------------------------------


def test_rfc9113_6_5_every_settings_frame_is_acknowledged_in_order() -> None:
    conn, _ = connect()
    conn.receive_data(
        fr.encode_settings() + fr.encode_settings([(SettingCode.MAX_FRAME_SIZE, 20_000)])
    )
    frames = sent_frames(conn)
    assert [(f.type, f.flags, f.payload) for f in frames] == [(FrameType.SETTINGS, fr.ACK, b"")] * 2
    assert conn.max_outbound_frame_size == 20_000


def test_rfc9113_6_5_settings_values_are_applied_and_reported() -> None:
    conn, _ = connect()
    events = conn.receive_data(
        fr.encode_settings(
            [
                (SettingCode.HEADER_TABLE_SIZE, 1024),
                (SettingCode.ENABLE_PUSH, 0),
                (SettingCode.MAX_HEADER_LIST_SIZE, 8192),
                (SettingCode.MAX_CONCURRENT_STREAMS, 10),
                (SettingCode.MAX_CONCURRENT_STREAMS, 20),  # the last value wins
            ]
        )
    )
    assert events == [
        RemoteSettingsChanged(
            {
                SettingCode.HEADER_TABLE_SIZE: (4096, 1024),
                SettingCode.ENABLE_PUSH: (1, 0),
                SettingCode.MAX_HEADER_LIST_SIZE: (None, 8192),
                SettingCode.MAX_CONCURRENT_STREAMS: (None, 20),
            }
        )
    ]
    assert conn.remote_settings.max_concurrent_streams == 20
    assert conn.remote_settings.get(SettingCode.MAX_HEADER_LIST_SIZE) == 8192


def test_rfc9113_6_5_2_unknown_settings_are_ignored() -> None:
    conn, _ = connect()
    events = conn.receive_data(
        fr.encode_settings([(SettingCode.ENABLE_CONNECT_PROTOCOL, 1), (0x99, 12345)])
    )
    assert events == [RemoteSettingsChanged({})]
    assert [f.flags for f in sent_frames(conn)] == [fr.ACK]


@pytest.mark.parametrize(
    ("code", "value", "error"),
    [
        (SettingCode.ENABLE_PUSH, 1, ErrorCode.PROTOCOL_ERROR),
        (SettingCode.ENABLE_PUSH, 2, ErrorCode.PROTOCOL_ERROR),
        (SettingCode.MAX_FRAME_SIZE, 16_383, ErrorCode.PROTOCOL_ERROR),
        (SettingCode.MAX_FRAME_SIZE, 2**24, ErrorCode.PROTOCOL_ERROR),
        (SettingCode.INITIAL_WINDOW_SIZE, 2**31, ErrorCode.FLOW_CONTROL_ERROR),
    ],
)
def test_rfc9113_6_5_2_invalid_settings_values(code: int, value: int, error: int) -> None:
    conn, _ = connect()
    expect_connection_error(conn, fr.encode_settings([(code, value)]), error)


@pytest.mark.parametrize(
    ("code", "value"),
    [
        (SettingCode.ENABLE_PUSH, 0),
        (SettingCode.MAX_FRAME_SIZE, 16_384),
        (SettingCode.MAX_FRAME_SIZE, 2**24 - 1),
        (SettingCode.INITIAL_WINDOW_SIZE, 2**31 - 1),
        (SettingCode.INITIAL_WINDOW_SIZE, 0),
    ],
)
def test_rfc9113_6_5_2_boundary_settings_values_are_accepted(code: int, value: int) -> None:
    conn, _ = connect()
    conn.receive_data(fr.encode_settings([(code, value)]))
    assert conn.remote_settings.get(code) == value


def test_rfc9113_6_5_settings_on_a_stream_is_a_protocol_error() -> None:
    conn, _ = connect()
    frame = fr.encode_frame(FrameType.SETTINGS, 0, 1, b"")
    expect_connection_error(conn, frame, ErrorCode.PROTOCOL_ERROR)


def test_rfc9113_6_5_settings_length_not_a_multiple_of_6_is_a_frame_size_error() -> None:
    conn, _ = connect()
    frame = fr.encode_frame(FrameType.SETTINGS, 0, 0, b"\x00\x04\x00\x00\x10")
    expect_connection_error(conn, frame, ErrorCode.FRAME_SIZE_ERROR)


def test_rfc9113_6_5_3_settings_ack_with_payload_is_a_frame_size_error() -> None:
    conn, _ = connect()
    frame = fr.encode_frame(FrameType.SETTINGS, fr.ACK, 0, b"\x00\x04\x00\x00\x10\x00")
    expect_connection_error(conn, frame, ErrorCode.FRAME_SIZE_ERROR)


def test_rfc9113_6_5_3_unsolicited_settings_ack_is_ignored() -> None:
    conn, _ = connect()  # our one SETTINGS is already acknowledged
    assert conn.receive_data(fr.encode_settings_ack()) == []
    assert not conn.closed


def test_rfc9113_4_3_1_peer_header_table_size_is_signalled_to_its_decoder() -> None:
    conn, _ = connect()
    conn.receive_data(fr.encode_settings([(SettingCode.HEADER_TABLE_SIZE, 0)]))
    conn.data_to_send()
    conn.open_stream(REQUEST)
    headers = next(f for f in sent_frames(conn) if f.type == FrameType.HEADERS)
    # The block starts with a Dynamic Table Size Update to 0 (RFC 7541 §6.3).
    assert headers.payload[:1] == b"\x20"
    decoder = hpack.Decoder()
    decoder.max_allowed_table_size = 0
    assert decoder.decode(headers.payload, raw=True) == REQUEST
    assert decoder.header_table_size == 0


# --- §6.6 PUSH_PROMISE ---------------------------------------------------------------------------


def test_rfc9113_6_6_push_promise_is_a_protocol_error_since_push_is_disabled() -> None:
    conn, _peer = connect()
    stream_id = open_stream(conn)
    frame = fr.encode_frame(
        FrameType.PUSH_PROMISE, fr.END_HEADERS, stream_id, b"\x00\x00\x00\x02\x88"
    )
    expect_connection_error(conn, frame, ErrorCode.PROTOCOL_ERROR)


# --- §6.7 PING ---------------------------------------------------------------------------------


def test_rfc9113_6_7_ping_is_answered_with_the_same_payload_ahead_of_queued_data() -> None:
    conn, _peer = connect()
    stream_id = open_stream(conn, end_stream=False)
    conn.send_data(stream_id, b"queued first")
    events = conn.receive_data(fr.encode_ping(b"\x02\x04\x10\x10\x09\x0e\x07\x07"))
    assert events == [PingReceived(b"\x02\x04\x10\x10\x09\x0e\x07\x07")]
    frames = sent_frames(conn)
    assert (frames[0].type, frames[0].flags, frames[0].payload) == (
        FrameType.PING,
        fr.ACK,
        b"\x02\x04\x10\x10\x09\x0e\x07\x07",
    )
    assert frames[1].type == FrameType.DATA


def test_rfc9113_6_7_ping_ack_is_reported_and_not_answered() -> None:
    conn, _ = connect()
    conn.ping(b"keepaliv")
    frames = sent_frames(conn)
    assert (frames[0].type, frames[0].flags, frames[0].payload) == (FrameType.PING, 0, b"keepaliv")
    assert conn.receive_data(fr.encode_ping(b"keepaliv", ack=True)) == [
        PingAckReceived(b"keepaliv")
    ]
    # An ACK nobody asked for is reported too; ignoring it is the caller's choice.
    assert conn.receive_data(fr.encode_ping(b"unasked!", ack=True)) == [
        PingAckReceived(b"unasked!")
    ]
    assert sent_frames(conn) == []
    with pytest.raises(LocalProtocolError):
        conn.ping(b"too long!")


def test_rfc9113_6_7_ping_on_a_stream_is_a_protocol_error() -> None:
    conn, _ = connect()
    frame = fr.encode_frame(FrameType.PING, 0, 1, b"12345678")
    expect_connection_error(conn, frame, ErrorCode.PROTOCOL_ERROR)


def test_rfc9113_6_7_ping_of_wrong_length_is_a_frame_size_error() -> None:
    conn, _ = connect()
    frame = fr.encode_frame(FrameType.PING, 0, 0, b"1234567")
    expect_connection_error(conn, frame, ErrorCode.FRAME_SIZE_ERROR)


def test_rfc9113_10_5_ping_flood_without_reading_is_bounded() -> None:
    conn, _ = connect()
    flood = fr.encode_ping(b"12345678") * 1000
    conn.receive_data(flood)
    conn.data_to_send()  # a reader that flushes is fine
    conn.receive_data(flood)
    expect_connection_error(conn, fr.encode_ping(b"12345678"), ErrorCode.ENHANCE_YOUR_CALM)


# --- §6.8 GOAWAY -------------------------------------------------------------------------------


def test_rfc9113_6_8_goaway_refuses_streams_above_last_stream_id() -> None:
    conn, peer = connect()
    one, three, five = (open_stream(conn, end_stream=False) for _ in range(3))
    events = conn.receive_data(fr.encode_goaway(one, ErrorCode.NO_ERROR, b"draining"))
    assert events == [
        GoAwayReceived(one, ErrorCode.NO_ERROR, b"draining"),
        StreamReset(three, ErrorCode.REFUSED_STREAM, remote=False),
        StreamReset(five, ErrorCode.REFUSED_STREAM, remote=False),
    ]
    assert conn.goaway_received == events[0]
    assert sent_frames(conn) == []  # no RST_STREAM for streams the server ignores
    assert not conn.can_open_stream
    with pytest.raises(LocalProtocolError, match="GOAWAY"):
        conn.open_stream(REQUEST)
    # Stream 1 completes normally; then the connection answers GOAWAY and is done.
    conn.send_data(one, b"request", end_stream=True)
    events = conn.receive_data(peer.response(one) + peer.data(one, b"reply") + peer.trailers(one))
    assert events[-1] == TrailersReceived(one, TRAILERS)
    frames = sent_frames(conn)
    assert frames[-1].type == FrameType.GOAWAY
    assert fr.decode_goaway(frames[-1].payload, 0, 8)[:2] == (0, ErrorCode.NO_ERROR)
    assert conn.closed


def test_rfc9113_6_8_two_phase_graceful_shutdown() -> None:
    conn, _peer = connect()
    one = open_stream(conn, end_stream=False)
    three = open_stream(conn, end_stream=False)
    events = conn.receive_data(fr.encode_goaway(2**31 - 1, ErrorCode.NO_ERROR))
    assert events == [GoAwayReceived(2**31 - 1, ErrorCode.NO_ERROR, b"")]
    events = conn.receive_data(fr.encode_goaway(one, ErrorCode.NO_ERROR))
    assert events == [
        GoAwayReceived(one, ErrorCode.NO_ERROR, b""),
        StreamReset(three, ErrorCode.REFUSED_STREAM, remote=False),
    ]
    expect_connection_error(conn, fr.encode_goaway(three, 0), ErrorCode.PROTOCOL_ERROR)


def test_rfc9113_6_8_goaway_with_no_open_streams_is_answered_at_once() -> None:
    conn, _ = connect()
    events = conn.receive_data(fr.encode_goaway(0, ErrorCode.ENHANCE_YOUR_CALM, b"too_many_pings"))
    assert events == [GoAwayReceived(0, ErrorCode.ENHANCE_YOUR_CALM, b"too_many_pings")]
    frames = sent_frames(conn)
    assert [f.type for f in frames] == [FrameType.GOAWAY]
    assert conn.closed
    assert conn.receive_data(fr.encode_ping(b"12345678")) == []


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (fr.encode_frame(FrameType.GOAWAY, 0, 1, b"\x00" * 8), ErrorCode.PROTOCOL_ERROR),
        (fr.encode_frame(FrameType.GOAWAY, 0, 0, b"\x00" * 7), ErrorCode.FRAME_SIZE_ERROR),
        (fr.encode_goaway(2, ErrorCode.NO_ERROR), ErrorCode.PROTOCOL_ERROR),
    ],
    ids=["on-a-stream", "short", "server-stream-id"],
)
def test_rfc9113_6_8_invalid_goaway(frame: bytes, error: int) -> None:
    conn, _ = connect()
    open_stream(conn)
    expect_connection_error(conn, frame, error)


# --- §6.9 WINDOW_UPDATE -------------------------------------------------------------------------


def test_rfc9113_6_9_window_updates_grow_send_windows() -> None:
    conn, _ = connect()
    stream_id = open_stream(conn, end_stream=False)
    events = conn.receive_data(
        fr.encode_window_update(0, 1000) + fr.encode_window_update(stream_id, 500)
    )
    assert events == [WindowUpdated(0, 1000), WindowUpdated(stream_id, 500)]
    assert conn.local_flow_control_window(stream_id) == 65_535 + 500


def test_rfc9113_6_9_connection_window_update_of_zero_is_a_protocol_error() -> None:
    conn, _ = connect()
    expect_connection_error(conn, fr.encode_frame(8, 0, 0, b"\x00" * 4), ErrorCode.PROTOCOL_ERROR)


def test_rfc9113_6_9_stream_window_update_of_zero_is_a_stream_error() -> None:
    conn, _ = connect()
    stream_id = open_stream(conn)
    frame = fr.encode_frame(FrameType.WINDOW_UPDATE, 0, stream_id, b"\x80\x00\x00\x00")
    expect_stream_error(conn, frame, stream_id, ErrorCode.PROTOCOL_ERROR)


def test_rfc9113_6_9_1_connection_window_overflow_is_a_flow_control_error() -> None:
    conn, _ = connect()
    frame = fr.encode_window_update(0, 2**31 - 65_535)
    expect_connection_error(conn, frame, ErrorCode.FLOW_CONTROL_ERROR)


def test_rfc9113_6_9_1_stream_window_overflow_is_a_stream_flow_control_error() -> None:
    conn, _ = connect()
    stream_id = open_stream(conn)
    frame = fr.encode_window_update(stream_id, 2**31 - 65_535)
    expect_stream_error(conn, frame, stream_id, ErrorCode.FLOW_CONTROL_ERROR)


def test_rfc9113_6_9_window_update_of_wrong_length_is_a_frame_size_error() -> None:
    conn, _ = connect()
    stream_id = open_stream(conn)
    frame = fr.encode_frame(FrameType.WINDOW_UPDATE, 0, stream_id, b"\x00\x00\x01")
    expect_connection_error(conn, frame, ErrorCode.FRAME_SIZE_ERROR)


def test_rfc9113_6_9_1_data_beyond_our_stream_window_is_a_stream_flow_control_error() -> None:
    conn, peer, stream_id = _responding(initial_window_size=1000)
    conn.receive_data(peer.data(stream_id, b"x" * 1000))
    expect_stream_error(conn, peer.data(stream_id, b"y"), stream_id, ErrorCode.FLOW_CONTROL_ERROR)


def test_rfc9113_6_9_1_data_beyond_our_connection_window_is_a_flow_control_error() -> None:
    conn, peer, stream_id = _responding(
        connection_window=65_535, initial_window_size=2**20, max_frame_size=2**17
    )
    expect_connection_error(conn, peer.data(stream_id, b"x" * 65_536), ErrorCode.FLOW_CONTROL_ERROR)


def test_rfc9113_6_9_send_beyond_the_window_is_a_local_error() -> None:
    conn, _ = connect()
    stream_id = open_stream(conn, end_stream=False)
    with pytest.raises(LocalProtocolError, match="window"):
        conn.send_data(stream_id, b"x" * 65_536)
    assert sent_frames(conn) == []
    conn.send_data(stream_id, memoryview(b"x" * 65_535))
    assert conn.local_flow_control_window(stream_id) == 0
    with pytest.raises(LocalProtocolError):
        conn.local_flow_control_window(99)


def test_rfc9113_6_9_2_initial_window_size_change_applies_to_every_stream() -> None:
    conn, _ = connect()
    one = open_stream(conn, end_stream=False)
    three = open_stream(conn, end_stream=False)
    conn.receive_data(fr.encode_window_update(0, 1_000_000))
    conn.send_data(one, b"x" * 60_000)
    events = conn.receive_data(fr.encode_settings([(SettingCode.INITIAL_WINDOW_SIZE, 16_000)]))
    assert events == [
        RemoteSettingsChanged({SettingCode.INITIAL_WINDOW_SIZE: (65_535, 16_000)}),
        WindowUpdated(0, 0),  # wakes every sender blocked on a stream window
    ]
    # The §6.9.2 example: 60,000 sent, window now 16,000 - 60,000 + 65,535 - 65,535.
    assert conn.local_flow_control_window(one) == 5_535 - 49_535
    assert conn.local_flow_control_window(three) == 16_000
    with pytest.raises(LocalProtocolError):
        conn.send_data(one, b"y")
    conn.receive_data(fr.encode_window_update(one, 44_001))
    assert conn.local_flow_control_window(one) == 1
    # New streams start from the new value.
    assert conn.local_flow_control_window(open_stream(conn, end_stream=False)) == 16_000


def test_rfc9113_6_9_2_initial_window_size_overflow_is_a_flow_control_error() -> None:
    conn, _ = connect()
    stream_id = open_stream(conn, end_stream=False)
    conn.receive_data(fr.encode_window_update(stream_id, 2**31 - 1 - 65_535))
    frame = fr.encode_settings([(SettingCode.INITIAL_WINDOW_SIZE, 65_536)])
    expect_connection_error(conn, frame, ErrorCode.FLOW_CONTROL_ERROR)


def test_rfc9113_6_9_window_update_on_a_closed_stream_is_ignored() -> None:
    conn, _ = connect()
    stream_id = open_stream(conn, end_stream=False)
    conn.reset_stream(stream_id)
    conn.data_to_send()
    assert conn.receive_data(fr.encode_window_update(stream_id, 10)) == []
    assert sent_frames(conn) == []


# --- §6.10 CONTINUATION ------------------------------------------------------------------------


def test_rfc9113_6_10_field_block_split_over_continuations() -> None:
    conn, peer = connect()
    stream_id = open_stream(conn)
    fields = [(b":status", b"200"), *[(f"x-h{i}".encode(), b"v" * 100) for i in range(400)]]
    data = peer.headers(stream_id, fields, end_stream=True, max_frame_size=16_384)
    frames = parse_frames(data)
    assert [f.type for f in frames] == [
        FrameType.HEADERS,
        FrameType.CONTINUATION,
        FrameType.CONTINUATION,
    ]
    conn_events = conn.receive_data(data)
    # END_STREAM rode on HEADERS; the stream ends when the block completes.
    assert conn_events == [ResponseReceived(stream_id, fields, True)]
    assert conn.stream_state(stream_id) is StreamState.CLOSED


@pytest.mark.parametrize(
    "interloper",
    [
        lambda sid: fr.encode_ping(b"12345678"),
        lambda sid: fr.encode_data(sid, b"x"),
        lambda sid: fr.encode_continuation(sid + 2, b"\x88"),
        lambda sid: fr.encode_headers(sid, b"\x88"),
    ],
    ids=["PING", "DATA", "CONTINUATION-other-stream", "HEADERS"],
)
def test_rfc9113_6_10_field_block_cannot_be_interleaved(interloper) -> None:  # type: ignore[no-untyped-def]
    conn, _peer = connect()
    stream_id = open_stream(conn)
    open_stream(conn)
    start = fr.encode_frame(FrameType.HEADERS, 0, stream_id, b"\x88")
    expect_connection_error(conn, start + interloper(stream_id), ErrorCode.PROTOCOL_ERROR)


def test_rfc9113_6_10_continuation_without_headers_is_a_protocol_error() -> None:
    conn, _peer = connect()
    stream_id = open_stream(conn)
    expect_connection_error(
        conn, fr.encode_continuation(stream_id, b"\x88"), ErrorCode.PROTOCOL_ERROR
    )


@pytest.mark.parametrize("fragment", [b"", b"\x88" * 16_384], ids=["empty", "full"])
def test_cve_2023_45288_continuation_flood_is_bounded(fragment: bytes) -> None:
    conn, _peer = connect(max_header_list_size=16_384)
    stream_id = open_stream(conn)
    data = fr.encode_frame(FrameType.HEADERS, 0, stream_id, b"\x88")
    sent = len(data)
    try:
        for _ in range(10_000):
            chunk = fr.encode_continuation(stream_id, fragment, end_headers=False)
            sent += len(chunk)
            conn.receive_data(data + chunk)
            data = b""
    except Exception as exc:
        assert getattr(exc, "h2_error_code", None) == ErrorCode.PROTOCOL_ERROR
    else:
        pytest.fail("a never-ending field block was accepted")
    # Cut off at twice the header list limit plus one frame, not after megabytes.
    assert sent <= 2 * 16_384 + 16_384 + 2 * (16_384 + 9)
    assert conn.closed

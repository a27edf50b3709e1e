"""RFC 9113 §5: stream states, identifiers, concurrency, error handling, extensions."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from etcdwire._h2 import frames as fr
from etcdwire._h2.events import (
    DataReceived,
    RemoteSettingsChanged,
    ResponseReceived,
    StreamEnded,
    StreamReset,
    TrailersReceived,
)
from etcdwire._h2.frames import ErrorCode, FrameType, SettingCode
from etcdwire._h2.stream import StreamState
from etcdwire.errors import LocalProtocolError

from .helpers import (
    REQUEST,
    TRAILERS,
    connect,
    expect_connection_error,
    expect_stream_error,
    open_stream,
    rst_frames,
    sent_frames,
    window_updates,
)

# --- §5.1 idle streams --------------------------------------------------------------------


@pytest.mark.parametrize("stream_id", [1, 2, 3, 4])
@pytest.mark.parametrize(
    "frame",
    [
        lambda sid: fr.encode_data(sid, b"x"),
        lambda sid: fr.encode_rst_stream(sid, ErrorCode.CANCEL),
        lambda sid: fr.encode_window_update(sid, 10),
        lambda sid: fr.encode_headers(sid, b"\x88"),
    ],
    ids=["DATA", "RST_STREAM", "WINDOW_UPDATE", "HEADERS"],
)
def test_rfc9113_5_1_frames_on_idle_streams_are_a_connection_protocol_error(
    stream_id: int, frame: Callable[[int], bytes]
) -> None:
    conn, _peer = connect()
    if stream_id > 2:
        open_stream(conn)  # stream 1 exists; 3 is still idle, 4 is a server id
    expect_connection_error(conn, frame(stream_id), ErrorCode.PROTOCOL_ERROR)


def test_rfc9113_5_1_priority_on_an_idle_stream_is_allowed() -> None:
    conn, _ = connect()
    assert conn.receive_data(fr.encode_priority(9, 0, 16)) == []
    assert conn.receive_data(fr.encode_priority(2, 0, 16)) == []
    assert not conn.closed
    assert conn.stream_state(9) is StreamState.IDLE


# --- §5.1 closed streams -------------------------------------------------------------------


def test_rfc9113_5_1_late_frames_after_our_reset_are_minimally_processed() -> None:
    conn, peer = connect(connection_window=65_535 * 4)  # credit returned per 65,535 octets
    stream_id = open_stream(conn, end_stream=False)
    conn.reset_stream(stream_id, ErrorCode.CANCEL)
    assert rst_frames(sent_frames(conn)) == [(stream_id, ErrorCode.CANCEL)]
    late = (
        peer.response(stream_id)
        + peer.data(stream_id, b"x" * 16_000)
        + peer.data(stream_id, b"y" * 16_000, pad_length=255)
        + fr.encode_window_update(stream_id, 1000)
        + fr.encode_rst_stream(stream_id, ErrorCode.NO_ERROR)
        + peer.trailers(stream_id)
    )
    assert conn.receive_data(late) == []
    assert not conn.closed
    # Nothing is answered on the stream; the DATA still counted on the connection window.
    frames = sent_frames(conn)
    assert rst_frames(frames) == []
    window = conn.receive_window(0)
    assert window is not None
    assert window.pending == 16_000 + 16_000 + 256


def test_rfc9113_5_1_connection_credit_of_late_data_is_returned() -> None:
    conn, peer = connect(connection_window=65_535 * 4)
    stream_id = open_stream(conn)
    conn.reset_stream(stream_id)
    conn.data_to_send()
    for _ in range(5):
        conn.receive_data(peer.data(stream_id, b"z" * 16_000))
    assert window_updates(sent_frames(conn)) == [(0, 80_000)]


def test_rfc9113_5_1_data_after_end_stream_is_a_stream_closed_error() -> None:
    conn, peer = connect()
    stream_id = open_stream(conn, end_stream=False)
    conn.receive_data(peer.response(stream_id) + peer.trailers(stream_id))
    assert conn.stream_state(stream_id) is StreamState.HALF_CLOSED_REMOTE
    expect_stream_error(conn, peer.data(stream_id, b"late"), stream_id, ErrorCode.STREAM_CLOSED)


def test_rfc9113_5_1_stream_closes_when_both_sides_ended() -> None:
    conn, peer = connect()
    stream_id = open_stream(conn, end_stream=True)
    assert conn.stream_state(stream_id) is StreamState.HALF_CLOSED_LOCAL
    events = conn.receive_data(
        peer.response(stream_id) + peer.data(stream_id, b"body", end_stream=True)
    )
    assert events[-2:] == [DataReceived(stream_id, b"body", 4, True), StreamEnded(stream_id)]
    assert conn.stream_state(stream_id) is StreamState.CLOSED
    assert conn.open_outbound_streams == 0


# --- §5.1.1 stream identifiers ---------------------------------------------------------------


def test_rfc9113_5_1_1_ids_are_odd_increasing_and_allocated_when_headers_are_sent() -> None:
    conn, _ = connect()
    assert conn.get_next_available_stream_id() == 1
    assert conn.get_next_available_stream_id() == 1  # peeking reserves nothing
    assert conn.open_stream(REQUEST) == 1
    assert conn.open_stream(REQUEST) == 3
    assert conn.get_next_available_stream_id() == 5
    conn.send_headers(9, REQUEST)  # skipping ids is allowed; 5 and 7 are now closed
    assert conn.stream_state(7) is StreamState.CLOSED
    assert conn.get_next_available_stream_id() == 11
    frames = [f for f in sent_frames(conn) if f.type == FrameType.HEADERS]
    assert [f.stream_id for f in frames] == [1, 3, 9]


@pytest.mark.parametrize("stream_id", [7, 4, 0])
def test_rfc9113_5_1_1_lower_or_even_ids_cannot_open_a_stream(stream_id: int) -> None:
    conn, _ = connect()
    conn.send_headers(9, REQUEST)
    conn.data_to_send()
    with pytest.raises(LocalProtocolError):
        conn.send_headers(stream_id, REQUEST)
    assert conn.data_to_send() == b""


def test_rfc9113_5_1_1_stream_id_exhaustion_needs_a_new_connection() -> None:
    conn, peer = connect(max_stream_id=5)
    for expected in (1, 3, 5):
        assert conn.can_open_stream
        assert open_stream(conn) == expected
    assert not conn.can_open_stream
    with pytest.raises(LocalProtocolError, match="exhausted"):
        conn.get_next_available_stream_id()
    with pytest.raises(LocalProtocolError, match="exhausted"):
        conn.send_headers(7, REQUEST)
    # The streams already open still work.
    events = conn.receive_data(peer.response(5) + peer.trailers(5))
    assert isinstance(events[-1], TrailersReceived)


# --- §5.1.2 concurrency -----------------------------------------------------------------------


def test_rfc9113_5_1_2_peer_max_concurrent_streams_is_honoured() -> None:
    conn, _peer = connect()
    conn.receive_data(fr.encode_settings([(SettingCode.MAX_CONCURRENT_STREAMS, 2)]))
    first = open_stream(conn, end_stream=False)
    open_stream(conn)
    assert conn.open_outbound_streams == 2
    assert not conn.can_open_stream
    with pytest.raises(LocalProtocolError):
        conn.open_stream(REQUEST)
    conn.reset_stream(first)
    assert conn.open_outbound_streams == 1
    assert conn.can_open_stream
    assert open_stream(conn) == 5


def test_rfc9113_5_1_2_local_cap_applies_when_the_peer_sets_no_limit() -> None:
    conn, _ = connect(max_concurrent_streams_cap=3)
    assert conn.remote_settings.max_concurrent_streams is None
    for _ in range(3):
        open_stream(conn)
    assert not conn.can_open_stream
    conn.receive_data(fr.encode_settings([(SettingCode.MAX_CONCURRENT_STREAMS, 1000)]))
    assert not conn.can_open_stream  # min(peer, cap)


def test_rfc9113_5_1_2_zero_concurrent_streams_and_a_lowered_limit_keep_open_streams() -> None:
    conn, _peer = connect()
    stream_id = open_stream(conn, end_stream=False)
    events = conn.receive_data(fr.encode_settings([(SettingCode.MAX_CONCURRENT_STREAMS, 0)]))
    assert events == [RemoteSettingsChanged({SettingCode.MAX_CONCURRENT_STREAMS: (None, 0)})]
    assert not conn.can_open_stream
    assert conn.stream_state(stream_id) is StreamState.OPEN
    conn.send_data(stream_id, b"still allowed", end_stream=True)


# --- §5.4 error handling ------------------------------------------------------------------------


def test_rfc9113_5_4_1_connection_error_sends_goaway_and_closes() -> None:
    conn, _peer = connect()
    stream_id = open_stream(conn, end_stream=False)
    conn.send_data(stream_id, b"pending")  # queued, never flushed
    error = expect_connection_error(conn, fr.encode_data(0, b"x"), ErrorCode.PROTOCOL_ERROR)
    assert "stream 0" in str(error)
    assert conn.stream_state(stream_id) is StreamState.CLOSED
    assert not conn.can_open_stream
    with pytest.raises(LocalProtocolError):
        conn.send_data(stream_id, b"more")
    with pytest.raises(LocalProtocolError):
        conn.ping(b"12345678")
    conn.reset_stream(stream_id)  # harmless after the end
    conn.close_connection()
    assert conn.data_to_send() == b""


def test_rfc9113_5_4_1_goaway_after_a_partial_flush_completes_the_frame_first() -> None:
    conn, _peer = connect()
    stream_id = open_stream(conn, end_stream=False)
    conn.send_data(stream_id, b"x" * 100)
    first = conn.data_to_send(50)
    expect_data = fr.pack_header(100, FrameType.DATA, 0, stream_id) + b"x" * 100
    assert first == expect_data[:50]
    with pytest.raises(Exception):  # noqa: B017 - checked in detail elsewhere
        conn.receive_data(fr.encode_data(0, b"x"))
    rest = conn.data_to_send()
    assert rest.startswith(expect_data[50:])
    goaway = rest[len(expect_data) - 50 :]
    assert fr.parse_header(goaway)[1] == FrameType.GOAWAY


def test_rfc9113_5_4_2_stream_error_leaves_other_streams_alone() -> None:
    conn, peer = connect()
    bad = open_stream(conn)
    good = open_stream(conn)
    events = conn.receive_data(
        peer.data(bad, b"before headers") + peer.response(good) + peer.trailers(good)
    )
    assert events[0] == StreamReset(bad, ErrorCode.PROTOCOL_ERROR, remote=False)
    assert isinstance(events[1], ResponseReceived)
    assert events[2] == TrailersReceived(good, TRAILERS)
    assert rst_frames(sent_frames(conn)) == [(bad, ErrorCode.PROTOCOL_ERROR)]


def test_rfc9113_5_4_2_rst_stream_is_never_answered_with_rst_stream() -> None:
    conn, _peer = connect()
    stream_id = open_stream(conn, end_stream=False)
    events = conn.receive_data(fr.encode_rst_stream(stream_id, ErrorCode.REFUSED_STREAM))
    assert events == [StreamReset(stream_id, ErrorCode.REFUSED_STREAM, remote=True)]
    conn.receive_data(fr.encode_rst_stream(stream_id, ErrorCode.CANCEL))
    conn.reset_stream(stream_id)  # the application cancels too late: nothing is sent
    assert sent_frames(conn) == []


# --- §5.5 extensions -----------------------------------------------------------------------------


def test_rfc9113_5_5_unknown_frame_inside_a_field_block_is_a_protocol_error() -> None:
    conn, peer = connect()
    stream_id = open_stream(conn)
    block = peer.block([(b":status", b"200"), (b"x-long", b"v" * 100)])
    headers = fr.encode_frame(FrameType.HEADERS, 0, stream_id, block[:10])
    unknown = fr.encode_frame(0xEE, 0, stream_id, b"")
    expect_connection_error(conn, headers + unknown, ErrorCode.PROTOCOL_ERROR)

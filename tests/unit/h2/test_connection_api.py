"""Edges of the H2Connection interface that the conformance tests do not reach."""

from __future__ import annotations

import pytest

from etcdwire._h2 import connection as connection_module
from etcdwire._h2 import frames as fr
from etcdwire._h2.connection import H2Connection
from etcdwire._h2.events import DataReceived, PingReceived, StreamEnded
from etcdwire._h2.flow import ReceiveWindow
from etcdwire._h2.frames import ErrorCode, FrameType
from etcdwire._h2.stream import Stream, StreamState
from etcdwire.errors import LocalProtocolError, RemoteProtocolError

from .helpers import REQUEST, connect, open_stream, parse_frames


def test_data_to_send_in_pieces_keeps_frames_whole_and_in_order() -> None:
    conn, _ = connect()
    stream_id = conn.open_stream(REQUEST)
    conn.send_data(stream_id, b"x" * 1000, end_stream=True)
    whole_len = len(conn.data_to_send())
    conn2, _ = connect()
    stream_id = conn2.open_stream(REQUEST)
    conn2.send_data(stream_id, b"x" * 1000, end_stream=True)
    pieces = []
    while True:
        piece = conn2.data_to_send(100)
        if not piece:
            break
        assert len(piece) <= 100
        pieces.append(piece)
        if len(pieces) == 3:
            conn2.ping(b"12345678")  # queued while a frame is half written
    data = b"".join(pieces)
    frames = parse_frames(data)
    assert [f.type for f in frames] == [FrameType.HEADERS, FrameType.DATA, FrameType.PING]
    assert len(data) == whole_len + 17
    assert conn2.data_to_send(0) == b""


def test_close_connection_is_idempotent_and_final() -> None:
    conn, _ = connect()
    stream_id = open_stream(conn, end_stream=False)
    conn.close_connection(ErrorCode.NO_ERROR, last_stream_id=0, debug=b"bye")
    conn.close_connection(ErrorCode.INTERNAL_ERROR)
    frames = parse_frames(conn.data_to_send())
    assert [f.type for f in frames] == [FrameType.GOAWAY]
    assert fr.decode_goaway(frames[0].payload, 0, len(frames[0].payload)) == (0, 0, b"bye")
    assert conn.closed
    assert conn.stream_state(stream_id) is StreamState.CLOSED
    assert conn.stream_state(99) is StreamState.CLOSED
    with pytest.raises(LocalProtocolError):
        conn.open_stream(REQUEST)
    with pytest.raises(LocalProtocolError):
        conn.get_next_available_stream_id()
    conn.acknowledge_received_data(stream_id, 10)
    conn.ensure_stream_window(stream_id, 10)
    assert conn.data_to_send() == b""


def test_even_stream_id_above_the_next_one_is_refused() -> None:
    conn, _ = connect()
    with pytest.raises(LocalProtocolError, match="odd"):
        conn.send_headers(12, REQUEST)


def test_sending_on_a_stream_we_ended_is_a_local_error() -> None:
    conn, _ = connect()
    stream_id = open_stream(conn, end_stream=True)
    with pytest.raises(LocalProtocolError):
        conn.send_data(stream_id, b"x")
    with pytest.raises(LocalProtocolError):
        conn.send_headers(stream_id, [(b"x-t", b"1")], end_stream=True)
    with pytest.raises(LocalProtocolError):
        conn.send_data(99, b"x")


def test_an_internal_failure_is_still_a_clean_connection_error() -> None:
    conn, _ = connect()

    def broken(*args: object) -> None:
        raise ValueError("simulated bug")

    handlers = connection_module._HANDLERS
    original = handlers[FrameType.PING]
    handlers[FrameType.PING] = broken
    try:
        with pytest.raises(RemoteProtocolError) as info:
            conn.receive_data(fr.encode_ping(b"12345678"))
    finally:
        handlers[FrameType.PING] = original
    assert info.value.h2_error_code == ErrorCode.INTERNAL_ERROR
    assert isinstance(info.value.__cause__, ValueError)
    assert conn.closed
    frames = parse_frames(conn.data_to_send())
    assert frames[-1].type == FrameType.GOAWAY


def test_connection_credit_update_is_traced() -> None:
    records: list[object] = []
    conn = H2Connection(trace=records.append, connection_window=65_535)
    conn.initiate_connection()
    conn.receive_data(fr.encode_settings())
    stream_id = conn.open_stream(REQUEST)
    conn.receive_data(
        fr.encode_headers(stream_id, b"\x88") + fr.encode_data(stream_id, b"x" * 16_384)
    )
    sent = [r for r in records if getattr(r, "frame_type", "") == "WINDOW_UPDATE"]
    assert sent[-1].conn_window == (65_535 - 16_384, 65_535)  # type: ignore[attr-defined]


def test_padded_headers_without_priority() -> None:
    conn, peer = connect()
    stream_id = open_stream(conn)
    events = conn.receive_data(peer.headers(stream_id, [(b":status", b"200")], pad_length=3))
    assert events[0].headers == [(b":status", b"200")]  # type: ignore[attr-defined]


def test_receive_window_consume_and_stream_repr() -> None:
    window = ReceiveWindow(100)
    assert window.consume(60)
    assert not window.consume(41)
    assert window.available == 40
    stream = Stream(1, 10, 100)
    assert "Stream(1, IDLE" in repr(stream)


def test_events_compare_by_value_and_print_their_fields() -> None:
    assert DataReceived(1, b"x", 1, False) == DataReceived(1, b"x", 1, False)
    assert DataReceived(1, b"x", 1, False) != DataReceived(1, b"x", 1, True)
    assert StreamEnded(1) != PingReceived(b"12345678")
    assert repr(StreamEnded(3)) == "StreamEnded(stream_id=3)"
    with pytest.raises(TypeError):
        hash(StreamEnded(3))

"""RFC 9113 §3.4 (connection preface), §4.1-§4.3 (frame format, size, field blocks and HPACK)."""

from __future__ import annotations

import hpack
import pytest

from etcdwire._h2 import frames as fr
from etcdwire._h2.connection import H2Connection
from etcdwire._h2.events import (
    RemoteSettingsChanged,
    ResponseReceived,
    SettingsAcknowledged,
    UnknownFrameReceived,
)
from etcdwire._h2.frames import ErrorCode, FrameType, SettingCode
from etcdwire.errors import LocalProtocolError, UsageError

from .helpers import (
    RESPONSE,
    Peer,
    connect,
    expect_connection_error,
    open_stream,
    parse_frames,
    sent_frames,
)

# --- §3.4 ------------------------------------------------------------------------------------


def test_rfc9113_3_4_client_preface_is_magic_then_settings_then_window_update() -> None:
    conn = H2Connection()
    conn.initiate_connection()
    data = conn.data_to_send()
    assert data.startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    frames = parse_frames(data)
    assert [f.type for f in frames] == [FrameType.SETTINGS, FrameType.WINDOW_UPDATE]
    settings = dict(fr.decode_settings(frames[0].payload, 0, len(frames[0].payload)))
    assert settings == {
        SettingCode.ENABLE_PUSH: 0,
        SettingCode.INITIAL_WINDOW_SIZE: 4 * 2**20,
        SettingCode.MAX_HEADER_LIST_SIZE: 65_536,
    }
    # The connection window is opened to 16 MiB right after the preface.
    assert fr.decode_window_update(frames[1].payload, 0, 4) == 16 * 2**20 - 65_535
    assert frames[1].stream_id == 0


def test_rfc9113_3_4_non_default_local_settings_are_advertised() -> None:
    conn = H2Connection(
        initial_window_size=65_535,
        connection_window=65_535,
        max_frame_size=32_768,
        header_table_size=1_024,
        max_header_list_size=8_192,
    )
    conn.initiate_connection()
    frames = parse_frames(conn.data_to_send())
    assert [f.type for f in frames] == [FrameType.SETTINGS]  # no WINDOW_UPDATE needed
    settings = dict(fr.decode_settings(frames[0].payload, 0, len(frames[0].payload)))
    assert settings == {
        SettingCode.ENABLE_PUSH: 0,
        SettingCode.HEADER_TABLE_SIZE: 1_024,
        SettingCode.MAX_FRAME_SIZE: 32_768,
        SettingCode.MAX_HEADER_LIST_SIZE: 8_192,
    }
    assert conn.local_settings.max_frame_size == 32_768
    assert conn.max_inbound_frame_size == 32_768


def test_rfc9113_3_4_server_preface_is_acknowledged_and_marks_the_connection_ready() -> None:
    conn = H2Connection()
    conn.initiate_connection()
    conn.data_to_send()
    assert not conn.preface_received
    events = conn.receive_data(fr.encode_settings([(SettingCode.MAX_CONCURRENT_STREAMS, 50)]))
    assert events == [RemoteSettingsChanged({SettingCode.MAX_CONCURRENT_STREAMS: (None, 50)})]
    assert conn.preface_received
    frames = sent_frames(conn)
    assert [(f.type, f.flags) for f in frames] == [(FrameType.SETTINGS, fr.ACK)]
    assert conn.receive_data(fr.encode_settings_ack()) == [SettingsAcknowledged()]


@pytest.mark.parametrize(
    "first",
    [
        fr.encode_ping(b"12345678"),
        fr.encode_settings_ack(),
        fr.encode_window_update(0, 10),
        fr.encode_frame(0xEE, 0, 0, b"unknown"),
    ],
    ids=["PING", "SETTINGS-ACK", "WINDOW_UPDATE", "unknown"],
)
def test_rfc9113_3_4_server_first_frame_must_be_settings(first: bytes) -> None:
    conn = H2Connection()
    conn.initiate_connection()
    conn.data_to_send()
    expect_connection_error(conn, first, ErrorCode.PROTOCOL_ERROR)


def test_rfc9113_3_4_server_preface_may_arrive_one_byte_at_a_time() -> None:
    conn = H2Connection()
    conn.initiate_connection()
    data = fr.encode_settings([(SettingCode.MAX_FRAME_SIZE, 20_000)]) + fr.encode_settings_ack()
    events = []
    for i in range(len(data)):
        events += conn.receive_data(data[i : i + 1])
    assert events == [
        RemoteSettingsChanged({SettingCode.MAX_FRAME_SIZE: (16_384, 20_000)}),
        SettingsAcknowledged(),
    ]


def test_rfc9113_3_4_client_may_open_streams_before_the_server_preface() -> None:
    conn = H2Connection()
    conn.initiate_connection()
    stream_id = conn.open_stream([(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/")])
    frames = parse_frames(conn.data_to_send())
    assert [f.type for f in frames] == [
        FrameType.SETTINGS,
        FrameType.WINDOW_UPDATE,
        FrameType.HEADERS,
    ]
    events = conn.receive_data(fr.encode_settings() + Peer().response(stream_id))
    assert isinstance(events[-1], ResponseReceived)


def test_rfc9113_3_4_preface_goes_out_before_an_early_ping_ack() -> None:
    conn = H2Connection()
    conn.initiate_connection()
    # The shell reads before it first writes: our preface must still lead.
    conn.receive_data(fr.encode_settings() + fr.encode_ping(b"pingpong"))
    data = conn.data_to_send()
    assert data.startswith(fr.CONNECTION_PREFACE)
    types = [f.type for f in parse_frames(data)]
    assert types[:2] == [FrameType.SETTINGS, FrameType.WINDOW_UPDATE]
    assert FrameType.PING in types


def test_using_the_connection_before_initiating_it_is_a_local_error() -> None:
    conn = H2Connection()
    with pytest.raises(LocalProtocolError):
        conn.receive_data(fr.encode_settings())
    with pytest.raises(LocalProtocolError):
        conn.ping(b"12345678")
    with pytest.raises(LocalProtocolError):
        conn.close_connection()
    conn.initiate_connection()
    with pytest.raises(LocalProtocolError):
        conn.initiate_connection()
    assert not H2Connection().can_open_stream


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_concurrent_streams_cap": 0},
        {"max_stream_id": 0},
        {"max_stream_id": 2**31},
        {"connection_window": 1000},
        {"initial_window_size": 2**31},
        {"max_frame_size": 1000},
        {"max_header_list_size": -1},
        {"header_table_size": -1},
    ],
)
def test_bad_constructor_arguments(kwargs: dict[str, int]) -> None:
    with pytest.raises(UsageError):
        H2Connection(**kwargs)  # type: ignore[arg-type]


# --- §4.1, §4.2 ------------------------------------------------------------------------------


def test_rfc9113_4_1_unknown_frame_types_are_ignored() -> None:
    conn, _peer = connect()
    stream_id = open_stream(conn)
    events = conn.receive_data(
        fr.encode_frame(0xEE, 0xFF, stream_id, b"extension") + fr.encode_frame(0x20, 0, 0, b"")
    )
    assert events == [
        UnknownFrameReceived(0xEE, stream_id, b"extension"),
        UnknownFrameReceived(0x20, 0, b""),
    ]
    assert sent_frames(conn) == []
    assert not conn.closed


def test_rfc9113_4_1_undefined_flags_are_ignored() -> None:
    conn, peer = connect()
    stream_id = open_stream(conn)
    response = bytearray(peer.response(stream_id))
    response[4] |= 0x40 | 0x02  # flags HEADERS does not define
    events = conn.receive_data(bytes(response))
    assert events == [ResponseReceived(stream_id, RESPONSE, False)]


def test_rfc9113_4_2_frame_over_our_max_frame_size_is_a_frame_size_error() -> None:
    conn, peer = connect()
    stream_id = open_stream(conn)
    conn.receive_data(peer.response(stream_id))
    # Detected from the header alone: the oversized payload is never buffered.
    header = fr.pack_header(16_385, FrameType.DATA, 0, stream_id)
    expect_connection_error(conn, header, ErrorCode.FRAME_SIZE_ERROR)


def test_rfc9113_4_2_frames_up_to_max_frame_size_are_accepted() -> None:
    conn, peer = connect(max_frame_size=40_000)
    stream_id = open_stream(conn)
    conn.receive_data(peer.response(stream_id))
    events = conn.receive_data(peer.data(stream_id, b"x" * 40_000))
    assert events[0].data == b"x" * 40_000  # type: ignore[attr-defined]


# --- §4.3 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "block",
    [
        b"\x80",  # indexed field 0 does not exist
        b"\xff\x80\x80\x80\x80\x80\x80\x01",  # integer too long
        b"\xbf",  # dynamic index 63 with an empty table
        b"\x40\x85abc",  # literal name shorter than announced
        b"\x3f\xe2\x1f",  # table size update to 4097, above the 4096 we allow
        b"\x00\x81\xff\x01a",  # invalid Huffman string
    ],
)
def test_rfc9113_4_3_hpack_failure_is_a_compression_error(block: bytes) -> None:
    conn, _peer = connect()
    stream_id = open_stream(conn)
    frame = fr.encode_headers(stream_id, block)
    expect_connection_error(conn, frame, ErrorCode.COMPRESSION_ERROR)


def test_rfc9113_4_3_blocks_of_closed_streams_still_update_the_hpack_table() -> None:
    conn, peer = connect()
    first = open_stream(conn, end_stream=False)
    second = open_stream(conn)
    conn.reset_stream(first)
    conn.data_to_send()
    # The peer had already encoded a response for stream 1, adding fields to its table...
    late = peer.headers(first, [(b":status", b"200"), (b"x-late", b"kept in the table")])
    assert conn.receive_data(late) == []
    # ...which the next block refers to by index only.
    fields = [(b":status", b"200"), (b"x-late", b"kept in the table")]
    block = peer.block(fields)
    assert not block.translate(None, bytes(range(0x80, 0x100)))  # indexed fields only
    events = conn.receive_data(fr.encode_headers(second, block))
    assert events == [ResponseReceived(second, fields, False)]


def test_rfc9113_4_3_dynamic_table_size_from_our_settings_applies_after_ack() -> None:
    conn = H2Connection(header_table_size=256)
    conn.initiate_connection()
    conn.data_to_send()
    conn.receive_data(fr.encode_settings())
    stream_id = open_stream(conn)
    big = [(b":status", b"200"), (b"x-big", b"v" * 300)]
    # Before our SETTINGS is acknowledged the peer may still use a 4096-octet table.
    encoder = hpack.Encoder()
    events = conn.receive_data(fr.encode_headers(stream_id, encoder.encode(big)))
    assert events == [ResponseReceived(stream_id, big, False)]
    assert conn.receive_data(fr.encode_settings_ack()) == [SettingsAcknowledged()]
    # Once acknowledged, a peer that keeps its larger table breaks HPACK (§4.3.1).
    other = open_stream(conn)
    encoder2 = hpack.Encoder()
    encoder2.header_table_size = 4096
    block = b"\x3f\xe1\x1f" + encoder2.encode([(b":status", b"200")])  # size update to 4096
    expect_connection_error(conn, fr.encode_headers(other, block), ErrorCode.COMPRESSION_ERROR)

"""The frame trace hook: one record per frame each way, per-type details, redaction, and no
cost at all when no hook is installed."""

from __future__ import annotations

import logging

import pytest

from etcdwire._h2 import connection as connection_module
from etcdwire._h2 import frames as fr
from etcdwire._h2.connection import H2Connection
from etcdwire._h2.frames import ErrorCode, FrameType, SettingCode
from etcdwire._h2.trace import FrameRecord, format_frame, record_frame, redact_headers
from etcdwire.errors import RemoteProtocolError

from .helpers import REQUEST, RESPONSE, TRAILERS, Peer


def _traced() -> tuple[H2Connection, list[FrameRecord]]:
    records: list[FrameRecord] = []
    conn = H2Connection(trace=records.append, connection_window=65_535 * 4)
    conn.initiate_connection()
    conn.receive_data(fr.encode_settings([(SettingCode.MAX_CONCURRENT_STREAMS, 10)]))
    conn.data_to_send()
    return conn, records


def _lines(records: list[FrameRecord]) -> list[str]:
    return [format_frame(r) for r in records]


def test_preface_and_settings_records() -> None:
    _conn, records = _traced()
    assert _lines(records) == [
        ">> SETTINGS s=0 flags=- len=18 ENABLE_PUSH=0 INITIAL_WINDOW_SIZE=4194304 "
        "MAX_HEADER_LIST_SIZE=65536",
        ">> WINDOW_UPDATE s=0 flags=- len=4 incr=196605 conn:65535->262140",
        "<< SETTINGS s=0 flags=- len=6 MAX_CONCURRENT_STREAMS=10",
        ">> SETTINGS s=0 flags=ACK len=0",
    ]
    assert records[2].direction == "recv"
    assert records[2].settings == [("MAX_CONCURRENT_STREAMS", 10)]
    assert records[3].ack is True


def test_headers_data_and_trailers_records_with_redaction() -> None:
    conn, records = _traced()
    records.clear()
    stream_id = conn.open_stream(
        [*REQUEST, (b"authorization", b"Bearer abc"), (b"token", b"x" * 44), (b"x-id-bin", b"AP8")]
    )
    conn.send_data(stream_id, b"\x00\x00\x00\x00\x01z", end_stream=True)
    peer = Peer()
    conn.receive_data(
        peer.response(stream_id)
        + peer.data(stream_id, b"abc", pad_length=4)
        + peer.trailers(stream_id)
    )
    lines = _lines(records)
    assert lines[0].startswith(">> HEADERS s=1 flags=END_HEADERS len=")
    assert ":method=POST :scheme=http :path=/etcdserverpb.KV/Range" in lines[0]
    assert "authorization=<redacted 10B> token=<redacted 44B> x-id-bin=<3B>" in lines[0]
    assert "Bearer" not in lines[0]
    assert lines[1] == ">> DATA s=1 flags=END_STREAM len=6"
    assert (
        lines[2]
        == "<< HEADERS s=1 flags=END_HEADERS len=14 :status=200 content-type=application/grpc"
    )
    assert lines[3] == "<< DATA s=1 flags=PADDED len=8 pad=4"
    assert lines[4] == (
        "<< HEADERS s=1 flags=END_STREAM|END_HEADERS len=24 grpc-status=0 grpc-message="
    )
    assert records[2].headers == [(":status", "200"), ("content-type", "application/grpc")]
    assert len(records) == 5


def test_control_frame_records() -> None:
    conn, records = _traced()
    stream_id = conn.open_stream(REQUEST)
    records.clear()
    peer = Peer()
    conn.receive_data(
        fr.encode_ping(b"\x02\x04\x10\x10\x09\x0e\x07\x07")
        + fr.encode_window_update(0, 5)
        + fr.encode_window_update(stream_id, 7)
        + peer.response(stream_id)
        + peer.data(stream_id, b"q" * 16_000)
        + fr.encode_rst_stream(stream_id, ErrorCode.CANCEL)
        + fr.encode_goaway(0, ErrorCode.ENHANCE_YOUR_CALM, b"too_many_pings")
    )
    lines = _lines(records)
    assert lines[0] == "<< PING s=0 flags=- len=8 02 04 10 10 09 0e 07 07"
    assert lines[1] == ">> PING s=0 flags=ACK len=8 02 04 10 10 09 0e 07 07"
    assert lines[2] == "<< WINDOW_UPDATE s=0 flags=- len=4 incr=5 conn:65535->65540"
    assert lines[3] == "<< WINDOW_UPDATE s=1 flags=- len=4 incr=7 stream:65535->65542"
    assert lines[5] == "<< DATA s=1 flags=- len=16000"
    assert lines[6] == "<< RST_STREAM s=1 flags=- len=4 code=CANCEL"
    assert lines[7] == (
        "<< GOAWAY s=0 flags=- len=22 last=0 code=ENHANCE_YOUR_CALM debug='too_many_pings'"
    )
    assert lines[8] == ">> GOAWAY s=0 flags=- len=8 last=0 code=NO_ERROR debug=''"
    assert len(lines) == 9


def test_window_update_records_show_our_receive_windows() -> None:
    records: list[FrameRecord] = []
    conn = H2Connection(trace=records.append, initial_window_size=1_000, connection_window=65_535)
    conn.initiate_connection()
    conn.receive_data(fr.encode_settings())
    stream_id = conn.open_stream(REQUEST)
    peer = Peer()
    conn.receive_data(peer.response(stream_id) + peer.data(stream_id, b"x" * 900))
    records.clear()
    conn.acknowledge_received_data(stream_id, 900)
    assert _lines(records) == [">> WINDOW_UPDATE s=1 flags=- len=4 incr=900 stream:100->1000"]


def test_unknown_frames_and_error_codes_are_named_by_number() -> None:
    record = record_frame("recv", 0xEE, 0x3, 9, b"abc", 0, 3)
    assert format_frame(record) == "<< UNKNOWN(0xee) s=9 flags=- len=3"
    payload = fr.encode_goaway(1, 0x77)[9:]
    record = record_frame("recv", FrameType.GOAWAY, 0, 0, payload, 0, len(payload))
    assert record.error_code == "0x77"
    payload = fr.encode_settings([(0x99, 5)])[9:]
    record = record_frame("recv", FrameType.SETTINGS, 0, 0, payload, 0, len(payload))
    assert format_frame(record).endswith("0x99=5")
    # A malformed payload is traced with what could be read, never raising.
    record = record_frame("recv", FrameType.WINDOW_UPDATE, 0, 0, b"\x00", 0, 1)
    assert record.increment is None
    assert "FrameRecord(" in repr(record)


def test_redaction_and_long_values() -> None:
    fields = redact_headers(
        [(b"proxy-authorization", b"secret"), (b"x-long", b"v" * 500), (b"x-utf", b"\xff")]
    )
    assert fields[0] == ("proxy-authorization", "<redacted 6B>")
    assert fields[1][1].endswith("...(500B)")
    assert fields[2][1] == "\\xff"


def test_the_offending_frame_of_a_connection_error_is_traced() -> None:
    conn, records = _traced()
    records.clear()
    with pytest.raises(RemoteProtocolError):
        conn.receive_data(fr.encode_data(0, b"bad"))
    lines = _lines(records)
    assert lines[0] == "<< DATA s=0 flags=- len=3"
    assert lines[1].startswith(">> GOAWAY s=0 flags=- len=")
    assert "code=PROTOCOL_ERROR" in lines[1]


def test_a_failing_hook_is_logged_and_does_not_break_the_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def hook(record: FrameRecord) -> None:
        raise RuntimeError("broken hook")

    conn = H2Connection(trace=hook)
    conn.initiate_connection()
    with caplog.at_level(logging.ERROR, logger="etcdwire.h2"):
        events = conn.receive_data(fr.encode_settings())
    assert events
    assert not conn.closed
    assert "frame trace hook failed" in caplog.text


def test_no_record_is_built_without_a_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object) -> FrameRecord:
        raise AssertionError("a record was built with trace=None")

    monkeypatch.setattr(connection_module, "record_frame", forbidden)
    monkeypatch.setattr(connection_module, "FrameRecord", forbidden)
    monkeypatch.setattr(connection_module, "redact_headers", forbidden)
    conn = H2Connection()
    conn.initiate_connection()
    peer = Peer()
    conn.receive_data(fr.encode_settings() + fr.encode_ping(b"12345678"))
    stream_id = conn.open_stream(REQUEST)
    conn.send_data(stream_id, b"x" * 40_000, end_stream=True)
    events = conn.receive_data(
        peer.response(stream_id)
        + peer.data(stream_id, b"abc")
        + peer.headers(stream_id, TRAILERS, end_stream=True)
    )
    conn.acknowledge_received_data(stream_id, 3)
    assert len(events) == 3
    assert events[0].headers == RESPONSE  # type: ignore[attr-defined]

"""The parser does not care how the byte stream is cut: one byte at a time, random chunks and
the whole buffer give the same events and queue the same frames. (Only the order of our output
across one flush may differ: PING ACKs and connection WINDOW_UPDATEs jump ahead of frames queued
in the same flush.)"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from etcdwire._h2 import frames as fr
from etcdwire._h2.connection import H2Connection
from etcdwire._h2.events import Event
from etcdwire._h2.frames import ErrorCode, SettingCode

from .helpers import REQUEST, RESPONSE, TRAILERS, Peer, Sent, parse_frames


def _client() -> H2Connection:
    conn = H2Connection(initial_window_size=200_000, connection_window=300_000)
    conn.initiate_connection()
    for _ in range(4):
        conn.open_stream(REQUEST, end_stream=True)
    conn.open_stream(REQUEST, end_stream=False)
    conn.data_to_send()
    return conn


def _server_stream() -> bytes:
    """A long, varied server byte stream for streams 1, 3, 5, 7 and 9."""
    peer = Peer()
    parts = [
        fr.encode_settings([(SettingCode.MAX_FRAME_SIZE, 20_000), (0x99, 1)]),
        fr.encode_settings_ack(),
        fr.encode_ping(b"\x02\x04\x10\x10\x09\x0e\x07\x07"),
        peer.headers(1, [(b":status", b"100")]),
        peer.response(1),
        peer.response(3),
        peer.data(1, b"a" * 16_000),
        peer.data(1, b"a" * 14_000),
        peer.data(3, b"b" * 100, pad_length=50),
        fr.encode_window_update(0, 1_000),
        fr.encode_window_update(9, 2_000),
        fr.encode_priority(5, 0, 32),
        fr.encode_frame(0xEE, 0, 3, b"extension"),
        peer.headers(
            5,
            [*RESPONSE, *[(f"x-{i}".encode(), b"v" * 90) for i in range(300)]],
            max_frame_size=16_384,
        ),
        peer.trailers(1),
        peer.data(3, b"", end_stream=True),
        peer.data(5, b"c" * 16_384),
        fr.encode_rst_stream(5, ErrorCode.CANCEL),
        peer.data(5, b"late" * 100),  # after the reset: discarded
        peer.headers(7, [*RESPONSE, *TRAILERS], end_stream=True),
        fr.encode_ping(b"ackackac", ack=True),
        peer.response(9),
        peer.headers(9, [(b"x-not-trailers", b"1")]),  # no END_STREAM: stream error
        fr.encode_goaway(9, ErrorCode.NO_ERROR, b"done"),
    ]
    return b"".join(parts)


STREAM = _server_stream()


def _feed(chunks: Sequence[bytes | bytearray | memoryview]) -> tuple[list[Event], list[Sent]]:
    conn = _client()
    events: list[Event] = []
    out: list[Sent] = []
    for chunk in chunks:
        events += conn.receive_data(chunk)
        out += parse_frames(conn.data_to_send())
    return events, sorted(out)


def test_whole_buffer_and_one_byte_at_a_time_agree() -> None:
    whole = _feed([STREAM])
    assert len(whole[0]) > 20
    single = _feed([STREAM[i : i + 1] for i in range(len(STREAM))])
    assert single == whole


def test_bytearray_and_memoryview_input() -> None:
    whole = _feed([STREAM])
    assert _feed([bytearray(STREAM)]) == whole
    view = memoryview(STREAM)
    assert _feed([view[:1000], view[1000:]]) == whole


@settings(max_examples=100, deadline=None)
@given(cuts=st.lists(st.integers(0, len(STREAM)), max_size=40))
def test_random_chunking_agrees(cuts: list[int]) -> None:
    points = [0, *sorted(cuts), len(STREAM)]
    chunks = [STREAM[a:b] for a, b in itertools.pairwise(points)]
    assert _feed(chunks) == _feed([STREAM])

"""Whatever a peer sends, ``receive_data`` either returns events or raises a ProtocolError
subclass: never another exception, never a hang, never an internal error. Inputs: arbitrary
bytes, sequences of arbitrary frames, and mutations of a valid server byte stream."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etcdwire._h2 import frames as fr
from etcdwire._h2.connection import H2Connection
from etcdwire._h2.events import Event
from etcdwire._h2.frames import ErrorCode
from etcdwire._h2.trace import FrameRecord, format_frame
from etcdwire.errors import ProtocolError

from .helpers import REQUEST, RESPONSE, TRAILERS, Peer

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _client(traced: bool = False) -> tuple[H2Connection, list[FrameRecord]]:
    records: list[FrameRecord] = []
    conn = H2Connection(
        initial_window_size=100_000,
        max_header_list_size=4_096,
        trace=records.append if traced else None,
    )
    conn.initiate_connection()
    conn.receive_data(fr.encode_settings() + fr.encode_settings_ack())
    conn.open_stream(REQUEST, end_stream=True)  # 1: half-closed (local)
    conn.open_stream(REQUEST, end_stream=False)  # 3: open
    conn.open_stream(REQUEST, end_stream=False)  # 5: open, then response headers below
    conn.receive_data(Peer().response(5))
    conn.data_to_send()
    return conn, records


def _feed(conn: H2Connection, chunks: list[bytes]) -> list[Event]:
    events: list[Event] = []
    try:
        for chunk in chunks:
            new = conn.receive_data(chunk)
            events += new
            conn.data_to_send(7)  # partial flushes too
            conn.data_to_send()
            # The application acknowledges what it read.
            for event in new:
                length = getattr(event, "flow_controlled_length", 0)
                if length:
                    conn.acknowledge_received_data(event.stream_id, length)  # type: ignore[attr-defined]
    except ProtocolError as exc:
        assert exc.h2_error_code != ErrorCode.INTERNAL_ERROR, repr(exc.__cause__)
        assert conn.closed
        assert conn.receive_data(b"\x00" * 20) == []
    return events


@FUZZ
@given(data=st.binary(max_size=3_000), chunk=st.integers(1, 3_000))
def test_arbitrary_bytes(data: bytes, chunk: int) -> None:
    conn, _ = _client()
    _feed(conn, [data[i : i + chunk] for i in range(0, len(data), chunk)])


frame_st = st.builds(
    fr.encode_frame,
    st.integers(0, 12),
    st.integers(0, 255),
    st.sampled_from([0, 1, 2, 3, 5, 7, 2**31 - 1]),
    st.binary(max_size=64),
)


@FUZZ
@given(frames=st.lists(frame_st, max_size=30), traced=st.booleans())
def test_arbitrary_frames(frames: list[bytes], traced: bool) -> None:
    conn, records = _client(traced)
    _feed(conn, frames)
    for record in records:
        assert format_frame(record)


def _valid_stream() -> bytes:
    peer = Peer()
    return b"".join(
        [
            fr.encode_ping(b"12345678"),
            peer.headers(1, [(b":status", b"103")]),
            peer.response(1),
            peer.data(1, b"x" * 100, pad_length=20),
            peer.headers(5, TRAILERS, end_stream=True),
            peer.headers(3, [*RESPONSE, (b"x-long", b"y" * 300)], max_frame_size=16_384),
            fr.encode_window_update(0, 100),
            fr.encode_window_update(3, 100),
            peer.data(3, b"z" * 50, end_stream=True),
            peer.trailers(1),
            fr.encode_settings([(4, 1_000), (5, 20_000), (1, 0)]),
            fr.encode_goaway(5, 0, b"bye"),
        ]
    )


VALID = _valid_stream()


def test_the_valid_stream_is_valid() -> None:
    conn, _ = _client()
    events = conn.receive_data(VALID)
    assert len(events) > 10
    assert not conn.closed


@st.composite
def mutations(draw: st.DrawFn) -> bytes:
    data = bytearray(VALID)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "set"]))
        pos = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=12))
        else:
            del data[pos : pos + draw(st.integers(1, 12))]
    return bytes(data)


@FUZZ
@given(data=mutations(), chunk=st.sampled_from([1, 7, 100, 10_000]))
def test_mutated_valid_streams(data: bytes, chunk: int) -> None:
    conn, _ = _client()
    _feed(conn, [data[i : i + chunk] for i in range(0, len(data), chunk)])

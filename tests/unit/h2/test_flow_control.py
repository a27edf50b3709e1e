"""Receive-side flow control policy (RFC 9113 §5.2, §6.9): large windows, connection credit
returned as DATA is parsed, stream credit only when the application consumes it, both batched;
window growth for large messages; the accounting invariant; send-side window bookkeeping."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etcdwire._h2 import frames as fr
from etcdwire._h2.connection import H2Connection
from etcdwire._h2.events import DataReceived
from etcdwire._h2.flow import MAX_WINDOW_SIZE, ReceiveWindow
from etcdwire._h2.frames import FrameType
from etcdwire._h2.stream import StreamState
from etcdwire.errors import LocalProtocolError

from .helpers import (
    REQUEST,
    Peer,
    connect,
    open_stream,
    parse_frames,
    sent_frames,
    window_updates,
)


def _responding(n: int = 1, **kwargs: object) -> tuple[H2Connection, Peer, list[int]]:
    conn, peer = connect(**kwargs)
    ids = [open_stream(conn) for _ in range(n)]
    for stream_id in ids:
        conn.receive_data(peer.response(stream_id))
    conn.data_to_send()
    return conn, peer, ids


def test_rfc9113_6_9_1_connection_credit_is_returned_automatically_in_quarter_batches() -> None:
    conn, peer, (stream_id,) = _responding(connection_window=400_000, initial_window_size=2**20)
    for _ in range(6):
        conn.receive_data(peer.data(stream_id, b"x" * 16_384))
    assert window_updates(sent_frames(conn)) == []  # 98,304 < 100,000
    conn.receive_data(peer.data(stream_id, b"x" * 16_384))
    assert window_updates(sent_frames(conn)) == [(0, 7 * 16_384)]


def test_rfc9113_5_2_2_stream_credit_waits_for_the_application() -> None:
    conn, peer, (stream_id,) = _responding(initial_window_size=100_000)
    events = conn.receive_data(
        peer.data(stream_id, b"a" * 15_000) + peer.data(stream_id, b"b" * 15_000)
    )
    assert all(isinstance(e, DataReceived) for e in events)
    assert [u for u in window_updates(sent_frames(conn)) if u[0]] == []
    conn.acknowledge_received_data(stream_id, 15_000)
    assert sent_frames(conn) == []  # 15,000 < a quarter of 100,000
    conn.acknowledge_received_data(stream_id, 15_000)
    assert window_updates(sent_frames(conn)) == [(stream_id, 30_000)]


def test_rfc9113_5_2_2_a_slow_reader_stalls_only_its_own_stream() -> None:
    conn, peer, (slow, fast) = _responding(2, initial_window_size=65_536, connection_window=65_535)
    # The slow stream's window fills up and is never acknowledged...
    for _ in range(4):
        conn.receive_data(peer.data(slow, b"s" * 16_384))
    window = conn.receive_window(slow)
    assert window is not None and window.available == 0
    # ...yet the connection window keeps being returned, so the fast stream flows on, far
    # beyond the 65,535-octet connection window.
    received = 0
    for _ in range(40):
        for event in conn.receive_data(peer.data(fast, b"f" * 16_384)):
            assert isinstance(event, DataReceived)
            received += event.flow_controlled_length
            conn.acknowledge_received_data(fast, event.flow_controlled_length)
    assert received == 40 * 16_384
    assert not conn.closed


def test_padding_credit_is_returned_like_data() -> None:
    conn, peer, (stream_id,) = _responding(initial_window_size=1_000)
    events = conn.receive_data(peer.data(stream_id, b"12345", pad_length=255))
    assert events == [DataReceived(stream_id, b"12345", 261, False)]
    conn.acknowledge_received_data(stream_id, 261)
    assert window_updates(sent_frames(conn)) == [(stream_id, 261)]


def test_ensure_stream_window_grows_the_window_for_a_large_message() -> None:
    conn, peer, (stream_id,) = _responding(initial_window_size=65_536)
    conn.receive_data(peer.data(stream_id, b"\x00" + (1_000_000).to_bytes(4, "big") + b"x" * 995))
    window = conn.receive_window(stream_id)
    assert window is not None and window.available == 64_536
    # The reader needs 999,005 more octets to complete the message it is buffering.
    conn.ensure_stream_window(stream_id, 999_005)
    assert window_updates(sent_frames(conn)) == [(stream_id, 999_005 - 64_536)]
    assert window.available == 999_005
    assert window.size == 65_536 + 999_005 - 64_536
    conn.ensure_stream_window(stream_id, 500_000)  # already possible: nothing to send
    conn.ensure_stream_window(99, 500_000)  # not a stream: ignored
    assert sent_frames(conn) == []


def test_ensure_returns_pending_credit_first() -> None:
    window = ReceiveWindow(1000)
    assert window.consume(900)
    assert window.acknowledge(200) == 0  # below the 250 threshold
    assert window.ensure(300) == 200  # pending credit covers it
    assert (window.available, window.pending, window.buffered, window.size) == (300, 0, 700, 1000)
    assert window.ensure(MAX_WINDOW_SIZE + 5) == MAX_WINDOW_SIZE - 1000
    assert window.size == MAX_WINDOW_SIZE  # never beyond 2**31-1
    assert window.available + window.pending + window.buffered == window.size
    assert window.take_pending() == 0
    assert "ReceiveWindow(" in repr(window)


def test_acknowledging_more_than_was_received_is_a_local_error() -> None:
    conn, peer, (stream_id,) = _responding()
    conn.receive_data(peer.data(stream_id, b"x" * 10))
    with pytest.raises(LocalProtocolError):
        conn.acknowledge_received_data(stream_id, 11)
    with pytest.raises(LocalProtocolError):
        conn.acknowledge_received_data(stream_id, -1)
    conn.acknowledge_received_data(stream_id, 0)
    conn.acknowledge_received_data(stream_id, 10)
    conn.acknowledge_received_data(12345, 10)  # unknown or closed streams: ignored


def test_no_stream_credit_after_the_peer_ended_the_stream() -> None:
    conn, peer = connect(initial_window_size=1_000)
    stream_id = open_stream(conn, end_stream=False)  # we are still sending: half-closed remote
    conn.receive_data(peer.response(stream_id))
    conn.receive_data(peer.data(stream_id, b"x" * 800, end_stream=True))
    conn.acknowledge_received_data(stream_id, 800)
    assert [u for u in window_updates(sent_frames(conn)) if u[0] == stream_id] == []


# --- the invariant, against a peer that keeps its own view of the windows ------------------------


class ModelPeer:
    """Sends DATA only within the windows it was granted, learning grants from our output."""

    def __init__(self, conn: H2Connection, ids: list[int], initial: int) -> None:
        self.conn = conn
        self.peer = Peer()
        conn_window = conn.receive_window(0)
        assert conn_window is not None
        self.conn_window = conn_window.available
        self.windows = dict.fromkeys(ids, initial)
        self.returned = dict.fromkeys([0, *ids], 0)

    def absorb(self, data: bytes) -> None:
        for frame in parse_frames(data):
            if frame.type == FrameType.WINDOW_UPDATE:
                increment = fr.decode_window_update(frame.payload, 0, 4)
                self.returned[frame.stream_id] += increment
                if frame.stream_id:
                    self.windows[frame.stream_id] += increment
                else:
                    self.conn_window += increment

    def send(self, stream_id: int, size: int, pad: int | None) -> bytes:
        cost = size + (0 if pad is None else pad + 1)
        if cost > min(self.windows[stream_id], self.conn_window):
            return b""
        self.windows[stream_id] -= cost
        self.conn_window -= cost
        return self.peer.data(stream_id, b"d" * size, pad_length=pad)


operations = st.lists(
    st.tuples(
        st.sampled_from(["data", "ack", "ack-all", "ensure"]),
        st.integers(0, 2),
        st.integers(0, 40_000),
        st.none() | st.integers(0, 255),
    ),
    max_size=80,
)


@settings(max_examples=60, deadline=None)
@given(ops=operations)
def test_received_equals_returned_plus_outstanding(
    ops: list[tuple[str, int, int, int | None]],
) -> None:
    initial = 100_000
    conn, _peer, ids = _responding(
        3, initial_window_size=initial, connection_window=200_000, max_frame_size=65_536
    )
    model = ModelPeer(conn, ids, initial)
    received = dict.fromkeys([0, *ids], 0)
    unacked = dict.fromkeys(ids, 0)
    for op, index, size, pad in ops:
        stream_id = ids[index]
        if op == "data":
            frame = model.send(stream_id, min(size, 65_000), pad)
            for event in conn.receive_data(frame):
                assert isinstance(event, DataReceived)
                received[0] += event.flow_controlled_length
                received[stream_id] += event.flow_controlled_length
                unacked[stream_id] += event.flow_controlled_length
        elif op in ("ack", "ack-all"):
            amount = unacked[stream_id] if op == "ack-all" else min(size, unacked[stream_id])
            conn.acknowledge_received_data(stream_id, amount)
            unacked[stream_id] -= amount
        else:
            conn.ensure_stream_window(stream_id, size * 10)
        model.absorb(conn.data_to_send())

        # Our windows and the peer's view of them never disagree...
        conn_window = conn.receive_window(0)
        assert conn_window is not None
        assert conn_window.available == model.conn_window
        # ...and every octet received is either returned or still owed, for the connection
        # (where nothing stays buffered)...
        # (the initial grant of the connection window went out before the model started)
        assert received[0] == model.returned[0] + conn_window.pending
        assert conn_window.buffered == 0
        # ...and for each stream, where growth from ensure_stream_window is extra credit.
        for sid in ids:
            window = conn.receive_window(sid)
            assert window is not None
            assert window.available == model.windows[sid]
            assert window.buffered == unacked[sid]
            extra = window.size - initial
            assert received[sid] == model.returned[sid] - extra + window.pending + window.buffered
    assert not conn.closed
    # Once everything is consumed, at most a quarter window of credit is held back.
    for sid in ids:
        conn.acknowledge_received_data(sid, unacked[sid])
        window = conn.receive_window(sid)
        assert window is not None
        assert window.available > window.size - window.size // 4 - 1


# --- send side ---------------------------------------------------------------------------------


def test_send_windows_are_charged_on_both_levels() -> None:
    conn, _ = connect()
    one = open_stream(conn, end_stream=False)
    three = open_stream(conn, end_stream=False)
    conn.send_data(one, b"x" * 40_000)
    assert conn.local_flow_control_window(one) == 25_535
    assert conn.local_flow_control_window(three) == 25_535  # the connection window is shared
    conn.receive_data(fr.encode_window_update(0, 100_000))
    assert conn.local_flow_control_window(three) == 65_535
    assert conn.local_flow_control_window(one) == 25_535


def test_rfc9113_6_9_open_request_sends_the_body_only_when_both_windows_take_it() -> None:
    """A unary request goes as HEADERS then DATA with END_STREAM, charged to both send
    windows (§6.9.1); when either window (or one frame, §4.2) is too small for the body,
    only the HEADERS go and the stream stays open for send_data."""
    conn, _ = connect()
    stream_id, sent = conn.open_request(REQUEST, b"x" * 100)
    frames = sent_frames(conn)
    assert sent
    assert [(f.type, f.flags & fr.END_STREAM, f.stream_id) for f in frames] == [
        (FrameType.HEADERS, 0, stream_id),
        (FrameType.DATA, fr.END_STREAM, stream_id),
    ]
    assert frames[1].payload == b"x" * 100
    assert conn.stream_state(stream_id) is StreamState.HALF_CLOSED_LOCAL
    # Another stream takes 60,000 octets of the connection window: 5,435 are left.
    other = open_stream(conn, end_stream=False)
    conn.send_data(other, b"w" * 60_000)
    conn.data_to_send()
    big, sent = conn.open_request(REQUEST, b"y" * 5_436)
    assert not sent
    assert [f.type for f in sent_frames(conn)] == [FrameType.HEADERS]
    assert conn.stream_state(big) is StreamState.OPEN
    assert conn.local_flow_control_window(big) == 5_435  # nothing was charged
    conn.receive_data(fr.encode_window_update(0, 60_000))
    # A body over MAX_FRAME_SIZE (16,384) is left to send_data, which splits it.
    split, sent = conn.open_request(REQUEST, b"z" * 16_385)
    assert not sent
    conn.send_data(split, b"z" * 16_385, end_stream=True)
    split_frames = sent_frames(conn)
    assert split_frames[0].type == FrameType.HEADERS
    assert [(f.type, len(f.payload)) for f in split_frames[1:]] == [
        (FrameType.DATA, 16_384),
        (FrameType.DATA, 1),
    ]

"""Every (state, input) pair of the stream table (RFC 9113 §5.1), driven through a real
H2Connection: each pair either moves the stream to the state the table names, or fails the way
the table's absence says (LocalProtocolError for our sends, RECV_ERRORS for the peer's)."""

from __future__ import annotations

import itertools

import pytest

from etcdwire._h2 import frames as fr
from etcdwire._h2.connection import H2Connection
from etcdwire._h2.events import Event, StreamReset
from etcdwire._h2.stream import (
    RECV_ERRORS,
    TRANSITIONS,
    RecvViolation,
    StreamInput,
    StreamState,
    next_state,
)
from etcdwire.errors import LocalProtocolError, RemoteProtocolError

from .helpers import Peer, connect, open_stream, parse_frames

S = StreamState
I = StreamInput  # noqa: E741

# What each input is on the wire, and the inputs the table sees for it (a frame that carries
# END_STREAM is the frame's input followed by the END_STREAM input).
_SEND_FRAME = {
    I.SEND_HEADERS: fr.FrameType.HEADERS,
    I.SEND_DATA: fr.FrameType.DATA,
    I.SEND_END_STREAM: fr.FrameType.DATA,
    I.SEND_RST_STREAM: fr.FrameType.RST_STREAM,
    I.SEND_WINDOW_UPDATE: fr.FrameType.WINDOW_UPDATE,
}


def _setup(state: StreamState) -> tuple[H2Connection, Peer, int]:
    conn, peer = connect()
    if state is S.IDLE:
        # Another stream stays open so that a GOAWAY does not drain the connection.
        open_stream(conn, end_stream=False)
        stream_id = conn.get_next_available_stream_id()
    elif state is S.CLOSED:
        stream_id = open_stream(conn, end_stream=False)
        conn.reset_stream(stream_id)
    else:
        stream_id = open_stream(conn, end_stream=state is S.HALF_CLOSED_LOCAL)
        conn.receive_data(peer.response(stream_id))
        if state is S.HALF_CLOSED_REMOTE:
            conn.receive_data(peer.trailers(stream_id))
    conn.data_to_send()
    assert conn.stream_state(stream_id) is state
    return conn, peer, stream_id


def _drive(
    conn: H2Connection, peer: Peer, stream_id: int, state: StreamState, event: StreamInput
) -> tuple[list[StreamInput], list[Event]]:
    """Apply ``event``; returns the table inputs it amounts to and the events it produced."""
    if event is I.SEND_HEADERS:
        if state is S.IDLE:
            conn.send_headers(
                stream_id, [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/p")]
            )
            return [I.SEND_HEADERS], []
        conn.send_headers(stream_id, [(b"x-trailer", b"1")], end_stream=True)
        return [I.SEND_HEADERS, I.SEND_END_STREAM], []
    if event is I.SEND_DATA:
        conn.send_data(stream_id, b"x")
        return [I.SEND_DATA], []
    if event is I.SEND_END_STREAM:
        conn.end_stream(stream_id)
        return [I.SEND_DATA, I.SEND_END_STREAM], []
    if event is I.SEND_RST_STREAM:
        conn.reset_stream(stream_id)
        return [I.SEND_RST_STREAM], []
    if event is I.SEND_WINDOW_UPDATE:
        conn.ensure_stream_window(stream_id, 2**30)
        return [I.SEND_WINDOW_UPDATE], []
    if event is I.RECV_HEADERS:
        # Trailers: the response headers were received in every non-idle setup.
        return [I.RECV_HEADERS, I.RECV_END_STREAM], conn.receive_data(peer.trailers(stream_id))
    if event is I.RECV_DATA:
        return [I.RECV_DATA], conn.receive_data(peer.data(stream_id, b"x"))
    if event is I.RECV_END_STREAM:
        data = peer.data(stream_id, b"", end_stream=True)
        return [I.RECV_DATA, I.RECV_END_STREAM], conn.receive_data(data)
    if event is I.RECV_RST_STREAM:
        frame = fr.encode_rst_stream(stream_id, fr.ErrorCode.CANCEL)
        return [I.RECV_RST_STREAM], conn.receive_data(frame)
    if event is I.RECV_WINDOW_UPDATE:
        frame = fr.encode_window_update(stream_id, 100)
        return [I.RECV_WINDOW_UPDATE], conn.receive_data(frame)
    assert event is I.RECV_GOAWAY_REFUSED
    frame = fr.encode_goaway(max(0, stream_id - 2), fr.ErrorCode.NO_ERROR)
    return [I.RECV_GOAWAY_REFUSED], conn.receive_data(frame)


def _expected(state: StreamState, inputs: list[StreamInput]) -> tuple[str, object]:
    """Walk the table: ("state", final) or the failure the first missing pair means."""
    current = state
    for event in inputs:
        nxt = TRANSITIONS.get((current, event))
        if nxt is None:
            if event.name.startswith("SEND_"):
                if event is I.SEND_WINDOW_UPDATE or (
                    event is I.SEND_RST_STREAM and current is S.CLOSED
                ):
                    return "nothing sent", current
                return "local error", current
            violation, code = RECV_ERRORS[current]
            if violation is RecvViolation.IGNORED:
                return violation.value, current
            return violation.value, code
        current = nxt
    return "state", current


@pytest.mark.parametrize(
    ("state", "event"),
    list(itertools.product(StreamState, StreamInput)),
    ids=lambda v: v.name,
)
def test_rfc9113_5_1_every_state_input_pair(state: StreamState, event: StreamInput) -> None:
    conn, peer, stream_id = _setup(state)
    inputs = _input_plan(conn, peer, stream_id, state, event)
    outcome, detail = _expected(state, inputs)

    if outcome == "local error":
        with pytest.raises(LocalProtocolError):
            _drive(conn, peer, stream_id, state, event)
        assert conn.stream_state(stream_id) is state
        assert conn.data_to_send() == b""
        return
    if outcome == RecvViolation.CONNECTION_ERROR.value:
        with pytest.raises(RemoteProtocolError) as info:
            _drive(conn, peer, stream_id, state, event)
        assert info.value.h2_error_code == detail
        assert conn.closed
        return

    _, events = _drive(conn, peer, stream_id, state, event)
    frames = parse_frames(conn.data_to_send())
    mine = [e for e in events if getattr(e, "stream_id", None) == stream_id]
    if outcome == RecvViolation.STREAM_ERROR.value:
        assert StreamReset(stream_id, detail, remote=False) in events  # type: ignore[arg-type]
        assert (fr.FrameType.RST_STREAM, stream_id) in [(f.type, f.stream_id) for f in frames]
        assert conn.stream_state(stream_id) is S.CLOSED
    elif outcome in ("nothing sent", RecvViolation.IGNORED.value):
        assert [f for f in frames if f.stream_id == stream_id] == []
        assert mine == []
        assert conn.stream_state(stream_id) is detail
    else:
        assert outcome == "state"
        assert conn.stream_state(stream_id) is detail
        if event in _SEND_FRAME:
            assert _SEND_FRAME[event] in [f.type for f in frames if f.stream_id == stream_id]
        elif state in (S.IDLE, S.CLOSED):
            assert mine == []  # late WINDOW_UPDATE/RST_STREAM, or a GOAWAY: nothing to report
        else:
            assert mine, f"no event for a {event.name} the stream accepted"


def _input_plan(
    conn: H2Connection, peer: Peer, stream_id: int, state: StreamState, event: StreamInput
) -> list[StreamInput]:
    """The table inputs ``_drive`` will produce, without driving."""
    if event is I.SEND_HEADERS:
        return [I.SEND_HEADERS] if state is S.IDLE else [I.SEND_HEADERS, I.SEND_END_STREAM]
    if event is I.SEND_END_STREAM:
        return [I.SEND_DATA, I.SEND_END_STREAM]
    if event is I.RECV_HEADERS:
        return [I.RECV_HEADERS, I.RECV_END_STREAM]
    if event is I.RECV_END_STREAM:
        return [I.RECV_DATA, I.RECV_END_STREAM]
    return [event]


def test_compiled_table_matches_the_dict() -> None:
    for state, event in itertools.product(StreamState, StreamInput):
        assert next_state(state, event) == TRANSITIONS.get((state, event))


def test_every_missing_recv_pair_has_a_defined_violation() -> None:
    for state, event in itertools.product(StreamState, StreamInput):
        if event.name.startswith("RECV_") and (state, event) not in TRANSITIONS:
            assert state in RECV_ERRORS, (state, event)


def test_no_transition_leaves_closed() -> None:
    for (state, _event), nxt in TRANSITIONS.items():
        if state is S.CLOSED:
            assert nxt is S.CLOSED

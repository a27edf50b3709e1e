"""The client stream state machine of RFC 9113 §5.1, as one table.

Push is disabled (we send ENABLE_PUSH=0 and reject PUSH_PROMISE), so the reserved states never
occur and every stream is one we opened. :data:`TRANSITIONS` maps ``(state, input)`` to the next
state; a pair that is missing is an error:

- a missing ``SEND_*`` pair is our own mistake: :class:`~etcdwire.errors.LocalProtocolError`.
  Two sends are not frames the caller asks for but side effects, and where the table has no
  pair they are simply not sent: SEND_WINDOW_UPDATE (returning credit to a peer that has
  finished sending) and SEND_RST_STREAM on a stream already closed (at most one RST_STREAM per
  stream, §5.4.2);
- a missing ``RECV_*`` pair is the peer's, and :data:`RECV_ERRORS` says what §5.1 asks for in
  that state: on an idle stream a connection PROTOCOL_ERROR, after the peer's END_STREAM a stream
  STREAM_CLOSED error, on a closed stream nothing (the frame is discarded).

A stream leaves the connection's stream table when it reaches CLOSED. Frames that arrive later
for an id below the next one we would open are "closed" frames and are minimally processed and
discarded by the connection (§5.1 "closed": HPACK still decoded, DATA still charged to and
credited back on the connection window), which is what §5.4.2 requires after we reset a stream.
"""

from __future__ import annotations

import enum

from etcdwire._h2.flow import ReceiveWindow
from etcdwire._h2.frames import ErrorCode

__all__ = [
    "RECV_ERRORS",
    "TRANSITIONS",
    "RecvViolation",
    "Stream",
    "StreamInput",
    "StreamState",
    "next_state",
]


class StreamState(enum.IntEnum):
    IDLE = 0
    OPEN = 1
    HALF_CLOSED_LOCAL = 2
    HALF_CLOSED_REMOTE = 3
    CLOSED = 4


class StreamInput(enum.IntEnum):
    SEND_HEADERS = 0
    SEND_DATA = 1
    SEND_END_STREAM = 2
    SEND_RST_STREAM = 3
    SEND_WINDOW_UPDATE = 4
    RECV_HEADERS = 5
    RECV_DATA = 6
    RECV_END_STREAM = 7
    RECV_RST_STREAM = 8
    RECV_WINDOW_UPDATE = 9
    #: The peer's GOAWAY names a last stream id below this stream: it was never processed.
    RECV_GOAWAY_REFUSED = 10


S = StreamState
I = StreamInput  # noqa: E741

#: (state, input) -> next state. END_STREAM is a separate input applied after the frame that
#: carries it (a HEADERS with END_STREAM is RECV_HEADERS then RECV_END_STREAM).
TRANSITIONS: dict[tuple[StreamState, StreamInput], StreamState] = {
    # idle: the only way out for a client stream is sending HEADERS (§5.1). A GOAWAY does not
    # concern streams never opened; they just can no longer be opened on this connection.
    (S.IDLE, I.SEND_HEADERS): S.OPEN,
    (S.IDLE, I.RECV_GOAWAY_REFUSED): S.IDLE,
    # open: anything goes both ways.
    (S.OPEN, I.SEND_HEADERS): S.OPEN,  # trailers; END_STREAM follows
    (S.OPEN, I.SEND_DATA): S.OPEN,
    (S.OPEN, I.SEND_END_STREAM): S.HALF_CLOSED_LOCAL,
    (S.OPEN, I.SEND_RST_STREAM): S.CLOSED,
    (S.OPEN, I.SEND_WINDOW_UPDATE): S.OPEN,
    (S.OPEN, I.RECV_HEADERS): S.OPEN,
    (S.OPEN, I.RECV_DATA): S.OPEN,
    (S.OPEN, I.RECV_END_STREAM): S.HALF_CLOSED_REMOTE,
    (S.OPEN, I.RECV_RST_STREAM): S.CLOSED,
    (S.OPEN, I.RECV_WINDOW_UPDATE): S.OPEN,
    (S.OPEN, I.RECV_GOAWAY_REFUSED): S.CLOSED,
    # half-closed (local): we are done sending; the peer may still send anything.
    (S.HALF_CLOSED_LOCAL, I.SEND_RST_STREAM): S.CLOSED,
    (S.HALF_CLOSED_LOCAL, I.SEND_WINDOW_UPDATE): S.HALF_CLOSED_LOCAL,
    (S.HALF_CLOSED_LOCAL, I.RECV_HEADERS): S.HALF_CLOSED_LOCAL,
    (S.HALF_CLOSED_LOCAL, I.RECV_DATA): S.HALF_CLOSED_LOCAL,
    (S.HALF_CLOSED_LOCAL, I.RECV_END_STREAM): S.CLOSED,
    (S.HALF_CLOSED_LOCAL, I.RECV_RST_STREAM): S.CLOSED,
    (S.HALF_CLOSED_LOCAL, I.RECV_WINDOW_UPDATE): S.HALF_CLOSED_LOCAL,
    (S.HALF_CLOSED_LOCAL, I.RECV_GOAWAY_REFUSED): S.CLOSED,
    # half-closed (remote): the peer is done; it may still send WINDOW_UPDATE and RST_STREAM.
    (S.HALF_CLOSED_REMOTE, I.SEND_HEADERS): S.HALF_CLOSED_REMOTE,
    (S.HALF_CLOSED_REMOTE, I.SEND_DATA): S.HALF_CLOSED_REMOTE,
    (S.HALF_CLOSED_REMOTE, I.SEND_END_STREAM): S.CLOSED,
    (S.HALF_CLOSED_REMOTE, I.SEND_RST_STREAM): S.CLOSED,
    (S.HALF_CLOSED_REMOTE, I.RECV_RST_STREAM): S.CLOSED,
    (S.HALF_CLOSED_REMOTE, I.RECV_WINDOW_UPDATE): S.HALF_CLOSED_REMOTE,
    (S.HALF_CLOSED_REMOTE, I.RECV_GOAWAY_REFUSED): S.CLOSED,
    # closed: late WINDOW_UPDATE and RST_STREAM are expected and ignored (§5.1).
    (S.CLOSED, I.RECV_WINDOW_UPDATE): S.CLOSED,
    (S.CLOSED, I.RECV_RST_STREAM): S.CLOSED,
}


class RecvViolation(enum.Enum):
    CONNECTION_ERROR = "connection error"
    STREAM_ERROR = "stream error"
    IGNORED = "ignored"


#: What a missing RECV_* pair means in each state (RFC 9113 §5.1). Closed streams are those we
#: reset or that ended both ways: late frames are minimally processed and discarded (we may have
#: sent RST_STREAM, after which §5.1 says "MUST ignore"; for the others it only "MAY" error).
RECV_ERRORS: dict[StreamState, tuple[RecvViolation, ErrorCode | None]] = {
    S.IDLE: (RecvViolation.CONNECTION_ERROR, ErrorCode.PROTOCOL_ERROR),
    S.HALF_CLOSED_REMOTE: (RecvViolation.STREAM_ERROR, ErrorCode.STREAM_CLOSED),
    S.CLOSED: (RecvViolation.IGNORED, None),
}

# The same table as nested tuples indexed by int: the connection's hot path reads
# ``_NEXT[state][input]`` without building a tuple key.
_NEXT: tuple[tuple[StreamState | None, ...], ...] = tuple(
    tuple(TRANSITIONS.get((state, event)) for event in StreamInput) for state in StreamState
)


def next_state(state: StreamState, event: StreamInput) -> StreamState | None:
    """The state after ``event``, or None when the table has no such transition."""
    return _NEXT[state][event]


class Stream:
    """Per-stream bookkeeping for one client stream that is not yet closed."""

    __slots__ = ("inbound", "response_phase", "send_window", "state", "stream_id")

    #: ``response_phase`` values: waiting for the final (non-1xx) response headers, reading the
    #: body, trailers received.
    AWAITING_RESPONSE = 0
    BODY = 1
    TRAILERS = 2

    def __init__(self, stream_id: int, send_window: int, receive_window: int) -> None:
        self.stream_id = stream_id
        self.state = StreamState.IDLE
        self.send_window = send_window
        self.inbound = ReceiveWindow(receive_window)
        self.response_phase = Stream.AWAITING_RESPONSE

    def __repr__(self) -> str:
        return (
            f"Stream({self.stream_id}, {self.state.name}, send_window={self.send_window}, "
            f"inbound={self.inbound!r})"
        )

"""Events that :class:`etcdwire._h2.connection.H2Connection` returns from ``receive_data``.

Plain ``__slots__`` classes rather than dataclasses: they are built on the hot path for every
frame, and a frozen dataclass costs several times more to construct.
"""

from __future__ import annotations

Headers = list[tuple[bytes, bytes]]


class Event:
    __slots__: tuple[str, ...] = ()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]


class ResponseReceived(Event):
    """The final (non-1xx) response header block of a stream. ``end_stream`` marks Trailers-Only."""

    __slots__ = ("end_stream", "headers", "stream_id")

    def __init__(self, stream_id: int, headers: Headers, end_stream: bool) -> None:
        self.stream_id = stream_id
        self.headers = headers
        self.end_stream = end_stream


class InformationalResponseReceived(Event):
    """A 1xx header block; a final response still follows (RFC 9113 §8.1)."""

    __slots__ = ("headers", "stream_id")

    def __init__(self, stream_id: int, headers: Headers) -> None:
        self.stream_id = stream_id
        self.headers = headers


class TrailersReceived(Event):
    """The trailing header block; it always ends the stream."""

    __slots__ = ("headers", "stream_id")

    def __init__(self, stream_id: int, headers: Headers) -> None:
        self.stream_id = stream_id
        self.headers = headers


class DataReceived(Event):
    """DATA payload (padding removed). ``flow_controlled_length`` includes padding and the pad
    length octet: that is what the application must give back through
    ``H2Connection.acknowledge_received_data`` once it has consumed ``data``."""

    __slots__ = ("data", "end_stream", "flow_controlled_length", "stream_id")

    def __init__(
        self, stream_id: int, data: bytes, flow_controlled_length: int, end_stream: bool
    ) -> None:
        self.stream_id = stream_id
        self.data = data
        self.flow_controlled_length = flow_controlled_length
        self.end_stream = end_stream


class StreamEnded(Event):
    """The peer closed its side of the stream (END_STREAM on DATA with no trailers)."""

    __slots__ = ("stream_id",)

    def __init__(self, stream_id: int) -> None:
        self.stream_id = stream_id


class StreamReset(Event):
    """A stream was reset. ``remote`` is True for a received RST_STREAM, False when the
    connection reset it itself because the peer broke a stream-level rule (then an RST_STREAM
    with ``error_code`` is already queued for sending)."""

    __slots__ = ("error_code", "remote", "stream_id")

    def __init__(self, stream_id: int, error_code: int, remote: bool = True) -> None:
        self.stream_id = stream_id
        self.error_code = error_code
        self.remote = remote


class WindowUpdated(Event):
    """Send credit grew: for one stream, or for the connection when ``stream_id`` is 0.

    Also emitted with ``stream_id`` 0 and ``delta`` 0 when a SETTINGS change moved every
    stream's send window, so that every blocked sender wakes and re-checks its window."""

    __slots__ = ("delta", "stream_id")

    def __init__(self, stream_id: int, delta: int) -> None:
        self.stream_id = stream_id
        self.delta = delta


class RemoteSettingsChanged(Event):
    """The peer's SETTINGS frame was applied (and acknowledged). ``changed`` maps each setting
    id in the frame to (old value, new value)."""

    __slots__ = ("changed",)

    def __init__(self, changed: dict[int, tuple[int | None, int]]) -> None:
        self.changed = changed


class SettingsAcknowledged(Event):
    """The peer acknowledged our SETTINGS; they are now in force on our side."""

    __slots__ = ()


class PingReceived(Event):
    """A PING from the peer; the ACK is already queued."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class PingAckReceived(Event):
    """An ACK of one of our PINGs."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class GoAwayReceived(Event):
    """The peer will accept no new streams. Streams above ``last_stream_id`` were not processed
    and are reset locally (a StreamReset with REFUSED_STREAM and ``remote=False`` follows for
    each of them), so callers may retry them elsewhere (RFC 9113 §6.8)."""

    __slots__ = ("additional_data", "error_code", "last_stream_id")

    def __init__(self, last_stream_id: int, error_code: int, additional_data: bytes) -> None:
        self.last_stream_id = last_stream_id
        self.error_code = error_code
        self.additional_data = additional_data


class UnknownFrameReceived(Event):
    """A frame of a type this implementation does not know; ignored (RFC 9113 §4.1, §5.5)."""

    __slots__ = ("frame_type", "payload", "stream_id")

    def __init__(self, frame_type: int, stream_id: int, payload: bytes) -> None:
        self.frame_type = frame_type
        self.stream_id = stream_id
        self.payload = payload

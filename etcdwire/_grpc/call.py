"""CallState: one gRPC call on one HTTP/2 stream, driven by HTTP/2 events, with no I/O.

The I/O layer owns the stream. For each call it:

1. builds the HEADERS with :meth:`CallState.request_headers` when it serialises them (the
   ``grpc-timeout`` is the time left at that moment), frames messages with
   :meth:`~CallState.encode_request` and calls :meth:`~CallState.end_request` when it sends
   END_STREAM;
2. passes every HTTP/2 event of the stream to :meth:`~CallState.handle_event`, which returns the
   complete response messages (still serialized) in order;
3. after each call into this object, sends RST_STREAM with :meth:`~CallState.take_reset`'s code
   when it is not None, and grows the stream window to :attr:`~CallState.needed_bytes`;
4. calls :meth:`~CallState.cancel` or :meth:`~CallState.expire` when the caller gives up or the
   deadline passes, and reads :attr:`~CallState.status` once :attr:`~CallState.done`.

Flow-control credit for every ``DataReceived`` stays the I/O layer's job, also for events this
object ignores (RFC 9113 §6.9).

The response grammar (PROTOCOL-HTTP2.md "Responses") is the table ``_TRANSITIONS`` below:
``{(phase, input): (handler, next phase)}``. A handler that settles the status ends the call
(phase DONE); otherwise the table's next phase applies. A pair missing from the table is a
protocol violation: the call fails INTERNAL and the stream is reset with PROTOCOL_ERROR.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Any

from etcdwire._h2.events import (
    DataReceived,
    Event,
    Headers,
    InformationalResponseReceived,
    ResponseReceived,
    StreamEnded,
    StreamReset,
    TrailersReceived,
)
from etcdwire.errors import ResourceExhausted, RpcError, StatusCode, UsageError

from .framing import MessageReader, encode_message
from .metadata import USER_AGENT, Metadata, build_request_headers
from .method import Method
from .status import (
    H2ErrorCode,
    Status,
    is_grpc_content_type,
    response_metadata,
    status_from_http,
    status_from_reset,
    status_from_trailers,
)

__all__ = [
    "DEFAULT_MAX_RECEIVE_MESSAGE_LENGTH",
    "DEFAULT_MAX_SEND_MESSAGE_LENGTH",
    "ERROR_BODY_LIMIT",
    "CallPhase",
    "CallState",
]

logger = logging.getLogger("etcdwire.grpc")

DEFAULT_MAX_RECEIVE_MESSAGE_LENGTH = 4 * 1024 * 1024  # grpc-go client default
DEFAULT_MAX_SEND_MESSAGE_LENGTH = 2**31 - 1  # grpc-go client default (MaxInt32)
#: How much of a non-gRPC error body (an HTML page from a proxy) goes into the status message.
ERROR_BODY_LIMIT = 1024


class CallPhase(enum.Enum):
    WAITING_HEADERS = "waiting for response headers"
    RECEIVING = "receiving messages"
    HTTP_ERROR = "reading a non-gRPC error response"
    DONE = "done"

    # Members are singletons compared by identity: hashing them by identity (in C) rather
    # than by name (Enum.__hash__, in Python) keeps the per-event table lookups cheap.
    __hash__ = object.__hash__


class _Input(enum.Enum):
    INFORMATIONAL = "1xx informational headers"
    HEADERS_GRPC = "gRPC response headers"
    HEADERS_OTHER = "non-gRPC response headers"
    HEADERS_END = "a header block with END_STREAM"
    DATA = "DATA"
    DATA_END = "DATA with END_STREAM"
    TRAILERS = "trailers"
    STREAM_END = "END_STREAM"
    RESET = "RST_STREAM"

    __hash__ = object.__hash__  # as CallPhase


_INFORMATIONAL = _Input.INFORMATIONAL
_HEADERS_GRPC = _Input.HEADERS_GRPC
_HEADERS_OTHER = _Input.HEADERS_OTHER
_HEADERS_END = _Input.HEADERS_END
_DATA = _Input.DATA
_DATA_END = _Input.DATA_END
_TRAILERS = _Input.TRAILERS
_STREAM_END = _Input.STREAM_END
_RESET = _Input.RESET

# Inputs after which the peer will send nothing more on the stream.
_ENDS_STREAM = frozenset({_HEADERS_END, _DATA_END, _TRAILERS, _STREAM_END, _RESET})

#: The response headers of nearly every gRPC call: a plain gRPC response with no metadata.
_PLAIN_GRPC_HEADERS = [(b":status", b"200"), (b"content-type", b"application/grpc")]


def _header(headers: Headers, name: bytes) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def _http_status(headers: Headers) -> int | None:
    value = _header(headers, b":status")
    if value is None or len(value) != 3 or not value.isdigit():
        return None
    return int(value)


def _content_type(headers: Headers) -> str | None:
    value = _header(headers, b"content-type")
    return None if value is None else value.decode("latin-1")


def _classify(event: Event) -> _Input | None:
    """The table input for an event other than DATA and trailers (the two of every response,
    which :meth:`CallState.handle_event` classifies itself); None for events that do not
    concern a call."""
    if isinstance(event, ResponseReceived):
        if event.end_stream:
            return _HEADERS_END
        headers = event.headers
        if headers == _PLAIN_GRPC_HEADERS or (
            _http_status(headers) == 200 and is_grpc_content_type(_content_type(headers))
        ):
            return _HEADERS_GRPC
        return _HEADERS_OTHER
    if isinstance(event, StreamEnded):
        return _STREAM_END
    if isinstance(event, StreamReset):
        return _RESET
    if isinstance(event, InformationalResponseReceived):
        return _INFORMATIONAL
    return None


class CallState:
    """The client side of one gRPC call (see the module docstring for the protocol)."""

    __slots__ = (
        "_content_type",
        "_error_body",
        "_http_status",
        "_local_closed",
        "_pending_reset",
        "_phase",
        "_reader",
        "_remote_closed",
        "_reset_received",
        "_started",
        "deadline",
        "initial_metadata",
        "max_send_message_length",
        "messages_received",
        "messages_sent",
        "method",
        "status",
        "trailing_metadata",
    )

    def __init__(
        self,
        method: Method[Any, Any],
        *,
        max_receive_message_length: int = DEFAULT_MAX_RECEIVE_MESSAGE_LENGTH,
        max_send_message_length: int = DEFAULT_MAX_SEND_MESSAGE_LENGTH,
        deadline: float | None = None,
    ) -> None:
        self.method = method
        self.max_send_message_length = max_send_message_length
        #: Absolute, on the same monotonic clock as every ``now`` passed in.
        self.deadline = deadline
        self._reader = MessageReader(max_receive_message_length)
        self._phase = _W
        #: The final status once known, from the server or generated locally. Read it, never
        #: set it (an attribute rather than a property: the I/O layer reads it per event).
        self.status: Status | None = None
        self.initial_metadata: list[tuple[str, str]] | None = None
        self.trailing_metadata: list[tuple[str, str]] | None = None
        self.messages_sent = 0
        self.messages_received = 0
        self._started = False  # HEADERS built for sending: the stream exists at the peer
        self._local_closed = False  # we sent END_STREAM
        self._remote_closed = False  # the peer ended the stream or reset it
        self._reset_received = False  # no RST_STREAM may answer a reset (RFC 9113 §5.4.2)
        self._pending_reset: int | None = None
        self._http_status: int | None = None
        self._content_type: str | None = None
        self._error_body = bytearray()

    def __repr__(self) -> str:
        return f"<CallState {self.method.path} {self._phase.name} status={self.status!r}>"

    # --- observable state ------------------------------------------------------------------

    @property
    def state(self) -> CallPhase:
        return self._phase

    @property
    def done(self) -> bool:
        return self.status is not None

    @property
    def started(self) -> bool:
        return self._started

    @property
    def needed_bytes(self) -> int:
        """Bytes still missing from the partial response message (0 at a boundary or when
        done): the stream window must cover them or a large message deadlocks."""
        return 0 if self.status is not None else self._reader.needed_bytes

    @property
    def should_reset(self) -> int | None:
        """The RST_STREAM error code the I/O layer owes the peer, if any (not consumed)."""
        return self._pending_reset

    def take_reset(self) -> int | None:
        """Return the RST_STREAM error code to send now, once; None when nothing is owed.

        CANCEL when we end a call the peer is still sending (cancel, deadline, oversized
        message), PROTOCOL_ERROR for a malformed response, NO_ERROR when the peer finished
        before our END_STREAM (PROTOCOL-HTTP2.md "Early Server Closure")."""
        code, self._pending_reset = self._pending_reset, None
        return code

    def remaining(self, now: float) -> float | None:
        """Seconds left before the deadline (may be negative); None without a deadline."""
        return None if self.deadline is None else self.deadline - now

    def deadline_passed(self, now: float) -> bool:
        return self.deadline is not None and now >= self.deadline

    # --- sending -----------------------------------------------------------------------------

    def request_headers(
        self,
        now: float,
        *,
        authority: str,
        scheme: str,
        metadata: Metadata = (),
        user_agent: str = USER_AGENT,
    ) -> list[tuple[bytes, bytes]]:
        """The request HEADERS, to be built when they are serialised: ``grpc-timeout`` is the
        time left at ``now``. Marks the stream as open at the peer. Raises the status's
        exception if the call already ended (cancelled, or the deadline passed)."""
        deadline = self.deadline
        if self.status is None and deadline is not None and now >= deadline:
            self.expire(now)
        if self.status is not None:
            raise self.status.to_exception()
        headers = build_request_headers(
            self.method.path,
            authority=authority,
            scheme=scheme,
            timeout=None if deadline is None else deadline - now,
            metadata=metadata,
            user_agent=user_agent,
        )
        self._started = True
        return headers

    def encode_request(self, message: Any) -> bytes:
        """Serialize and frame one request message. Raises, changing nothing, when the message
        is the wrong type or the request stream is over (:class:`UsageError`) or it is larger
        than ``max_send_message_length`` (:class:`ResourceExhausted`)."""
        if self._local_closed:
            raise UsageError(f"{self.method.path}: the request stream has already ended")
        if not self.method.cardinality.client_streaming and self.messages_sent:
            raise UsageError(f"{self.method.path} takes exactly one request message")
        payload = self.method.serialize_request(message)
        if len(payload) > self.max_send_message_length:
            raise ResourceExhausted(
                f"trying to send message larger than max "
                f"({len(payload)} vs. {self.max_send_message_length})"
            )
        self.messages_sent += 1
        return encode_message(payload)

    def end_request(self) -> None:
        """Record that END_STREAM was sent (the request is complete)."""
        if not self.method.cardinality.client_streaming and self.messages_sent != 1:
            raise UsageError(f"{self.method.path} takes exactly one request message")
        self._local_closed = True
        if self._remote_closed and self._pending_reset == H2ErrorCode.NO_ERROR:
            self._pending_reset = None  # both sides closed: nothing left to reset

    # --- local outcomes ----------------------------------------------------------------------

    def cancel(self, now: float) -> Status:
        """The caller gave up: CANCELLED, or DEADLINE_EXCEEDED if the deadline has passed
        (PROTOCOL-HTTP2.md "Client Cancellation"). A finished call keeps its status."""
        if self.status is not None:
            return self.status
        if self.deadline_passed(now):
            return self._settle(Status(StatusCode.DEADLINE_EXCEEDED, "deadline exceeded"))
        return self._settle(Status(StatusCode.CANCELLED, "call cancelled by the client"))

    def expire(self, now: float) -> Status:
        """The deadline passed: DEADLINE_EXCEEDED, generated locally even if messages or
        trailers are on their way ("without using any part of Trailers")."""
        del now  # the caller decided the deadline passed; kept for symmetry with cancel()
        if self.status is not None:
            return self.status
        return self._settle(Status(StatusCode.DEADLINE_EXCEEDED, "deadline exceeded"))

    def fail(self, status: Status, *, reset: bool = True) -> Status:
        """End the call with a locally detected error (e.g. a response that does not parse,
        or UNAVAILABLE when the connection is gone: then pass ``reset=False``)."""
        if self.status is not None:
            return self.status
        self._settle(status)
        if not reset:
            self._pending_reset = None
        return status

    # --- receiving ---------------------------------------------------------------------------

    def handle_event(self, event: Event, *, now: float) -> list[bytes]:
        """Apply one HTTP/2 event of this call's stream; return the response messages it
        completed, in order. Once the deadline has passed nothing more is delivered."""
        event_type = type(event)
        if event_type is DataReceived:
            kind: _Input | None = _DATA_END if event.end_stream else _DATA  # type: ignore[attr-defined]
        elif event_type is TrailersReceived:
            kind = _TRAILERS
        else:
            kind = _classify(event)
        if kind is None:
            return []
        self._started = True
        if kind in _ENDS_STREAM:
            self._remote_closed = True
            if kind is _RESET:
                self._reset_received = True
                self._pending_reset = None
        deadline = self.deadline
        if self.status is None and deadline is not None and now >= deadline:
            self.expire(now)
            return []
        entry = _ROWS[self._phase].get(kind)
        if entry is None:
            self._protocol_violation(kind)
            return []
        handler, next_phase = entry
        messages = handler(self, event, now)
        if self.status is None:
            if next_phase is _D:
                raise AssertionError(f"{handler.__name__} must settle the status")
            self._phase = next_phase
        return messages

    def _settle(self, status: Status, *, reset: int = H2ErrorCode.CANCEL) -> Status:
        """Fix the final status and work out which RST_STREAM, if any, the peer is owed."""
        self.status = status
        self._phase = _D
        if self._reset_received or not self._started:
            self._pending_reset = None
        elif self._remote_closed:
            self._pending_reset = None if self._local_closed else H2ErrorCode.NO_ERROR
        else:
            self._pending_reset = reset
        return status

    def _protocol_violation(self, kind: _Input) -> None:
        message = f"malformed response: {kind.value} while {self._phase.value}"
        self._settle(Status(StatusCode.INTERNAL, message), reset=H2ErrorCode.PROTOCOL_ERROR)

    # Handlers: (self, event, now) -> messages. Each is named in _TRANSITIONS.

    def _skip(self, event: InformationalResponseReceived, now: float) -> list[bytes]:
        return []  # 1xx: read the next header block (RFC 9113 §8.1)

    def _after_done(self, event: Event, now: float) -> list[bytes]:
        return []  # late frames of a finished call; a reset was already handled above

    def _on_response_headers(self, event: ResponseReceived, now: float) -> list[bytes]:
        headers = event.headers
        if headers == _PLAIN_GRPC_HEADERS:  # no metadata, no grpc-encoding
            self.initial_metadata = []
            self._reader.encoding = None
            return []
        self.initial_metadata = response_metadata(headers)
        encoding = _header(headers, b"grpc-encoding")
        self._reader.encoding = None if encoding is None else encoding.decode("latin-1")
        return []

    def _on_trailers_only(self, event: ResponseReceived, now: float) -> list[bytes]:
        self.initial_metadata = []
        self._finish(status_from_trailers(event.headers))
        return []

    def _on_data(self, event: DataReceived, now: float) -> list[bytes]:
        try:
            messages = self._reader.feed(event.data)
        except RpcError as exc:
            self._settle(Status(exc.code, exc.message))
            return []
        previous = self.messages_received
        received = previous + len(messages)
        self.messages_received = received
        if received > 1 and not self.method.cardinality.server_streaming:
            # Extra messages of a unary response are counted (the status will say so), not
            # delivered.
            messages = messages[: max(0, 1 - previous)]
        return messages

    def _on_data_end(self, event: DataReceived, now: float) -> list[bytes]:
        messages = self._on_data(event, now)
        if self.status is None:
            self._on_stream_end(event, now)
        return messages

    def _on_stream_end(self, event: Event, now: float) -> list[bytes]:
        self._settle(
            Status(StatusCode.INTERNAL, "server closed the stream without sending trailers")
        )
        return []

    def _on_trailers(self, event: TrailersReceived | ResponseReceived, now: float) -> list[bytes]:
        self._finish(status_from_trailers(event.headers, http_status=200))
        return []

    def _finish(self, status: Status) -> None:
        """Settle a status the server sent, after the checks only the end of stream allows."""
        self.trailing_metadata = status.trailers
        if not self._reader.at_boundary:
            status = Status(
                StatusCode.INTERNAL,
                f"stream ended inside a message ({self._reader.pending_bytes} bytes of it "
                f"received); server status {status.code.name}: {status.message}",
                trailers=status.trailers,
            )
        elif (
            status.ok
            and not self.method.cardinality.server_streaming
            and self.messages_received != 1
        ):
            status = Status(
                StatusCode.UNIMPLEMENTED,
                "Response cardinality violation: expected 1 response message, "
                f"received {self.messages_received}",
                trailers=status.trailers,
            )
        self._settle(status)

    def _on_reset(self, event: StreamReset, now: float) -> list[bytes]:
        if event.error_code == H2ErrorCode.STREAM_CLOSED:
            logger.debug("%s: stream reset with STREAM_CLOSED", self.method.path)
        self._settle(
            status_from_reset(
                event.error_code, deadline_passed=self.deadline_passed(now), remote=event.remote
            )
        )
        return []

    # A response that is not gRPC (a proxy's error page): keep a bounded body for the message.

    def _on_http_error_headers(self, event: ResponseReceived, now: float) -> list[bytes]:
        self.initial_metadata = response_metadata(event.headers)
        self._http_status = _http_status(event.headers)
        self._content_type = _content_type(event.headers)
        return []

    def _on_error_body(self, event: DataReceived, now: float) -> list[bytes]:
        room = ERROR_BODY_LIMIT - len(self._error_body)
        self._error_body += event.data[:room]
        if len(event.data) >= room:
            self._settle_http_error()
        return []

    def _on_error_body_end(
        self, event: DataReceived | StreamEnded | StreamReset, now: float
    ) -> list[bytes]:
        if isinstance(event, DataReceived):
            self._error_body += event.data[: ERROR_BODY_LIMIT - len(self._error_body)]
        self._settle_http_error()
        return []

    def _on_error_trailers(
        self, event: TrailersReceived | ResponseReceived, now: float
    ) -> list[bytes]:
        if _header(event.headers, b"grpc-status") is not None:
            self._settle(status_from_trailers(event.headers))
        else:
            self._settle_http_error(response_metadata(event.headers))
        return []

    def _settle_http_error(self, trailers: list[tuple[str, str]] | None = None) -> None:
        status = status_from_http(self._http_status, self._content_type, bytes(self._error_body))
        if trailers is not None:
            self.trailing_metadata = trailers
            status = Status(status.code, status.message, trailers=trailers)
        self._settle(status)


_Handler = Callable[..., list[bytes]]
_W = CallPhase.WAITING_HEADERS
_R = CallPhase.RECEIVING
_H = CallPhase.HTTP_ERROR
_D = CallPhase.DONE

# Everything the response grammar allows; any other (phase, input) is malformed.
_TRANSITIONS: dict[tuple[CallPhase, _Input], tuple[_Handler, CallPhase]] = {
    (_W, _Input.INFORMATIONAL): (CallState._skip, _W),
    (_W, _Input.HEADERS_GRPC): (CallState._on_response_headers, _R),
    (_W, _Input.HEADERS_OTHER): (CallState._on_http_error_headers, _H),
    (_W, _Input.HEADERS_END): (CallState._on_trailers_only, _D),
    (_W, _Input.RESET): (CallState._on_reset, _D),
    (_R, _Input.DATA): (CallState._on_data, _R),
    (_R, _Input.DATA_END): (CallState._on_data_end, _D),
    (_R, _Input.STREAM_END): (CallState._on_stream_end, _D),
    (_R, _Input.TRAILERS): (CallState._on_trailers, _D),
    (_R, _Input.HEADERS_END): (CallState._on_trailers, _D),
    (_R, _Input.RESET): (CallState._on_reset, _D),
    (_H, _Input.DATA): (CallState._on_error_body, _H),
    (_H, _Input.DATA_END): (CallState._on_error_body_end, _D),
    (_H, _Input.STREAM_END): (CallState._on_error_body_end, _D),
    (_H, _Input.TRAILERS): (CallState._on_error_trailers, _D),
    (_H, _Input.HEADERS_END): (CallState._on_error_trailers, _D),
    (_H, _Input.RESET): (CallState._on_error_body_end, _D),
    # A finished call ignores whatever still arrives (RST_STREAM after trailers keeps the
    # received status, RFC 9113 §8.1).
    **{(_D, kind): (CallState._after_done, _D) for kind in _Input},
}

#: The same table by phase, then input: two dict lookups and no key tuple per event.
_ROWS: dict[CallPhase, dict[_Input, tuple[_Handler, CallPhase]]] = {
    phase: {kind: entry for (at, kind), entry in _TRANSITIONS.items() if at is phase}
    for phase in CallPhase
}

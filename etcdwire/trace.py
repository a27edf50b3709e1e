"""Frame and message tracing.

Pass a hook (any callable taking one trace event) as ``trace=`` to a channel or client and it is
called for every HTTP/2 frame each way (:class:`FrameTrace`), every gRPC message
(:class:`MessageTrace`), call start and end (:class:`CallTrace`) and connection state changes
(:class:`ConnectionTrace`). With no hook nothing is built. Two ready-made hooks:

* :class:`TraceWriter` writes one line per event (``>>`` sent, ``<<`` received) to a text stream
  or to the ``etcdwire.trace`` logger, optionally with each message decoded as protobuf text;
  secrets are redacted: the ``authorization`` and ``token`` headers by the frame formatter,
  passwords and auth tokens in decoded messages by :func:`format_event`.
* :class:`TraceSummary` counts frames and messages, for a short report at the end.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TextIO

from google.protobuf import text_format
from google.protobuf.message import Message

from ._h2.trace import FrameRecord, format_frame

__all__ = [
    "CallTrace",
    "ConnectionTrace",
    "FrameTrace",
    "MessageTrace",
    "TraceEvent",
    "TraceHook",
    "TraceSummary",
    "TraceWriter",
]

trace_logger = logging.getLogger("etcdwire.trace")


class FrameTrace:
    """One HTTP/2 frame sent or received on a connection."""

    __slots__ = ("connection_id", "record", "time")

    def __init__(self, connection_id: int, record: FrameRecord) -> None:
        self.connection_id = connection_id
        self.record = record
        self.time = time.monotonic()


class MessageTrace:
    """One gRPC message (without its 5-byte prefix) sent or received on a stream."""

    __slots__ = (
        "connection_id",
        "direction",
        "message_type",
        "method",
        "payload",
        "stream_id",
        "time",
    )

    def __init__(
        self,
        connection_id: int,
        stream_id: int,
        method: str,
        direction: str,
        payload: bytes,
        message_type: Any,
    ) -> None:
        self.connection_id = connection_id
        self.stream_id = stream_id
        self.method = method
        self.direction = direction
        self.payload = payload
        self.message_type = message_type
        self.time = time.monotonic()

    def decode(self) -> Any:
        """The protobuf message, parsed from the payload (secrets included: see
        :func:`format_event` for a shareable form)."""
        return self.message_type.FromString(bytes(self.payload))


#: String fields that carry credentials: AuthenticateRequest.password, AuthenticateResponse.token,
#: AuthUserAddRequest and AuthUserChangePasswordRequest password / hashedPassword.
_SECRET_FIELDS = frozenset({"password", "hashedPassword", "token"})


def _redact_secrets(message: Message) -> None:
    """Replace credential fields, at any depth, by ``<redacted NB>`` (as etcdwire.tools does)."""
    for field, value in message.ListFields():
        if field.name in _SECRET_FIELDS and isinstance(value, str):
            setattr(message, field.name, f"<redacted {len(value.encode())}B>")
        elif field.message_type is not None:
            # a message, or a repeated field of them (iterating a map gives its keys: skipped)
            for child in [value] if isinstance(value, Message) else value:
                if isinstance(child, Message):
                    _redact_secrets(child)


class CallTrace:
    """A call started (``event='start'``) or ended (``'end'``, with the status)."""

    __slots__ = (
        "code",
        "connection_id",
        "duration",
        "event",
        "message",
        "method",
        "stream_id",
        "time",
    )

    def __init__(
        self,
        connection_id: int,
        stream_id: int,
        method: str,
        event: str,
        *,
        code: int | None = None,
        message: str = "",
        duration: float | None = None,
    ) -> None:
        self.connection_id = connection_id
        self.stream_id = stream_id
        self.method = method
        self.event = event
        self.code = code
        self.message = message
        self.duration = duration
        self.time = time.monotonic()


class ConnectionTrace:
    """A connection changed state (connecting, ready, failed, closed)."""

    __slots__ = ("connection_id", "detail", "endpoint", "state", "time")

    def __init__(self, connection_id: int, endpoint: str, state: str, detail: str) -> None:
        self.connection_id = connection_id
        self.endpoint = endpoint
        self.state = state
        self.detail = detail
        self.time = time.monotonic()


TraceEvent = FrameTrace | MessageTrace | CallTrace | ConnectionTrace
TraceHook = Callable[[TraceEvent], None]

_T0 = time.monotonic()


def format_event(event: TraceEvent, *, decode_messages: bool = False) -> str:
    """One line (or a few, for decoded messages) describing a trace event."""
    stamp = f"t={event.time - _T0:.6f} conn={event.connection_id}"
    if isinstance(event, FrameTrace):
        return f"{stamp} {format_frame(event.record)}"
    if isinstance(event, MessageTrace):
        arrow = ">>" if event.direction == "send" else "<<"
        name = getattr(getattr(event.message_type, "DESCRIPTOR", None), "name", "?")
        line = (
            f"{stamp} {arrow} MESSAGE  s={event.stream_id} {event.method} "
            f"{name} size={len(event.payload)}"
        )
        if decode_messages:
            try:
                message = event.decode()
                _redact_secrets(message)
                body = text_format.MessageToString(message, as_one_line=True)
            except Exception as exc:  # a trace must never break the call it describes
                body = f"<undecodable: {exc}>"
            line += " {" + body[:2000] + "}"
        return line
    if isinstance(event, CallTrace):
        if event.event == "start":
            return f"{stamp} CALL start s={event.stream_id} {event.method}"
        took = f" in {event.duration * 1000:.3f}ms" if event.duration is not None else ""
        return (
            f"{stamp} CALL end   s={event.stream_id} {event.method} "
            f"status={event.code} {event.message!r}{took}"
        )
    return f"{stamp} CONN {event.state} {event.endpoint} {event.detail}".rstrip()


class TraceWriter:
    """A trace hook that writes one line per event to ``stream`` (or the ``etcdwire.trace``
    logger at DEBUG when no stream is given)."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        frames: bool = True,
        messages: bool = True,
        decode_messages: bool = False,
    ) -> None:
        self._stream = stream
        self._frames = frames
        self._messages = messages
        self._decode = decode_messages

    def __call__(self, event: TraceEvent) -> None:
        if isinstance(event, FrameTrace) and not self._frames:
            return
        if isinstance(event, MessageTrace) and not self._messages:
            return
        line = format_event(event, decode_messages=self._decode)
        if self._stream is None:
            trace_logger.debug("%s", line)
        else:
            self._stream.write(line + "\n")


class TraceSummary:
    """A trace hook that counts frames by (direction, type) and messages by method."""

    def __init__(self) -> None:
        self.frames: Counter[tuple[str, str]] = Counter()
        self.frame_bytes: Counter[str] = Counter()
        self.messages: Counter[tuple[str, str]] = Counter()
        self.calls = 0
        self.connections = 0

    def __call__(self, event: TraceEvent) -> None:
        if isinstance(event, FrameTrace):
            record = event.record
            self.frames[(record.direction, record.frame_type)] += 1
            self.frame_bytes[record.direction] += record.length + 9
        elif isinstance(event, MessageTrace):
            self.messages[(event.direction, event.method)] += 1
        elif isinstance(event, CallTrace):
            self.calls += event.event == "start"
        elif event.state == "ready":
            self.connections += 1

    def format(self) -> str:
        lines = [f"connections: {self.connections}  calls: {self.calls}"]
        for direction, label in (("send", "sent"), ("recv", "received")):
            counts = sorted(
                ((kind, n) for (d, kind), n in self.frames.items() if d == direction),
                key=lambda item: (-item[1], item[0]),
            )
            listed = ", ".join(f"{kind} {n}" for kind, n in counts) or "none"
            lines.append(
                f"frames {label}: {listed} ({self.frame_bytes[direction]} bytes)"
            )
        sent = sum(n for (d, _), n in self.messages.items() if d == "send")
        received = sum(n for (d, _), n in self.messages.items() if d == "recv")
        lines.append(f"gRPC messages: {sent} sent, {received} received")
        return "\n".join(lines)

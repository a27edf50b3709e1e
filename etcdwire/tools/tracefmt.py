"""Terminal colour and trace formatting shared by the ``etcdwire`` commands.

* :func:`colour_enabled` decides whether to write ANSI colour to a stream (``--color``).
* :class:`TracePrinter` is a trace hook (``trace=`` of a client or channel) printing every HTTP/2
  frame each way with its flags, stream, decoded header fields and window figures, every gRPC
  message decoded as protobuf text, and each call's start and end with its status and duration.
* :class:`JsonTraceWriter` is a trace hook writing one JSON object per event per line, for
  ``--trace-file`` and ``etcdwire spy --json``.

Secrets never reach the output: the frame records already carry ``authorization`` and ``token``
header values as their length only, and message fields holding passwords or tokens
(``AuthenticateRequest.password``, ``AuthenticateResponse.token``, ``hashedPassword``...) are
replaced the same way before a message is printed.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from typing import Any, TextIO, TypeVar

from google.protobuf import json_format, text_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from ..errors import StatusCode
from ..trace import CallTrace, ConnectionTrace, FrameTrace, MessageTrace, TraceEvent

__all__ = [
    "SECRET_FIELDS",
    "JsonTraceWriter",
    "TracePrinter",
    "colour_enabled",
    "decode_message",
    "redact_message",
    "status_name",
]

#: Protobuf field names whose values are secrets, wherever they appear in a message.
SECRET_FIELDS = frozenset(("password", "hashedPassword", "token"))

_MAX_TEXT_LINES = 200
_MAX_LINE = 1000  # a long bytes field (a snapshot chunk) is cut to this many characters

M = TypeVar("M", bound=Message)

# --------------------------------------------------------------------------------------------
# colour
# --------------------------------------------------------------------------------------------

_ALWAYS = frozenset(("always", "yes", "on", "force", "true"))
_NEVER = frozenset(("never", "no", "off", "none", "false"))


def colour_enabled(stream: Any, flag: str = "auto") -> bool:
    """Whether to write ANSI colour to ``stream``.

    ``flag`` is ``"always"``, ``"never"`` or ``"auto"``: colour when the stream is a terminal,
    ``NO_COLOR`` is unset (no-color.org) and ``TERM`` is not ``dumb``.
    """
    choice = (flag or "auto").lower()
    if choice in _ALWAYS:
        return True
    if choice in _NEVER:
        return False
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM", "") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except (OSError, ValueError):  # a closed or detached stream
        return False


RESET = "\x1b[0m"
BOLD = "1"
DIM = "2"
RED = "31"
GREEN = "32"
YELLOW = "33"
BLUE = "34"
MAGENTA = "35"
CYAN = "36"
GREY = "90"

#: Arrow colour by direction ("send" is client to server).
DIRECTION_COLOURS = {"send": CYAN, "recv": MAGENTA}
#: Frame type name colour.
FRAME_COLOURS = {
    "DATA": "37",
    "HEADERS": f"{BOLD};{BLUE}",
    "CONTINUATION": BLUE,
    "PRIORITY": GREY,
    "RST_STREAM": f"{BOLD};{RED}",
    "SETTINGS": YELLOW,
    "PUSH_PROMISE": GREY,
    "PING": GREEN,
    "GOAWAY": f"{BOLD};{RED}",
    "WINDOW_UPDATE": BLUE,
}


def paint(text: str, codes: str | None, enabled: bool) -> str:
    """``text`` wrapped in the SGR ``codes`` when ``enabled`` (and codes given)."""
    if not enabled or not codes:
        return text
    return f"\x1b[{codes}m{text}{RESET}"


# --------------------------------------------------------------------------------------------
# messages
# --------------------------------------------------------------------------------------------


def _redact_value(value: Any) -> Any:
    size = len(value)
    if isinstance(value, bytes):
        return f"<redacted {size}B>".encode()
    return f"<redacted {size}B>"


def redact_message(message: M) -> M:
    """``message`` itself when it holds no secret, else a copy with every secret field
    (:data:`SECRET_FIELDS`, at any depth) replaced by ``<redacted NB>``."""
    if not _has_secret(message):
        return message
    copy = type(message)()
    copy.CopyFrom(message)
    _redact_in_place(copy)
    return copy


def _has_secret(message: Message) -> bool:
    for field, value in message.ListFields():
        if field.name in SECRET_FIELDS and field.type in (
            FieldDescriptor.TYPE_STRING,
            FieldDescriptor.TYPE_BYTES,
        ):
            return True
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            items = value if _is_repeated(field) else [value]
            if not _is_map(field) and any(_has_secret(item) for item in items):
                return True
    return False


def _is_repeated(field: FieldDescriptor) -> bool:
    repeated = getattr(field, "is_repeated", None)  # protobuf >= 6; older ones have .label
    if repeated is None:
        repeated = getattr(field, "label", None) == FieldDescriptor.LABEL_REPEATED
    return bool(repeated)


def _is_map(field: FieldDescriptor) -> bool:
    options = field.message_type.GetOptions() if field.message_type else None
    return bool(options is not None and options.map_entry)


def _redact_in_place(message: Message) -> None:
    for field, value in message.ListFields():
        if field.name in SECRET_FIELDS and field.type in (
            FieldDescriptor.TYPE_STRING,
            FieldDescriptor.TYPE_BYTES,
        ):
            if _is_repeated(field):
                redacted = [_redact_value(item) for item in value]
                del value[:]
                value.extend(redacted)
            else:
                setattr(message, field.name, _redact_value(value))
        elif field.type == FieldDescriptor.TYPE_MESSAGE and not _is_map(field):
            for item in value if _is_repeated(field) else [value]:
                _redact_in_place(item)


def decode_message(event: MessageTrace) -> Message | None:
    """The event's message, parsed and redacted; None when its type is unknown. Raises the
    protobuf DecodeError on a payload that does not parse."""
    if event.message_type is None:
        return None
    message: Message = event.decode()
    return redact_message(message)


def _clip(line: str) -> str:
    if len(line) <= _MAX_LINE:
        return line
    return f"{line[:_MAX_LINE]}... ({len(line) - _MAX_LINE} more characters)"


def status_name(code: int | None) -> str:
    """``OK``, ``NOT_FOUND``... for a gRPC status code; the number when unknown."""
    if code is None:
        return "?"
    try:
        return StatusCode(code).name
    except ValueError:
        return str(code)


def _type_name(message_type: Any) -> str:
    descriptor = getattr(message_type, "DESCRIPTOR", None)
    return str(getattr(descriptor, "name", "raw"))


# --------------------------------------------------------------------------------------------
# the text printer
# --------------------------------------------------------------------------------------------


class TracePrinter:
    """A trace hook printing events as readable text, coloured when ``colour`` is True.

    ``decode`` prints each gRPC message as protobuf text under its line (else the type and size
    only); ``frames=False`` leaves out the HTTP/2 frames (messages and calls only);
    ``timestamps`` is ``"relative"`` (seconds since the first event) or ``"wall"`` (local
    HH:MM:SS.ffffff). Safe to call from several threads: each event is written whole under a
    lock.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        colour: bool,
        decode: bool = True,
        frames: bool = True,
        timestamps: str = "relative",
        indent: str = "    ",
    ) -> None:
        if timestamps not in ("relative", "wall"):
            raise ValueError(f"timestamps must be 'relative' or 'wall', not {timestamps!r}")
        self.stream = stream
        self.timestamps = timestamps
        # event.time is time.monotonic(); this turns it into wall-clock time.
        self._wall_offset = time.time() - time.monotonic()
        self.colour = colour
        self.decode = decode
        self.frames = frames
        self.indent = indent
        self._t0: float | None = None
        self._lock = threading.Lock()

    def __call__(self, event: TraceEvent) -> None:
        if isinstance(event, FrameTrace) and not self.frames:
            return
        try:
            lines = self.format(event)
        except Exception as exc:  # a trace must never break the call it describes
            lines = [f"<trace formatting failed: {exc!r}>"]
        text = "\n".join(lines) + "\n"
        with self._lock:
            self.stream.write(text)
            self.stream.flush()

    def _c(self, text: str, codes: str | None) -> str:
        return paint(text, codes, self.colour)

    def _stamp(self, event: TraceEvent) -> str:
        if self.timestamps == "wall":
            wall = event.time + self._wall_offset
            clock = time.strftime("%H:%M:%S", time.localtime(wall))
            stamp = f"{clock}.{int(wall % 1 * 1_000_000):06d}"
        else:
            if self._t0 is None:
                self._t0 = event.time
            stamp = f"{event.time - self._t0:10.6f}"
        return self._c(f"{stamp} c{event.connection_id}", GREY)

    def _arrow(self, direction: str) -> str:
        arrow = ">>" if direction == "send" else "<<"
        return self._c(arrow, f"{BOLD};{DIRECTION_COLOURS.get(direction, '')}")

    def format(self, event: TraceEvent) -> list[str]:
        """The lines printed for ``event`` (without newlines)."""
        if isinstance(event, FrameTrace):
            return self._frame_lines(event)
        if isinstance(event, MessageTrace):
            return self._message_lines(event)
        if isinstance(event, CallTrace):
            return [self._call_line(event)]
        return [self._connection_line(event)]

    def _frame_lines(self, event: FrameTrace) -> list[str]:
        record = event.record
        kind = self._c(f"{record.frame_type:<13}", FRAME_COLOURS.get(record.frame_type))
        parts = [
            self._stamp(event),
            self._arrow(record.direction),
            kind,
            f"s={record.stream_id}",
            f"flags={'|'.join(record.flags) or '-'}",
            f"len={record.length}",
        ]
        if record.pad_length is not None:
            parts.append(f"pad={record.pad_length}")
        if record.ack:
            parts.append(self._c("ACK", BOLD))
        if record.settings:
            parts.extend(f"{name}={value}" for name, value in record.settings)
        if record.ping_data is not None:
            parts.append(f"data={record.ping_data.replace(' ', '')}")
        if record.increment is not None:
            parts.append(self._c(f"incr={record.increment}", BOLD))
        if record.conn_window is not None:
            before, after = record.conn_window
            parts.append(f"conn-window {before}->{after}")
        if record.stream_window is not None:
            before, after = record.stream_window
            parts.append(f"stream-window {before}->{after}")
        if record.last_stream_id is not None:
            parts.append(f"last-stream={record.last_stream_id}")
        if record.error_code is not None:
            parts.append(self._c(f"error={record.error_code}", RED))
        if record.debug_data:
            debug = record.debug_data.decode("utf-8", "backslashreplace")[:200]
            parts.append(f"debug={debug!r}")
        lines = [" ".join(parts)]
        for name, value in record.headers or ():
            lines.append(f"{self.indent}{self._c(name + ':', DIM)} {value}")
        return lines

    def _message_lines(self, event: MessageTrace) -> list[str]:
        size = len(event.payload)
        head = " ".join(
            (
                self._stamp(event),
                self._arrow(event.direction),
                self._c(f"{'MESSAGE':<13}", f"{BOLD};{DIRECTION_COLOURS.get(event.direction)}"),
                f"s={event.stream_id}",
                self._c(event.method, BOLD),
                f"{_type_name(event.message_type)} ({size} bytes)",
            )
        )
        if not self.decode or event.message_type is None:
            return [head]
        try:
            message = decode_message(event)
        except Exception as exc:  # undecodable payloads are shown, not raised
            return [head, f"{self.indent}<undecodable: {exc}>"]
        if message is None:
            return [head]
        text = text_format.MessageToString(message, as_utf8=False)
        body = [_clip(line) for line in text.rstrip("\n").split("\n")] if text else []
        if len(body) > _MAX_TEXT_LINES:
            body = [*body[:_MAX_TEXT_LINES], f"... {len(body) - _MAX_TEXT_LINES} more lines"]
        if not body:
            body = ["(empty)"]
        return [head, *(f"{self.indent}{line}" for line in body)]

    def _call_line(self, event: CallTrace) -> str:
        stamp = self._stamp(event)
        label = self._c(f"{'CALL':<16}", BOLD)
        method = self._c(event.method, BOLD)
        if event.event == "start":
            return f"{stamp} {label} s={event.stream_id} {method} start"
        name = status_name(event.code)
        status = self._c(name, GREEN if event.code == 0 else f"{BOLD};{RED}")
        line = f"{stamp} {label} s={event.stream_id} {method} {event.event} status={status}"
        if event.message:
            line += f" message={event.message!r}"
        if event.duration is not None:
            line += f" in {event.duration * 1000:.3f} ms"
        return line

    def _connection_line(self, event: ConnectionTrace) -> str:
        label = self._c(f"{'CONN':<16}", BOLD)
        state = event.state
        codes = RED if state in ("failed", "closed", "error") else GREEN
        line = f"{self._stamp(event)} {label} {event.endpoint} {self._c(state, codes)}"
        return f"{line} {event.detail}" if event.detail else line


# --------------------------------------------------------------------------------------------
# JSON lines
# --------------------------------------------------------------------------------------------


class JsonTraceWriter:
    """A trace hook writing one JSON object per event per line::

        {"type": "frame", "time": 1764130000.123456, "direction": "send", "connection": 1,
         "stream": 1, "fields": {"frame_type": "HEADERS", "flags": ["END_HEADERS"], ...}}

    ``type`` is ``frame``, ``message``, ``call`` or ``connection``; ``time`` is wall-clock
    seconds; ``direction`` is ``send``/``recv`` (None for calls and connections). Messages are
    protobuf JSON (bytes as base64, field names as in the .proto files), secrets redacted;
    a message of an unknown type is given as ``payload`` (base64).
    ``frames=False`` leaves frames out.
    """

    def __init__(self, stream: TextIO, *, frames: bool = True) -> None:
        self.stream = stream
        self.frames = frames
        self._lock = threading.Lock()
        # event.time is time.monotonic(); this turns it into wall-clock time.
        self._offset = time.time() - time.monotonic()

    def __call__(self, event: TraceEvent) -> None:
        if isinstance(event, FrameTrace) and not self.frames:
            return
        try:
            line = json.dumps(self.to_dict(event), separators=(",", ":"))
        except Exception as exc:  # a trace must never break the call it describes
            line = json.dumps({"type": "error", "error": repr(exc)})
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()

    def to_dict(self, event: TraceEvent) -> dict[str, Any]:
        """The JSON object written for ``event``."""
        direction: str | None = None
        stream: int | None = None
        if isinstance(event, FrameTrace):
            kind, direction, stream = "frame", event.record.direction, event.record.stream_id
            fields = _frame_fields(event)
        elif isinstance(event, MessageTrace):
            kind, direction, stream = "message", event.direction, event.stream_id
            fields = _message_fields(event)
        elif isinstance(event, CallTrace):
            kind, stream = "call", event.stream_id
            fields = {
                "method": event.method,
                "event": event.event,
                "code": event.code,
                "status": status_name(event.code) if event.code is not None else None,
                "message": event.message,
                "duration": event.duration,
            }
        else:
            kind = "connection"
            fields = {"endpoint": event.endpoint, "state": event.state, "detail": event.detail}
        return {
            "type": kind,
            "time": round(event.time + self._offset, 6),
            "direction": direction,
            "connection": event.connection_id,
            "stream": stream,
            "fields": fields,
        }


def _frame_fields(event: FrameTrace) -> dict[str, Any]:
    record = event.record
    fields: dict[str, Any] = {
        "frame_type": record.frame_type,
        "flags": list(record.flags),
        "length": record.length,
    }
    optional: dict[str, Any] = {
        "pad_length": record.pad_length,
        "ack": record.ack,
        "settings": dict(record.settings) if record.settings is not None else None,
        "ping_data": record.ping_data.replace(" ", "") if record.ping_data is not None else None,
        "increment": record.increment,
        "conn_window": list(record.conn_window) if record.conn_window else None,
        "stream_window": list(record.stream_window) if record.stream_window else None,
        "error_code": record.error_code,
        "last_stream_id": record.last_stream_id,
        "debug_data": (
            record.debug_data.decode("utf-8", "backslashreplace")
            if record.debug_data is not None
            else None
        ),
        "headers": [list(pair) for pair in record.headers] if record.headers is not None else None,
    }
    fields.update((key, value) for key, value in optional.items() if value is not None)
    return fields


def _message_fields(event: MessageTrace) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "method": event.method,
        "message_type": _type_name(event.message_type) if event.message_type else None,
        "size": len(event.payload),
    }
    if event.message_type is None:  # an unknown service: the bytes as they are
        fields["payload"] = base64.b64encode(bytes(event.payload)).decode("ascii")
        return fields
    try:
        message = decode_message(event)
    except Exception as exc:  # undecodable payloads are reported, not raised
        fields["error"] = f"undecodable: {exc}"
        return fields
    if message is not None:
        fields["message"] = json_format.MessageToDict(message, preserving_proto_field_name=True)
    return fields

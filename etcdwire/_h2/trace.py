"""Frame trace records: one :class:`FrameRecord` per frame sent or received, handed to the
``trace`` callable given to :class:`~etcdwire._h2.connection.H2Connection`, and
:func:`format_frame` to print one as a line in the style of Go's ``http2debug=2``::

    >> HEADERS s=5 flags=END_HEADERS len=142 :method=POST token=<redacted 44B>
    << WINDOW_UPDATE s=0 len=4 incr=5 conn:65530->65535

Secrets never reach a record: ``authorization``, ``proxy-authorization`` and ``token`` values
are replaced by their length, and ``*-bin`` values are shown as a length only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from etcdwire._h2.frames import (
    ACK,
    PADDED,
    ErrorCode,
    FrameType,
    SettingCode,
    decode_goaway,
    decode_rst_stream,
    decode_settings,
    decode_window_update,
    flag_names,
)

__all__ = ["FrameRecord", "TraceHook", "format_frame", "record_frame", "redact_headers"]

_SECRET = frozenset((b"authorization", b"proxy-authorization", b"token"))
_MAX_TEXT = 200


class FrameRecord:
    """What one frame said. Fields that do not apply to the frame type are None."""

    __slots__ = (
        "ack",
        "conn_window",
        "debug_data",
        "direction",
        "error_code",
        "flags",
        "frame_type",
        "headers",
        "increment",
        "last_stream_id",
        "length",
        "pad_length",
        "ping_data",
        "settings",
        "stream_id",
        "stream_window",
        "type_code",
    )

    def __init__(
        self, direction: str, type_code: int, flags: int, stream_id: int, length: int
    ) -> None:
        #: "send" or "recv".
        self.direction = direction
        self.type_code = type_code
        #: The frame type name, or "UNKNOWN(0xNN)".
        self.frame_type = _type_name(type_code)
        self.stream_id = stream_id
        #: Names of the flags set that the frame type defines.
        self.flags: tuple[str, ...] = flag_names(type_code, flags)
        self.length = length
        #: SETTINGS: (name, value) pairs in frame order; unknown ids as "0xNN".
        self.settings: list[tuple[str, int]] | None = None
        #: PING and SETTINGS: whether ACK is set.
        self.ack: bool | None = None
        #: PING payload as hex.
        self.ping_data: str | None = None
        #: WINDOW_UPDATE increment.
        self.increment: int | None = None
        #: (before, after) of the window a WINDOW_UPDATE changed: for a received one our send
        #: window, for a sent one our receive window.
        self.conn_window: tuple[int, int] | None = None
        self.stream_window: tuple[int, int] | None = None
        #: RST_STREAM / GOAWAY error code name.
        self.error_code: str | None = None
        self.last_stream_id: int | None = None
        self.debug_data: bytes | None = None
        #: DATA / HEADERS Pad Length.
        self.pad_length: int | None = None
        #: Decoded fields (on the frame that completes the block), redacted.
        self.headers: list[tuple[str, str]] | None = None

    def __repr__(self) -> str:
        return f"FrameRecord({format_frame(self)!r})"


TraceHook = Callable[[FrameRecord], None]


def _type_name(type_code: int) -> str:
    try:
        return FrameType(type_code).name
    except ValueError:
        return f"UNKNOWN(0x{type_code:02x})"


def _error_name(code: int) -> str:
    try:
        return ErrorCode(code).name
    except ValueError:
        return f"0x{code:x}"


def _setting_name(code: int) -> str:
    try:
        return SettingCode(code).name
    except ValueError:
        return f"0x{code:x}"


def _text(data: bytes) -> str:
    text = data.decode("utf-8", "backslashreplace")
    if len(text) > _MAX_TEXT:
        return f"{text[:_MAX_TEXT]}...({len(data)}B)"
    return text


def redact_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """Header fields as text, with secrets and binary values replaced by their length."""
    out = []
    for name, value in headers:
        if name in _SECRET:
            shown = f"<redacted {len(value)}B>"
        elif name.endswith(b"-bin"):
            shown = f"<{len(value)}B>"
        else:
            shown = _text(value)
        out.append((_text(name), shown))
    return out


def record_frame(
    direction: str,
    type_code: int,
    flags: int,
    stream_id: int,
    buf: bytes | bytearray | memoryview,
    start: int,
    end: int,
) -> FrameRecord:
    """A record with every detail readable from the frame alone (payload ``buf[start:end]``).
    Details the frame cannot tell (decoded fields, windows) are filled in by the connection.
    Never raises on a malformed payload: what cannot be parsed is left None."""
    record = FrameRecord(direction, type_code, flags, stream_id, end - start)
    try:
        if type_code in (FrameType.DATA, FrameType.HEADERS, FrameType.PUSH_PROMISE):
            if flags & PADDED and end > start:
                record.pad_length = buf[start]
        elif type_code == FrameType.SETTINGS:
            record.ack = bool(flags & ACK)
            record.settings = [
                (_setting_name(code), value) for code, value in decode_settings(buf, start, end)
            ]
        elif type_code == FrameType.PING:
            record.ack = bool(flags & ACK)
            record.ping_data = bytes(buf[start:end]).hex(" ")
        elif type_code == FrameType.WINDOW_UPDATE:
            record.increment = decode_window_update(buf, start, end)
        elif type_code == FrameType.RST_STREAM:
            record.error_code = _error_name(decode_rst_stream(buf, start, end))
        elif type_code == FrameType.GOAWAY:
            last, code, debug = decode_goaway(buf, start, end)
            record.last_stream_id = last
            record.error_code = _error_name(code)
            record.debug_data = debug
    except Exception:  # a malformed frame is traced with what could be read
        return record
    return record


def format_frame(record: FrameRecord) -> str:
    """One line: direction, type, stream, flags, length, then the per-type details."""
    arrow = ">>" if record.direction == "send" else "<<"
    parts = [
        f"{arrow} {record.frame_type} s={record.stream_id}",
        f"flags={'|'.join(record.flags) or '-'}",
        f"len={record.length}",
    ]
    if record.pad_length is not None:
        parts.append(f"pad={record.pad_length}")
    if record.settings is not None:
        parts.extend(f"{name}={value}" for name, value in record.settings)
    if record.ping_data is not None:
        parts.append(record.ping_data)
    if record.increment is not None:
        parts.append(f"incr={record.increment}")
    if record.conn_window is not None:
        parts.append(f"conn:{record.conn_window[0]}->{record.conn_window[1]}")
    if record.stream_window is not None:
        parts.append(f"stream:{record.stream_window[0]}->{record.stream_window[1]}")
    if record.last_stream_id is not None:
        parts.append(f"last={record.last_stream_id}")
    if record.error_code is not None:
        parts.append(f"code={record.error_code}")
    if record.debug_data is not None:
        parts.append(f"debug={_text(record.debug_data)!r}")
    if record.headers is not None:
        parts.extend(f"{name}={value}" for name, value in record.headers)
    return " ".join(parts)

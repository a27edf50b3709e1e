"""Output of the etcdctl-style commands, in etcdctl's four shapes.

* ``simple``: the plain lines etcdctl prints (``OK``, key then value, counts...).
* ``json``: what etcdctl's ``-w json`` emits: the Go structs marshalled by ``encoding/json``, so
  protobuf field names (``cluster_id``, ``create_revision``), bytes as base64, and zero values
  left out of protobuf messages (their fields are ``omitempty``). :func:`header_json` and
  :func:`kv_json` build those dicts; :meth:`Output.json` writes one compact line.
* ``fields``: ``"Name" : value`` lines, strings quoted as Go's ``%q`` does (:func:`go_quote`).
* ``table``: a box-bordered table as etcdctl's tablewriter draws it (:func:`render_table`).

Admin commands reuse all of it: build rows or dicts, hand them to the :class:`Output` of the
command context.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from ...types import KeyValue, ResponseHeader

__all__ = [
    "FORMATS",
    "Output",
    "UnsupportedFormat",
    "b64",
    "go_quote",
    "go_value",
    "header_json",
    "kv_json",
    "omit_empty",
    "render_table",
]

FORMATS = ("simple", "json", "table", "fields")


class UnsupportedFormat(Exception):
    """The command has no output in the chosen ``-w`` format (etcdctl exits 4 for this)."""

    def __init__(self, fmt: str) -> None:
        super().__init__(f"{fmt} not supported as output format")
        self.format = fmt


# ---- JSON ------------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    """Bytes as encoding/json writes them: standard base64 with padding."""
    return base64.b64encode(data).decode("ascii")


def omit_empty(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Drop zero values (0, False, "", None, empty lists and dicts), as ``omitempty`` does."""
    return {
        key: value
        for key, value in fields.items()
        if value not in (0, False, "", None)
        and not (isinstance(value, (list, dict, tuple)) and not value)
    }


def header_json(header: ResponseHeader) -> dict[str, Any]:
    """A ResponseHeader as etcdctl's JSON shows it (numbers, zero fields left out)."""
    return omit_empty(
        {
            "cluster_id": header.cluster_id,
            "member_id": header.member_id,
            "revision": header.revision,
            "raft_term": header.raft_term,
        }
    )


def kv_json(kv: KeyValue) -> dict[str, Any]:
    """A mvccpb.KeyValue as etcdctl's JSON shows it (key and value in base64)."""
    return omit_empty(
        {
            "key": b64(kv.key),
            "create_revision": kv.create_revision,
            "mod_revision": kv.mod_revision,
            "version": kv.version,
            "value": b64(kv.value),
            "lease": kv.lease,
        }
    )


# ---- Go-style text ---------------------------------------------------------------------------

_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def go_quote(text: str | bytes) -> str:
    """``text`` as Go's ``%q`` prints a string: double quotes, escapes for control and
    non-printable characters, invalid UTF-8 bytes as ``\\xNN``."""
    decoded = text.decode("utf-8", errors="surrogateescape") if isinstance(text, bytes) else text
    out = ['"']
    for char in decoded:
        code = ord(char)
        if char in _GO_ESCAPES:
            out.append(_GO_ESCAPES[char])
        elif 0xDC80 <= code <= 0xDCFF:  # an undecodable byte kept by surrogateescape
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif not char.isprintable() and code > 0x7F:
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def go_value(value: Any) -> str:
    """A value as Go's ``fmt.Println`` prints it: true/false, numbers, ``[a b]`` for slices."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_value(item) for item in value) + "]"
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


# ---- tables ----------------------------------------------------------------------------------


def render_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A table as etcdctl 3.5's tablewriter draws it: ``+---+`` borders, the header
    upper-cased and centred (the odd space on the right), every cell right-aligned, one space
    of padding. Returns the text with a trailing newline."""
    head = [str(name).upper() for name in header]
    body = [[str(cell) for cell in row] for row in rows]
    widths = [len(name) for name in head]
    for row in body:
        for index, cell in enumerate(row):
            if index < len(widths):
                widths[index] = max(widths[index], len(cell))
            else:
                widths.append(len(cell))
    rule = "+" + "+".join("-" * (width + 2) for width in widths) + "+"

    def line(cells: Sequence[str], *, centre: bool) -> str:
        parts = []
        for index, width in enumerate(widths):
            cell = cells[index] if index < len(cells) else ""
            if centre:
                left = (width - len(cell)) // 2
                text = " " * left + cell.ljust(width - left)
            else:
                text = cell.rjust(width)
            parts.append(f" {text} ")
        return "|" + "|".join(parts) + "|"

    lines = [rule, line(head, centre=True), rule]
    lines.extend(line(row, centre=False) for row in body)
    lines.append(rule)
    return "\n".join(lines) + "\n"


# ---- the writer ------------------------------------------------------------------------------


class Output:
    """Writes a command's result to ``stream`` in the chosen format.

    ``fmt`` is one of :data:`FORMATS`; ``hex`` prints keys and values of the simple format as
    hex (etcdctl's ``--hex``); ``value_only`` prints only values (``--print-value-only``)."""

    def __init__(
        self,
        stream: TextIO,
        fmt: str = "simple",
        *,
        hex: bool = False,
        value_only: bool = False,
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown output format {fmt!r}")
        self.stream = stream
        self.format = fmt
        self.hex = hex
        self.value_only = value_only

    # plain text
    def line(self, text: str = "") -> None:
        self.stream.write(text + "\n")

    def raw(self, data: bytes) -> None:
        """Bytes as they are (keys and values need not be UTF-8)."""
        self.stream.flush()
        buffer = getattr(self.stream, "buffer", None)
        if buffer is not None:
            buffer.write(data)
            buffer.flush()
        else:
            self.stream.write(data.decode("utf-8", errors="replace"))

    def flush(self) -> None:
        self.stream.flush()

    def unsupported(self) -> UnsupportedFormat:
        """The error to raise when a command has nothing to print in this format."""
        return UnsupportedFormat(self.format)

    # json
    def json(self, obj: Any) -> None:
        """One compact line, as encoding/json marshals it (big integers stay exact)."""
        self.line(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))

    # fields
    def field(self, name: str, value: Any) -> None:
        """``"Name" : value``: strings and bytes quoted as Go's %q, the rest as Println."""
        if isinstance(value, (str, bytes)):
            self.line(f'"{name}" : {go_quote(value)}')
        else:
            self.line(f'"{name}" : {go_value(value)}')

    def header_fields(self, header: ResponseHeader) -> None:
        self.field("ClusterID", header.cluster_id)
        self.field("MemberID", header.member_id)
        self.field("Revision", header.revision)
        self.field("RaftTerm", header.raft_term)

    def kv_fields(self, kv: KeyValue, prefix: str = "") -> None:
        self.field(f"{prefix}Key", kv.key)
        self.field(f"{prefix}CreateRevision", kv.create_revision)
        self.field(f"{prefix}ModRevision", kv.mod_revision)
        self.field(f"{prefix}Version", kv.version)
        self.field(f"{prefix}Value", kv.value)
        self.field(f"{prefix}Lease", kv.lease)

    # simple
    def kv(self, kv: KeyValue) -> None:
        """A key line then a value line (only the value with ``value_only``; hex with ``hex``)."""
        if self.hex:
            key, value = _hex(kv.key).encode(), _hex(kv.value).encode()
        else:
            key, value = kv.key, kv.value
        if not self.value_only:
            self.data_line(key)
        self.data_line(value)

    def data_line(self, data: bytes) -> None:
        """A key or value and a newline: as text when it is UTF-8 (the common case, buffered),
        else as the raw bytes."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self.raw(data + b"\n")
        else:
            self.stream.write(text + "\n")

    # table
    def table(self, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        self.stream.write(render_table(header, rows))


def _hex(data: bytes) -> str:
    """etcdctl's --hex form: every byte as ``\\xNN``."""
    return "".join(f"\\x{byte:02x}" for byte in data)

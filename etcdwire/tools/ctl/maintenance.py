"""Maintenance commands in etcdctl's shape: ``endpoint status|health|hashkv`` (one row per
endpoint, ``--cluster`` for every member), ``snapshot save|status``, ``defrag``,
``alarm list|disarm`` and ``move-leader``.

The formatting is pure and shared with the membership commands: :func:`admin_table` draws
tables as etcdctl's admin printers do (every cell right-aligned), :func:`humanize_bytes` and
:func:`go_duration` print sizes and durations as Go's ``humanize.Bytes`` and
``time.Duration.String`` do. ``snapshot status`` reads the bbolt file itself
(:mod:`.snapshot_db`): the same hash, revision, key count and size as
``etcdutl snapshot status``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TextIO

from ...errors import EtcdError, PermissionDenied
from ...types import AlarmResponse, HashKVResponse, MemberStatus, ResponseHeader
from .common import (
    EXIT_BAD_ARGS,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    CommandError,
    Context,
    add_command,
    add_group,
    describe,
)
from .output import header_json, omit_empty
from .snapshot_db import SnapshotFormatError, snapshot_db_status

__all__ = [
    "EndpointHealth",
    "SnapshotProgress",
    "admin_table",
    "alarm_json",
    "alarm_text",
    "go_duration",
    "health_json",
    "humanize_bytes",
    "member_id_arg",
    "register",
    "render_progress",
    "status_json",
    "status_row",
]

STATUS_HEADER = (
    "endpoint",
    "ID",
    "version",
    "db size",
    "is leader",
    "is learner",
    "raft term",
    "raft index",
    "raft applied index",
    "errors",
)
HEALTH_HEADER = ("endpoint", "health", "took", "error")
HASHKV_HEADER = ("endpoint", "hash")
DB_STATUS_HEADER = ("hash", "revision", "total keys", "total size")


# ---- pure formatting -------------------------------------------------------------------------


def admin_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A table as etcdctl draws its admin tables (member list, endpoint status/health/hashkv,
    snapshot status): ``+---+`` borders, the header upper-cased and centred (the odd space on
    the right), every cell right-aligned, one space of padding. Ends with a newline."""
    head = [str(name).upper() for name in header]
    body = [[str(cell) for cell in row] for row in rows]
    widths = [
        max([len(name)] + [len(row[i]) for row in body if i < len(row)])
        for i, name in enumerate(head)
    ]
    rule = "+" + "+".join("-" * (width + 2) for width in widths) + "+"

    def centre(text: str, width: int) -> str:
        left = (width - len(text)) // 2
        return " " * left + text + " " * (width - len(text) - left)

    def line(cells: Sequence[str], fit: Callable[[str, int], str]) -> str:
        padded = (cells[i] if i < len(cells) else "" for i in range(len(widths)))
        return (
            "|"
            + "|".join(f" {fit(cell, w)} " for cell, w in zip(padded, widths, strict=True))
            + "|"
        )

    lines = [rule, line(head, centre), rule]
    lines += [line(row, lambda cell, width: cell.rjust(width)) for row in body]
    lines.append(rule)
    return "\n".join(lines) + "\n"


_SI = ("B", "kB", "MB", "GB", "TB", "PB", "EB")


def humanize_bytes(size: int) -> str:
    """``size`` in SI units as go-humanize's ``Bytes``: ``"29 kB"``, ``"2.0 MB"``, ``"7 B"``."""
    if size < 10:
        return f"{size} B"
    exponent = min(math.floor(math.log(size) / math.log(1000)), len(_SI) - 1)
    value = math.floor(size / 1000**exponent * 10 + 0.5) / 10
    return f"{value:.1f} {_SI[exponent]}" if value < 10 else f"{value:.0f} {_SI[exponent]}"


def _go_fraction(value: int, scale: int) -> str:
    whole, rest = divmod(value, scale)
    if not rest:
        return str(whole)
    digits = len(str(scale)) - 1
    return f"{whole}." + f"{rest:0{digits}d}".rstrip("0")


def go_duration(seconds: float) -> str:
    """A duration as Go's ``time.Duration.String``: ``"3.830824ms"``, ``"1.5s"``, ``"2m3s"``."""
    nanos = round(seconds * 1e9)
    if nanos == 0:
        return "0s"
    sign, nanos = ("-", -nanos) if nanos < 0 else ("", nanos)
    if nanos < 1_000:
        return f"{sign}{nanos}ns"
    if nanos < 1_000_000:
        return f"{sign}{_go_fraction(nanos, 1_000)}µs"
    if nanos < 1_000_000_000:
        return f"{sign}{_go_fraction(nanos, 1_000_000)}ms"
    hours, rest = divmod(nanos, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _go_fraction(rest, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def member_id_arg(text: str) -> int:
    """A member ID as etcdctl takes it: hexadecimal, at most 64 bits."""
    try:
        value = int(text, 16)
        if value < 0 or value >= 1 << 64 or text.strip() != text or text.startswith(("0x", "+")):
            raise ValueError(text)
    except ValueError:
        raise CommandError(
            f"bad member ID arg ({text!r} is not a hexadecimal number), expecting ID in Hex",
            EXIT_BAD_ARGS,
        ) from None
    return value


def status_row(endpoint: str, status: MemberStatus) -> list[str]:
    member = status.header.member_id
    return [
        endpoint,
        f"{member:x}",
        status.version,
        humanize_bytes(status.db_size),
        _go_bool(status.leader == member),
        _go_bool(status.is_learner),
        str(status.raft_term),
        str(status.raft_index),
        str(status.raft_applied_index),
        ", ".join(status.errors),
    ]


def status_json(endpoint: str, status: MemberStatus) -> dict[str, Any]:
    """One element of etcdctl's ``endpoint status -w json`` list."""
    body = {"header": header_json(status.header)}
    body.update(
        omit_empty(
            {
                "version": status.version,
                "dbSize": status.db_size,
                "leader": status.leader,
                "raftIndex": status.raft_index,
                "raftTerm": status.raft_term,
                "raftAppliedIndex": status.raft_applied_index,
                "errors": list(status.errors),
                "dbSizeInUse": status.db_size_in_use,
                "isLearner": status.is_learner,
            }
        )
    )
    return {"Endpoint": endpoint, "Status": body}


def hashkv_json(endpoint: str, answer: HashKVResponse) -> dict[str, Any]:
    body = {"header": header_json(answer.header)}
    body.update(
        omit_empty(
            {
                "hash": answer.hash,
                "compact_revision": answer.compact_revision,
                "hash_revision": answer.hash_revision,
            }
        )
    )
    return {"Endpoint": endpoint, "HashKV": body}


@dataclass(frozen=True)
class EndpointHealth:
    """One endpoint's health as etcdctl reports it."""

    endpoint: str
    health: bool
    took: str
    error: str = ""


def health_json(row: EndpointHealth) -> dict[str, Any]:
    out: dict[str, Any] = {"endpoint": row.endpoint, "health": row.health, "took": row.took}
    if row.error:
        out["error"] = row.error
    return out


def alarm_text(member_id: int, alarm_name: str) -> str:
    """One alarm as etcdctl's simple printer shows it (the protobuf compact text form)."""
    return f"memberID:{member_id} alarm:{alarm_name} "


def alarm_json(answer: AlarmResponse) -> dict[str, Any]:
    out = _header_object(answer.header)
    if answer.alarms:
        out["alarms"] = [
            omit_empty({"memberID": alarm.member_id, "alarm": alarm.alarm.value})
            for alarm in answer.alarms
        ]
    return out


def _header_object(header: ResponseHeader) -> dict[str, Any]:
    """``{"header": ...}``, or nothing when the server sent no header (Go omits a nil one)."""
    fields = header_json(header)
    return {"header": fields} if fields else {}


def _go_bool(value: bool) -> str:
    return "true" if value else "false"


# ---- snapshot progress -----------------------------------------------------------------------


def render_progress(
    received: int, total: int | None, elapsed: float, width: int, *, colour: bool = False
) -> str:
    """One line of the snapshot download bar, at most ``width`` columns: a bar, the
    percentage, bytes so far of the total and the rate."""
    rate = received / elapsed if elapsed > 0 else 0.0
    if total:
        fraction = min(1.0, received / total)
        tail = (
            f" {fraction * 100:3.0f}% {humanize_bytes(received)} / {humanize_bytes(total)}"
            f"  {humanize_bytes(int(rate))}/s"
        )
    else:
        fraction = 0.0
        tail = f" {humanize_bytes(received)}  {humanize_bytes(int(rate))}/s"
    head = "Downloading snapshot "
    room = width - len(head) - len(tail) - 2
    if room < 10:
        return (head + tail.strip())[:width]
    filled = int(room * fraction)
    bar = "#" * filled
    if colour:
        bar = f"\x1b[32m{bar}\x1b[0m"
    return f"{head}[{bar}{'.' * (room - filled)}]{tail}"


class SnapshotProgress:
    """The snapshot download bar: redrawn in place on a terminal at most every ``interval``
    seconds and finished with a newline; nothing at all when ``stream`` is not a terminal."""

    def __init__(
        self,
        stream: TextIO,
        *,
        tty: bool | None = None,
        colour: bool = False,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.tty = _isatty(stream) if tty is None else tty
        self.colour = colour
        self.interval = interval
        self._clock = clock
        self._start = clock()
        self._last_draw = -math.inf
        self._received = 0
        self._total: int | None = None
        self.drawn = 0

    def __call__(self, received: int, total: int | None) -> None:
        self._received, self._total = received, total
        now = self._clock()
        if self.tty and now - self._last_draw >= self.interval:
            self._draw(now)

    def finish(self) -> None:
        if self.tty and self.drawn:
            self._draw(self._clock())
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, now: float) -> None:
        self._last_draw = now
        width = max(20, _columns(self.stream) - 1)
        line = render_progress(
            self._received, self._total, now - self._start, width, colour=self.colour
        )
        self.stream.write("\r\x1b[K" + line)
        self.stream.flush()
        self.drawn += 1


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _columns(stream: Any) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return 80


# ---- handlers: endpoint ----------------------------------------------------------------------


def _endpoints(ctx: Context, args: argparse.Namespace) -> list[str]:
    """--endpoints as given, or with --cluster every member's client URLs."""
    if not getattr(args, "cluster", False):
        return list(ctx.options.endpoints)
    try:
        members = ctx.client.cluster.member_list().members
    except EtcdError as exc:
        raise CommandError(
            f"failed to fetch endpoints from etcd cluster member list: {describe(exc)}"
        ) from exc
    return [url for member in members for url in member.client_urls]


def _endpoint_status(ctx: Context, args: argparse.Namespace) -> int:
    out = ctx.out
    rows: list[tuple[str, MemberStatus]] = []
    failed = False
    for endpoint in _endpoints(ctx, args):
        try:
            rows.append((endpoint, ctx.client.maintenance.status(endpoint)))
        except EtcdError as exc:
            failed = True
            ctx.warn(f"Failed to get the status of endpoint {endpoint} ({describe(exc)})")
    if out.format == "json":
        out.json([status_json(endpoint, status) for endpoint, status in rows])
    elif out.format == "table":
        out.stream.write(admin_table(STATUS_HEADER, [status_row(e, s) for e, s in rows]))
    elif out.format == "fields":
        for endpoint, status in rows:
            out.header_fields(status.header)
            out.field("Version", status.version)
            out.field("DBSize", status.db_size)
            out.field("Leader", status.leader)
            out.field("IsLearner", status.is_learner)
            out.field("RaftIndex", status.raft_index)
            out.field("RaftTerm", status.raft_term)
            out.field("RaftAppliedIndex", status.raft_applied_index)
            out.field("Errors", list(status.errors))
            out.field("Endpoint", endpoint)
            out.line()
    else:
        for endpoint, status in rows:
            out.line(", ".join(status_row(endpoint, status)))
    return EXIT_ERROR if failed else 0


def check_health(ctx: Context, endpoint: str) -> EndpointHealth:
    """etcdctl's health check of one endpoint: a linearizable read commits through raft
    (permission denied counts as healthy), then no alarm may be raised."""
    start = time.monotonic()
    try:
        client = ctx.make_client([endpoint])
        with contextlib.suppress(PermissionDenied):
            client.get("health")
        took = go_duration(time.monotonic() - start)
    except EtcdError as exc:
        took = go_duration(time.monotonic() - start)
        return EndpointHealth(endpoint, False, took, f"failed to commit proposal: {describe(exc)}")
    try:
        alarms = client.maintenance.alarm_list().alarms
    except EtcdError as exc:
        return EndpointHealth(endpoint, False, took, f"failed to fetch alarms: {describe(exc)}")
    if alarms:
        names = ", ".join(alarm.alarm.name for alarm in alarms)
        return EndpointHealth(endpoint, False, took, f"Active Alarm(s): {names}")
    return EndpointHealth(endpoint, True, took)


def _endpoint_health(ctx: Context, args: argparse.Namespace) -> int:
    out = ctx.out
    endpoints = _endpoints(ctx, args)
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(endpoints)))) as pool:
        rows = list(pool.map(lambda endpoint: check_health(ctx, endpoint), endpoints))
    if out.format == "json":
        out.json([health_json(row) for row in rows])
    elif out.format == "table":
        table = [[r.endpoint, _go_bool(r.health), r.took, r.error] for r in rows]
        out.stream.write(admin_table(HEALTH_HEADER, table))
    elif out.format == "fields":
        for row in rows:
            out.field("Endpoint", row.endpoint)
            out.field("Health", row.health)
            out.line(f'"Took" : {row.took}')
            out.line(f'"Error" : {row.error}')
            out.line()
    else:
        for row in rows:
            if row.health:
                ctx.warn(
                    f"{row.endpoint} is healthy: successfully committed proposal: took = {row.took}"
                )
            else:
                ctx.warn(f"{row.endpoint} is unhealthy: {row.error}")
    if not all(row.health for row in rows):
        raise CommandError("unhealthy cluster")
    return 0


def _endpoint_hashkv(ctx: Context, args: argparse.Namespace) -> int:
    out = ctx.out
    rows: list[tuple[str, HashKVResponse]] = []
    error: EtcdError | None = None
    for endpoint in _endpoints(ctx, args):
        try:
            rows.append((endpoint, ctx.client.maintenance.hash_kv(endpoint, args.rev)))
        except EtcdError as exc:
            error = exc
            ctx.warn(f"Failed to get the hash of endpoint {endpoint} ({describe(exc)})")
    if out.format == "json":
        out.json([hashkv_json(endpoint, answer) for endpoint, answer in rows])
    elif out.format == "table":
        out.stream.write(admin_table(HASHKV_HEADER, [[e, a.hash] for e, a in rows]))
    elif out.format == "fields":
        for endpoint, answer in rows:
            out.header_fields(answer.header)
            out.field("Endpoint", endpoint)
            out.field("Hash", answer.hash)
            out.line()
    else:
        for endpoint, answer in rows:
            out.line(f"{endpoint}, {answer.hash}")
    if error is not None:
        raise error
    return 0


# ---- handlers: alarm, defrag, move-leader ----------------------------------------------------


def _print_alarms(ctx: Context, answer: AlarmResponse) -> None:
    out = ctx.out
    if out.format == "json":
        out.json(alarm_json(answer))
    elif out.format == "fields":
        out.header_fields(answer.header)
        for alarm in answer.alarms:
            out.field("MemberID", alarm.member_id)
            out.line(f'"AlarmType" : {alarm.alarm.name}')
            out.line()
    else:
        for alarm in answer.alarms:
            out.line(alarm_text(alarm.member_id, alarm.alarm.name))


def _alarm_check(ctx: Context) -> None:
    if ctx.out.format == "table":
        raise ctx.out.unsupported()


def _alarm_list(ctx: Context, args: argparse.Namespace) -> int:
    _alarm_check(ctx)
    _print_alarms(ctx, ctx.client.maintenance.alarm_list())
    return 0


def _alarm_disarm(ctx: Context, args: argparse.Namespace) -> int:
    _alarm_check(ctx)
    answer = ctx.client.maintenance.alarm_disarm()
    if not answer.alarms and ctx.out.format == "json":
        ctx.out.json({})  # nothing was raised: etcdctl's client returns an empty response
        return 0
    _print_alarms(ctx, answer)
    return 0


def _defrag(ctx: Context, args: argparse.Namespace) -> int:
    failed = False
    for endpoint in _endpoints(ctx, args):
        try:
            ctx.client.maintenance.defragment(endpoint)
        except EtcdError as exc:
            failed = True
            ctx.warn(f"Failed to defragment etcd member[{endpoint}] ({describe(exc)})")
            continue
        ctx.out.line(f"Finished defragmenting etcd member[{endpoint}]")
    return EXIT_ERROR if failed else 0


def _move_leader(ctx: Context, args: argparse.Namespace) -> int:
    target = member_id_arg(args.member_id)
    out = ctx.out
    if out.format in ("table", "fields"):
        raise out.unsupported()
    maintenance = ctx.client.maintenance
    leader = maintenance.status().leader
    answer = maintenance.move_leader(target)
    if out.format == "json":
        out.json(_header_object(answer.header))
    else:
        out.line(f"Leadership transferred from {leader:x} to {target:x}")
    return 0


# ---- handlers: snapshot ----------------------------------------------------------------------


def _snapshot_save(ctx: Context, args: argparse.Namespace) -> int:
    endpoints = ctx.options.endpoints
    if len(endpoints) != 1:
        raise CommandError(
            "snapshot must be requested to one selected node, not multiple "
            f"[{' '.join(endpoints)}]",
            EXIT_INTERRUPTED,
        )
    progress = SnapshotProgress(ctx.stderr, colour=_colour(ctx))
    # The snapshot holds every key and the auth store: readable by its owner only, as
    # etcdctl writes it.
    umask = os.umask(0o077)
    try:
        ctx.client.maintenance.snapshot(args.filename, progress=progress, timeout=None)
    except OSError as exc:  # the file, not the server: one line, as etcdctl
        where = exc.filename or args.filename
        raise CommandError(f"could not write {where} ({exc.strerror or exc})") from exc
    finally:
        os.umask(umask)
        progress.finish()
    ctx.out.line(f"Snapshot saved at {args.filename}")
    return 0


def _colour(ctx: Context) -> bool:
    try:
        from ..tracefmt import colour_enabled
    except ImportError:  # pragma: no cover - the trace formatter ships with the tools
        return False
    return colour_enabled(ctx.stderr, ctx.options.color)


def _snapshot_status(ctx: Context, args: argparse.Namespace) -> int:
    try:
        status = snapshot_db_status(args.filename)
    except OSError as exc:
        raise CommandError(f"{exc.strerror or exc}: {args.filename}") from exc
    except SnapshotFormatError as exc:
        raise CommandError(str(exc)) from exc
    out = ctx.out
    row = [f"{status.hash:x}", status.revision, status.total_key, humanize_bytes(status.total_size)]
    if out.format == "json":
        out.json(
            {
                "hash": status.hash,
                "revision": status.revision,
                "totalKey": status.total_key,
                "totalSize": status.total_size,
            }
        )
    elif out.format == "table":
        out.stream.write(admin_table(DB_STATUS_HEADER, [row]))
    elif out.format == "fields":
        out.field("Hash", status.hash)
        out.field("Revision", status.revision)
        out.field("Keys", status.total_key)
        out.field("Size", status.total_size)
    else:
        out.line(", ".join(str(cell) for cell in row))
    return 0


# ---- registration ----------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    endpoint = add_group(subparsers, "endpoint", "endpoint status, health and KV hash")
    cluster_help = "use every member's client URLs"
    # --cluster before the verb too (``endpoint --cluster status``), as etcdctl takes it; the
    # verb's copy has no default so it cannot reset the group's
    subparsers.choices["endpoint"].add_argument("--cluster", action="store_true", help=cluster_help)
    for verb, handler, text in (
        ("status", _endpoint_status, "status of each endpoint, one row per endpoint"),
        ("health", _endpoint_health, "health of each endpoint (a read through raft)"),
        ("hashkv", _endpoint_hashkv, "KV history hash of each endpoint"),
    ):
        parser = add_command(endpoint, verb, handler, text)
        parser.add_argument(
            "--cluster", action="store_true", default=argparse.SUPPRESS, help=cluster_help
        )
        if verb == "hashkv":
            parser.add_argument(
                "--rev", type=int, default=0, help="maximum revision to hash (default: all)"
            )

    snapshot = add_group(subparsers, "snapshot", "save a snapshot, or read one")
    save = add_command(
        snapshot, "save", _snapshot_save, "stream a snapshot of one member to a file"
    )
    save.add_argument("filename")
    status = add_command(
        snapshot, "status", _snapshot_status, "hash, revision, key count and size of a snapshot"
    )
    status.add_argument("filename")

    defrag = add_command(subparsers, "defrag", _defrag, "defragment each endpoint's backend")
    defrag.add_argument("--cluster", action="store_true", help="use every member's client URLs")

    alarm = add_group(subparsers, "alarm", "list or disarm alarms")
    add_command(alarm, "list", _alarm_list, "every alarm raised")
    add_command(alarm, "disarm", _alarm_disarm, "disarm every alarm")

    move = add_command(
        subparsers, "move-leader", _move_leader, "hand the raft leadership to another member"
    )
    move.add_argument("member_id", metavar="TRANSFEREE_ID", help="member ID in hex")

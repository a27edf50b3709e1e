"""``version`` (as etcdctl's), and ``info``: the client's own view of its endpoints (state,
pinned, backoff, last error, streams) after one read, so the pinned connection is up; etcdctl
has no such command."""

from __future__ import annotations

import argparse
from typing import Any

from ... import __version__
from ...errors import EtcdError
from .common import Context, add_command
from .output import omit_empty

__all__ = ["register"]

HEADER = (
    "endpoint",
    "state",
    "active",
    "connects",
    "failures",
    "streams",
    "leases",
    "watches",
    "backoff",
    "last error",
)


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}s"


def _info(ctx: Context, args: argparse.Namespace) -> int:
    client = ctx.make_client()
    probe_error: str | None = None
    if not args.no_probe:
        try:
            client.get(b"\0", serializable=True, count_only=True)
        except EtcdError as exc:
            probe_error = " ".join(str(exc).split())
    rows = client.info()
    out = ctx.out
    if out.format == "json":
        out.json(
            [
                omit_empty(
                    {
                        "endpoint": row.endpoint,
                        "state": row.state.value,
                        "active": row.active,
                        "connects": row.connects,
                        "failures": row.failures,
                        "streams_open": row.streams_open,
                        "leases": row.leases,
                        "watches": row.watches,
                        "backing_off_for": row.backing_off_until,
                        "last_error": row.last_error,
                        "last_error_ago": row.last_error_ago,
                    }
                )
                for row in rows
            ]
        )
        return _probe_status(ctx, probe_error)
    table = [
        (
            row.endpoint,
            row.state.value,
            "*" if row.active else "",
            row.connects,
            row.failures,
            row.streams_open,
            row.leases,
            row.watches,
            _seconds(row.backing_off_until),
            row.last_error or "",
        )
        for row in rows
    ]
    if out.format == "fields":
        for row in table:
            for name, value in zip(HEADER, row, strict=True):
                out.field(name.title().replace(" ", ""), value)
            out.line()
    elif out.format == "table":
        out.table(HEADER, table)
    else:
        for row in table:
            out.line(", ".join(str(cell) for cell in row))
    return _probe_status(ctx, probe_error)


def _probe_status(ctx: Context, probe_error: str | None) -> int:
    """The table is printed either way; a failed probe read adds one error line and status 1."""
    if probe_error is None:
        return 0
    ctx.warn(f"Error: {probe_error}")
    return 1


#: The etcd API the client speaks (etcd 3.5's protos).
API_VERSION = "3.5"


def _version(ctx: Context, args: argparse.Namespace) -> int:
    ctx.out.line(f"etcdwire version: {__version__}")
    ctx.out.line(f"API version: {API_VERSION}")
    return 0


def register(subparsers: Any) -> None:
    add_command(subparsers, "version", _version, "Prints the version of etcdwire")
    parser = add_command(
        subparsers,
        "info",
        _info,
        "Shows the client's endpoint table (state, pinned, backoff, last error, streams)",
    )
    parser.add_argument(
        "--no-probe",
        dest="no_probe",
        action="store_true",
        help="show the table without connecting first",
    )

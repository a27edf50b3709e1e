"""Lease commands: grant, revoke, timetolive, list, keep-alive (etcdctl's output shapes)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from ...errors import DeadlineExceeded, LeaseNotFound, TransportError, Unavailable
from ...types import LeaseKeepAliveReply
from .common import EXIT_BAD_ARGS, CommandError, Context, add_command, add_group
from .output import b64, header_json

__all__ = ["parse_lease_arg", "register"]


def parse_lease_arg(text: str | None, verb: str) -> int:
    if text is None:
        raise CommandError(f"lease {verb} command needs lease ID as argument", EXIT_BAD_ARGS)
    try:
        return int(text, 16)
    except ValueError:
        raise CommandError(
            f"bad lease ID arg ({text!r}), expecting ID in Hex", EXIT_BAD_ARGS
        ) from None


#: Wait before retrying a failed keep-alive, and the shortest wait between two refreshes.
RETRY_DELAY = 0.5


def _grant(ctx: Context, args: argparse.Namespace) -> int:
    if args.ttl is None:
        raise CommandError("lease grant command needs TTL argument", EXIT_BAD_ARGS)
    try:
        ttl = int(args.ttl)
    except ValueError:
        raise CommandError(f"bad TTL ({args.ttl!r})", EXIT_BAD_ARGS) from None
    grant = ctx.client.lease.grant(ttl)
    out = ctx.out
    if out.format == "json":
        out.json({**header_json(grant.header), "ID": grant.id, "TTL": grant.ttl, "Error": ""})
    elif out.format == "fields":
        out.header_fields(grant.header)
        out.field("ID", grant.id)
        out.field("TTL", grant.ttl)
    elif out.format == "simple":
        out.line(f"lease {grant.id:016x} granted with TTL({grant.ttl}s)")
    else:
        raise out.unsupported()
    return 0


def _revoke(ctx: Context, args: argparse.Namespace) -> int:
    lease_id = parse_lease_arg(args.lease_id, "revoke")
    if ctx.out.format == "table":
        raise ctx.out.unsupported()
    try:
        response = ctx.client.lease.revoke(lease_id)
    except LeaseNotFound as exc:
        raise CommandError(f"failed to revoke lease ({exc.message})") from None
    out = ctx.out
    if out.format == "json":
        out.json({"header": header_json(response.header)})
    elif out.format == "fields":
        out.header_fields(response.header)
    else:
        out.line(f"lease {lease_id:016x} revoked")
    return 0


def _time_to_live(ctx: Context, args: argparse.Namespace) -> int:
    lease_id = parse_lease_arg(args.lease_id, "timetolive")
    if ctx.out.format == "table":
        raise ctx.out.unsupported()
    info = ctx.client.lease.time_to_live(lease_id, keys=args.keys)
    out = ctx.out
    if out.format == "json":
        out.json(
            {
                **header_json(info.header),
                "id": info.id,
                "ttl": info.ttl,
                "granted-ttl": info.granted_ttl,
                "keys": [b64(key) for key in info.keys] if info.keys else None,
            }
        )
    elif out.format == "fields":
        out.header_fields(info.header)
        out.field("ID", info.id)
        out.field("TTL", info.ttl)
        out.field("GrantedTTL", info.granted_ttl)
        for key in info.keys:
            out.field("Key", key)
    elif info.granted_ttl == 0 and info.ttl == -1:
        out.line(f"lease {info.id:016x} already expired")
    else:
        text = f"lease {info.id:016x} granted with TTL({info.granted_ttl}s), remaining({info.ttl}s)"
        if args.keys:
            names = " ".join(key.decode("utf-8", errors="replace") for key in info.keys)
            text += f", attached keys([{names}])"
        out.line(text)
    return 0


def _list(ctx: Context, args: argparse.Namespace) -> int:
    if ctx.out.format == "table":
        raise ctx.out.unsupported()
    response = ctx.client.lease.leases()
    out = ctx.out
    if out.format == "json":
        out.json(
            {
                **header_json(response.header),
                "leases": [{"id": lease_id} for lease_id in response.ids],
            }
        )
    elif out.format == "fields":
        out.header_fields(response.header)
        for lease_id in response.ids:
            out.field("ID", lease_id)
    else:
        out.line(f"found {len(response.leases)} leases")
        for lease_id in response.ids:
            out.line(f"{lease_id:016x}")
    return 0


def _print_keep_alive(ctx: Context, reply: LeaseKeepAliveReply) -> None:
    # The header fields sit at the top level of the lease JSON objects: clientv3 embeds
    # ``*ResponseHeader`` in its lease response structs.
    out = ctx.out
    if out.format == "json":
        out.json({**header_json(reply.header), "ID": reply.id, "TTL": reply.ttl})
    elif out.format == "fields":
        out.header_fields(reply.header)
        out.field("ID", reply.id)
        out.field("TTL", reply.ttl)
    else:
        out.line(f"lease {reply.id:016x} keepalived with TTL({reply.ttl})")
    out.flush()


def _keep_alive(ctx: Context, args: argparse.Namespace) -> int:
    lease_id = parse_lease_arg(args.lease_id, "keep-alive")
    if ctx.out.format == "table":
        raise ctx.out.unsupported()
    lease = ctx.client.lease
    if args.once:
        reply = lease.keep_alive_once(lease_id)
        if reply.expired:
            raise CommandError("etcdserver: requested lease not found")
        _print_keep_alive(ctx, reply)
        return 0
    # Refresh at a third of the TTL, as etcd's Go client does, and print each answer, until
    # the lease is gone or Ctrl-C. A refresh that fails on the way (the connection, a leader
    # election) is retried until the lease's TTL has run out since the last good one.
    ttl: float | None = None
    last_ok = time.monotonic()
    while True:
        try:
            reply = lease.keep_alive_once(lease_id)
        except (TransportError, DeadlineExceeded, Unavailable):
            if ttl is not None and time.monotonic() - last_ok > ttl:
                break
            time.sleep(RETRY_DELAY)
            continue
        if reply.expired:
            break
        ttl, last_ok = reply.ttl, time.monotonic()
        _print_keep_alive(ctx, reply)
        time.sleep(max(reply.ttl / 3.0, RETRY_DELAY))
    if ctx.out.format == "simple":
        ctx.out.line(f"lease {lease_id:016x} expired or revoked.")
    return 0


def register(subparsers: Any) -> None:
    verbs = add_group(subparsers, "lease", "Lease related commands")
    grant = add_command(verbs, "grant", _grant, "Creates leases")
    grant.add_argument("ttl", nargs="?", help="time to live in seconds")
    revoke = add_command(verbs, "revoke", _revoke, "Revokes leases")
    revoke.add_argument("lease_id", nargs="?", help="lease ID (hex)")
    ttl = add_command(verbs, "timetolive", _time_to_live, "Get lease information")
    ttl.add_argument("lease_id", nargs="?", help="lease ID (hex)")
    ttl.add_argument("--keys", action="store_true", help="get keys attached to this lease")
    add_command(verbs, "list", _list, "List all active leases")
    keep = add_command(verbs, "keep-alive", _keep_alive, "Keeps leases alive (renew)")
    keep.add_argument("lease_id", nargs="?", help="lease ID (hex)")
    keep.add_argument("--once", action="store_true", help="renew once and exit")

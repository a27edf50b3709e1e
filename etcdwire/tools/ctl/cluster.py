"""Membership commands in etcdctl's shape: ``member list|add|remove|update|promote``.

``member list`` prints in every format; the changes print in ``simple`` and ``json`` only, as
etcdctl does (``table`` and ``fields`` exit 4, but here before anything is changed).
``member add`` in ``simple`` also prints the ``ETCD_*`` settings the new member starts with.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from ...types import Member, MemberListResponse, ResponseHeader
from .common import EXIT_BAD_ARGS, CommandError, Context, add_command, add_group
from .maintenance import admin_table, member_id_arg
from .output import go_quote, header_json, omit_empty

__all__ = [
    "MEMBER_HEADER",
    "initial_cluster_lines",
    "member_json",
    "member_row",
    "members_json",
    "register",
]

MEMBER_HEADER = ("ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner")


def member_row(member: Member) -> list[str]:
    """One row of ``member list``: an unnamed member has not started yet."""
    return [
        f"{member.id:x}",
        "started" if member.name else "unstarted",
        member.name,
        ",".join(member.peer_urls),
        ",".join(member.client_urls),
        "true" if member.is_learner else "false",
    ]


def member_json(member: Member) -> dict[str, Any]:
    """An etcdserverpb.Member as etcdctl's JSON shows it (``ID`` a number, zeros left out)."""
    return omit_empty(
        {
            "ID": member.id,
            "name": member.name,
            "peerURLs": list(member.peer_urls),
            "clientURLs": list(member.client_urls),
            "isLearner": member.is_learner,
        }
    )


def members_json(header: ResponseHeader, members: Sequence[Member]) -> dict[str, Any]:
    out: dict[str, Any] = {"header": header_json(header)}
    if members:
        out["members"] = [member_json(member) for member in members]
    return out


def initial_cluster_lines(
    name: str, new_id: int, peer_urls: Sequence[str], members: Sequence[Member]
) -> list[str]:
    """The settings ``member add`` prints for starting the new member: its name, the
    initial cluster (every member's peer URLs, the new one under ``name``), its peer URLs and
    ``existing`` as the cluster state."""
    cluster = ",".join(
        f"{name if member.id == new_id else member.name}={url}"
        for member in members
        for url in member.peer_urls
    )
    return [
        f"ETCD_NAME={go_quote(name)}",
        f"ETCD_INITIAL_CLUSTER={go_quote(cluster)}",
        f"ETCD_INITIAL_ADVERTISE_PEER_URLS={go_quote(','.join(peer_urls))}",
        'ETCD_INITIAL_CLUSTER_STATE="existing"',
    ]


def _peer_urls(text: str | None) -> list[str]:
    urls = [url.strip() for url in (text or "").split(",") if url.strip()]
    if not urls:
        raise CommandError("member peer urls not provided.", EXIT_BAD_ARGS)
    return urls


def _changes_only_simple_or_json(ctx: Context) -> None:
    if ctx.out.format not in ("simple", "json"):
        raise ctx.out.unsupported()


# ---- handlers --------------------------------------------------------------------------------


def _list(ctx: Context, args: argparse.Namespace) -> int:
    answer: MemberListResponse = ctx.client.cluster.member_list(
        serializable=args.consistency == "s"
    )
    out = ctx.out
    if out.format == "json":
        out.json(members_json(answer.header, answer.members))
    elif out.format == "table":
        out.stream.write(admin_table(MEMBER_HEADER, [member_row(m) for m in answer.members]))
    elif out.format == "fields":
        out.header_fields(answer.header)
        for member in answer.members:
            out.field("ID", member.id)
            out.field("Name", member.name)
            for url in member.peer_urls:
                out.field("PeerURL", url)
            for url in member.client_urls:
                out.field("ClientURL", url)
            out.field("IsLearner", member.is_learner)
            out.line()
    else:
        for member in answer.members:
            out.line(", ".join(member_row(member)))
    return 0


def _add(ctx: Context, args: argparse.Namespace) -> int:
    _changes_only_simple_or_json(ctx)
    urls = _peer_urls(args.peer_urls)
    answer = ctx.client.cluster.member_add(urls, is_learner=args.learner)
    out = ctx.out
    if out.format == "json":
        body: dict[str, Any] = {
            "header": header_json(answer.header),
            "member": member_json(answer.member),
        }
        if answer.members:
            body["members"] = [member_json(member) for member in answer.members]
        out.json(body)
        return 0
    out.line(f"Member {answer.member.id:16x} added to cluster {answer.header.cluster_id:16x}")
    out.line()
    for line in initial_cluster_lines(args.name, answer.member.id, urls, answer.members):
        out.line(line)
    return 0


def _remove(ctx: Context, args: argparse.Namespace) -> int:
    _changes_only_simple_or_json(ctx)
    member_id = member_id_arg(args.member_id)
    answer = ctx.client.cluster.member_remove(member_id)
    _changed(ctx, "removed from", member_id, answer.header, answer.members)
    return 0


def _update(ctx: Context, args: argparse.Namespace) -> int:
    _changes_only_simple_or_json(ctx)
    member_id = member_id_arg(args.member_id)
    answer = ctx.client.cluster.member_update(member_id, _peer_urls(args.peer_urls))
    _changed(ctx, "updated in", member_id, answer.header, answer.members)
    return 0


def _promote(ctx: Context, args: argparse.Namespace) -> int:
    _changes_only_simple_or_json(ctx)
    member_id = member_id_arg(args.member_id)
    answer = ctx.client.cluster.member_promote(member_id)
    _changed(ctx, "promoted in", member_id, answer.header, answer.members)
    return 0


def _changed(
    ctx: Context, what: str, member_id: int, header: ResponseHeader, members: Sequence[Member]
) -> None:
    if ctx.out.format == "json":
        ctx.out.json(members_json(header, members))
    else:
        ctx.out.line(f"Member {member_id:16x} {what} cluster {header.cluster_id:16x}")


# ---- registration ----------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    member = add_group(subparsers, "member", "membership: list, add, remove, update, promote")

    listing = add_command(member, "list", _list, "every member of the cluster")
    listing.add_argument(
        "--consistency",
        choices=("l", "s"),
        default="l",
        help="l: linearizable (default), s: serializable (answered from the member's state)",
    )

    add = add_command(member, "add", _add, "add a member (start it afterwards)")
    add.add_argument("name", metavar="NAME", help="the new member's name")
    add.add_argument("--peer-urls", dest="peer_urls", help="comma-separated peer URLs")
    add.add_argument("--learner", action="store_true", help="add as a non-voting learner")

    remove = add_command(member, "remove", _remove, "remove a member")
    remove.add_argument("member_id", metavar="MEMBER_ID", help="member ID in hex")

    update = add_command(member, "update", _update, "replace a member's peer URLs")
    update.add_argument("member_id", metavar="MEMBER_ID", help="member ID in hex")
    update.add_argument("--peer-urls", dest="peer_urls", help="comma-separated peer URLs")

    promote = add_command(member, "promote", _promote, "make a learner a voting member")
    promote.add_argument("member_id", metavar="MEMBER_ID", help="member ID in hex")

"""Access-control commands in etcdctl's shape: ``auth enable|disable|status``,
``user add|delete|get|list|passwd|grant-role|revoke-role`` and
``role add|delete|get|list|grant-permission|revoke-permission``.

Formats follow etcdctl 3.5: every command prints ``simple`` and ``json``; ``fields`` prints
the header (and a role's permissions, the role list) except for ``auth status``,
``user get`` and ``user list``; ``table`` is not supported. ``auth enable`` creates the
``root`` role (when missing) and grants it to the ``root`` user when that user lacks it, as
etcdctl does.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
from collections.abc import Sequence
from typing import Any

from ...errors import RoleAlreadyExists, RootRoleNotExist, UsageError
from ...types import AuthResponse, Permission, PermissionType, ResponseHeader, RoleGetResponse
from .common import EXIT_BAD_ARGS, CommandError, Context, add_command, add_group
from .output import b64, go_quote, header_json, omit_empty

__all__ = [
    "grant_range",
    "permission_json",
    "register",
    "revoke_text",
    "role_get_lines",
]

_ROOT = "root"


# ---- pure formatting -------------------------------------------------------------------------


def _prefix_end(key: bytes) -> bytes:
    """The end of the range of every key starting with ``key`` (``\\0``: no end)."""
    trimmed = bytearray(key)
    while trimmed:
        if trimmed[-1] < 0xFF:
            trimmed[-1] += 1
            return bytes(trimmed)
        trimmed.pop()
    return b"\0"


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _range_text(perm: Permission) -> str:
    key, end = _text(perm.key), _text(perm.range_end)
    if not perm.range_end:
        return key
    text = f"[{key}, {end})" if perm.range_end != b"\0" else f"[{key}, <open ended>"
    if _prefix_end(perm.key) == perm.range_end:
        text += f" (prefix {key})"
    return text


def role_get_lines(role: str, permissions: Sequence[Permission]) -> list[str]:
    """``role get`` as etcdctl prints it: the read, then the write permissions, each a key or a
    ``[start, end)`` range (``<open ended>`` for a key onwards, ``(prefix ...)`` when the range
    is a prefix)."""
    lines = [f"Role {role}", "KV Read:"]
    readable = (PermissionType.READ, PermissionType.READWRITE)
    writable = (PermissionType.WRITE, PermissionType.READWRITE)
    lines += [f"\t{_range_text(p)}" for p in permissions if p.perm_type in readable]
    lines.append("KV Write:")
    lines += [f"\t{_range_text(p)}" for p in permissions if p.perm_type in writable]
    return lines


def permission_json(perm: Permission) -> dict[str, Any]:
    return omit_empty(
        {
            "permType": perm.perm_type.value,
            "key": b64(perm.key) if perm.key else "",
            "range_end": b64(perm.range_end) if perm.range_end else "",
        }
    )


def revoke_text(role: str, key: bytes, range_end: bytes) -> str:
    if not range_end:
        return f"Permission of key {_text(key)} is revoked from role {role}"
    if range_end != b"\0":
        return f"Permission of range [{_text(key)}, {_text(range_end)}) is revoked from role {role}"
    return f"Permission of range [{_text(key)}, <open ended> is revoked from role {role}"


def grant_range(
    key: str, range_end: str | None, *, prefix: bool, from_key: bool
) -> tuple[bytes, bytes]:
    """``(key, range_end)`` from the permission arguments, with etcdctl's rules and errors: an
    empty key with --prefix or --from-key means every key."""
    if prefix and from_key:
        raise CommandError("--from-key and --prefix flags are mutually exclusive", EXIT_BAD_ARGS)
    if range_end is not None and (prefix or from_key):
        flag = "--prefix" if prefix else "--from-key"
        raise CommandError(f"unexpected endkey argument with {flag} flag", EXIT_BAD_ARGS)
    raw = key.encode()
    if not raw:
        return b"\0", (b"\0" if prefix or from_key else b"")
    if prefix:
        return raw, _prefix_end(raw)
    if from_key:
        return raw, b"\0"
    return raw, (range_end or "").encode()


def _header_only(ctx: Context, header: ResponseHeader, simple: str) -> None:
    """What most auth changes print: a sentence, the header as JSON, or the header fields."""
    out = ctx.out
    if out.format == "json":
        out.json({"header": header_json(header)})
    elif out.format == "fields":
        out.header_fields(header)
    else:
        out.line(simple)


def _no_table(ctx: Context) -> None:
    if ctx.out.format == "table":
        raise ctx.out.unsupported()


def _simple_or_json(ctx: Context) -> None:
    if ctx.out.format not in ("simple", "json"):
        raise ctx.out.unsupported()


# ---- auth ------------------------------------------------------------------------------------


def _auth_enable(ctx: Context, args: argparse.Namespace) -> int:
    auth = ctx.client.auth
    try:
        auth.auth_enable()
    except RootRoleNotExist:  # the root user lacks the root role: give it, as etcdctl does
        with contextlib.suppress(RoleAlreadyExists):
            auth.role_add(_ROOT)
        auth.user_grant_role(_ROOT, _ROOT)
        auth.auth_enable()
    ctx.out.line("Authentication Enabled")
    return 0


def _auth_disable(ctx: Context, args: argparse.Namespace) -> int:
    ctx.client.auth.auth_disable()
    ctx.out.line("Authentication Disabled")
    return 0


def _auth_status(ctx: Context, args: argparse.Namespace) -> int:
    _simple_or_json(ctx)
    status = ctx.client.auth.auth_status()
    if ctx.out.format == "json":
        body: dict[str, Any] = {"header": header_json(status.header)}
        body.update(omit_empty({"enabled": status.enabled, "authRevision": status.auth_revision}))
        ctx.out.json(body)
    else:
        ctx.out.line(f"Authentication Status: {'true' if status.enabled else 'false'}")
        ctx.out.line(f"AuthRevision: {status.auth_revision}")
    return 0


# ---- users -----------------------------------------------------------------------------------


def _read_password(ctx: Context, name: str, interactive: bool) -> str:
    """The password from stdin (its first word, as etcdctl's ``--interactive=false``), or asked
    twice on the terminal."""
    if not interactive:
        words = ctx.read_stdin().split()
        return words[0] if words else ""
    try:
        first = getpass.getpass(f"Password of {name}: ")
        if not first:
            raise CommandError("empty password", EXIT_BAD_ARGS)
        second = getpass.getpass(f"Type password of {name} again for confirmation: ")
    except EOFError:
        raise CommandError("failed to ask password: no terminal input", EXIT_BAD_ARGS) from None
    if first != second:
        raise CommandError("given passwords are different", EXIT_BAD_ARGS)
    return first


def _user_add(ctx: Context, args: argparse.Namespace) -> int:
    _no_table(ctx)
    password: str | None
    if args.no_password:
        user, password = args.user, None
    elif args.new_user_password:
        user, password = args.user, args.new_user_password
    elif ":" in args.user:
        user, password = args.user.split(":", 1)
        if not user:
            raise CommandError("empty user name is not allowed", EXIT_BAD_ARGS)
    else:
        user = args.user
        password = _read_password(ctx, user, args.interactive)
    if password == "":
        raise CommandError(
            "empty password (use --no-password for a user without one)", EXIT_BAD_ARGS
        )
    try:
        answer = ctx.client.auth.user_add(user, password)
    except UsageError as exc:
        raise CommandError(str(exc), EXIT_BAD_ARGS) from exc
    _header_only(ctx, answer.header, f"User {user} created")
    return 0


def _user_delete(ctx: Context, args: argparse.Namespace) -> int:
    _no_table(ctx)
    answer = ctx.client.auth.user_delete(args.user)
    _header_only(ctx, answer.header, f"User {args.user} deleted")
    return 0


def _user_get(ctx: Context, args: argparse.Namespace) -> int:
    _simple_or_json(ctx)
    auth = ctx.client.auth
    answer = auth.user_get(args.user)
    out = ctx.out
    if args.detail:
        out.line(f"User: {args.user}")
        for role in answer.roles:
            out.line()
            _print_role(ctx, role, auth.role_get(role))
    elif out.format == "json":
        body: dict[str, Any] = {"header": header_json(answer.header)}
        if answer.roles:
            body["roles"] = list(answer.roles)
        out.json(body)
    else:
        out.line(f"User: {args.user}")
        out.line("Roles:" + "".join(f" {role}" for role in answer.roles))
    return 0


def _user_list(ctx: Context, args: argparse.Namespace) -> int:
    _simple_or_json(ctx)
    answer = ctx.client.auth.user_list()
    if ctx.out.format == "json":
        body: dict[str, Any] = {"header": header_json(answer.header)}
        if answer.users:
            body["users"] = list(answer.users)
        ctx.out.json(body)
    else:
        for user in answer.users:
            ctx.out.line(user)
    return 0


def _user_passwd(ctx: Context, args: argparse.Namespace) -> int:
    _no_table(ctx)
    password = _read_password(ctx, args.user, args.interactive)
    answer = ctx.client.auth.user_change_password(args.user, password)
    _header_only(ctx, answer.header, "Password updated")
    return 0


def _user_grant_role(ctx: Context, args: argparse.Namespace) -> int:
    _no_table(ctx)
    answer = ctx.client.auth.user_grant_role(args.user, args.role)
    _header_only(ctx, answer.header, f"Role {args.role} is granted to user {args.user}")
    return 0


def _user_revoke_role(ctx: Context, args: argparse.Namespace) -> int:
    _no_table(ctx)
    answer = ctx.client.auth.user_revoke_role(args.user, args.role)
    _header_only(ctx, answer.header, f"Role {args.role} is revoked from user {args.user}")
    return 0


# ---- roles -----------------------------------------------------------------------------------


def _print_role(ctx: Context, role: str, answer: RoleGetResponse) -> None:
    out = ctx.out
    if out.format == "json":
        body: dict[str, Any] = {"header": header_json(answer.header)}
        if answer.permissions:
            body["perm"] = [permission_json(perm) for perm in answer.permissions]
        out.json(body)
    elif out.format == "fields":
        out.header_fields(answer.header)
        for perm in answer.permissions:
            out.line(f'"PermType" :  {perm.perm_type.name}')
            out.field("Key", perm.key)
            out.field("RangeEnd", perm.range_end)
    else:
        for line in role_get_lines(role, answer.permissions):
            out.line(line)


def _role_add(ctx: Context, args: argparse.Namespace) -> int:
    _no_table(ctx)
    answer = ctx.client.auth.role_add(args.role)
    _header_only(ctx, answer.header, f"Role {args.role} created")
    return 0


def _role_delete(ctx: Context, args: argparse.Namespace) -> int:
    _no_table(ctx)
    answer = ctx.client.auth.role_delete(args.role)
    _header_only(ctx, answer.header, f"Role {args.role} deleted")
    return 0


def _role_get(ctx: Context, args: argparse.Namespace) -> int:
    _no_table(ctx)
    _print_role(ctx, args.role, ctx.client.auth.role_get(args.role))
    return 0


def _role_list(ctx: Context, args: argparse.Namespace) -> int:
    _no_table(ctx)
    answer = ctx.client.auth.role_list()
    out = ctx.out
    if out.format == "json":
        body: dict[str, Any] = {"header": header_json(answer.header)}
        if answer.roles:
            body["roles"] = list(answer.roles)
        out.json(body)
    elif out.format == "fields":
        out.header_fields(answer.header)
        out.line('"Roles" :' + "".join(f" {go_quote(role)}" for role in answer.roles))
    else:
        for role in answer.roles:
            out.line(role)
    return 0


def _role_grant(ctx: Context, args: argparse.Namespace) -> int:
    _no_table(ctx)
    try:
        perm = PermissionType[args.perm_type.upper()]
    except KeyError:
        raise CommandError(f"invalid permission type {args.perm_type}", EXIT_BAD_ARGS) from None
    key, end = grant_range(args.key, args.range_end, prefix=args.prefix, from_key=args.from_key)
    answer: AuthResponse = ctx.client.auth.role_grant_permission(args.role, perm, key, end or None)
    _header_only(ctx, answer.header, f"Role {args.role} updated")
    return 0


def _role_revoke(ctx: Context, args: argparse.Namespace) -> int:
    _no_table(ctx)
    key, end = grant_range(args.key, args.range_end, prefix=args.prefix, from_key=args.from_key)
    answer = ctx.client.auth.role_revoke_permission(args.role, key, end or None)
    _header_only(ctx, answer.header, revoke_text(args.role, key, end))
    return 0


# ---- registration ----------------------------------------------------------------------------


def _interactive(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--interactive",
        type=lambda text: text.lower() in ("1", "t", "true", "yes"),
        nargs="?",
        const=True,
        default=True,
        metavar="BOOL",
        help="ask on the terminal (default); false: read the password from stdin",
    )


def _range_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("key", metavar="KEY")
    parser.add_argument("range_end", metavar="RANGE_END", nargs="?", default=None)
    parser.add_argument("--prefix", action="store_true", help="every key with KEY as prefix")
    parser.add_argument("--from-key", dest="from_key", action="store_true", help="KEY onwards")


def register(subparsers: Any) -> None:
    auth = add_group(subparsers, "auth", "enable or disable authentication")
    add_command(auth, "enable", _auth_enable, "enable authentication")
    add_command(auth, "disable", _auth_disable, "disable authentication")
    add_command(auth, "status", _auth_status, "whether authentication is enabled")

    user = add_group(subparsers, "user", "user commands")
    add = add_command(user, "add", _user_add, "add a user")
    add.add_argument("user", metavar="USER[:PASSWORD]")
    add.add_argument("--new-user-password", dest="new_user_password", default="")
    add.add_argument("--no-password", dest="no_password", action="store_true")
    _interactive(add)
    for verb, handler, text in (
        ("delete", _user_delete, "delete a user"),
        ("passwd", _user_passwd, "change a user's password"),
        ("get", _user_get, "a user and its roles"),
    ):
        parser = add_command(user, verb, handler, text)
        parser.add_argument("user", metavar="USER")
        if verb == "passwd":
            _interactive(parser)
        if verb == "get":
            parser.add_argument("--detail", action="store_true", help="show the roles' permissions")
    add_command(user, "list", _user_list, "every user")
    for verb, handler, text in (
        ("grant-role", _user_grant_role, "grant a role to a user"),
        ("revoke-role", _user_revoke_role, "revoke a role from a user"),
    ):
        parser = add_command(user, verb, handler, text)
        parser.add_argument("user", metavar="USER")
        parser.add_argument("role", metavar="ROLE")

    role = add_group(subparsers, "role", "role commands")
    for verb, handler, text in (
        ("add", _role_add, "add a role"),
        ("delete", _role_delete, "delete a role"),
        ("get", _role_get, "a role's permissions"),
    ):
        add_command(role, verb, handler, text).add_argument("role", metavar="ROLE")
    add_command(role, "list", _role_list, "every role")
    grant = add_command(role, "grant-permission", _role_grant, "grant a permission to a role")
    grant.add_argument("role", metavar="ROLE")
    grant.add_argument("perm_type", metavar="read|write|readwrite")
    _range_flags(grant)
    revoke = add_command(role, "revoke-permission", _role_revoke, "revoke a permission from a role")
    revoke.add_argument("role", metavar="ROLE")
    _range_flags(revoke)

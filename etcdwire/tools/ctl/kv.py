"""Key-value commands: get, put, del, txn, compaction (etcdctl's flags, checks and output)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from ... import Compare, Op
from ...errors import UsageError
from ...types import DeleteResponse, GetResponse, PutResponse, TxnResponse
from .common import (
    EXIT_BAD_ARGS,
    EXIT_BAD_FEATURE,
    EXIT_INVALID_INPUT,
    CommandError,
    Context,
    Parser,
    add_command,
    arg_bytes,
)
from .output import Output, header_json, kv_json, omit_empty

__all__ = [
    "argify",
    "delete_op",
    "get_op",
    "go_unquote",
    "parse_compare",
    "parse_request",
    "print_delete",
    "print_get",
    "print_put",
    "print_txn",
    "put_op",
    "register",
]

AnyOp = Any  # an Op of any kind (get, put, delete)


# ---- get -----------------------------------------------------------------------------------

_SORT_ORDERS = {"": None, "ASCEND": "ASCEND", "DESCEND": "DESCEND"}
_SORT_TARGETS = {
    "": None,
    "CREATE": "CREATE_REVISION",
    "KEY": "KEY",
    "MODIFY": "MOD_REVISION",
    "VALUE": "VALUE",
    "VERSION": "VERSION",
}


def _add_get_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("key", nargs="?", help="the key, or the start of the range")
    parser.add_argument("range_end", nargs="?", help="the end of the range [key, range_end)")
    parser.add_argument("--consistency", default="l", help="linearizable (l) or serializable (s)")
    parser.add_argument("--order", default="", help="ASCEND or DESCEND")
    parser.add_argument(
        "--sort-by", dest="sort_by", default="", help="CREATE, KEY, MODIFY, VALUE or VERSION"
    )
    parser.add_argument("--limit", type=int, default=0, help="maximum number of results")
    parser.add_argument("--prefix", action="store_true", help="every key with this prefix")
    parser.add_argument(
        "--from-key",
        dest="from_key",
        action="store_true",
        help="every key from this one on (byte order)",
    )
    parser.add_argument("--rev", type=int, default=0, help="read at this revision")
    parser.add_argument(
        "--keys-only", dest="keys_only", action="store_true", help="keys without values"
    )
    parser.add_argument(
        "--count-only",
        dest="count_only",
        action="store_true",
        help="only the number of keys (with -w fields)",
    )
    parser.add_argument(
        "--print-value-only",
        dest="print_value_only",
        action="store_true",
        help="values without keys (simple format)",
    )
    for bound in (
        "min-mod-revision",
        "max-mod-revision",
        "min-create-revision",
        "max-create-revision",
    ):
        parser.add_argument(
            f"--{bound}",
            dest=bound.replace("-", "_"),
            type=int,
            default=0,
            help=f"{bound.replace('-', ' ')} filter (0: none)",
        )


def get_op(args: argparse.Namespace) -> Any:
    """The read etcdctl's ``get`` would send for these arguments."""
    if args.key is None:
        raise CommandError(
            "get command needs one argument as key and an optional argument as range_end",
            EXIT_BAD_ARGS,
        )
    _check_range_flags(args)
    if args.keys_only and args.count_only:
        raise CommandError(
            "`--keys-only` and `--count-only` cannot be set at the same time, choose one",
            EXIT_BAD_ARGS,
        )
    if args.consistency not in ("l", "s"):
        raise CommandError(f"unknown consistency flag {args.consistency!r}", EXIT_BAD_FEATURE)
    order_name = args.order.upper()
    if order_name not in _SORT_ORDERS:
        raise CommandError(f"bad sort order {args.order}", EXIT_BAD_FEATURE)
    target_name = args.sort_by.upper()
    if target_name not in _SORT_TARGETS:
        raise CommandError(f"bad sort target {args.sort_by}", EXIT_BAD_FEATURE)
    ranged = bool(args.prefix or args.from_key or args.range_end is not None)
    order = _SORT_ORDERS[order_name] if ranged else None
    target = _SORT_TARGETS[target_name] if ranged else None
    return _usage(
        lambda: Op.get(
            arg_bytes(args.key),
            range_end=None if args.range_end is None else arg_bytes(args.range_end),
            prefix=args.prefix,
            from_key=args.from_key,
            limit=args.limit,
            revision=args.rev,
            sort_order=order,
            sort_target=target,
            serializable=args.consistency == "s",
            keys_only=args.keys_only,
            count_only=args.count_only,
            min_mod_revision=args.min_mod_revision,
            max_mod_revision=args.max_mod_revision,
            min_create_revision=args.min_create_revision,
            max_create_revision=args.max_create_revision,
        )
    )


def _usage(build: Callable[[], Any]) -> Any:
    try:
        return build()
    except UsageError as exc:
        raise CommandError(str(exc), EXIT_BAD_ARGS) from None


def get_json(response: GetResponse) -> dict[str, Any]:
    return omit_empty(
        {
            "header": header_json(response.header),
            "kvs": [kv_json(kv) for kv in response.kvs],
            "more": response.more,
            "count": response.count,
        }
    )


def print_get(out: Output, response: GetResponse) -> None:
    if out.format == "json":
        out.json(get_json(response))
    elif out.format == "fields":
        out.header_fields(response.header)
        for kv in response.kvs:
            out.kv_fields(kv)
        out.field("More", response.more)
        out.field("Count", response.count)
    elif out.format == "simple":
        for kv in response.kvs:
            out.kv(kv)
    else:
        raise out.unsupported()


def _get(ctx: Context, args: argparse.Namespace) -> int:
    op = get_op(args)
    if args.count_only and ctx.out.format != "fields":
        raise CommandError("--count-only is only for `--write-out=fields`", EXIT_BAD_ARGS)
    if args.print_value_only and ctx.out.format != "simple":
        raise CommandError("print-value-only is only for `--write-out=simple`", EXIT_BAD_ARGS)
    if ctx.out.format == "table":
        raise ctx.out.unsupported()
    ctx.out.value_only = args.print_value_only
    print_get(ctx.out, ctx.client.kv.do(op))
    return 0


# ---- put -----------------------------------------------------------------------------------


def _add_put_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("key", nargs="?")
    parser.add_argument("value", nargs="?", help="the value (read from stdin when omitted)")
    parser.add_argument("--lease", default="0", help="lease ID (hex) to attach the key to")
    parser.add_argument(
        "--prev-kv", dest="prev_kv", action="store_true", help="return the previous key-value"
    )
    parser.add_argument(
        "--ignore-value", dest="ignore_value", action="store_true", help="keep the current value"
    )
    parser.add_argument(
        "--ignore-lease", dest="ignore_lease", action="store_true", help="keep the current lease"
    )


def parse_lease_id(text: str) -> int:
    try:
        return int(text, 16)
    except ValueError:
        raise CommandError(f"bad lease ID ({text!r}), expecting ID in Hex", EXIT_BAD_ARGS) from None


def put_op(args: argparse.Namespace, stdin: TextIO | None) -> Any:
    """The write etcdctl's ``put`` would send (value from ``stdin`` when not given)."""
    if args.key is None:
        raise CommandError(
            "put command needs 1 argument and input from stdin or 2 arguments", EXIT_BAD_ARGS
        )
    if args.ignore_value and args.value is not None:
        raise CommandError(
            "put command needs only 1 argument when 'ignore-value' is set", EXIT_BAD_ARGS
        )
    value = b""
    if not args.ignore_value:
        if args.value is not None:
            value = arg_bytes(args.value)
        elif stdin is not None:
            value = _read_all(stdin)
        else:
            raise CommandError(
                "put command needs 1 argument and input from stdin or 2 arguments",
                EXIT_BAD_ARGS,
            )
    lease = parse_lease_id(args.lease)
    if args.ignore_lease and lease:
        raise CommandError(
            "put command needs no lease ID when 'ignore-lease' is set", EXIT_BAD_ARGS
        )
    return _usage(
        lambda: Op.put(
            arg_bytes(args.key),
            value,
            lease=lease,
            prev_kv=args.prev_kv,
            ignore_value=args.ignore_value,
            ignore_lease=args.ignore_lease,
        )
    )


def _read_all(stream: TextIO) -> bytes:
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        data: bytes = buffer.read()
        return data
    return stream.read().encode("utf-8")


def print_put(out: Output, response: PutResponse) -> None:
    if out.format == "json":
        out.json(
            omit_empty(
                {
                    "header": header_json(response.header),
                    "prev_kv": kv_json(response.prev_kv) if response.prev_kv else None,
                }
            )
        )
    elif out.format == "fields":
        out.header_fields(response.header)
        if response.prev_kv is not None:
            out.kv_fields(response.prev_kv, "Prev")
    elif out.format == "simple":
        out.line("OK")
        if response.prev_kv is not None:
            out.kv(response.prev_kv)
    else:
        raise out.unsupported()


def _put(ctx: Context, args: argparse.Namespace) -> int:
    op = put_op(args, ctx.stdin)
    if ctx.out.format == "table":
        raise ctx.out.unsupported()
    print_put(ctx.out, ctx.client.kv.do(op))
    return 0


# ---- del -----------------------------------------------------------------------------------


def _add_del_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("key", nargs="?")
    parser.add_argument("range_end", nargs="?")
    parser.add_argument("--prefix", action="store_true", help="delete keys with this prefix")
    parser.add_argument(
        "--prev-kv", dest="prev_kv", action="store_true", help="return the deleted key-values"
    )
    parser.add_argument(
        "--from-key",
        dest="from_key",
        action="store_true",
        help="delete every key from this one on (byte order)",
    )


def delete_op(args: argparse.Namespace) -> Any:
    if args.key is None:
        raise CommandError(
            "del command needs one argument as key and an optional argument as range_end",
            EXIT_BAD_ARGS,
        )
    _check_range_flags(args)
    return _usage(
        lambda: Op.delete(
            arg_bytes(args.key),
            range_end=None if args.range_end is None else arg_bytes(args.range_end),
            prefix=args.prefix,
            from_key=args.from_key,
            prev_kv=args.prev_kv,
        )
    )


def print_delete(out: Output, response: DeleteResponse) -> None:
    if out.format == "json":
        out.json(
            omit_empty(
                {
                    "header": header_json(response.header),
                    "deleted": response.deleted,
                    "prev_kvs": [kv_json(kv) for kv in response.prev_kvs],
                }
            )
        )
    elif out.format == "fields":
        out.header_fields(response.header)
        out.field("Deleted", response.deleted)
        for kv in response.prev_kvs:
            out.kv_fields(kv, "Prev")
    elif out.format == "simple":
        out.line(str(response.deleted))
        for kv in response.prev_kvs:
            out.kv(kv)
    else:
        raise out.unsupported()


def _delete(ctx: Context, args: argparse.Namespace) -> int:
    op = delete_op(args)
    if ctx.out.format == "table":
        raise ctx.out.unsupported()
    print_delete(ctx.out, ctx.client.kv.do(op))
    return 0


# ---- txn -----------------------------------------------------------------------------------

_GO_SIMPLE_ESCAPES = {
    "a": 0x07,
    "b": 0x08,
    "f": 0x0C,
    "n": 0x0A,
    "r": 0x0D,
    "t": 0x09,
    "v": 0x0B,
    "\\": 0x5C,
    '"': 0x22,
    "'": 0x27,
}


def go_unquote(quoted: str) -> bytes:
    """A Go string literal (double-quoted with escapes, or back-quoted raw) as bytes."""
    if len(quoted) >= 2 and quoted[0] == quoted[-1] == "`":
        return arg_bytes(quoted[1:-1])
    if len(quoted) < 2 or quoted[0] != '"' or quoted[-1] != '"':
        raise ValueError(f"not a quoted string: {quoted}")
    body, out, index = quoted[1:-1], bytearray(), 0
    while index < len(body):
        char = body[index]
        if char != "\\":
            out += arg_bytes(char)
            index += 1
            continue
        if index + 1 >= len(body):
            raise ValueError(f"bad escape at the end of {quoted}")
        code = body[index + 1]
        if code in _GO_SIMPLE_ESCAPES:
            out.append(_GO_SIMPLE_ESCAPES[code])
            index += 2
        elif code == "x":
            out.append(int(body[index + 2 : index + 4], 16))
            index += 4
        elif code in "uU":
            width = 4 if code == "u" else 8
            out += chr(int(body[index + 2 : index + 2 + width], 16)).encode("utf-8")
            index += 2 + width
        elif code in "01234567":
            out.append(int(body[index + 1 : index + 4], 8))
            index += 4
        else:
            raise ValueError(f"unknown escape \\{code} in {quoted}")
    return bytes(out)


_WORD = re.compile(r""""(?:[^"\\]|\\.)*"|'[^']*'|\S+""")


def argify(line: str) -> list[str]:
    """Split a txn request line into words as etcdctl does: double-quoted Go strings are
    unquoted, single-quoted ones taken literally, the rest split on spaces."""
    words = []
    for match in _WORD.finditer(line):
        word = match.group(0)
        if word.startswith('"') and len(word) >= 2 and word.endswith('"'):
            words.append(go_unquote(word).decode("utf-8", errors="surrogateescape"))
        elif word.startswith("'") and len(word) >= 2 and word.endswith("'"):
            words.append(word[1:-1])
        else:
            words.append(word)
    return words


_COMPARE = re.compile(
    r"""^\s*(?P<target>\w+)\(\s*(?P<key>"(?:[^"\\]|\\.)*"|`[^`]*`)\s*\)\s*"""
    r"""(?P<op>!=|=|<|>)\s*(?P<value>"(?:[^"\\]|\\.)*"|`[^`]*`)\s*$"""
)
_TARGETS = {
    "ver": "version",
    "version": "version",
    "c": "create_revision",
    "create": "create_revision",
    "m": "mod_revision",
    "mod": "mod_revision",
    "val": "value",
    "value": "value",
    "lease": "lease",
}


def parse_compare(line: str) -> Compare:
    """One compare line of etcdctl's txn grammar: ``target("key") op "operand"`` with target
    value|version|create|mod|lease (or val, ver, c, m) and op =, !=, < or >; numbers are
    decimal, a lease ID hex."""
    match = _COMPARE.match(line)
    if match is None:
        raise CommandError(f"malformed comparison: {line}", EXIT_INVALID_INPUT)
    target = _TARGETS.get(match["target"])
    if target is None:
        raise CommandError(
            f"malformed comparison: {line} (unknown target {match['target']})",
            EXIT_INVALID_INPUT,
        )
    try:
        key = go_unquote(match["key"])
        raw = go_unquote(match["value"])
        operand: bytes | int = raw
        if target == "lease":
            operand = int(raw.decode(), 16)
        elif target != "value":
            operand = int(raw.decode(), 10)
        subject = getattr(Compare, target)(key)
        op = match["op"]
        if op == "=":
            return subject == operand  # type: ignore[no-any-return]
        if op == "!=":
            return subject != operand  # type: ignore[no-any-return]
        if op == "<":
            return subject < operand  # type: ignore[no-any-return]
        return subject > operand  # type: ignore[no-any-return]
    except (ValueError, UsageError) as exc:
        raise CommandError(
            f"invalid txn compare request: {line} ({exc})", EXIT_INVALID_INPUT
        ) from None


def _request_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="txn request", add_help=False)
    verbs = parser.add_subparsers(dest="verb", parser_class=Parser)
    verbs.required = True
    _add_get_arguments(verbs.add_parser("get", add_help=False))
    _add_put_arguments(verbs.add_parser("put", add_help=False))
    _add_del_arguments(verbs.add_parser("del", add_help=False))
    return parser


def parse_request(line: str) -> AnyOp:
    """One request line of a txn branch: ``get``, ``put`` or ``del`` with the same arguments
    and flags as the commands of those names."""
    words = argify(line)
    if len(words) < 2:
        raise CommandError(f"invalid txn compare request: {line}", EXIT_INVALID_INPUT)
    try:
        args = _request_parser().parse_args(words)
        if args.verb == "get":
            return get_op(args)
        if args.verb == "put":
            return put_op(args, None)
        return delete_op(args)
    except CommandError as exc:
        raise CommandError(
            f"invalid txn request: {line} ({exc.message})", EXIT_INVALID_INPUT
        ) from None


def _lines(stream: TextIO) -> Iterator[str | None]:
    while True:
        line = stream.readline()
        yield None if line == "" else line.strip()


def read_txn(
    stream: TextIO, prompt: Callable[[str], None] | None = None
) -> tuple[list[Compare], list[AnyOp], list[AnyOp]]:
    """Read compares, then success and failure requests, each section ended by an empty line
    (or the end of the input), prompting for each section when ``prompt`` is given."""
    lines = _lines(stream)
    sections: list[list[Any]] = []
    for title, parse in (
        ("compares:", parse_compare),
        ("success requests (get, put, del):", parse_request),
        ("failure requests (get, put, del):", parse_request),
    ):
        if prompt is not None:
            prompt(title)
        items: list[Any] = []
        for line in lines:
            if not line:
                break
            items.append(parse(line))
        sections.append(items)
    return sections[0], sections[1], sections[2]


def txn_json(response: TxnResponse) -> dict[str, Any]:
    return omit_empty(
        {
            "header": header_json(response.header),
            "succeeded": response.succeeded,
            "responses": [_response_op_json(item) for item in response.responses],
        }
    )


def _response_op_json(item: Any) -> dict[str, Any]:
    if isinstance(item, GetResponse):
        return {"Response": {"response_range": get_json(item)}}
    if isinstance(item, PutResponse):
        body = omit_empty(
            {
                "header": header_json(item.header),
                "prev_kv": kv_json(item.prev_kv) if item.prev_kv else None,
            }
        )
        return {"Response": {"response_put": body}}
    if isinstance(item, DeleteResponse):
        body = omit_empty(
            {
                "header": header_json(item.header),
                "deleted": item.deleted,
                "prev_kvs": [kv_json(kv) for kv in item.prev_kvs],
            }
        )
        return {"Response": {"response_delete_range": body}}
    return {"Response": {"response_txn": txn_json(item)}}


def print_txn(out: Output, response: TxnResponse) -> None:
    if out.format == "json":
        out.json(txn_json(response))
        return
    if out.format == "fields":
        out.header_fields(response.header)
        out.field("Succeeded", response.succeeded)
    elif out.format == "simple":
        out.line("SUCCESS" if response.succeeded else "FAILURE")
    else:
        raise out.unsupported()
    for item in response.responses:
        if out.format == "simple":
            out.line()
        if isinstance(item, GetResponse):
            print_get(out, item)
        elif isinstance(item, PutResponse):
            print_put(out, item)
        elif isinstance(item, DeleteResponse):
            print_delete(out, item)
        else:
            print_txn(out, item)


def _txn(ctx: Context, args: argparse.Namespace) -> int:
    if ctx.out.format == "table":
        raise ctx.out.unsupported()
    interactive = args.interactive or (args.file is None and ctx.stdin.isatty())
    prompt = None
    if interactive:

        def prompt(title: str) -> None:
            ctx.out.line(title)
            ctx.out.flush()

    if args.file is not None:
        try:
            with open(args.file, encoding="utf-8", errors="surrogateescape") as stream:
                compares, success, failure = read_txn(stream, None)
        except OSError as exc:
            raise CommandError(f"cannot read {args.file}: {exc.strerror}", EXIT_BAD_ARGS) from None
    else:
        compares, success, failure = read_txn(ctx.stdin, prompt)
    response = ctx.client.kv.txn(compares, success, failure)
    print_txn(ctx.out, response)
    return 0


# ---- compaction ------------------------------------------------------------------------------


def _compaction(ctx: Context, args: argparse.Namespace) -> int:
    try:
        revision = int(args.revision)
    except ValueError:
        raise CommandError(f"invalid revision {args.revision!r}", EXIT_BAD_ARGS) from None
    ctx.client.kv.compact(revision, physical=args.physical)
    ctx.out.line(f"compacted revision {revision}")
    return 0


# ---- registration ----------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    _add_get_arguments(add_command(subparsers, "get", _get, "Gets the key or a range of keys"))
    _add_put_arguments(add_command(subparsers, "put", _put, "Puts the given key into the store"))
    _add_del_arguments(
        add_command(
            subparsers,
            "del",
            _delete,
            "Removes the specified key or range of keys",
            aliases=("delete",),
        )
    )
    txn = add_command(
        subparsers,
        "txn",
        _txn,
        "Txn processes all the requests in one transaction",
        description=(
            "Reads compares, success requests and failure requests from stdin (or --file), "
            "each section ended by an empty line, and runs them as one transaction. "
            'Compares: value("k") = "v", mod("k") > "5", version, create, lease (hex). '
            "Requests: get, put, del with their usual flags."
        ),
    )
    txn.add_argument("-i", "--interactive", action="store_true", help="prompt for each section")
    txn.add_argument("-f", "--file", help="read the transaction from FILE instead of stdin")
    compaction = add_command(
        subparsers, "compaction", _compaction, "Compacts the event history in etcd"
    )
    compaction.add_argument("revision")
    compaction.add_argument(
        "--physical",
        action="store_true",
        help="wait until the compacted history is removed from disk",
    )


def _check_range_flags(args: argparse.Namespace) -> None:
    """etcdctl's checks of a range given as --prefix, --from-key or a range end (get, del)."""
    if args.prefix and args.from_key:
        raise CommandError(
            "`--prefix` and `--from-key` cannot be set at the same time, choose one",
            EXIT_BAD_ARGS,
        )
    if args.range_end is not None and (args.prefix or args.from_key):
        flag = "--prefix" if args.prefix else "--from-key"
        raise CommandError(
            f"too many arguments, only accept one argument when `{flag}` is set.", EXIT_BAD_ARGS
        )

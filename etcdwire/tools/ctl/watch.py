"""``watch``: print each event as etcdctl does (PUT/DELETE, then the key-values) until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import subprocess
from typing import Any

from ...errors import Compacted, WatchCanceled
from ...types import EventType
from .common import (
    EXIT_BAD_ARGS,
    EXIT_INTERRUPTED,
    CommandError,
    Context,
    add_command,
    arg_bytes,
)
from .output import Output, go_quote, header_json, kv_json, omit_empty

__all__ = ["print_watch_response", "register"]

EXIT_INTERRUPTED_BY_SIGNAL = 130  # 128 + SIGINT, as a shell reports a program killed by it

#: How often the wait for events wakes up (so Ctrl-C is seen at once on every platform).
POLL = 0.5


def _event_json(event: Any) -> dict[str, Any]:
    return omit_empty(
        {
            "type": event.type.value,
            "kv": kv_json(event.kv),
            "prev_kv": kv_json(event.prev_kv) if event.prev_kv is not None else None,
        }
    )


def print_watch_response(out: Output, response: Any) -> None:
    """One watch response in etcdctl's shapes (its JSON is clientv3.WatchResponse, whose
    fields have no JSON tags: ``Header``, ``Events``...)."""
    if out.format == "json":
        out.json(
            {
                "Header": header_json(response.header),
                "Events": [_event_json(event) for event in response.events],
                "CompactRevision": 0,
                "Canceled": False,
                "Created": False,
            }
        )
    elif out.format == "fields":
        out.header_fields(response.header)
        for event in response.events:
            out.line(f'"Type" : {event.type.name}')
            if event.prev_kv is not None:
                out.kv_fields(event.prev_kv, "Prev")
            out.kv_fields(event.kv)
    else:
        for event in response.events:
            out.line("PUT" if event.type is EventType.PUT else "DELETE")
            if event.prev_kv is not None:
                out.kv(event.prev_kv)
            out.kv(event.kv)
    out.flush()


def _run_for_events(ctx: Context, command: list[str], response: Any) -> None:
    """Run ``command`` once per event, as etcdctl's ``watch -- CMD``: ETCD_WATCH_REVISION,
    and ETCD_WATCH_EVENT_TYPE/KEY/VALUE quoted as Go's %q; a failure ends the watch."""
    for event in response.events:
        env = dict(os.environ)
        env["ETCD_WATCH_REVISION"] = str(response.header.revision)
        env["ETCD_WATCH_EVENT_TYPE"] = go_quote(event.type.name)
        env["ETCD_WATCH_KEY"] = go_quote(event.kv.key)
        env["ETCD_WATCH_VALUE"] = go_quote(event.kv.value)
        ctx.out.flush()
        try:
            code = subprocess.run(command, env=env, check=False).returncode
        except OSError as exc:
            raise CommandError(f"command {command!r} error ({exc.strerror})") from None
        if code != 0:
            raise CommandError(f"command {command!r} error (exit status {code})")


def _watch(ctx: Context, args: argparse.Namespace) -> int:
    if args.key is None and args.range_end is None:
        # etcdctl reads these when no key is given on the command line
        args.key = ctx.environ.get("ETCDCTL_WATCH_KEY")
        args.range_end = ctx.environ.get("ETCDCTL_WATCH_RANGE_END")
    if args.key is None:
        raise CommandError("watch needs a key or prefix and an optional range end", EXIT_BAD_ARGS)
    if args.prefix and args.range_end is not None:
        raise CommandError("unexpected range_end with --prefix", EXIT_BAD_ARGS)
    if ctx.out.format == "table":
        raise ctx.out.unsupported()
    watch = ctx.client.watch(
        arg_bytes(args.key),
        range_end=None if args.range_end is None else arg_bytes(args.range_end),
        prefix=args.prefix,
        start_revision=args.rev,
        prev_kv=args.prev_kv,
        progress_notify=args.progress_notify,
    )
    try:
        watch.start(timeout=ctx.options.command_timeout)
        while True:
            response = watch.receive(timeout=POLL)
            if response is None:
                if watch.ended:
                    break
                continue
            if response.progress_notify:
                ctx.out.line(f"progress notify: {response.header.revision}")
                ctx.out.flush()
                continue
            if response.events:
                print_watch_response(ctx.out, response)
                if args.exec_command:
                    _run_for_events(ctx, args.exec_command, response)
    except KeyboardInterrupt:
        # etcdctl's watch dies of the SIGINT, which the shell reports as 130.
        watch.cancel()
        return EXIT_INTERRUPTED_BY_SIGNAL
    except (Compacted, WatchCanceled) as exc:
        ctx.warn(f"watch was canceled ({exc.message})")
        raise CommandError("watch is canceled by the server", EXIT_INTERRUPTED) from None
    raise CommandError("watch is canceled by the server", EXIT_INTERRUPTED)


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "watch",
        _watch,
        "Watches events stream on keys or prefixes",
        description=(
            "Watches a key, a range [key, range_end) or a prefix until Ctrl-C. "
            "`watch KEY -- CMD ARGS...` runs CMD for each event, with ETCD_WATCH_REVISION, "
            "ETCD_WATCH_EVENT_TYPE, ETCD_WATCH_KEY and ETCD_WATCH_VALUE set; without KEY, "
            "ETCDCTL_WATCH_KEY and ETCDCTL_WATCH_RANGE_END are read."
        ),
    )
    parser.set_defaults(exec_after_dash=True)
    parser.add_argument("key", nargs="?")
    parser.add_argument("range_end", nargs="?")
    parser.add_argument("--prefix", action="store_true", help="watch on a prefix")
    parser.add_argument("--rev", type=int, default=0, help="revision to start watching from")
    parser.add_argument(
        "--prev-kv",
        dest="prev_kv",
        action="store_true",
        help="get the previous key-value pair before the event happens",
    )
    parser.add_argument(
        "--progress-notify",
        dest="progress_notify",
        action="store_true",
        help="get periodic watch progress notifications from the server",
    )

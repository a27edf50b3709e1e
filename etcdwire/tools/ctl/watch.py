"""``watch``: print each event as etcdctl does (PUT/DELETE, then the key-values) until Ctrl-C.

``watch -i`` (interactive) reads commands from standard input, one per line, as etcdctl does:
``watch [options] KEY [RANGE_END] [-- CMD ARGS...]`` starts one more watch (all of them print
to the same output), ``progress`` asks the server for a progress notification. A line that is
not a valid command is reported on stderr and the rest go on; the end of the input ends the
command with etcdctl's error (exit 3)."""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import threading
from typing import Any

from ... import Watch
from ...errors import Compacted, EtcdError, WatchCanceled
from ...types import EventType
from .common import (
    EXIT_BAD_ARGS,
    EXIT_INTERRUPTED,
    EXIT_INTERRUPTED_BY_SIGNAL,
    EXIT_INVALID_INPUT,
    WAKE_INTERVAL,
    CommandError,
    Context,
    Parser,
    add_command,
    arg_bytes,
    describe,
)
from .kv import argify
from .output import Output, go_quote, header_json, kv_json, omit_empty

__all__ = ["print_watch_response", "register"]


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


def _open_watch(ctx: Context, args: argparse.Namespace) -> Watch:
    """The watch ``args`` ask for (key, range end or prefix, options), created on the server."""
    if args.key is None and args.range_end is None:
        # etcdctl reads these when no key is given on the command line
        args.key = ctx.environ.get("ETCDCTL_WATCH_KEY")
        args.range_end = ctx.environ.get("ETCDCTL_WATCH_RANGE_END")
    if args.key is None:
        raise CommandError("watch needs a key or prefix and an optional range end", EXIT_BAD_ARGS)
    if args.prefix and args.range_end is not None:
        raise CommandError("unexpected range_end with --prefix", EXIT_BAD_ARGS)
    watch = ctx.client.watch(
        arg_bytes(args.key),
        range_end=None if args.range_end is None else arg_bytes(args.range_end),
        prefix=args.prefix,
        start_revision=args.rev,
        prev_kv=args.prev_kv,
        progress_notify=args.progress_notify,
    )
    return watch.start(timeout=ctx.options.command_timeout)


def _follow(
    ctx: Context, watch: Watch, exec_command: list[str] | None, lock: threading.Lock | None
) -> None:
    """Print the watch's responses (and run ``exec_command`` per event) until it ends.
    ``lock``: held while printing, when several watches share the output."""
    held = lock if lock is not None else contextlib.nullcontext()
    while True:
        response = watch.receive(timeout=WAKE_INTERVAL)
        if response is None:
            if watch.ended:
                return
            continue
        with held:
            if response.progress_notify:
                ctx.out.line(f"progress notify: {response.header.revision}")
                ctx.out.flush()
                continue
            if response.events:
                print_watch_response(ctx.out, response)
                if exec_command:
                    _run_for_events(ctx, exec_command, response)


def _watch(ctx: Context, args: argparse.Namespace) -> int:
    if ctx.out.format == "table":
        raise ctx.out.unsupported()
    if args.interactive:
        if args.key is not None or args.exec_command:
            raise CommandError(
                "watch -i reads its watch commands from standard input, not the command line",
                EXIT_BAD_ARGS,
            )
        return _watch_interactive(ctx)
    watch: Watch | None = None
    try:
        watch = _open_watch(ctx, args)
        _follow(ctx, watch, args.exec_command, None)
    except KeyboardInterrupt:
        # etcdctl's watch dies of the SIGINT, which the shell reports as 130.
        if watch is not None:
            watch.cancel()
        return EXIT_INTERRUPTED_BY_SIGNAL
    except (Compacted, WatchCanceled) as exc:
        ctx.warn(f"watch was canceled ({exc.message})")
        raise CommandError("watch is canceled by the server", EXIT_INTERRUPTED) from None
    raise CommandError("watch is canceled by the server", EXIT_INTERRUPTED)


class _Interactive:
    """The watches ``watch -i`` started, each followed by a thread of its own."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.lock = threading.Lock()
        self.watches: list[Watch] = []
        self.parser = Parser(prog="watch", add_help=False)
        _add_watch_arguments(self.parser)

    def command(self, line: str) -> None:
        """Carry out one input line; a bad one is reported on stderr."""
        words = argify(line)
        if not words:
            self.warn(f"Invalid command: {line} (watch and progress supported)")
        elif words[0] == "progress" and len(words) == 1:
            if self.watches:
                self.watches[-1].request_progress()
            else:
                self.warn(f"Invalid command {line} (no watch to report progress on)")
        elif words[0] != "watch":
            self.warn(f"Invalid command {line} (only watch and progress are supported)")
        else:
            try:
                self.start(words[1:])
            except CommandError as exc:
                self.warn(f"Invalid command {line} ({exc.message})")
            except (Compacted, WatchCanceled) as exc:
                self.warn(f"watch was canceled ({exc.message})")
            except EtcdError as exc:  # the others go on
                self.warn(f"Error: {describe(exc)}")

    def start(self, words: list[str]) -> None:
        exec_command = None
        if "--" in words:
            index = words.index("--")
            words, exec_command = words[:index], words[index + 1 :]
            if not exec_command:
                raise CommandError("bad number of arguments (found separator --, but no commands)")
        args = self.parser.parse_args(words)
        if args.key is None and "ETCDCTL_WATCH_KEY" not in self.ctx.environ:
            raise CommandError("command type or key is not provided")
        watch = _open_watch(self.ctx, args)
        self.watches.append(watch)
        thread = threading.Thread(
            target=self._run, args=(watch, exec_command), name="etcdwire-watch-i", daemon=True
        )
        thread.start()

    def _run(self, watch: Watch, exec_command: list[str] | None) -> None:
        try:
            _follow(self.ctx, watch, exec_command, self.lock)
        except (Compacted, WatchCanceled) as exc:
            self.warn(f"watch was canceled ({exc.message})")
        except CommandError as exc:  # the per-event command failed: this watch ends
            watch.cancel()
            self.warn(exc.message)
        except EtcdError as exc:  # this watch ends, the others go on
            watch.cancel()
            self.warn(f"Error: {describe(exc)}")

    def warn(self, message: str) -> None:
        with self.lock:
            self.ctx.warn(message)

    def cancel_all(self) -> None:
        for watch in self.watches:
            watch.cancel()


def _watch_interactive(ctx: Context) -> int:
    session = _Interactive(ctx)
    try:
        while line := ctx.stdin.readline():
            session.command(line.rstrip("\r\n"))
    except KeyboardInterrupt:
        session.cancel_all()
        return EXIT_INTERRUPTED_BY_SIGNAL
    session.cancel_all()
    raise CommandError("error reading watch request line: EOF", EXIT_INVALID_INPUT)


def _add_watch_arguments(parser: argparse.ArgumentParser) -> None:
    """The key, range end and options of one watch (the command line's and ``watch -i``'s)."""
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
            "ETCDCTL_WATCH_KEY and ETCDCTL_WATCH_RANGE_END are read. `watch -i` reads "
            "`watch [options] KEY [RANGE_END] [-- CMD ...]` and `progress` lines from stdin."
        ),
    )
    parser.set_defaults(exec_after_dash=True)
    _add_watch_arguments(parser)
    parser.add_argument(
        "-i",
        "--interactive",
        action="store_true",
        help="read watch commands from standard input, one per line",
    )

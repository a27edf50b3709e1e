"""etcdctl-style commands of the ``etcdwire`` command line.

Each module in :data:`COMMAND_MODULES` exposes ``register(subparsers)``, adding its commands
with :func:`.common.add_command` (each with a ``handler(ctx, args) -> int``). :func:`run`
parses the command line (global flags before or after the command word), combines them with
the ETCDCTL_* environment, installs the trace hook, calls the handler and turns every failure
into one ``Error: ...`` line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from ...errors import EtcdError
from .common import (
    EXIT_BAD_ARGS,
    EXIT_BAD_FEATURE,
    EXIT_ERROR,
    EXIT_INTERRUPTED_BY_SIGNAL,
    CommandError,
    Context,
    GlobalOptions,
    Parser,
    add_global_flags,
    describe,
    normalize_bool_flags,
    open_trace_file,
    resolve_options,
)
from .output import UnsupportedFormat

__all__ = ["COMMAND_MODULES", "build_parser", "run"]

logger = logging.getLogger("etcdwire.tools.ctl")

#: Command modules, in help order. A module that is not there yet is left out.
COMMAND_MODULES = (
    "kv",
    "lease",
    "watch",
    "mirror",
    "concurrency",
    "info",
    "cluster",
    "maintenance",
    "auth",
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="etcdwire",
        description=(
            "etcd v3 client with its own HTTP/2 and gRPC transport. etcdctl's commands and "
            "flags, plus --trace; also `etcdwire demo`, `etcdwire spy`, `etcdwire bench`."
        ),
    )
    add_global_flags(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    subparsers.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def _trace_hook(options: GlobalOptions, stderr: TextIO, files: list[TextIO]) -> Any:
    """The trace hook for --trace / --trace-file (None when neither is given)."""
    hooks: list[Any] = []
    if options.trace:
        hooks.append(_printer(stderr, options.color))
    if options.trace_file:
        stream = open_trace_file(options.trace_file)
        files.append(stream)
        hooks.append(_json_writer(stream))
    if not hooks:
        return None
    if len(hooks) == 1:
        return hooks[0]

    def both(event: Any) -> None:
        for hook in hooks:
            hook(event)

    return both


def _printer(stderr: TextIO, colour: str) -> Any:
    try:
        from ..tracefmt import TracePrinter, colour_enabled
    except ImportError:  # the formatter of the trace module is enough without it
        from ...trace import TraceWriter

        return TraceWriter(stderr, decode_messages=True)
    return TracePrinter(stderr, colour=colour_enabled(stderr, colour))


def _json_writer(stream: TextIO) -> Any:
    try:
        from ..tracefmt import JsonTraceWriter
    except ImportError as exc:
        raise CommandError("--trace-file needs etcdwire.tools.tracefmt", EXIT_BAD_FEATURE) from exc
    return JsonTraceWriter(stream)


def run(
    argv: Sequence[str],
    *,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """Run one etcdctl-style command line; returns the exit status."""
    err = stderr or sys.stderr
    env = os.environ if environ is None else environ
    files: list[TextIO] = []
    ctx: Context | None = None
    try:
        parser = build_parser()
        if not argv:  # as etcdctl: the help, on stdout
            parser.print_help(stdout or sys.stdout)
            return 0
        words, after_dash = _split_exec(parser, normalize_bool_flags(argv))
        args = parser.parse_args(words)
        args.exec_command = after_dash or []
        options = resolve_options(args, env)
        if options.debug:
            logging.basicConfig(level=logging.DEBUG, stream=err)
        ctx = Context(
            options,
            environ=env,
            stdout=stdout,
            stderr=err,
            stdin=stdin,
            trace=_trace_hook(options, err, files),
        )
        code: int = args.handler(ctx, args)
        ctx.out.flush()
        return code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED_BY_SIGNAL
    except CommandError as exc:
        _error(err, exc.message)
        return exc.code
    except UnsupportedFormat as exc:
        _error(err, str(exc))
        return EXIT_BAD_FEATURE
    except EtcdError as exc:
        _error(err, describe(exc))
        return EXIT_ERROR
    except BrokenPipeError:
        return EXIT_ERROR
    except SystemExit as exc:  # argparse's --help
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_ARGS
    finally:
        if ctx is not None:
            with contextlib.suppress(KeyboardInterrupt):
                ctx.close()
        for stream in files:
            stream.close()


def _split_exec(
    parser: argparse.ArgumentParser, argv: list[str]
) -> tuple[list[str], list[str] | None]:
    """``watch key -- CMD ARGS...``: for commands that run a program (their parser sets
    ``exec_after_dash``), the words after the first ``--`` are that program, as in etcdctl.
    For the others ``--`` keeps its usual meaning (``put -- key -value``)."""
    if "--" not in argv:
        return argv, None
    index = argv.index("--")
    try:
        probe = parser.parse_args(argv[:index])
    except CommandError:
        return argv, None
    if getattr(probe, "exec_after_dash", False):
        return argv[:index], argv[index + 1 :]
    return argv, None


def _error(stream: TextIO, message: str) -> None:
    stream.write(f"Error: {message}\n")
    stream.flush()

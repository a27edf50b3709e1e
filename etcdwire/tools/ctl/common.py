"""What every etcdctl-style command shares: global flags (before or after the command word),
the ETCDCTL_* environment, the client built from them, the output writer, and errors.

A command module exposes ``register(subparsers)`` and adds its commands with
:func:`add_command` (or :func:`add_group` for ``lease grant``-style pairs). Each command has a
``handler(ctx, args) -> int``; ``ctx`` is a :class:`Context` that builds the client on first
use (``ctx.client``) and holds the :class:`~.output.Output` (``ctx.out``). Handlers report
failures by raising :class:`CommandError` (or letting an ``EtcdError`` through): the dispatcher
prints one ``Error: ...`` line and exits non-zero.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, TextIO

from ... import Client
from ...errors import DeadlineExceeded, EtcdError, RpcError, TransportError
from ...trace import TraceHook
from .output import FORMATS, Output

__all__ = [
    "EXIT_BAD_ARGS",
    "EXIT_BAD_CONNECTION",
    "EXIT_BAD_FEATURE",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_INTERRUPTED_BY_SIGNAL",
    "EXIT_INVALID_INPUT",
    "WAKE_INTERVAL",
    "CommandError",
    "Context",
    "GlobalOptions",
    "Handler",
    "Parser",
    "add_command",
    "add_global_flags",
    "add_group",
    "arg_bytes",
    "describe",
    "dial_or_fail",
    "normalize_bool_flags",
    "parse_bool",
    "parse_duration",
    "resolve_options",
    "with_scheme",
]

# etcdctl's exit codes (etcdctl/ctlv3/command/error.go)
EXIT_ERROR = 1
EXIT_BAD_CONNECTION = 2
EXIT_INVALID_INPUT = 3
EXIT_BAD_FEATURE = 4
EXIT_INTERRUPTED = 5
EXIT_BAD_ARGS = 128
#: A command ended by Ctrl-C: etcdctl's long-running commands die of the SIGINT, which a
#: shell reports as 128 + 2.
EXIT_INTERRUPTED_BY_SIGNAL = 130
#: How often a command waiting for events wakes up, so that Ctrl-C is seen at once on every
#: platform.
WAKE_INTERVAL = 0.5

Handler = Callable[["Context", argparse.Namespace], int]


class CommandError(Exception):
    """A command failed; ``message`` goes on one ``Error:`` line, ``code`` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class Parser(argparse.ArgumentParser):
    """argparse that raises :class:`CommandError` (exit 128, one line) instead of printing the
    usage and exiting 2."""

    def error(self, message: str) -> NoReturn:
        raise CommandError(message, EXIT_BAD_ARGS)


def arg_bytes(text: str) -> bytes:
    """A command-line argument as the bytes typed (bytes that are not UTF-8 are kept as they
    were, through Python's surrogateescape decoding of argv)."""
    return text.encode("utf-8", errors="surrogateescape")


# ---- durations -------------------------------------------------------------------------------

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds from a Go duration (``2s``, ``500ms``, ``1m30s``) or a plain number of seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    position, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(text) or not text:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (e.g. 2s, 500ms, 1m)")
    return total


def _duration(text: str) -> float:
    return parse_duration(text)


def parse_bool(text: str) -> bool:
    """A boolean flag or variable value as Go's flag package reads it (true/false, 1/0...)."""
    lowered = text.strip().lower()
    if lowered in ("1", "t", "true", "yes", "on"):
        return True
    if lowered in ("0", "f", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")


# ---- global flags ----------------------------------------------------------------------------


@dataclass
class GlobalOptions:
    """The global flags after flags, ETCDCTL_* variables and defaults were combined."""

    endpoints: list[str] = field(default_factory=lambda: ["127.0.0.1:2379"])
    user: str | None = None
    password: str | None = None
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None
    insecure_skip_tls_verify: bool = False
    insecure_transport: bool = True
    dial_timeout: float = 2.0
    command_timeout: float = 5.0
    write_out: str = "simple"
    hex: bool = False
    trace: bool = False
    trace_file: str | None = None
    color: str = "auto"
    debug: bool = False


#: flag dest -> (ETCDCTL_* variable, converter)
_ENV: dict[str, tuple[str, Callable[[str], Any]]] = {
    "endpoints": ("ETCDCTL_ENDPOINTS", lambda v: v),
    "user": ("ETCDCTL_USER", lambda v: v),
    "password": ("ETCDCTL_PASSWORD", lambda v: v),
    "cacert": ("ETCDCTL_CACERT", lambda v: v),
    "cert": ("ETCDCTL_CERT", lambda v: v),
    "key": ("ETCDCTL_KEY", lambda v: v),
    "dial_timeout": ("ETCDCTL_DIAL_TIMEOUT", parse_duration),
    "command_timeout": ("ETCDCTL_COMMAND_TIMEOUT", parse_duration),
    "write_out": ("ETCDCTL_WRITE_OUT", lambda v: v),
    "insecure_skip_tls_verify": ("ETCDCTL_INSECURE_SKIP_TLS_VERIFY", parse_bool),
    "insecure_transport": ("ETCDCTL_INSECURE_TRANSPORT", parse_bool),
    "hex": ("ETCDCTL_HEX", parse_bool),
}

GLOBAL_DESTS = tuple(name for name in GlobalOptions.__dataclass_fields__)
GLOBAL_PREFIX = "global_"


def add_global_flags(parser: argparse.ArgumentParser) -> None:
    """Add the global flags to ``parser``. Every default is SUPPRESS, so a flag given after
    the command word (parsed by the sub-parser) and one given before it (by the top parser)
    land in the same namespace without one erasing the other."""
    group = parser.add_argument_group("global options")
    sup = argparse.SUPPRESS

    def add(*flags: str, dest: str, **kwargs: Any) -> None:
        # Global dests carry a prefix so that no command argument (``get key``, ``put key``)
        # can collide with a global flag (``--key``).
        group.add_argument(*flags, dest=GLOBAL_PREFIX + dest, default=sup, **kwargs)

    def add_bool(flag: str, dest: str, help: str) -> None:
        # Go's boolean flags: ``--flag`` or ``--flag=true|false``, never a separate word (so
        # ``--hex get k`` reads as it should); normalize_bool_flags turns ``--flag=false``
        # into the hidden ``--no-flag``.
        add(flag, dest=dest, action="store_true", help=help)
        add("--no-" + flag[2:], dest=dest, action="store_false", help=argparse.SUPPRESS)

    add(
        "--endpoints",
        dest="endpoints",
        metavar="HOST:PORT,...",
        help="comma-separated gRPC endpoints (default 127.0.0.1:2379)",
    )
    add("--user", dest="user", metavar="USER[:PASSWORD]", help="username[:password] for auth")
    add(
        "--password",
        dest="password",
        metavar="PASSWORD",
        help="password for auth (when --user has none)",
    )
    add("--cacert", dest="cacert", metavar="FILE", help="CA bundle to verify servers")
    add("--cert", dest="cert", metavar="FILE", help="client certificate")
    add("--key", dest="key", metavar="FILE", help="client key")
    add_bool(
        "--insecure-skip-tls-verify",
        "insecure_skip_tls_verify",
        "skip server certificate verification (testing only)",
    )
    add_bool(
        "--insecure-transport",
        "insecure_transport",
        "plain TCP when no TLS option is given (default true)",
    )
    add(
        "--dial-timeout",
        dest="dial_timeout",
        type=_duration,
        metavar="DURATION",
        help="connection timeout (default 2s)",
    )
    add(
        "--command-timeout",
        dest="command_timeout",
        type=_duration,
        metavar="DURATION",
        help="timeout of a short command (default 5s)",
    )
    add(
        "-w",
        "--write-out",
        dest="write_out",
        choices=FORMATS,
        help="output format: simple, json, table or fields",
    )
    add_bool("--hex", "hex", "print keys and values as hex")
    add_bool("--trace", "trace", "print every HTTP/2 frame and gRPC message to stderr")
    add(
        "--trace-file",
        dest="trace_file",
        metavar="FILE",
        help="write the trace as JSON lines to FILE",
    )
    add(
        "--color",
        "--colour",
        dest="color",
        choices=("auto", "always", "never"),
        help="colour the trace: auto (on a terminal), always, never",
    )
    add_bool("--debug", "debug", "log at DEBUG level to stderr")


BOOL_FLAGS = ("--hex", "--insecure-skip-tls-verify", "--insecure-transport", "--debug", "--trace")


def normalize_bool_flags(argv: Sequence[str]) -> list[str]:
    """``--flag=true`` becomes ``--flag`` and ``--flag=false`` ``--no-flag`` for the global
    boolean flags (Go's flag syntax; argparse's store_true takes no value)."""
    out: list[str] = []
    for index, arg in enumerate(argv):
        if arg == "--":
            out.extend(argv[index:])
            break
        name, sep, value = arg.partition("=")
        if sep and name in BOOL_FLAGS:
            try:
                on = parse_bool(value)
            except argparse.ArgumentTypeError:
                message = f"invalid argument {value!r} for {name}"
                raise CommandError(message, EXIT_BAD_ARGS) from None
            out.append(name if on else "--no-" + name[2:])
        else:
            out.append(arg)
    return out


def resolve_options(args: argparse.Namespace, environ: Mapping[str, str]) -> GlobalOptions:
    """Flags win over ETCDCTL_* variables, which win over the defaults."""
    options = GlobalOptions()
    for dest in GLOBAL_DESTS:
        if hasattr(args, GLOBAL_PREFIX + dest):
            value = getattr(args, GLOBAL_PREFIX + dest)
        elif dest in _ENV and _ENV[dest][0] in environ:
            name, convert = _ENV[dest]
            try:
                value = convert(environ[name])
            except (argparse.ArgumentTypeError, ValueError) as exc:
                raise CommandError(f"invalid {name}: {exc}", EXIT_BAD_ARGS) from None
        else:
            continue
        if dest == "endpoints":
            value = [item.strip() for item in str(value).split(",") if item.strip()]
            if not value:
                raise CommandError("no endpoints given", EXIT_BAD_ARGS)
        setattr(options, dest, value)
    if options.write_out not in FORMATS:
        raise CommandError(f"unknown output format {options.write_out!r}", EXIT_BAD_ARGS)
    if options.user is not None and ":" in options.user:
        if options.password is not None and hasattr(args, GLOBAL_PREFIX + "password"):
            raise CommandError(
                "--user with a password cannot be combined with --password", EXIT_BAD_ARGS
            )
        options.user, options.password = options.user.split(":", 1)
    if options.password is not None and options.user is None:
        raise CommandError("--password needs --user", EXIT_BAD_ARGS)
    return options


# ---- command registration --------------------------------------------------------------------


@functools.cache
def _global_parent() -> argparse.ArgumentParser:
    parent = Parser(add_help=False)
    add_global_flags(parent)
    return parent


def add_command(
    subparsers: Any,
    name: str,
    handler: Handler,
    help: str,
    *,
    aliases: Sequence[str] = (),
    description: str | None = None,
) -> argparse.ArgumentParser:
    """Add command ``name`` (with the global flags accepted after it) and return its parser
    for the command's own arguments."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help,
        description=description or help,
        aliases=list(aliases),
        parents=[_global_parent()],
    )
    parser.set_defaults(handler=handler)
    return parser


def add_group(subparsers: Any, name: str, help: str) -> Any:
    """Add a command group (``lease``, ``member``...) and return its sub-parsers, to which
    :func:`add_command` adds the verbs (``grant``, ``list``...)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help=help, description=help, parents=[_global_parent()]
    )
    verbs = parser.add_subparsers(dest=f"{name}_verb", metavar="COMMAND", parser_class=Parser)
    verbs.required = True
    return verbs


# ---- the context handed to handlers -----------------------------------------------------------


class Context:
    """What a handler gets: the resolved options, the output, stdin/stderr, the environment,
    and the client (built on first use, closed by the dispatcher)."""

    def __init__(
        self,
        options: GlobalOptions,
        *,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        stdin: TextIO | None = None,
        trace: TraceHook | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.options = options
        self.environ: Mapping[str, str] = {} if environ is None else environ
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.stdin = stdin or sys.stdin
        self.trace = trace
        self.out = Output(self.stdout, options.write_out, hex=options.hex)
        self._client: Client | None = None
        self._closers: list[Callable[[], None]] = []

    @property
    def client(self) -> Client:
        """The client for ``--endpoints``, connected within ``--dial-timeout``."""
        if self._client is None:
            self._client = self.make_client(dial=True)
        return self._client

    def make_client(self, endpoints: Sequence[str] | None = None, *, dial: bool = False) -> Client:
        """A new client from the global options (``endpoints`` overrides ``--endpoints``; the
        admin commands use it to talk to one member at a time). Closed with the context.
        ``dial``: connect now, and fail with one ``Error:`` line (exit 2) when no endpoint
        answers within ``--dial-timeout``."""
        opts = self.options
        tls_files = bool(opts.cacert or opts.cert or opts.key)
        use_tls = tls_files or opts.insecure_skip_tls_verify or not opts.insecure_transport
        targets = [with_scheme(endpoint, use_tls) for endpoint in (endpoints or opts.endpoints)]
        client = Client(
            targets,
            timeout=opts.command_timeout,
            username=opts.user,
            password=opts.password,
            ca_file=opts.cacert,
            cert_file=opts.cert,
            key_file=opts.key,
            insecure_skip_verify=opts.insecure_skip_tls_verify,
            connect_timeout=opts.dial_timeout,
            trace=self.trace,
        )
        self._closers.append(client.close)
        if dial:
            dial_or_fail(client, opts.dial_timeout)
        return client

    def on_close(self, closer: Callable[[], None]) -> None:
        """Run ``closer`` when the command ends (after its output)."""
        self._closers.append(closer)

    def close(self) -> None:
        while self._closers:
            closer = self._closers.pop()
            with contextlib.suppress(Exception):  # must not hide the command's own result
                closer()

    def read_stdin(self) -> str:
        return self.stdin.read()

    def warn(self, message: str) -> None:
        self.stderr.write(message + "\n")
        self.stderr.flush()


def dial_or_fail(client: Client, timeout: float) -> None:
    """Connect ``client`` now; fail with one ``Error:`` line (exit 2) when no endpoint
    answers within ``timeout`` seconds."""
    try:
        client.manager.channel(time.monotonic() + timeout)
    except (TransportError, DeadlineExceeded) as exc:
        targets = ",".join(client.endpoints)
        raise CommandError(
            f"cannot connect to {targets} within the dial timeout ({timeout:g}s): "
            + _dial_cause(exc),
            EXIT_BAD_CONNECTION,
        ) from None


def _dial_cause(exc: EtcdError) -> str:
    """Why no endpoint could be reached: the last failure of each endpoint tried."""
    last: dict[str, str] = {}
    for endpoint, error in getattr(exc, "attempts", ()):
        text = error.message if isinstance(error, EtcdError) else str(error)
        last[endpoint] = _one_line(text)
    if not last:
        return _one_line(exc)
    if len(last) == 1:
        return next(iter(last.values()))
    return "; ".join(f"{endpoint}: {text}" for endpoint, text in last.items())


def with_scheme(endpoint: str, tls: bool) -> str:
    """``endpoint`` as a URL: ``host:port`` gets ``https://`` or ``http://`` by ``tls``."""
    if "://" in endpoint:
        return endpoint
    return ("https://" if tls else "http://") + endpoint


def open_trace_file(path: str) -> TextIO:
    try:
        return open(path, "a", encoding="utf-8")
    except OSError as exc:
        message = f"cannot open trace file {path}: {exc.strerror}"
        raise CommandError(message, EXIT_BAD_ARGS) from None


def describe(exc: EtcdError) -> str:
    """One line for an error: etcd's own message for RPC errors (as etcdctl prints it), the
    cause per endpoint when no endpoint could be reached."""
    if isinstance(exc, RpcError):
        return _one_line(exc.message) or exc.code.name
    return _one_line(exc) or type(exc).__name__


def _one_line(exc: BaseException | str) -> str:
    return " ".join(str(exc).split())

"""``etcdwire bench``: a load generator in the shape of etcd's ``benchmark`` tool.

::

    etcdwire bench put --embedded --total 20000 --clients 16 --conns 2 --plot put.png
    etcdwire bench range --endpoints 10.0.0.1:2379 --consistency s --total 50000 --clients 8
    etcdwire bench watch --streams 10 --watch-per-stream 100 --put-total 1000
    etcdwire bench lease-keepalive --engine async --clients 64 --conns 4

Subcommands put, range, txn-put, watch, watch-latency and lease-keepalive; ``--clients``
workers share ``--conns`` clients (one connection each), as threads over ``etcdwire.Client``
(``--engine sync``) or tasks over ``etcdwire.AsyncClient`` (``--engine async``). At the end it
prints etcd's summary (total, slowest, fastest, average, stddev, requests/sec), the response
time histogram, the latency distribution and the errors by type. ``--json`` writes that summary
as JSON, ``--csv`` one row per request, ``--plot`` a PNG of latency over time and its histogram.
``--embedded`` runs against a throwaway local etcd, started and removed by the command.

Exit status: 0 when every request succeeded, 1 when some failed or the run could not start,
2 for bad usage, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from ..errors import EtcdError, UsageError
from .bench_flows import FLOWS, Config, validate
from .bench_run import AsyncEngine, PhaseResult, SyncEngine
from .bench_stats import Summary, format_summary, summarize, summary_json, write_csv

__all__ = ["build_parser", "main"]

PROG = "etcdwire bench"


class _Usage(Exception):
    """A bad combination of flags, reported like argparse's own errors."""


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {text}")
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    target = parser.add_argument_group("target")
    target.add_argument(
        "--endpoints",
        default="127.0.0.1:2379",
        help="comma-separated etcd endpoints (default 127.0.0.1:2379)",
    )
    target.add_argument(
        "--embedded",
        action="store_true",
        help="start a throwaway local etcd for the run and remove it afterwards",
    )
    target.add_argument("--cacert", help="verify the server with this CA bundle")
    target.add_argument("--cert", help="client certificate (TLS)")
    target.add_argument("--key", help="client key (TLS)")
    target.add_argument(
        "--insecure-skip-tls-verify", action="store_true", help="do not verify the server"
    )
    target.add_argument("--user", help="username[:password] for etcd auth")
    target.add_argument("--password", help="password for --user")
    target.add_argument(
        "--dial-timeout",
        type=float,
        default=5.0,
        help="seconds to connect and answer a first request (default 5)",
    )
    target.add_argument(
        "--command-timeout",
        type=float,
        default=30.0,
        help="seconds each request may take before it counts as failed (default 30)",
    )
    load = parser.add_argument_group("load")
    load.add_argument("--clients", type=_positive, default=1, help="concurrent workers")
    load.add_argument(
        "--conns", type=_positive, default=1, help="clients (connections) the workers share"
    )
    load.add_argument(
        "--engine",
        choices=["sync", "async"],
        default="sync",
        help="sync: threads over etcdwire.Client; async: tasks over etcdwire.AsyncClient",
    )
    load.add_argument(
        "--key-prefix", default="", help="prefix of every key written or read (default none)"
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--json", metavar="FILE", help="write the summary as JSON to FILE ('-': stdout only)"
    )
    out.add_argument("--csv", metavar="FILE", help="write one row per request to FILE")
    out.add_argument(
        "--plot", metavar="FILE.png", help="plot latency over time and its histogram (matplotlib)"
    )


def _keys(
    parser: argparse.ArgumentParser, key_size: int, *, values: bool = True, order: bool = True
) -> None:
    parser.add_argument("--key-size", type=_positive, default=key_size, help="key size in bytes")
    if values:
        parser.add_argument("--val-size", type=int, default=8, help="value size in bytes")
    parser.add_argument(
        "--key-space-size", type=_positive, default=1, help="how many distinct keys"
    )
    if order:
        parser.add_argument(
            "--sequential-keys", action="store_true", help="keys in order rather than at random"
        )


def _total(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--total", type=_positive, default=10000, help=f"number of {what}")


def _rate(parser: argparse.ArgumentParser, default: float = 0.0, *names: str) -> None:
    parser.add_argument(
        *(names or ("--rate",)),
        dest="rate",
        type=_non_negative,
        default=default,
        help=f"requests per second at most, over all workers (0: no limit; default {default:g})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Load etcd and report latency, in the shape of etcd's benchmark tool.",
        epilog="--json writes the summary (no per-request records); --csv writes one row per "
        "request (phase,index,start,latency,error; seconds). Exit status 1 if any request "
        "failed.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    put = commands.add_parser("put", help="benchmark put")
    _total(put, "puts")
    _keys(put, 8)
    _rate(put)

    ranges = commands.add_parser("range", help="benchmark range (get)")
    ranges.add_argument("range_key", nargs="?", metavar="key", help="default: key 0 of put")
    ranges.add_argument("range_end", nargs="?", metavar="end-range", help="range end")
    _total(ranges, "range requests")
    ranges.add_argument("--key-size", type=_positive, default=8, help="key size (default key)")
    ranges.add_argument(
        "--consistency", choices=["l", "s"], default="l", help="linearizable or serializable"
    )
    _rate(ranges)

    txn = commands.add_parser("txn-put", help="benchmark txns of puts (keys in order)")
    _total(txn, "txns")
    _keys(txn, 8, order=False)
    txn.add_argument("--txn-ops", type=_positive, default=1, help="puts per txn")
    _rate(txn)

    watch = commands.add_parser("watch", help="benchmark watch creation and event delivery")
    watch.add_argument("--streams", type=_positive, default=10, help="watch streams (clients)")
    watch.add_argument("--watch-per-stream", type=_positive, default=100, help="watches per stream")
    watch.add_argument(
        "--watched-key-total", type=_positive, default=1, help="distinct keys watched"
    )
    watch.add_argument("--put-total", type=_positive, default=1000, help="puts to watched keys")
    _rate(watch, 0.0, "--put-rate", "--rate")
    _keys(watch, 32, values=False)

    latency = commands.add_parser("watch-latency", help="benchmark put-to-event latency")
    _total(latency, "puts")
    _rate(latency, 100.0, "--put-rate", "--rate")
    latency.add_argument("--key-size", type=_positive, default=32, help="key size in bytes")
    latency.add_argument("--val-size", type=int, default=32, help="value size in bytes")

    lease = commands.add_parser("lease-keepalive", help="benchmark lease keep-alive")
    _total(lease, "keep-alive requests")
    _rate(lease)

    for sub in (put, ranges, txn, watch, latency, lease):
        _common(sub)
    return parser


def _config(args: argparse.Namespace) -> Config:
    fields = set(Config.__dataclass_fields__)
    config = Config(**{k: v for k, v in vars(args).items() if k in fields})
    config.preflight_timeout = args.dial_timeout
    try:
        validate(config)
    except UsageError as exc:
        raise _Usage(str(exc)) from exc
    return config


def _client_kwargs(args: argparse.Namespace, endpoints: list[str]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "endpoints": endpoints,
        "connect_timeout": args.dial_timeout,
        "timeout": args.command_timeout,
        "ca_file": args.cacert,
        "cert_file": args.cert,
        "key_file": args.key,
        "insecure_skip_verify": args.insecure_skip_tls_verify,
    }
    if args.user:
        user, _, password = args.user.partition(":")
        kwargs["username"] = user
        kwargs["password"] = args.password if args.password is not None else password
    elif args.password is not None:
        raise _Usage("--password needs --user")
    return kwargs


@contextlib.contextmanager
def _target(args: argparse.Namespace, err: TextIO) -> Iterator[list[str]]:
    """The endpoints to load: the given ones, or a throwaway etcd's."""
    if not args.embedded:
        yield [e.strip() for e in args.endpoints.split(",") if e.strip()]
        return
    from .embedded import EmbeddedEtcd, etcd_version

    try:
        server = EmbeddedEtcd("etcdwire-bench").start()
    except (FileNotFoundError, RuntimeError, TimeoutError) as exc:
        raise _StartFailed(f"cannot start an embedded etcd: {str(exc).splitlines()[0]}") from exc
    try:
        version = ".".join(map(str, etcd_version()))
        err.write(f"started a throwaway etcd {version} at {server.endpoint} ({server.data_dir})\n")
        yield [server.endpoint]
    finally:
        server.close()


class _StartFailed(Exception):
    """The embedded etcd did not start."""


def _write_outputs(
    args: argparse.Namespace,
    config: Config,
    endpoints: list[str],
    measured: list[tuple[PhaseResult, Summary]],
    out: TextIO,
) -> None:
    if args.json:
        document = {
            "command": config.command,
            "engine": args.engine,
            "clients": config.clients,
            "conns": config.conns,
            "endpoints": endpoints,
            "phases": [{"name": p.name, **summary_json(s)} for p, s in measured],
        }
        text = json.dumps(document, indent=2) + "\n"
        if args.json == "-":
            out.write(text)
        else:
            with open(args.json, "w", encoding="utf-8") as stream:
                stream.write(text)
    if args.csv:
        with open(args.csv, "w", encoding="utf-8", newline="") as stream:
            write_csv(stream, [(p.name, p.results) for p, _ in measured])
    if args.plot:
        from .bench_plot import write_plot

        counts = ", ".join(f"{s.count} requests ({p.name})" for p, s in measured)
        title = (
            f"etcdwire bench {config.command}: {counts}; {config.clients} clients over "
            f"{config.conns} conns, {args.engine} engine"
        )
        write_plot(args.plot, title, measured)


def _report(measured: list[tuple[PhaseResult, Summary]], out: TextIO) -> None:
    for phase, summary in measured:
        if len(measured) > 1:
            out.write(f"\n{phase.name.capitalize()} summary:")
        out.write(format_summary(summary))
    out.flush()


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = _config(args)
    if args.plot:
        from .bench_plot import MISSING_MATPLOTLIB, require_matplotlib

        if not require_matplotlib():
            raise _Usage(MISSING_MATPLOTLIB)
    if config.command == "range":
        kind = "serializable" if config.consistency == "s" else "linearizable"
        err.write(f"bench with {kind} range\n")
    with _target(args, err) as endpoints:
        kwargs = _client_kwargs(args, endpoints)
        engine_class = AsyncEngine if args.engine == "async" else SyncEngine
        phases = engine_class(kwargs, err).run(FLOWS[config.command](config))
        measured = [(phase, summarize(phase.results, phase.elapsed)) for phase in phases]
        if args.json != "-":
            _report(measured, out)
        _write_outputs(args, config, endpoints, measured, out)
    return 1 if any(summary.ok < summary.count for _, summary in measured) else 0


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out, err = sys.stdout, sys.stderr
    try:
        return _run(args, out, err)
    except _Usage as exc:
        parser.print_usage(err)
        err.write(f"{PROG}: error: {exc}\n")
        return 2
    except EtcdError as exc:
        endpoints = "embedded etcd" if args.embedded else args.endpoints
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        err.write(f"{PROG}: error: {type(exc).__name__} ({endpoints}): {message}\n")
        return 1
    except (_StartFailed, OSError) as exc:
        err.write(f"{PROG}: error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        err.write(f"{PROG}: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

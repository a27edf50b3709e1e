"""``make-mirror``: copy a prefix to another etcd cluster and keep the copy in step, as
etcdctl's make-mirror does: the prefix read at one revision and written to the destination,
then each source revision applied there as one txn; the count of keys written is printed every
30 seconds, until Ctrl-C.

One difference: etcdctl ends with an error when the revision it needs next was compacted (it
was away too long). Here the source is read again, and the destination gets what changed in
between: puts for keys that changed, deletes for keys that are gone.
"""

from __future__ import annotations

import argparse
import getpass
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ... import Client, Op
from ..._etcd.ops import AnyOp
from ...types import Event, EventType, KeyValue
from .common import (
    EXIT_BAD_ARGS,
    EXIT_INTERRUPTED_BY_SIGNAL,
    WAKE_INTERVAL,
    CommandError,
    Context,
    add_command,
    arg_bytes,
    dial_or_fail,
    parse_bool,
    with_scheme,
)

__all__ = ["register"]

#: How often the count of keys written is printed (etcdctl's interval).
REPORT_INTERVAL = 30.0


class _Copier:
    """Writes what the source holds to the destination, under the destination prefix, and
    remembers which revision of each source key it wrote."""

    def __init__(self, dest: Client, prefix: bytes, dest_prefix: bytes, max_ops: int) -> None:
        self.dest = dest
        self.prefix = prefix
        self.dest_prefix = dest_prefix
        self.max_ops = max_ops
        self.written: dict[bytes, int] = {}  # source key -> the mod_revision copied
        self.total = 0

    def _target(self, key: bytes) -> bytes:
        return self.dest_prefix + key[len(self.prefix) :]

    def sync(self, data: Mapping[bytes, KeyValue]) -> None:
        """Make the destination hold ``data`` (the whole source range): puts for keys not
        written at their current revision, deletes for keys no longer there."""
        ops: list[AnyOp] = [Op.delete(self._target(key)) for key in self.written if key not in data]
        ops += [
            Op.put(self._target(kv.key), kv.value)
            for kv in data.values()
            if self.written.get(kv.key) != kv.mod_revision
        ]
        for start in range(0, len(ops), self.max_ops):
            self.dest.txn(success=ops[start : start + self.max_ops])
        self.written = {key: kv.mod_revision for key, kv in data.items()}
        self.total += len(ops)

    def apply(self, events: Iterable[Event]) -> None:
        """Apply changes, one destination txn per source revision (split only when a
        revision has more changes than a txn may hold)."""
        batch: list[AnyOp] = []
        revision = 0
        for event in events:
            if batch and (event.kv.mod_revision != revision or len(batch) >= self.max_ops):
                self.dest.txn(success=batch)
                batch = []
            revision = event.kv.mod_revision
            target = self._target(event.kv.key)
            if event.type is EventType.PUT:
                batch.append(Op.put(target, event.kv.value))
                self.written[event.kv.key] = revision
            else:
                batch.append(Op.delete(target))
                self.written.pop(event.kv.key, None)
            self.total += 1
        if batch:
            self.dest.txn(success=batch)


def _dest_client(ctx: Context, args: argparse.Namespace) -> Client:
    user, password = args.dest_user, args.dest_password
    if user and password is None:
        if ":" in user:
            user, password = user.split(":", 1)
        else:
            password = getpass.getpass("Destination Password: ")
    tls = bool(args.dest_cacert or args.dest_cert or args.dest_key) or not args.dest_insecure
    client = Client(
        [with_scheme(args.destination, tls)],
        timeout=ctx.options.command_timeout,
        username=user or None,
        password=password,
        ca_file=args.dest_cacert,
        cert_file=args.dest_cert,
        key_file=args.dest_key,
        connect_timeout=ctx.options.dial_timeout,
    )
    ctx.on_close(client.close)
    dial_or_fail(client, ctx.options.dial_timeout)
    return client


def _make_mirror(ctx: Context, args: argparse.Namespace) -> int:
    if args.destination is None:
        raise CommandError("make-mirror takes one destination argument", EXIT_BAD_ARGS)
    if args.no_dest_prefix and args.dest_prefix:
        raise CommandError(
            "`--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one",
            EXIT_BAD_ARGS,
        )
    if args.max_txn_ops < 1:
        raise CommandError("--max-txn-ops must be at least 1", EXIT_BAD_ARGS)
    prefix = arg_bytes(args.prefix)
    dest_prefix = b"" if args.no_dest_prefix else arg_bytes(args.dest_prefix or args.prefix)
    copier = _Copier(_dest_client(ctx, args), prefix, dest_prefix, args.max_txn_ops)
    mirror = ctx.client.mirror(prefix, prefix=True)
    try:
        mirror.start()
        copier.sync(mirror.data)
        next_report = time.monotonic() + REPORT_INTERVAL
        while True:
            update = mirror.receive(timeout=WAKE_INTERVAL)
            if update is not None:
                if update.reset:
                    copier.sync(mirror.data)
                else:
                    copier.apply(update.events)
            if time.monotonic() >= next_report:
                ctx.out.line(str(copier.total))
                ctx.out.flush()
                next_report += REPORT_INTERVAL
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED_BY_SIGNAL
    finally:
        mirror.close()


def register(subparsers: Any) -> None:
    parser = add_command(
        subparsers,
        "make-mirror",
        _make_mirror,
        "Makes a mirror at the destination etcd cluster",
        description=(
            "Copies the keys under --prefix to the destination cluster (under --dest-prefix, "
            "by default the same prefix) and keeps them in step until Ctrl-C; prints the "
            "count of keys written every 30 seconds. After a compaction of the revision it "
            "needs, it reads the source again and applies the difference."
        ),
    )
    parser.add_argument("destination", nargs="?", help="the destination endpoint")
    parser.add_argument("--prefix", default="", help="key-value prefix to mirror")
    parser.add_argument(
        "--dest-prefix",
        default="",
        help="destination prefix to mirror a prefix to a different prefix in the destination",
    )
    parser.add_argument(
        "--no-dest-prefix",
        action="store_true",
        help="mirror key-values to the root of the destination cluster",
    )
    parser.add_argument("--dest-cacert", help="CA bundle to verify the destination's servers")
    parser.add_argument("--dest-cert", help="TLS certificate file for the destination")
    parser.add_argument("--dest-key", help="TLS key file for the destination")
    parser.add_argument(
        "--dest-insecure-transport",
        dest="dest_insecure",
        type=parse_bool,
        nargs="?",
        const=True,
        default=True,
        help="disable transport security for the destination (default true)",
    )
    parser.add_argument("--dest-user", help="destination username[:password]")
    parser.add_argument("--dest-password", help="destination password")
    parser.add_argument(
        "--max-txn-ops",
        type=int,
        default=128,
        help="most operations per destination txn (etcd's default --max-txn-ops)",
    )

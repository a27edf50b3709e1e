"""``lock`` and ``elect``: etcd's concurrency recipes from the command line, as etcdctl has
them (Go's key layout, so etcdctl and etcdwire contend for the same locks and elections)."""

from __future__ import annotations

import argparse
import os
import subprocess
from typing import Any

from ... import Election, Mutex, Session
from ...types import GetResponse, KeyValue, ResponseHeader
from .common import EXIT_BAD_ARGS, CommandError, Context, add_command, arg_bytes
from .kv import print_get

__all__ = ["register"]

#: How often a wait wakes up to notice a lost session.
POLL = 0.5


def _session(ctx: Context, ttl: int) -> Session:
    session = Session(ctx.client, ttl=ttl).start()
    ctx.on_close(session.close)
    return session


def _hold(session: Session) -> str | None:
    """Wait for Ctrl-C (None) or the end of the session (an error message)."""
    try:
        while not session.wait_done(POLL):
            pass
    except KeyboardInterrupt:
        return None
    return "session expired"


def _run_while_held(command: list[str], mutex: Mutex) -> int:
    env = dict(os.environ)
    env["ETCD_LOCK_KEY"] = mutex.key.decode("utf-8", errors="surrogateescape")
    env["ETCD_LOCK_REV"] = str(mutex.header.revision if mutex.header else 0)
    try:
        child = subprocess.Popen(command, env=env)
    except OSError as exc:
        raise CommandError(f"cannot run {command[0]}: {exc.strerror}") from None
    try:
        return child.wait()
    except KeyboardInterrupt:
        child.terminate()
        child.wait()
        return 130


def _lock(ctx: Context, args: argparse.Namespace) -> int:
    if args.name is None:
        raise CommandError(
            "lock takes a lock name argument and an optional command to execute", EXIT_BAD_ARGS
        )
    if args.ttl <= 0:
        raise CommandError(f"bad TTL {args.ttl}", EXIT_BAD_ARGS)
    session = _session(ctx, args.ttl)
    mutex = Mutex(session, arg_bytes(args.name))
    # Ctrl-C (or SIGTERM) at any point ends the command with status 0 after giving the lock
    # back; a wait for the lock that is interrupted withdraws the request by itself.
    try:
        mutex.lock()
        if args.command:
            return _run_while_held(list(args.command), mutex)
        held = ctx.client.get(mutex.key)
        if not held.kvs:
            raise CommandError("lock lost on init")
        print_get(ctx.out, held)
        ctx.out.flush()
        failure = _hold(session)
        if failure is not None:
            raise CommandError(failure)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if mutex.held and session.alive:
            mutex.unlock()


def _observe(ctx: Context, name: bytes) -> int:
    session = _session(ctx, 60)
    election = Election(session, name)
    try:
        for kv in election.observe():
            _print_leader(ctx, kv)
    except KeyboardInterrupt:
        return 0
    raise CommandError("elect: observer lost")


def _print_leader(ctx: Context, kv: KeyValue, header: ResponseHeader | None = None) -> None:
    print_get(ctx.out, GetResponse(header=header or ResponseHeader(), kvs=(kv,), count=1))
    ctx.out.flush()


def _elect(ctx: Context, args: argparse.Namespace) -> int:
    if args.name is None or (args.listen and args.proposal is not None):
        raise CommandError(
            "elect takes one election name argument and an optional proposal argument "
            "(none with -l)",
            EXIT_BAD_ARGS,
        )
    if ctx.out.format == "table":
        raise ctx.out.unsupported()
    name = arg_bytes(args.name)
    if args.listen:
        return _observe(ctx, name)
    if args.proposal is None:
        raise CommandError("no proposal argument but -l not set", EXIT_BAD_ARGS)
    session = _session(ctx, args.ttl)
    election = Election(session, name)
    try:
        election.campaign(arg_bytes(args.proposal))
        leader = ctx.client.get(election.key)
        print_get(ctx.out, leader)
        ctx.out.flush()
        failure = _hold(session)
        if failure is not None:
            raise CommandError(f"elect: {failure}")
        return 0
    except KeyboardInterrupt:
        return 0  # an unfinished candidacy goes with the session's lease
    finally:
        if election.is_leader and session.alive:
            election.resign()


def register(subparsers: Any) -> None:
    lock = add_command(
        subparsers,
        "lock",
        _lock,
        "Acquires a named lock",
        description=(
            "Acquires the lock NAME and prints its key, then holds it until Ctrl-C; with a "
            "command, runs it while holding the lock (ETCD_LOCK_KEY and ETCD_LOCK_REV set) and "
            "exits with its status."
        ),
    )
    lock.add_argument("name", nargs="?", help="lock name")
    lock.add_argument("command", nargs=argparse.REMAINDER, help="command to run while held")
    lock.add_argument("--ttl", type=int, default=10, help="timeout for the session")
    elect = add_command(
        subparsers,
        "elect",
        _elect,
        "Observes and participates in leader election",
        description=(
            "Campaigns in election NAME with PROPOSAL and prints the leader key once elected, "
            "then leads until Ctrl-C; with -l, prints each leader's proposal as it changes."
        ),
    )
    elect.add_argument("name", nargs="?", help="election name")
    elect.add_argument("proposal", nargs="?", help="value proclaimed when elected")
    elect.add_argument(
        "-l", "--listen", action="store_true", help="observe the election instead of campaigning"
    )
    elect.add_argument("--ttl", type=int, default=60, help="timeout for the session")

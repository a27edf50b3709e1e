"""The workloads of ``etcdwire bench``, after the subcommands of etcd's ``benchmark`` tool.

Each workload is a generator of engine steps (see :mod:`etcdwire.tools.bench_run`) and returns
the phases it measured; the same generator runs on the sync and the async engine.

Keys are ``--key-prefix`` followed by the key's number in the key space, zero-padded so the
whole key is ``--key-size`` bytes: with ``--key-prefix bench/ --key-size 12`` key 42 is
``bench/000042``. Values are ``--val-size`` random letters, the same for every request.
"""

from __future__ import annotations

import random
import string
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import Op
from ..errors import UsageError
from .bench_run import Call, Flow, Open, Phase, PhaseResult, Run, Wait
from .bench_stats import Result

__all__ = ["FLOWS", "Config", "key_digits", "make_key", "validate"]


@dataclass
class Config:
    """The options of one run (the command-line flags, validated)."""

    command: str
    clients: int = 1
    conns: int = 1
    total: int = 10000
    key_size: int = 8
    val_size: int = 8
    key_space_size: int = 1
    sequential_keys: bool = False
    key_prefix: str = ""
    rate: float = 0.0
    consistency: str = "l"
    range_key: str | None = None
    range_end: str | None = None
    txn_ops: int = 1
    streams: int = 10
    watch_per_stream: int = 100
    watched_key_total: int = 1
    put_total: int = 1000
    lease_ttl: int = 100
    preflight_timeout: float = 5.0
    event_timeout: float = 30.0


def key_digits(config: Config) -> int:
    """How many digits the key number gets; UsageError when the key space does not fit."""
    digits = config.key_size - len(config.key_prefix.encode())
    needed = len(str(max(config.key_space_size - 1, 0)))
    if digits < needed:
        raise UsageError(
            f"--key-size {config.key_size} leaves {max(digits, 0)} digits after the prefix "
            f"{config.key_prefix!r}, but --key-space-size {config.key_space_size} needs {needed}"
        )
    return digits


def validate(config: Config) -> None:
    """UsageError for flags that cannot work together."""
    key_digits(config)
    if config.command == "txn-put" and config.txn_ops > config.key_space_size:
        raise UsageError(
            f"--txn-ops {config.txn_ops} is larger than --key-space-size "
            f"{config.key_space_size} (a txn may not put one key twice)"
        )
    if config.val_size < 0:
        raise UsageError(f"--val-size must be 0 or more, got {config.val_size}")


def make_key(config: Config, number: int) -> bytes:
    """Key ``number`` of the key space."""
    return (config.key_prefix + str(number).zfill(key_digits(config))).encode()


def _value(size: int) -> bytes:
    return "".join(random.choices(string.ascii_letters, k=size)).encode()


def _key_picker(config: Config) -> Callable[[int], bytes]:
    """Request index -> key: in order round the key space, or a random key of it."""
    prefix = config.key_prefix
    digits = key_digits(config)
    space = config.key_space_size
    if config.sequential_keys:
        return lambda index: (prefix + str(index % space).zfill(digits)).encode()
    return lambda index: (prefix + str(random.randrange(space)).zfill(digits)).encode()


def _open(config: Config, count: int) -> Flow:
    """Open ``count`` clients and check the first one reaches etcd (one clear error if not)."""
    clients: list[Any] = yield Open(count)
    probe = make_key(config, 0)
    yield Call(lambda: clients[0].get(probe, count_only=True, timeout=config.preflight_timeout))
    return clients


def put_flow(config: Config) -> Flow:
    clients = yield from _open(config, config.conns)
    pick, value = _key_picker(config), _value(config.val_size)
    phase = Phase(
        "put",
        config.total,
        config.clients,
        clients,
        op=lambda client, index, _state: client.put(pick(index), value),
        rate=config.rate,
    )
    return [(yield Run(phase))]


def range_flow(config: Config) -> Flow:
    clients = yield from _open(config, config.conns)
    key = (config.range_key or "").encode() or make_key(config, 0)
    end = config.range_end.encode() if config.range_end else None
    serializable = config.consistency == "s"
    phase = Phase(
        "range",
        config.total,
        config.clients,
        clients,
        op=lambda client, _index, _state: client.get(key, range_end=end, serializable=serializable),
        rate=config.rate,
    )
    return [(yield Run(phase))]


def txn_put_flow(config: Config) -> Flow:
    clients = yield from _open(config, config.conns)
    digits, ops, space, value = (
        key_digits(config),
        config.txn_ops,
        config.key_space_size,
        _value(config.val_size),
    )

    def txn(client: Any, index: int, _state: Any) -> Any:
        puts = [
            Op.put(
                (config.key_prefix + str((index * ops + j) % space).zfill(digits)).encode(),
                value,
            )
            for j in range(ops)
        ]
        return client.txn(success=puts)

    phase = Phase("txn-put", config.total, config.clients, clients, op=txn, rate=config.rate)
    return [(yield Run(phase))]


def lease_keepalive_flow(config: Config) -> Flow:
    clients = yield from _open(config, config.conns)
    ttl = config.lease_ttl
    phase = Phase(
        "lease-keepalive",
        config.total,
        config.clients,
        clients,
        op=lambda client, _index, lease: client.lease.keep_alive_once(lease.id),
        rate=config.rate,
        setup=lambda client: client.lease.grant(ttl),
        teardown=lambda client, lease: client.lease.revoke(lease.id),
    )
    return [(yield Run(phase))]


@dataclass
class _WatchPlan:
    """Who watches what, and who writes what, in a watch workload."""

    watch_name: str
    watch_clients: list[Any]
    watch_workers: int
    per_worker: int
    watch_key: Callable[[int], bytes]
    put_name: str
    put_clients: list[Any]
    put_workers: int
    put_total: int
    put_rate: float
    put_key: Callable[[int], bytes]


def _watch_events(config: Config, plan: _WatchPlan) -> Flow:
    """Create the watches (a measured phase), then write and time each event from the moment
    its put was sent to its arrival at each watcher (matched by the event's mod revision).
    Events that never arrive within ``event_timeout`` count as ``EventNotReceived`` errors."""
    arrivals: list[tuple[int, float]] = []

    def on_response(response: Any) -> None:
        now = time.perf_counter()
        arrivals.extend((event.kv.mod_revision, now) for event in response.events)

    watched = Counter(plan.watch_key(i) for i in range(plan.watch_workers * plan.per_worker))

    def create(client: Any, index: int, _state: Any) -> Any:
        watch = client.watch(plan.watch_key(index), callback=on_response)
        return watch.start(config.event_timeout)

    created: PhaseResult = yield Run(
        Phase(
            plan.watch_name,
            0,
            plan.watch_workers,
            plan.watch_clients,
            op=create,
            per_worker=plan.per_worker,
        )
    )
    sent: dict[int, float] = {}
    written: list[int] = []

    def record(index: int, started: float, response: Any) -> None:
        sent[response.header.revision] = started
        written.append(index)

    value = b"data"
    puts: PhaseResult = yield Run(
        Phase(
            plan.put_name,
            plan.put_total,
            plan.put_workers,
            plan.put_clients,
            op=lambda client, index, _state: client.put(plan.put_key(index), value),
            rate=plan.put_rate,
            on_done=record,
        )
    )
    expected = sum(watched[plan.put_key(index)] for index in written)
    yield Wait(lambda: len(arrivals) >= expected, config.event_timeout)
    events = _event_results(puts, sent, list(arrivals), expected)
    return [created, events]


def _event_results(
    puts: PhaseResult, sent: dict[int, float], arrivals: list[tuple[int, float]], expected: int
) -> PhaseResult:
    origin = puts.started
    results = [
        Result(sent[revision] - origin, arrived - sent[revision])
        for revision, arrived in arrivals
        if revision in sent
    ]
    ended = max((arrived for _, arrived in arrivals), default=origin + puts.elapsed)
    missing = max(0, expected - len(results))
    results += [
        Result(puts.elapsed, 0.0, "EventNotReceived", "no event within the timeout")
    ] * missing
    return PhaseResult(puts.name, results, max(ended - origin, puts.elapsed), origin)


def watch_flow(config: Config) -> Flow:
    """etcd's ``benchmark watch``: ``--streams`` watch streams (in etcdwire a client carries
    all its watches on one stream, so each stream is its own client and connection) with
    ``--watch-per-stream`` watches each over ``--watched-key-total`` keys, then
    ``--put-total`` puts to those keys by ``--clients`` workers over ``--conns`` clients."""
    watch_clients = yield from _open(config, config.streams)
    put_clients = yield from _open(config, config.conns)
    pick = _key_picker(config)
    keys = [pick(index) for index in range(config.watched_key_total)]
    plan = _WatchPlan(
        "watch creation",
        watch_clients,
        config.streams,
        config.watch_per_stream,
        lambda index: keys[index % len(keys)],
        "watch events",
        put_clients,
        config.clients,
        config.put_total,
        config.rate,
        lambda index: keys[index % len(keys)],
    )
    return (yield from _watch_events(config, plan))


def watch_latency_flow(config: Config) -> Flow:
    """etcd's ``benchmark watch-latency``: ``--clients`` watches on one key over ``--conns``
    clients; one writer puts the key ``--total`` times at ``--put-rate`` per second; each
    latency is from sending a put to its event reaching one watcher."""
    watch_clients = yield from _open(config, config.conns)
    put_clients = yield from _open(config, 1)
    key = make_key(config, 0)
    plan = _WatchPlan(
        "watch creation",
        watch_clients,
        config.clients,
        1,
        lambda _index: key,
        "watch-latency",
        put_clients,
        1,
        config.total,
        config.rate,
        lambda _index: key,
    )
    phases = yield from _watch_events(config, plan)
    return phases[1:]


FLOWS: dict[str, Callable[[Config], Flow]] = {
    "put": put_flow,
    "range": range_flow,
    "txn-put": txn_put_flow,
    "watch": watch_flow,
    "watch-latency": watch_latency_flow,
    "lease-keepalive": lease_keepalive_flow,
}

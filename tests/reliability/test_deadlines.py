"""Deadlines against a black-holed endpoint (issue 8, deadlines everywhere).

A fault proxy (tests/fakes/fault_proxy.py) in front of the shared etcd accepts connections and
never answers. Every call of the public API given a timeout, on ``Client`` and on
``AsyncClient``, must end with :class:`~etcdwire.errors.DeadlineExceeded` within its timeout
plus a small margin: when the endpoint is black-holed from the start (the connection never
completes) and when it goes silent after a good start (mid-stream). The dial timeout bounds
each connection attempt, and with two endpoints, one black-holed, no call waits past its
timeout. As in etcd's clientv3 connectivity tests (black_hole_test.go).
"""

from __future__ import annotations

import asyncio
import inspect
import io
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from etcdwire import (
    AsyncClient,
    AsyncMutex,
    AsyncSession,
    ChannelOptions,
    Client,
    Mutex,
    Session,
)
from etcdwire.errors import ConnectionLost, DeadlineExceeded, EtcdError, NoEndpointAvailable
from tests.fakes.fault_proxy import FaultProxy

pytestmark = pytest.mark.etcd

TIMEOUT = 0.2  # every call's timeout
MARGIN = 0.5  # how late a call may return after it


class Flavour:
    """The names a call needs, for the blocking or the asyncio client."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.client: Any = Client if name == "sync" else AsyncClient
        self.session: Any = Session if name == "sync" else AsyncSession
        self.mutex: Any = Mutex if name == "sync" else AsyncMutex

    async def close(self, client: Any) -> None:
        await settle(client.aclose() if self.name == "async" else client.close())


async def settle(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def new_session(client: Any, flavour: Flavour) -> Any:
    return await settle(flavour.session(client, ttl=30).start())


# Each call: (client, flavour, prepared) -> result or awaitable. ``prepared`` is what
# PREPARE made while the endpoint still answered (mid-stream mode only), or None.
CALLS: dict[str, Callable[[Any, Flavour, Any], Any]] = {
    "kv.get": lambda c, f, p: c.get("dl/k", timeout=TIMEOUT),
    "kv.put": lambda c, f, p: c.put("dl/k", "v", timeout=TIMEOUT),
    "kv.delete": lambda c, f, p: c.delete("dl/none", timeout=TIMEOUT),
    "kv.txn": lambda c, f, p: c.txn([], [], [], timeout=TIMEOUT),
    "lease.grant": lambda c, f, p: c.lease.grant(30, timeout=TIMEOUT),
    "lease.keep_alive_once": lambda c, f, p: c.lease.keep_alive_once(p or 0x1234, timeout=TIMEOUT),
    "lease.time_to_live": lambda c, f, p: c.lease.time_to_live(p or 0x1234, timeout=TIMEOUT),
    "watch.create": lambda c, f, p: c.watch(f"dl/w/{uuid.uuid4().hex}").start(timeout=TIMEOUT),
    "lock.lock": lambda c, f, p: c.lock.lock("dl/lock", lease=p or 0x1234, timeout=TIMEOUT),
    "election.campaign": lambda c, f, p: c.election.campaign(
        "dl/elect", "v", lease=p or 0x1234, timeout=TIMEOUT
    ),
    "cluster.member_list": lambda c, f, p: c.cluster.member_list(timeout=TIMEOUT),
    "maintenance.status": lambda c, f, p: c.maintenance.status(timeout=TIMEOUT),
    "maintenance.snapshot": lambda c, f, p: c.maintenance.snapshot(io.BytesIO(), timeout=TIMEOUT),
    "mutex.lock": lambda c, f, p: f.mutex(p, "dl/mutex").lock(timeout=TIMEOUT),
}
# Mid-stream only: what must exist before the endpoint goes silent.
PREPARE: dict[str, Callable[[Any, Flavour], Any]] = {
    "lease.keep_alive_once": lambda c, f: c.lease.grant(30),
    "lease.time_to_live": lambda c, f: c.lease.grant(30),
    "lock.lock": lambda c, f: c.lease.grant(30),
    "election.campaign": lambda c, f: c.lease.grant(30),
    "mutex.lock": new_session,
}
MID_STREAM_ONLY = {"mutex.lock"}  # needs a session, granted while the endpoint answers


@pytest.fixture(scope="module")
def proxy(etcd: Any) -> Iterator[FaultProxy]:
    with FaultProxy(("127.0.0.1", etcd.client_port), name="black-hole") as proxy:
        yield proxy


@pytest.fixture(scope="module")
def other_proxy(etcd: Any) -> Iterator[FaultProxy]:
    with FaultProxy(("127.0.0.1", etcd.client_port), name="healthy") as proxy:
        yield proxy


@pytest.fixture(scope="module")
def async_proxy(etcd: Any) -> Iterator[FaultProxy]:
    with FaultProxy(("127.0.0.1", etcd.client_port), name="black-hole-async") as proxy:
        yield proxy


@pytest.fixture
def black_holed(proxy: FaultProxy) -> Iterator[FaultProxy]:
    proxy.pass_through()
    yield proxy
    proxy.pass_through()


async def timed_call(
    flavour: Flavour, endpoints: list[str], call: str, *, mid_stream: bool, proxy: FaultProxy
) -> tuple[float, BaseException | None]:
    client = flavour.client(endpoints, timeout=TIMEOUT)
    try:
        prepared = None
        if mid_stream:
            await settle(client.get("dl/warm"))  # the connection is up and answering
            if call in PREPARE:
                prepared = await settle(PREPARE[call](client, flavour))
                # a lease goes by its id; a session is passed as it is (to the mutex)
                prepared = getattr(prepared, "id", prepared)
        proxy.black_hole()
        started = time.monotonic()
        try:
            await settle(CALLS[call](client, flavour, prepared))
        except BaseException as exc:
            return time.monotonic() - started, exc
        return time.monotonic() - started, None
    finally:
        proxy.pass_through()  # let close() and the session's revoke through
        await flavour.close(client)


CASES = [
    (call, mode)
    for call in sorted(CALLS)
    for mode in ("from_start", "mid_stream")
    if not (mode == "from_start" and call in MID_STREAM_ONLY)
]


@pytest.mark.parametrize(("call", "mode"), CASES)
def test_every_call_with_a_timeout_ends_in_time_on_a_black_hole(
    call: str, mode: str, black_holed: FaultProxy, async_proxy: FaultProxy
) -> None:
    """The blocking and the asyncio client, each behind a proxy of its own, side by side."""
    proxies = {"sync": black_holed, "async": async_proxy}

    def attempt(flavour: str) -> tuple[float, BaseException | None]:
        proxy = proxies[flavour]
        proxy.pass_through()
        return asyncio.run(
            timed_call(
                Flavour(flavour),
                [proxy.endpoint],
                call,
                mid_stream=mode == "mid_stream",
                proxy=proxy,
            )
        )

    with ThreadPoolExecutor(2) as pool:
        outcomes = dict(zip(proxies, pool.map(attempt, proxies), strict=True))
    for flavour, (elapsed, error) in outcomes.items():
        where = f"{flavour} {call}"
        assert isinstance(error, DeadlineExceeded), f"{where}: {error!r} after {elapsed:.2f}s"
        assert elapsed <= TIMEOUT + MARGIN, f"{where} took {elapsed:.2f}s"
        assert elapsed >= TIMEOUT * 0.9, f"{where} gave up early ({elapsed:.2f}s): {error!r}"


# --- the dial timeout ------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_dial_timeout_bounds_each_connection_attempt(flavour: str, black_holed: FaultProxy) -> None:
    """A call without a timeout to an endpoint that never completes the handshake ends with
    NoEndpointAvailable after three attempts: each gives up after ``connect_timeout``, the
    backoff spaces them, and every attempt's error is a typed one."""
    connect_timeout = 0.2
    black_holed.black_hole()

    async def work() -> tuple[float, BaseException | None]:
        kind = Flavour(flavour)
        client = kind.client(black_holed.endpoint, timeout=None, connect_timeout=connect_timeout)
        started = time.monotonic()
        try:
            await settle(client.get("dl/k"))
        except BaseException as exc:
            return time.monotonic() - started, exc
        finally:
            await kind.close(client)
        return time.monotonic() - started, None

    elapsed, error = asyncio.run(work())
    assert isinstance(error, NoEndpointAvailable), repr(error)
    attempts = error.attempts
    assert len(attempts) == 3, attempts
    assert all(isinstance(e, EtcdError) for _, e in attempts), attempts
    # gRPC connection backoff (1 s, x1.6, +-20 %), counted from the start of each attempt,
    # so an attempt cut at connect_timeout adds nothing before the last one
    backoff = sum(1.0 * 1.6**i * 1.2 for i in range(len(attempts) - 1))
    assert elapsed <= backoff + connect_timeout + MARGIN, (elapsed, attempts)


# --- two endpoints, one black-holed ----------------------------------------------------------


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("policy", ["pinned", "round_robin"])
@pytest.mark.parametrize("mode", ["from_start", "mid_stream"])
@pytest.mark.parametrize("first", ["black_holed", "healthy"])
def test_two_endpoints_one_black_holed_no_call_outlives_its_timeout(
    first: str,
    mode: str,
    policy: str,
    flavour: str,
    black_holed: FaultProxy,
    other_proxy: FaultProxy,
) -> None:
    """Each call fails over or times out (DeadlineExceeded), never later than its timeout."""
    endpoints = [black_holed.endpoint, other_proxy.endpoint]
    if first == "healthy":
        endpoints.reverse()

    async def work() -> list[tuple[float, BaseException | None]]:
        kind = Flavour(flavour)
        client = kind.client(endpoints, timeout=TIMEOUT, policy=policy)
        outcomes: list[tuple[float, BaseException | None]] = []
        try:
            if mode == "mid_stream":
                for _ in range(2):  # both endpoints connected under round robin
                    await settle(client.get("dl/warm"))
            black_holed.black_hole()
            for _ in range(3):
                started = time.monotonic()
                try:
                    await settle(client.get("dl/k"))
                    outcomes.append((time.monotonic() - started, None))
                except BaseException as exc:
                    outcomes.append((time.monotonic() - started, exc))
        finally:
            black_holed.pass_through()
            await kind.close(client)
        return outcomes

    outcomes = asyncio.run(work())
    for elapsed, error in outcomes:
        assert error is None or isinstance(error, DeadlineExceeded), repr(error)
        assert elapsed <= TIMEOUT + MARGIN, outcomes
    if first == "healthy" and policy == "pinned":
        assert all(error is None for _, error in outcomes), outcomes  # never left the good one
    if policy == "round_robin":
        assert any(error is None for _, error in outcomes), outcomes


@pytest.mark.parametrize("mode", ["from_start", "mid_stream"])
def test_pinned_client_leaves_a_black_holed_endpoint(
    mode: str, black_holed: FaultProxy, other_proxy: FaultProxy
) -> None:
    """With keepalive set (PING after 0.5 s of silence, 0.3 s to answer) and calls of 0.8 s, a
    pinned client whose first endpoint is black-holed serves calls from the second one by its
    third call."""
    options = ChannelOptions(keepalive_time=0.5, keepalive_timeout=0.3, keepalive_min_time=0.5)
    with Client(
        [black_holed.endpoint, other_proxy.endpoint], timeout=0.8, options=options
    ) as client:
        if mode == "mid_stream":
            client.get("dl/warm")
        black_holed.black_hole()
        results = []
        for _ in range(3):
            try:
                results.append(client.get("dl/k").header.revision > 0)
            except (DeadlineExceeded, ConnectionLost):
                # Either the call's 0.8 s or the unanswered PING (0.5 s + 0.3 s) ends a call
                # on the black-holed endpoint first; both mark the endpoint failed.
                results.append(False)
    assert any(results), "every call failed on the black-holed endpoint"

"""The chaos test's workload: workers that use etcdwire the way a coordination service does and
write down every outcome in a shared :class:`Ledger`, so the checks can compare what the
client was told with what the store holds.

Every worker is a daemon thread that runs until ``stop`` is set. An :class:`EtcdError` is an
expected outcome under faults (recorded by class and retried); anything else is a bug and is
kept in ``Ledger.unexpected`` with its traceback.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
import time
import traceback
from array import array
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from etcdwire import (
    AsyncClient,
    AsyncMutex,
    AsyncSession,
    Client,
    ConnectFailed,
    ConnectionLost,
    Election,
    EtcdError,
    KeptLease,
    Mutex,
    NoEndpointAvailable,
    Op,
    Session,
)
from etcdwire._etcd.watching import WatchResponse
from etcdwire.types import EventType, PutResponse, TxnResponse

WATCH_PREFIX = "chaos/w/"
CAS_PREFIX = "chaos/cas/"
LEASE_PREFIX = "chaos/lease/"
MUTEX_NAME = "chaos/mutex"
MUTEX_CS_KEY = "chaos/mutex-cs"
ELECTION_NAME = "chaos/election"
CALL_TIMEOUT = 5.0
SESSION_TTL = 15


def not_applied(exc: EtcdError) -> bool:
    """The error proves the request never reached a server (so it cannot be in the store)."""
    if isinstance(exc, ConnectionLost):
        return not exc.maybe_sent
    return isinstance(exc, ConnectFailed | NoEndpointAvailable)


ACKED, AMBIGUOUS, NEVER_SENT = 1, 2, 3


class PutLog:
    """Every put of one worker by sequence number, in flat arrays (about 10 bytes a put, so a
    long run's bookkeeping does not blur the memory check). Put ``n`` writes
    ``chaos/w/<label>/<n:07d>``, or ``...a`` and ``...b`` in one txn when it is a pair."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.revisions = array("q")
        self.status = bytearray()
        self.pairs = bytearray()

    def __len__(self) -> int:
        return len(self.status)

    def begin(self, *, pair: bool) -> int:
        self.revisions.append(0)
        self.status.append(0)
        self.pairs.append(pair)
        return len(self.status)

    def keys(self, seq: int) -> list[bytes]:
        base = f"{WATCH_PREFIX}{self.label}/{seq:07d}"
        if self.pairs[seq - 1]:
            return [f"{base}a".encode(), f"{base}b".encode()]
        return [base.encode()]

    def record(self, seq: int, revision: int | None, exc: EtcdError | None) -> None:
        if revision is not None:
            self.status[seq - 1] = ACKED
            self.revisions[seq - 1] = revision
        elif exc is not None and not_applied(exc):
            self.status[seq - 1] = NEVER_SENT
        else:
            self.status[seq - 1] = AMBIGUOUS

    def count(self, status: int) -> int:
        """Keys (not puts) whose put ended with ``status``."""
        return sum(
            1 + pair for st, pair in zip(self.status, self.pairs, strict=True) if st == status
        )


def parse_put_key(key: bytes) -> tuple[str, int, str] | None:
    """``(label, seq, suffix)`` of a key written by a PutLog, None if it has another shape."""
    text = key.decode("utf-8", "replace")
    if not text.startswith(WATCH_PREFIX):
        return None
    label, _, tail = text[len(WATCH_PREFIX) :].partition("/")
    if len(tail) < 7 or not tail[:7].isdigit():
        return None
    return label, int(tail[:7]), tail[7:]


@dataclass
class Section:
    """One stay in a critical section (mutex) or one term (election)."""

    worker: str
    key: bytes
    enter: float
    exit: float = 0.0
    guard_revision: int = 0  # revision of the owner-guarded txn made inside, 0 if none


@dataclass
class Ledger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    ops: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    puts: dict[str, PutLog] = field(default_factory=dict)
    cas_acked: Counter[bytes] = field(default_factory=Counter)
    cas_ambiguous: Counter[bytes] = field(default_factory=Counter)
    sections: list[Section] = field(default_factory=list)
    holders: int = 0
    max_holders: int = 0
    guard_failures: list[str] = field(default_factory=list)
    terms: list[Section] = field(default_factory=list)
    leaders: int = 0
    max_leaders: int = 0
    kept_leases: list[tuple[KeptLease, bytes]] = field(default_factory=list)
    sessions_lost: int = 0

    def error(self, kind: str, exc: EtcdError) -> None:
        with self.lock:
            self.errors[f"{kind}:{type(exc).__name__}"] += 1

    def done(self, kind: str) -> None:
        with self.lock:
            self.ops[kind] += 1

    def put_log(self, label: str) -> PutLog:
        with self.lock:
            return self.puts.setdefault(label, PutLog(label))

    def keys_with(self, status: int) -> int:
        return sum(log.count(status) for log in self.puts.values())

    def enter(self, what: str) -> None:
        with self.lock:
            if what == "mutex":
                self.holders += 1
                self.max_holders = max(self.max_holders, self.holders)
            else:
                self.leaders += 1
                self.max_leaders = max(self.max_leaders, self.leaders)

    def leave(self, what: str) -> None:
        with self.lock:
            if what == "mutex":
                self.holders -= 1
            else:
                self.leaders -= 1


class Worker(threading.Thread):
    """A daemon thread running :meth:`body` until ``stop``; bugs go to the ledger."""

    def __init__(self, name: str, ledger: Ledger, stop: threading.Event) -> None:
        super().__init__(name=f"chaos-{name}", daemon=True)
        self.label = name
        self.ledger = ledger
        self.stop = stop
        self.rng = random.Random(name)

    def run(self) -> None:
        try:
            self.body()
        except BaseException:
            self.ledger.unexpected.append(f"{self.label}: {traceback.format_exc()}")

    def body(self) -> None:
        raise NotImplementedError

    def pause(self, low: float, high: float) -> None:
        self.stop.wait(self.rng.uniform(low, high))

    def retry(self, kind: str, call: Callable[[], Any], *, bound: float = 60.0) -> Any:
        """Call until it succeeds (errors recorded), giving up after ``bound`` seconds."""
        deadline = time.monotonic() + bound
        while True:
            try:
                return call()
            except EtcdError as exc:
                self.ledger.error(kind, exc)
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


class PutWorker(Worker):
    """Unique keys under the watched prefix: single puts, and two-key txns (one revision)."""

    def __init__(self, name: str, ledger: Ledger, stop: threading.Event, client: Client) -> None:
        super().__init__(name, ledger, stop)
        self.client = client

    def body(self) -> None:
        log = self.ledger.put_log(self.label)
        while not self.stop.is_set():
            seq = log.begin(pair=len(log) % 5 == 4)
            keys = log.keys(seq)
            call: Callable[[], PutResponse | TxnResponse]
            if len(keys) == 1:
                kind, call = "put", partial(self.client.put, keys[0], b"v", timeout=CALL_TIMEOUT)
            else:
                ops = [Op.put(key, b"t") for key in keys]
                kind, call = "txn", partial(self.client.txn, (), ops, timeout=CALL_TIMEOUT)
            try:
                response = call()
            except EtcdError as exc:
                self.ledger.error(kind, exc)
                log.record(seq, None, exc)
                self.pause(0.05, 0.2)
                continue
            log.record(seq, response.header.revision, None)
            self.ledger.done(kind)
            self.pause(0.01, 0.04)


class CasWorker(Worker):
    """Increments shared counters with compare-and-swap (read, then swap if unchanged)."""

    def __init__(
        self,
        name: str,
        ledger: Ledger,
        stop: threading.Event,
        client: Client,
        counters: list[bytes],
    ) -> None:
        super().__init__(name, ledger, stop)
        self.client = client
        self.counters = counters

    def body(self) -> None:
        while not self.stop.is_set():
            key = self.rng.choice(self.counters)
            try:
                current = self.client.get(key, timeout=CALL_TIMEOUT).kvs[0].value
            except EtcdError as exc:
                self.ledger.error("cas-read", exc)
                self.pause(0.05, 0.2)
                continue
            new = str(int(current) + 1)
            try:
                swapped = self.client.kv.compare_and_swap(key, current, new, timeout=CALL_TIMEOUT)
            except EtcdError as exc:
                self.ledger.error("cas", exc)
                with self.ledger.lock:
                    self.ledger.cas_ambiguous[key] += 1
                self.pause(0.05, 0.2)
                continue
            if swapped:
                with self.ledger.lock:
                    self.ledger.cas_acked[key] += 1
                self.ledger.done("cas")
            else:
                self.ledger.done("cas-conflict")
            self.pause(0.01, 0.05)


class LeaseWorker(Worker):
    """Keeps a few leases alive with a key attached for the whole run, and churns short ones
    (grant, attach, revoke) meanwhile."""

    def __init__(
        self, name: str, ledger: Ledger, stop: threading.Event, client: Client, kept: int = 3
    ) -> None:
        super().__init__(name, ledger, stop)
        self.client = client
        for index in range(kept):
            lease = self.client.lease(SESSION_TTL).grant()
            key = f"{LEASE_PREFIX}kept/{self.label}/{index}".encode()
            self.client.put(key, "kept", lease=lease.id)
            ledger.kept_leases.append((lease, key))

    def body(self) -> None:
        while not self.stop.is_set():
            self.pause(0.3, 0.8)
            try:
                grant = self.client.lease.grant(30, timeout=CALL_TIMEOUT)
            except EtcdError as exc:
                self.ledger.error("lease-grant", exc)
                continue
            try:
                key = f"{LEASE_PREFIX}short/{grant.id:x}"
                self.client.put(key, "s", lease=grant.id, timeout=CALL_TIMEOUT)
                self.client.lease.revoke(grant.id, timeout=CALL_TIMEOUT)
            except EtcdError as exc:
                self.ledger.error("lease-churn", exc)
                continue  # the lease ends by its TTL
            self.ledger.done("lease-churn")


class MutexWorker(Worker):
    """Takes the shared mutex, does an owner-guarded txn inside, holds it briefly, releases."""

    def __init__(self, name: str, ledger: Ledger, stop: threading.Event, client: Client) -> None:
        super().__init__(name, ledger, stop)
        self.client = client

    def body(self) -> None:
        session = self.retry("session", lambda: Session(self.client, ttl=SESSION_TTL).start())
        try:
            mutex = Mutex(session, MUTEX_NAME)
            while not self.stop.is_set():
                if not session.alive:
                    self.ledger.sessions_lost += 1
                    return
                try:
                    mutex.lock(timeout=10)
                except EtcdError as exc:
                    self.ledger.error("lock", exc)
                    self.pause(0.05, 0.2)
                    continue
                self.critical_section(mutex)
                self.retry("unlock", lambda: mutex.unlock(timeout=CALL_TIMEOUT))
                self.ledger.done("mutex")
                self.pause(0.0, 0.05)
        finally:
            try:
                session.close()
            except EtcdError as exc:
                self.ledger.error("session-close", exc)

    def critical_section(self, mutex: Mutex) -> None:
        self.ledger.enter("mutex")
        section = Section(self.label, mutex.key, time.monotonic())
        try:
            response = self.client.txn(
                [mutex.is_owner()],
                [Op.put(MUTEX_CS_KEY, self.label)],
                timeout=CALL_TIMEOUT,
            )
        except EtcdError as exc:
            self.ledger.error("mutex-guarded-txn", exc)
        else:
            if response.succeeded:
                section.guard_revision = response.header.revision
            else:
                self.ledger.guard_failures.append(f"{self.label} lost {mutex.key!r}")
        time.sleep(self.rng.uniform(0.005, 0.03))
        section.exit = time.monotonic()
        self.ledger.leave("mutex")
        with self.ledger.lock:
            self.ledger.sections.append(section)


class ElectionWorker(Worker):
    """Campaigns, leads for a moment (proclaiming once), resigns; over and over."""

    def __init__(self, name: str, ledger: Ledger, stop: threading.Event, client: Client) -> None:
        super().__init__(name, ledger, stop)
        self.client = client

    def body(self) -> None:
        session = self.retry("session", lambda: Session(self.client, ttl=SESSION_TTL).start())
        try:
            election = Election(session, ELECTION_NAME)
            term = 0
            while not self.stop.is_set():
                if not session.alive:
                    self.ledger.sessions_lost += 1
                    return
                term += 1
                try:
                    election.campaign(f"{self.label}-{term}", timeout=10)
                except EtcdError as exc:
                    self.ledger.error("campaign", exc)
                    self.pause(0.05, 0.2)
                    continue
                self.ledger.enter("election")
                section = Section(self.label, election.key, time.monotonic())
                try:
                    election.proclaim(f"{self.label}-{term}-p", timeout=CALL_TIMEOUT)
                except EtcdError as exc:
                    self.ledger.error("proclaim", exc)
                self.pause(0.05, 0.2)
                section.exit = time.monotonic()
                self.ledger.leave("election")
                with self.ledger.lock:
                    self.ledger.terms.append(section)
                try:
                    election.resign(timeout=CALL_TIMEOUT)
                except EtcdError as exc:
                    # the key may stay: the next campaign of this session takes it over
                    self.ledger.error("resign", exc)
                self.ledger.done("election-term")
        finally:
            try:
                session.close()
            except EtcdError as exc:
                self.ledger.error("session-close", exc)


class AsyncWorker(Worker):
    """An AsyncClient on its own loop: unique puts, CAS increments and a mutex contender."""

    def __init__(
        self,
        name: str,
        ledger: Ledger,
        stop: threading.Event,
        make_client: Callable[[], AsyncClient],
        counters: list[bytes],
    ) -> None:
        super().__init__(name, ledger, stop)
        self.make_client = make_client
        self.counters = counters
        self.client: AsyncClient | None = None

    def body(self) -> None:
        asyncio.run(self.main())

    async def main(self) -> None:
        async with self.make_client() as client:
            self.client = client
            await asyncio.gather(self.puts(client), self.cas(client), self.mutex(client))

    async def nap(self, low: float, high: float) -> None:
        await asyncio.sleep(self.rng.uniform(low, high))

    async def puts(self, client: AsyncClient) -> None:
        log = self.ledger.put_log(self.label)
        while not self.stop.is_set():
            seq = log.begin(pair=False)
            try:
                response = await client.put(log.keys(seq)[0], b"a", timeout=CALL_TIMEOUT)
            except EtcdError as exc:
                self.ledger.error("async-put", exc)
                log.record(seq, None, exc)
                await self.nap(0.05, 0.2)
                continue
            log.record(seq, response.header.revision, None)
            self.ledger.done("async-put")
            await self.nap(0.01, 0.05)

    async def cas(self, client: AsyncClient) -> None:
        while not self.stop.is_set():
            key = self.rng.choice(self.counters)
            try:
                current = (await client.get(key, timeout=CALL_TIMEOUT)).kvs[0].value
            except EtcdError as exc:
                self.ledger.error("async-cas-read", exc)
                await self.nap(0.05, 0.2)
                continue
            try:
                swapped = await client.kv.compare_and_swap(
                    key, current, str(int(current) + 1), timeout=CALL_TIMEOUT
                )
            except EtcdError as exc:
                self.ledger.error("async-cas", exc)
                with self.ledger.lock:
                    self.ledger.cas_ambiguous[key] += 1
                await self.nap(0.05, 0.2)
                continue
            if swapped:
                with self.ledger.lock:
                    self.ledger.cas_acked[key] += 1
                self.ledger.done("async-cas")
            await self.nap(0.02, 0.06)

    async def mutex(self, client: AsyncClient) -> None:
        session: AsyncSession | None = None
        while session is None and not self.stop.is_set():
            try:
                session = await AsyncSession(client, ttl=SESSION_TTL).start()
            except EtcdError as exc:
                self.ledger.error("async-session", exc)
                await asyncio.sleep(0.2)
        if session is None:
            return
        try:
            await self._contend(session)
        finally:
            try:
                await session.aclose()
            except EtcdError as exc:
                self.ledger.error("session-close", exc)

    async def _contend(self, session: AsyncSession) -> None:
        mutex = AsyncMutex(session, MUTEX_NAME)
        client = session.client
        while not self.stop.is_set():
            if not session.alive:
                self.ledger.sessions_lost += 1
                return
            try:
                await mutex.lock(timeout=10)
            except EtcdError as exc:
                self.ledger.error("async-lock", exc)
                await self.nap(0.05, 0.2)
                continue
            self.ledger.enter("mutex")
            section = Section(self.label, mutex.key, time.monotonic())
            try:
                response = await client.txn(
                    [mutex.is_owner()], [Op.put(MUTEX_CS_KEY, self.label)], timeout=CALL_TIMEOUT
                )
            except EtcdError as exc:
                self.ledger.error("mutex-guarded-txn", exc)
            else:
                if response.succeeded:
                    section.guard_revision = response.header.revision
                else:
                    self.ledger.guard_failures.append(f"{self.label} lost {mutex.key!r}")
            await self.nap(0.005, 0.03)
            section.exit = time.monotonic()
            self.ledger.leave("mutex")
            with self.ledger.lock:
                self.ledger.sections.append(section)
            deadline = time.monotonic() + 60
            while True:
                try:
                    await mutex.unlock(timeout=CALL_TIMEOUT)
                    break
                except EtcdError as exc:
                    self.ledger.error("async-unlock", exc)
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.2)
            self.ledger.done("async-mutex")
            await self.nap(0.0, 0.05)


class WatchLog:
    """What one watch delivered, summarised as it arrives (a long run delivers tens of millions
    of events): the count, an order-sensitive digest of (revision, key, type), the events that
    came twice or out of order, the resume notices, and the last few events for diagnosis."""

    def __init__(self) -> None:
        self.count = 0
        self.digest = hashlib.blake2b(digest_size=16)
        self.repeated: list[tuple[int, bytes]] = []
        self.resumed = 0
        self.last_revision = 0
        self._keys_at_last: set[bytes] = set()
        self.tail: deque[tuple[int, bytes]] = deque(maxlen=5)

    def __call__(self, response: WatchResponse) -> None:
        if response.resumed:
            self.resumed += 1
        for event in response.events:
            self.add(event.kv.mod_revision, event.kv.key, event.type)

    def add(self, revision: int, key: bytes, kind: EventType) -> None:
        if revision < self.last_revision or (
            revision == self.last_revision and key in self._keys_at_last
        ):
            self.repeated.append((revision, key))
            return
        if revision > self.last_revision:
            self.last_revision = revision
            self._keys_at_last = set()
        self._keys_at_last.add(key)
        self.count += 1
        self.digest.update(b"%d %d %s\n" % (revision, kind.value, key))
        self.tail.append((revision, key))

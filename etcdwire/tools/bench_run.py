"""The two engines of ``etcdwire bench``, and the steps a workload asks them to take.

A workload (see :mod:`etcdwire.tools.bench_flows`) is a generator: it yields :class:`Open`,
:class:`Call`, :class:`Run` and :class:`Wait` steps and receives each step's outcome, so one
description drives both engines. A step's functions return either a value (sync clients) or
an awaitable (async clients); each engine resolves them its own way.

- :class:`SyncEngine`: ``etcdwire.Client`` objects, one thread per worker.
- :class:`AsyncEngine`: ``etcdwire.AsyncClient`` objects, one task per worker, one event loop.

Workers share the clients round-robin (``--clients`` workers over ``--conns`` clients, each
client one connection).
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..errors import EtcdError
from .bench_progress import Progress, RateLimiter
from .bench_stats import Result

__all__ = [
    "AsyncEngine",
    "Call",
    "Flow",
    "Open",
    "Phase",
    "PhaseResult",
    "Run",
    "SyncEngine",
    "Wait",
]

MaybeAwaitable = Any
"""A plain value from a sync client, or an awaitable of it from an async client."""


@dataclass
class Phase:
    """``total`` requests by ``workers`` workers over ``clients``.

    ``op(client, index, state)`` sends one request; ``state`` is what ``setup(client)``
    returned for that worker (None without ``setup``), and ``teardown(client, state)`` runs
    after the phase, off the clock. ``on_done(index, started, response)`` sees each
    successful response with its ``time.perf_counter()`` start. With ``per_worker``, worker
    ``w`` takes indexes ``w * per_worker ...`` (``total`` is then ``workers * per_worker``);
    otherwise the workers take the next index as they become free. ``rate`` caps the
    requests per second of the whole phase (0: no cap).
    """

    name: str
    total: int
    workers: int
    clients: list[Any]
    op: Callable[[Any, int, Any], MaybeAwaitable]
    rate: float = 0.0
    per_worker: int | None = None
    setup: Callable[[Any], MaybeAwaitable] | None = None
    teardown: Callable[[Any, Any], MaybeAwaitable] | None = None
    on_done: Callable[[int, float, Any], None] | None = None


@dataclass
class PhaseResult:
    """What a phase measured: one :class:`Result` per request, ``elapsed`` wall seconds,
    and ``started`` its ``time.perf_counter()`` origin."""

    name: str
    results: list[Result]
    elapsed: float
    started: float = 0.0


@dataclass
class Open:
    """Open ``count`` clients (returned as a list; closed by the engine at the end)."""

    count: int


@dataclass
class Call:
    """Call ``fn()`` and hand back what it returns (awaited if need be)."""

    fn: Callable[[], MaybeAwaitable]


@dataclass
class Run:
    """Run a :class:`Phase`; a :class:`PhaseResult` comes back."""

    phase: Phase


@dataclass
class Wait:
    """Poll ``predicate()`` until it holds or ``timeout`` passes; the outcome is a bool."""

    predicate: Callable[[], bool]
    timeout: float


Step = Open | Call | Run | Wait
Flow = Generator[Step, Any, list[PhaseResult]]


@dataclass
class _Shared:
    """State one phase's workers share."""

    phase: Phase
    limiter: RateLimiter
    outputs: list[list[Result]]
    counter: itertools.count[int] = field(default_factory=itertools.count)
    stop: bool = False
    failure: BaseException | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def indexes(self, worker: int) -> range | None:
        per = self.phase.per_worker
        return None if per is None else range(worker * per, (worker + 1) * per)

    def next_index(self) -> int | None:
        index = next(self.counter)
        return index if index < self.phase.total and not self.stop else None

    def done(self) -> int:
        return sum(len(out) for out in self.outputs)


def _failed(started: float, origin: float, exc: EtcdError) -> Result:
    latency = time.perf_counter() - started
    return Result(started - origin, latency, type(exc).__name__, str(exc).splitlines()[0][:200])


class _Engine:
    client_factory: Callable[..., Any]

    def __init__(self, client_kwargs: dict[str, Any], progress_stream: TextIO) -> None:
        self.client_kwargs = client_kwargs
        self.progress_stream = progress_stream
        self.clients: list[Any] = []

    def _progress(self, shared: _Shared) -> Progress:
        return Progress(
            self.progress_stream, shared.phase.name, shared.phase.total, shared.done
        ).start()

    def _shared(self, phase: Phase) -> _Shared:
        if phase.per_worker is not None:
            phase.total = phase.per_worker * phase.workers
        return _Shared(phase, RateLimiter(phase.rate), [[] for _ in range(phase.workers)])


class SyncEngine(_Engine):
    """Threads over ``etcdwire.Client``."""

    def run(self, flow: Flow) -> list[PhaseResult]:
        outcome: Any = None
        try:
            while True:
                step = flow.send(outcome)
                outcome = self._step(step)
        except StopIteration as stop:
            result: list[PhaseResult] = stop.value
            return result
        finally:
            flow.close()
            for client in self.clients:
                client.close()

    def _step(self, step: Step) -> Any:
        if isinstance(step, Open):
            from .. import Client

            opened = [Client(**self.client_kwargs) for _ in range(step.count)]
            self.clients += opened
            return opened
        if isinstance(step, Call):
            return step.fn()
        if isinstance(step, Wait):
            deadline = time.monotonic() + step.timeout
            while not step.predicate():
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.005)
            return True
        return self._run_phase(step.phase)

    def _run_phase(self, phase: Phase) -> PhaseResult:
        shared = self._shared(phase)
        clients = [phase.clients[w % len(phase.clients)] for w in range(phase.workers)]
        states = [phase.setup(client) if phase.setup else None for client in clients]
        progress = self._progress(shared)
        origin = time.perf_counter()
        threads = [
            threading.Thread(
                target=self._worker,
                args=(shared, w, clients[w], states[w], origin),
                name=f"etcdwire-bench-{w}",
                daemon=True,
            )
            for w in range(phase.workers)
        ]
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.1)
        except BaseException:
            shared.stop = True
            raise
        finally:
            progress.finish()
        elapsed = time.perf_counter() - origin
        if shared.failure is not None:
            raise shared.failure
        if phase.teardown is not None:
            for client, state in zip(clients, states, strict=True):
                phase.teardown(client, state)
        return PhaseResult(phase.name, [r for out in shared.outputs for r in out], elapsed, origin)

    def _worker(self, shared: _Shared, worker: int, client: Any, state: Any, origin: float) -> None:
        phase, out = shared.phase, shared.outputs[worker]
        fixed = shared.indexes(worker)
        order = iter(fixed) if fixed is not None else iter(shared.next_index, None)
        try:
            for index in order:
                if shared.stop:
                    return
                if phase.rate > 0:
                    with shared.lock:
                        delay = shared.limiter.reserve(time.perf_counter())
                    if delay > 0:
                        time.sleep(delay)
                started = time.perf_counter()
                try:
                    response = phase.op(client, index, state)
                except EtcdError as exc:
                    out.append(_failed(started, origin, exc))
                    continue
                ended = time.perf_counter()
                out.append(Result(started - origin, ended - started))
                if phase.on_done is not None:
                    phase.on_done(index, started, response)
        except BaseException as exc:
            shared.failure = shared.failure or exc
            shared.stop = True


async def _resolve(value: MaybeAwaitable) -> Any:
    return await value if inspect.isawaitable(value) else value


class AsyncEngine(_Engine):
    """Tasks over ``etcdwire.AsyncClient``, in one event loop."""

    def run(self, flow: Flow) -> list[PhaseResult]:
        return asyncio.run(self._drive(flow))

    async def _drive(self, flow: Flow) -> list[PhaseResult]:
        outcome: Any = None
        try:
            while True:
                step = flow.send(outcome)
                outcome = await self._step(step)
        except StopIteration as stop:
            result: list[PhaseResult] = stop.value
            return result
        finally:
            flow.close()
            for client in self.clients:
                await client.aclose()

    async def _step(self, step: Step) -> Any:
        if isinstance(step, Open):
            from .. import AsyncClient

            opened = [AsyncClient(**self.client_kwargs) for _ in range(step.count)]
            self.clients += opened
            return opened
        if isinstance(step, Call):
            return await _resolve(step.fn())
        if isinstance(step, Wait):
            deadline = time.monotonic() + step.timeout
            while not step.predicate():
                if time.monotonic() >= deadline:
                    return False
                await asyncio.sleep(0.005)
            return True
        return await self._run_phase(step.phase)

    async def _run_phase(self, phase: Phase) -> PhaseResult:
        shared = self._shared(phase)
        clients = [phase.clients[w % len(phase.clients)] for w in range(phase.workers)]
        states = [await _resolve(phase.setup(c)) if phase.setup else None for c in clients]
        progress = self._progress(shared)
        origin = time.perf_counter()
        try:
            await asyncio.gather(
                *(
                    self._worker(shared, w, clients[w], states[w], origin)
                    for w in range(phase.workers)
                )
            )
        except BaseException:
            shared.stop = True
            raise
        finally:
            progress.finish()
        elapsed = time.perf_counter() - origin
        if phase.teardown is not None:
            for client, state in zip(clients, states, strict=True):
                await _resolve(phase.teardown(client, state))
        return PhaseResult(phase.name, [r for out in shared.outputs for r in out], elapsed, origin)

    async def _worker(
        self, shared: _Shared, worker: int, client: Any, state: Any, origin: float
    ) -> None:
        phase, out = shared.phase, shared.outputs[worker]
        fixed = shared.indexes(worker)
        order = iter(fixed) if fixed is not None else iter(shared.next_index, None)
        for index in order:
            if shared.stop:
                return
            if phase.rate > 0:
                delay = shared.limiter.reserve(time.perf_counter())
                if delay > 0:
                    await asyncio.sleep(delay)
            started = time.perf_counter()
            try:
                response = await _resolve(phase.op(client, index, state))
            except EtcdError as exc:
                out.append(_failed(started, origin, exc))
                continue
            out.append(Result(started - origin, time.perf_counter() - started))
            if phase.on_done is not None:
                phase.on_done(index, started, response)

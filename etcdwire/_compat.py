"""Paired primitives for the async shell and its generated sync twin.

``etcdwire/_async`` uses the ``Async*`` names and the ``a*`` functions; ``scripts/unasync.py``
rewrites them to the plain names, which are their blocking, thread-based equivalents. Each pair
has the same signature, so the shell's logic is written once. Timeouts are always explicit
(seconds, ``None`` = forever), never cancellation scopes, because a blocking call cannot be
interrupted from outside.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
import weakref
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = [
    "AsyncEvent",
    "AsyncLock",
    "AsyncSignal",
    "AsyncTask",
    "Event",
    "Lock",
    "Signal",
    "StateLock",
    "Task",
    "asleep",
    "aspawn",
    "monotonic",
    "sleep",
    "spawn",
]

monotonic = time.monotonic


class AsyncLock:
    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> None:
        await self._lock.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self._lock.release()


#: The blocking twin of AsyncLock is the plain thread lock: it is taken several times per
#: call, and a wrapper's method calls would cost more than the lock itself.
Lock = threading.Lock

#: A lock for short critical sections that never wait inside (``with``, not ``async with``):
#: in asyncio code no other coroutine can run inside such a section, so a thread lock is never
#: contended there and costs a fraction of an asyncio.Lock; the blocking twin needs exactly it.
#: ``tests/test_layers.py`` checks that no ``await`` appears inside one.
StateLock = threading.Lock


#: How finely :meth:`AsyncEvent.wait` timeouts are kept: a timeout ends at most this late.
TIMER_GRANULARITY = 0.005


class _SharedTimers:
    """Timeouts of :meth:`AsyncEvent.wait` on one event loop, rounded up to
    :data:`TIMER_GRANULARITY` so that the waits ending in the same slot share one timer handle.

    A busy connection has a waiter per call in flight, each with the call's deadline, and
    nearly all are woken long before it: a timer handle apiece (created, pushed on the loop's
    heap, cancelled) cost more than the rest of the wait. Here a wait adds its future to the
    slot's set and takes it out when it ends; the slot's one handle expires what is left.
    It holds no reference to its loop, so a loop that is gone takes its timers with it."""

    __slots__ = ("__weakref__", "_slots")

    def __init__(self) -> None:
        self._slots: dict[int, set[asyncio.Future[bool]]] = {}

    def add(
        self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[bool], timeout: float
    ) -> int:
        key = math.ceil((loop.time() + timeout) / TIMER_GRANULARITY)
        waiting = self._slots.get(key)
        if waiting is None:
            waiting = self._slots[key] = set()
            loop.call_at(key * TIMER_GRANULARITY, self._expire, key)
        waiting.add(future)
        return key

    def remove(self, key: int, future: asyncio.Future[bool]) -> None:
        waiting = self._slots.get(key)
        if waiting is not None:
            waiting.discard(future)

    def _expire(self, key: int) -> None:
        for future in self._slots.pop(key, ()):
            if not future.done():
                future.set_result(False)


_timers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _SharedTimers] = (
    weakref.WeakKeyDictionary()
)
#: Weak references to the last loop asked for and its timers: the usual lookup, one call.
_last_timers: list[Any] = [None, None]


def _timers_for(loop: asyncio.AbstractEventLoop) -> _SharedTimers:
    last_loop, last = _last_timers
    if last_loop is not None and last_loop() is loop:
        timers: _SharedTimers | None = last()
        if timers is not None:
            return timers
    timers = _timers.get(loop)
    if timers is None:
        timers = _timers[loop] = _SharedTimers()
    _last_timers[0], _last_timers[1] = weakref.ref(loop), weakref.ref(timers)
    return timers


class AsyncSignal:
    """A one-shot event for one waiter: set once, waited on once, so a wait costs a bare
    future and a place in a shared timer slot (:class:`_SharedTimers`), not an
    ``asyncio.timeout`` scope or a timer of its own. A call waiting for its own stream is
    woken by one, and each :meth:`AsyncEvent.wait` waits on one."""

    __slots__ = ("_future", "_set")

    def __init__(self) -> None:
        self._set = False
        self._future: asyncio.Future[bool] | None = None

    def set(self) -> None:
        self._set = True
        future = self._future
        if future is not None and not future.done():
            future.set_result(True)

    def is_set(self) -> bool:
        return self._set

    async def wait(self, timeout: float | None = None) -> bool:
        """True once set; False when ``timeout`` passed first (up to
        :data:`TIMER_GRANULARITY` late)."""
        if self._set:
            return True
        if timeout is not None and timeout <= 0:
            return False
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._future = future
        if timeout is None:
            return await future
        timers = _timers_for(loop)
        key = timers.add(loop, future, timeout)
        try:
            return await future
        finally:
            timers.remove(key, future)


class AsyncEvent:
    """asyncio.Event with a timeout on ``wait``: each wait is an :class:`AsyncSignal` of its
    own, which :meth:`set` sets. A timeout ends up to :data:`TIMER_GRANULARITY` late."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[AsyncSignal] = []

    def set(self) -> None:
        self._set = True
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.set()

    def clear(self) -> None:
        self._set = False

    def is_set(self) -> bool:
        return self._set

    async def wait(self, timeout: float | None = None) -> bool:
        if self._set:
            return True
        waiter = AsyncSignal()
        self._waiters.append(waiter)
        try:
            return await waiter.wait(timeout)
        finally:
            if not waiter.is_set() and waiter in self._waiters:  # set() did not take it
                self._waiters.remove(waiter)


class Event:
    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)


class AsyncTask:
    """Handle on background work started by :func:`aspawn`."""

    __slots__ = ("_task",)

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self._task = task

    def cancel(self) -> None:
        self._task.cancel()

    def done(self) -> bool:
        return self._task.done()

    async def join(self, timeout: float | None = None) -> None:
        if self._task.done():
            return
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._task)
        except (TimeoutError, asyncio.CancelledError):
            return


#: The blocking twin of AsyncSignal: a thread event does the same.
Signal = Event


class Task:
    """Handle on background work started by :func:`spawn` (a daemon thread).

    ``cancel`` only sets a flag the work may poll through ``cancelled``; threads cannot be
    interrupted, so background loops check it between waits."""

    __slots__ = ("_cancelled", "_thread")

    def __init__(self, thread: threading.Thread) -> None:
        self._thread = thread
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True

    def done(self) -> bool:
        return not self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)


def aspawn(fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any, name: str = "") -> AsyncTask:
    return AsyncTask(asyncio.get_running_loop().create_task(fn(*args), name=name or None))


def spawn(fn: Callable[..., Any], *args: Any, name: str = "") -> Task:
    thread = threading.Thread(target=fn, args=args, name=name or None, daemon=True)
    task = Task(thread)
    thread.start()
    return task


async def asleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def sleep(seconds: float) -> None:
    time.sleep(seconds)

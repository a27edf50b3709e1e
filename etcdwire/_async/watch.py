"""Watches: many watches on one Watch stream per client (and metadata group), resumed without
loss when the stream, the connection or the endpoint changes.

The rules live in the sans-IO :class:`~etcdwire._etcd.watch_demux.WatchDemux`; here one pump
per stream reads responses, feeds the demux, writes what it asks for, and files deliveries into
each watch's bounded buffer. When the stream breaks, the pump reopens it (on another endpoint if
the connection manager moves) and the demux re-creates every watch from the revision it needs
next, so no event is lost or repeated.

Slow consumers: each watch buffers at most ``max_buffered`` responses. With
``overflow="block"`` (the default) a full buffer pauses the pump, and HTTP/2 flow control then
pauses the server: nothing is dropped, and the other watches of the stream wait too. With
``overflow="fail"`` the watch is cancelled and its iterator raises :class:`WatchOverflow`.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Literal

from .._compat import AsyncEvent, AsyncLock, AsyncTask, asleep, aspawn, monotonic
from .._etcd import methods
from .._etcd.watch_demux import (
    Canceled,
    Created,
    Events,
    Progress,
    RestartStream,
    Resumed,
    WatchDemux,
    WatchSpec,
)
from .._etcd.watching import WatchResponse, response_from_delivery
from ..errors import (
    CallCancelled,
    DeadlineExceeded,
    EtcdError,
    Internal,
    InvalidAuthToken,
    NoLeader,
    PermissionDenied,
    RemoteProtocolError,
    TransportError,
    Unavailable,
    UsageError,
    WatchOverflow,
)
from .channel import AsyncCall, ReceiveTimeout, deadline_after
from .manager import AsyncConnectionManager
from .receiver import AsyncReceiver

__all__ = ["AsyncWatch", "AsyncWatcher", "WatchOverflow"]

logger = logging.getLogger("etcdwire.watch")

POLL_INTERVAL = 0.5
REOPEN_BACKOFF = (0.05, 0.1, 0.2, 0.5, 1.0)
Overflow = Literal["block", "fail"]


_END = object()


class AsyncWatch(AsyncReceiver[WatchResponse]):
    """One watch. Iterate it for :class:`WatchResponse` values; leave the context manager or
    call :meth:`cancel` to end it. A compaction of the revision it needs ends the iteration
    with :class:`~etcdwire.errors.Compacted` (its ``compact_revision`` says where to restart).
    """

    __slots__ = (
        "_callback",
        "_queue",
        "_ready",
        "_space",
        "_watcher",
        "created",
        "ended",
        "error",
        "local_id",
        "max_buffered",
        "overflow",
        "require_leader",
        "resumes",
        "revision",
        "spec",
        "watch_id",
    )

    def __init__(
        self,
        watcher: AsyncWatcher,
        spec: WatchSpec,
        *,
        require_leader: bool,
        max_buffered: int,
        overflow: Overflow,
        callback: Callable[[WatchResponse], Any] | None,
    ) -> None:
        if isinstance(max_buffered, bool) or not isinstance(max_buffered, int) or max_buffered < 1:
            raise UsageError(f"max_buffered must be at least 1, got {max_buffered!r}")
        if overflow not in ("block", "fail"):
            raise UsageError(f"overflow must be 'block' or 'fail', not {overflow!r}")
        self._watcher = watcher
        self.spec = spec
        self.require_leader = require_leader
        self.max_buffered = max_buffered
        self.overflow: Overflow = overflow
        self._callback = callback
        self.local_id: int | None = None
        self.watch_id: int | None = None
        # Events and the buffer are made when first needed: an idle watch holds none of them
        # (10,000 idle watches are a normal load).
        self.created: AsyncEvent | None = None
        self._ready: AsyncEvent | None = None
        self._space: AsyncEvent | None = None
        self._queue: deque[Any] | None = None
        self.error: EtcdError | None = None
        self.ended = False
        self.resumes = 0
        self.revision = 0

    # --- life cycle -------------------------------------------------------------------------

    async def start(self, timeout: float | None = None) -> AsyncWatch:
        """Send the create request and wait until the server confirms it."""
        if self.local_id is None:
            self.created = AsyncEvent()
            await self._watcher._add(self)
        created = self.created
        if created is not None:
            if not await created.wait(timeout):
                await self.cancel()
                raise DeadlineExceeded("the server did not confirm the watch in time")
            self.created = None
        if self.error is not None and self.watch_id is None:
            raise self.error
        return self

    async def cancel(self) -> None:
        """End the watch (the server is told); iteration stops after what is buffered."""
        if not self.ended:
            await self._watcher._cancel(self)
            self._finish(None)

    async def request_progress(self) -> None:
        """Ask the server for a progress notification on this watch's stream."""
        await self._watcher._request_progress(self)

    @property
    def buffered(self) -> int:
        return len(self._queue) if self._queue else 0

    # --- delivery (called by the pump) -------------------------------------------------------

    def _deliver(self, response: WatchResponse) -> bool:
        """Queue a response; False when the buffer is full (the pump then waits or fails)."""
        if self._callback is not None:
            try:
                self._callback(response)
            except Exception:
                logger.exception("watch callback failed")
            return True
        queue = self._queue
        if queue is None:
            queue = self._queue = deque()
        if len(queue) >= self.max_buffered:
            return False
        queue.append(response)
        if self._ready is not None:
            self._ready.set()
        return True

    def _finish(self, error: EtcdError | None) -> None:
        if self.ended:
            return
        self.ended = True
        self.error = self.error or error
        if self._queue is None:
            self._queue = deque()
        self._queue.append(_END)
        for event in (self._ready, self.created, self._space):
            if event is not None:
                event.set()

    # --- consumption -------------------------------------------------------------------------

    async def receive(self, timeout: float | None = None) -> WatchResponse | None:
        """The next response; None once the watch has ended without error, or when
        ``timeout`` passes with nothing (check :attr:`ended` to tell them apart)."""
        if self.local_id is None:
            await self.start()
        deadline = deadline_after(timeout)
        ready = self._ready
        if ready is None:
            ready = self._ready = AsyncEvent()
        while True:
            ready.clear()  # before looking, so a delivery after the look still wakes us
            queue = self._queue
            if queue:
                item = queue[0]
                if item is _END:
                    if self.error is not None:
                        raise self.error
                    return None
                queue.popleft()
                if self._space is not None:
                    self._space.set()
                return item  # type: ignore[no-any-return]
            remaining = None if deadline is None else deadline - monotonic()
            if remaining is not None and remaining <= 0:
                return None
            await ready.wait(remaining)

    async def _leave(self) -> None:
        await self.cancel()


class _Stream:
    """One Watch stream (per metadata group) and its pump."""

    def __init__(self, watcher: AsyncWatcher, require_leader: bool) -> None:
        self.watcher = watcher
        self.metadata: tuple[tuple[str, str], ...] = (
            (("hasleader", "true"),) if require_leader else ()
        )
        self.demux = WatchDemux(restart_on=(InvalidAuthToken, PermissionDenied))
        self.watches: dict[int, AsyncWatch] = {}
        self.call: AsyncCall[Any, Any] | None = None
        self.task: AsyncTask | None = None
        self.lock = AsyncLock()  # the demux is not thread-safe: one user at a time
        #: A pump runs (or is starting). Set and cleared only under ``lock``, where the pump
        #: also decides to stop, so a watch added as the pump stops still gets one.
        self.pumping = False
        self.streams_opened = 0
        self.resumes = 0
        #: The endpoint whose connection just failed: the next stream avoids it if it can.
        self.avoid: tuple[str, ...] = ()

    async def send_pending(self) -> None:
        async with self.lock:
            # The call is read under the lock: a call being retired is no longer here, so
            # nothing is written to it after the demux was reset for the next one.
            call = self.call
            if call is None:
                return
            for request in self.demux.requests_to_send():
                await call.send_message(request)

    def ensure_pump(self) -> None:
        """Start the pump unless one runs; call with ``lock`` held."""
        if not self.pumping:
            self.pumping = True
            self.task = aspawn(self.pump, name="etcdwire-watch")

    async def keep_pumping(self) -> bool:
        """Whether the pump goes on; when it stops, ``pumping`` is cleared in the same step."""
        async with self.lock:
            if self.watches and not self.watcher.closed:
                return True
            self.pumping = False
            return False

    async def pump(self) -> None:
        try:
            await self.pump_streams()
        except Exception as exc:
            # A bug must not leave every watch of the client waiting forever: end them all
            # with the error; the next watch starts a new pump.
            logger.exception("watch stream stopped by an unexpected error")
            failure = Internal(f"the watch stream stopped: {exc!r}")
            async with self.lock:
                self.pumping = False
                with contextlib.suppress(Exception):
                    self.demux.fail_all(failure)
                ended, self.watches = list(self.watches.values()), {}
            for watch in ended:
                watch._finish(failure)
        except BaseException:
            self.pumping = False
            raise

    async def pump_streams(self) -> None:
        failures = 0
        while await self.keep_pumping():
            try:
                await self.serve()
                failures = 0
            except CallCancelled:
                if self.watcher.closed:
                    return
            except (TransportError, Unavailable, RemoteProtocolError, DeadlineExceeded) as exc:
                logger.info("watch stream failed: %s; resuming", exc)
                failures += 1
            except InvalidAuthToken as exc:
                logger.info("watch stream needs a new token: %s", exc)
                self.watcher.manager.tokens.invalidate()
                failures += 1
            except EtcdError as exc:
                logger.warning("watch stream ended: %s", exc)
                async with self.lock:
                    deliveries = self.demux.fail_all(exc)
                    self.pumping = False
                for delivery in deliveries:
                    self.route(delivery)
                return
            finally:
                self.call = None
            # Whatever the old stream left (a create in flight, unsent cancels) concerns it
            # only: the next stream starts from a clean demux even if no watch is left now.
            async with self.lock:
                self.demux.stream_lost()
            if self.watches and not self.watcher.closed:
                await asleep(REOPEN_BACKOFF[min(failures, len(REOPEN_BACKOFF) - 1)])

    async def serve(self) -> None:
        manager = self.watcher.manager
        call = await manager.open_call(
            methods.WATCH_WATCH, metadata=self.metadata, exclude=self.avoid
        )
        self.avoid = ()
        self.call = call
        self.streams_opened += 1
        endpoint = None
        try:
            await self.send_pending()
            endpoint = call.connection.endpoint if call.connection else None
            while self.watches and not self.watcher.closed:
                try:
                    message = await call.receive(timeout=POLL_INTERVAL)
                except ReceiveTimeout:
                    await self.send_pending()
                    if call.connection is not None:
                        await call.connection.keepalive_tick()
                    continue
                if message is None:
                    raise Unavailable("the server ended the watch stream")
                async with self.lock:
                    deliveries = self.demux.receive(message)
                for delivery in deliveries:
                    if isinstance(delivery, RestartStream):
                        raise InvalidAuthToken(str(delivery.error))
                    await self.route_or_wait(delivery)
                await self.send_pending()
        except (TransportError, NoLeader) as exc:
            if endpoint is not None:
                manager.connection_failed(endpoint, exc)
                self.avoid = (endpoint,)
            raise
        finally:
            async with self.lock:
                self.call = None
            if not call.done:
                await call.cancel()

    async def route_or_wait(self, delivery: Any) -> None:
        watch = self.watches.get(delivery.local_id)
        if watch is None:
            return
        if isinstance(delivery, Events | Progress | Resumed):
            response = response_from_delivery(delivery)
            while not watch._deliver(response):
                if watch.overflow == "fail":
                    self.watches.pop(delivery.local_id, None)
                    async with self.lock:
                        self.demux.cancel(delivery.local_id)
                    watch._finish(
                        WatchOverflow(f"watch fell {watch.max_buffered} responses behind")
                    )
                    return
                space = watch._space
                if space is None:
                    space = watch._space = AsyncEvent()
                space.clear()
                if watch.buffered >= watch.max_buffered:
                    await space.wait(POLL_INTERVAL)
                if watch.ended or self.watcher.closed:
                    return
            watch.revision = response.revision
            if isinstance(delivery, Resumed):
                watch.resumes += 1
                self.resumes += 1
            return
        self.route(delivery)

    def route(self, delivery: Any) -> None:
        watch = self.watches.get(delivery.local_id)
        if watch is None:
            return
        if isinstance(delivery, Created):
            watch.watch_id = delivery.watch_id
            watch.revision = delivery.header.revision
            if watch.created is not None:
                watch.created.set()
        elif isinstance(delivery, Canceled):
            self.watches.pop(delivery.local_id, None)
            watch._finish(delivery.error)


class AsyncWatcher:
    """All watches of a client: one stream per metadata group (with or without
    require-leader), shared by every watch of that group."""

    def __init__(self, manager: AsyncConnectionManager) -> None:
        self.manager = manager
        self.closed = False
        self._streams: dict[bool, _Stream] = {}

    def stream_for(self, require_leader: bool) -> _Stream:
        stream = self._streams.get(require_leader)
        if stream is None:
            stream = self._streams[require_leader] = _Stream(self, require_leader)
        return stream

    @property
    def streams_opened(self) -> int:
        return sum(s.streams_opened for s in self._streams.values())

    @property
    def watch_count(self) -> int:
        return sum(len(s.watches) for s in self._streams.values())

    async def _add(self, watch: AsyncWatch) -> None:
        if self.closed:
            raise UsageError("the client is closed")
        stream = self.stream_for(watch.require_leader)
        async with stream.lock:
            local_id = stream.demux.add(watch.spec)
            watch.local_id = local_id
            stream.watches[local_id] = watch
            stream.ensure_pump()
        try:
            await stream.send_pending()
        except EtcdError as exc:  # the stream is failing: the pump re-creates it on the next
            logger.debug("watch create not sent: %s", exc)

    async def _cancel(self, watch: AsyncWatch) -> None:
        stream = self.stream_for(watch.require_leader)
        if watch.local_id is None or stream.watches.pop(watch.local_id, None) is None:
            return
        async with stream.lock:
            stream.demux.cancel(watch.local_id)
        try:
            await stream.send_pending()
        except EtcdError as exc:  # the pump resumes without it
            logger.debug("watch cancel not sent: %s", exc)

    async def _request_progress(self, watch: AsyncWatch) -> None:
        stream = self.stream_for(watch.require_leader)
        async with stream.lock:
            stream.demux.request_progress()
        await stream.send_pending()

    async def aclose(self) -> None:
        self.closed = True
        for stream in self._streams.values():
            call = stream.call
            if call is not None:
                await call.cancel()
            for watch in list(stream.watches.values()):
                watch._finish(None)
            stream.watches.clear()
            if stream.task is not None:
                stream.task.cancel()
                await stream.task.join(2.0)

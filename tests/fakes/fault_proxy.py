"""A TCP proxy on loopback that injects network faults on demand, for tests.

It shares no code with etcdwire. The proxy runs an asyncio loop in its own daemon thread; every
control method is a plain blocking call that returns once the change is in effect, so sync
tests drive it directly::

    with FaultProxy(("127.0.0.1", etcd.client_port)) as proxy:
        client = Client([proxy.endpoint])
        proxy.add_latency(0.2)        # every byte, both ways, arrives 200 ms late
        proxy.black_hole()            # accepts, never answers; live links stop forwarding
        proxy.pass_through()          # everything back to normal (held bytes are delivered)
        proxy.reset()                 # every live link is closed with RST
        assert proxy.stats().connections_accepted == 1

Settings compose (latency + throttle + chunking); :meth:`FaultProxy.pass_through` clears all of
them and listens again after :meth:`FaultProxy.refuse`. A black hole holds bytes instead of
dropping them, as TCP would during a partition: when it ends the held bytes are delivered, so
the byte stream stays intact. :meth:`cut` and :meth:`reset` act once on the links open at that
moment; new connections are proxied as usual afterwards.

``upstream`` is ``(host, port)`` or a callable returning it, evaluated at each new connection
(so a server that moved to another port can be followed).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import random
import socket
import struct
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar

__all__ = ["FaultProxy", "ProxyStats"]

logger = logging.getLogger("tests.fakes.fault_proxy")

Address = tuple[str, int]
Upstream = Address | Callable[[], Address]
_T = TypeVar("_T")

_READ_SIZE = 65536
_QUEUE_CHUNKS = 64  # per direction: at most this many reads are held (black hole, latency)
_CONTROL_TIMEOUT = 10.0


@dataclass(frozen=True)
class ProxyStats:
    """Counters since the proxy started (``active`` is a snapshot)."""

    connections_accepted: int
    connections_active: int
    upstream_failures: int
    bytes_up: int  # client -> upstream, delivered
    bytes_down: int  # upstream -> client, delivered
    cut: int  # links closed with FIN by cut()
    reset: int  # links closed with RST by reset()
    writes_up: int  # send() calls towards upstream (chunking makes many)
    writes_down: int


@dataclass
class _Settings:
    latency: float = 0.0
    bytes_per_second: float | None = None
    max_chunk: int | None = None
    chunk_pause: float = 0.0


@dataclass
class _Counters:
    accepted: int = 0
    upstream_failures: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    cut: int = 0
    reset: int = 0
    writes_up: int = 0
    writes_down: int = 0


@dataclass(eq=False)
class _Link:
    """One proxied connection: the accepted socket, the upstream socket and their pumps."""

    client: socket.socket
    upstream: socket.socket | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    main: asyncio.Task[None] | None = None
    closed: bool = False


class FaultProxy:
    """A fault-injecting TCP proxy: ``FaultProxy(upstream).start()`` or ``with FaultProxy(...)``."""

    def __init__(
        self,
        upstream: Upstream,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "proxy",
        seed: int | None = None,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the fault proxy listens on loopback only")
        self.name = name
        self._upstream = upstream
        self._host = host
        self._port = port
        self._rng = random.Random(seed)
        self._settings = _Settings()
        self._counters = _Counters()
        self._links: set[_Link] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._listener: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._flowing: asyncio.Event | None = None
        self._black_holed = False

    # ---- addresses -----------------------------------------------------------------------

    @property
    def address(self) -> Address:
        """``(host, port)`` the proxy listens on (the port stays the same across refuse())."""
        if not self._port:
            raise RuntimeError("the proxy has not started")
        return (self._host, self._port)

    @property
    def endpoint(self) -> str:
        return f"{self._host}:{self.address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    @property
    def upstream(self) -> Address:
        return self._upstream() if callable(self._upstream) else self._upstream

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("the proxy is already started")
        loop = asyncio.new_event_loop()
        self._loop = loop
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            self._flowing = asyncio.Event()
            self._flowing.set()
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name=f"fault-proxy-{self.name}", daemon=True)
        self._thread.start()
        ready.wait()
        self._call(self._listen())
        return self

    def close(self) -> None:
        """Stop listening, close every link (FIN) and stop the loop thread. Idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if thread.is_alive():
            with contextlib.suppress(RuntimeError):
                self._call(self._shutdown())
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=_CONTROL_TIMEOUT)
        self._thread = None
        self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<FaultProxy {self.name} {self._host}:{self._port} -> {self._upstream!r}>"

    # ---- control (blocking; effective when they return) ----------------------------------

    def pass_through(self) -> None:
        """Forward everything at once: no latency, throttle, chunking or black hole; listen."""
        self._call(self._apply(_Settings(), black_hole=False, listen=True))

    def add_latency(self, seconds: float) -> None:
        """Deliver every read ``seconds`` after it arrived (both directions, order kept)."""
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        self._update(latency=seconds)

    def throttle(self, bytes_per_second: float | None) -> None:
        """Deliver at most ``bytes_per_second`` per direction per link (None: unlimited)."""
        if bytes_per_second is not None and bytes_per_second <= 0:
            raise ValueError("bytes_per_second must be > 0")
        self._update(bytes_per_second=bytes_per_second)

    def split_frames(self, max_chunk: int = 7, pause: float = 0.001) -> None:
        """Forward in pieces of 1..``max_chunk`` bytes with ``pause`` seconds between them, so
        the receiver reads protocol frames (HTTP/2's 9-byte headers included) in parts."""
        if max_chunk < 1 or pause < 0:
            raise ValueError("max_chunk must be >= 1 and pause >= 0")
        self._update(max_chunk=max_chunk, chunk_pause=pause)

    chunking = split_frames

    def black_hole(self) -> None:
        """Accept connections and never answer; live links stop forwarding both ways."""
        self._call(self._set_black_hole(True))

    def unblock(self) -> None:
        """End a black hole only (other settings stay)."""
        self._call(self._set_black_hole(False))

    def cut(self) -> int:
        """Close every live link on both sides with FIN; returns how many were closed."""
        return self._call(self._close_links(abortive=False))

    def reset(self) -> int:
        """Close every live link on both sides with RST (SO_LINGER 0); returns the count."""
        return self._call(self._close_links(abortive=True))

    def refuse(self) -> None:
        """Stop listening: new connections are refused. Live links are left alone."""
        self._call(self._stop_listening())

    def listen(self) -> None:
        """Listen again after :meth:`refuse` (same port)."""
        self._call(self._listen())

    def set_upstream(self, upstream: Upstream) -> None:
        """Send new connections elsewhere; live links keep their upstream."""
        self._upstream = upstream

    @property
    def black_holed(self) -> bool:
        return self._black_holed

    @property
    def listening(self) -> bool:
        return self._listener is not None

    def stats(self) -> ProxyStats:
        c = self._counters
        return ProxyStats(
            connections_accepted=c.accepted,
            connections_active=len(self._links),
            upstream_failures=c.upstream_failures,
            bytes_up=c.bytes_up,
            bytes_down=c.bytes_down,
            cut=c.cut,
            reset=c.reset,
            writes_up=c.writes_up,
            writes_down=c.writes_down,
        )

    def socket_fds(self) -> set[int]:
        """File descriptors of the proxy's own sockets (listener and both ends of every link),
        to tell them apart from the sockets of the code under test."""
        return self._call(self._socket_fds())

    def wait_connections(self, count: int, timeout: float = 5.0) -> None:
        """Wait until at least ``count`` connections have been accepted in total."""
        deadline = time.monotonic() + timeout
        while self._counters.accepted < count:
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{self.name}: {self._counters.accepted} connections, wanted {count}"
                )
            time.sleep(0.005)

    # ---- loop-side implementation ----------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError("the proxy is not running")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(_CONTROL_TIMEOUT)

    def _update(self, **changes: Any) -> None:
        current = self._settings
        merged = _Settings(
            latency=changes.get("latency", current.latency),
            bytes_per_second=changes.get("bytes_per_second", current.bytes_per_second),
            max_chunk=changes.get("max_chunk", current.max_chunk),
            chunk_pause=changes.get("chunk_pause", current.chunk_pause),
        )
        self._call(self._apply(merged, black_hole=None, listen=False))

    async def _apply(self, settings: _Settings, *, black_hole: bool | None, listen: bool) -> None:
        self._settings = settings
        if black_hole is not None:
            await self._set_black_hole(black_hole)
        if listen:
            await self._listen()

    async def _set_black_hole(self, on: bool) -> None:
        assert self._flowing is not None
        self._black_holed = on
        if on:
            self._flowing.clear()
        else:
            self._flowing.set()

    async def _listen(self) -> None:
        if self._listener is not None:
            return
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, self._port))
            sock.listen(128)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self._port = int(sock.getsockname()[1])
        self._listener = sock
        self._accepting = asyncio.get_running_loop().create_task(self._accept_loop(sock))

    async def _stop_listening(self) -> None:
        task, sock = self._accepting, self._listener
        self._accepting = self._listener = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if sock is not None:
            sock.close()

    async def _socket_fds(self) -> set[int]:
        socks = [self._listener]
        for link in self._links:
            socks += [link.client, link.upstream]
        return {sock.fileno() for sock in socks if sock is not None and sock.fileno() >= 0}

    async def _shutdown(self) -> None:
        await self._stop_listening()
        await self._close_links(abortive=False, count=False)

    async def _accept_loop(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(listener)
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    await asyncio.sleep(0.05)
                    continue
                raise
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._counters.accepted += 1
            link = _Link(conn)
            self._links.add(link)
            link.main = loop.create_task(self._run_link(link))

    async def _run_link(self, link: _Link) -> None:
        loop = asyncio.get_running_loop()
        assert self._flowing is not None
        abortive = False
        try:
            await self._flowing.wait()  # a black-holed proxy accepts but does not dial
            target = self.upstream
            up = socket.socket(socket.AF_INET6 if ":" in target[0] else socket.AF_INET)
            up.setblocking(False)
            link.upstream = up
            try:
                await loop.sock_connect(up, target)
            except OSError:
                self._counters.upstream_failures += 1
                abortive = True  # the nearest thing to "connection refused" after accept
                return
            up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            link.tasks = [
                *self._direction(link, link.client, up, upstream=True),
                *self._direction(link, up, link.client, upstream=False),
            ]
            done, _ = await asyncio.wait(link.tasks, return_when=asyncio.FIRST_EXCEPTION)
            abortive = any(t.exception() is not None for t in done if not t.cancelled())
        finally:
            if not link.closed:
                await self._finish(link, abortive=abortive, from_main=True)

    def _direction(
        self, link: _Link, src: socket.socket, dst: socket.socket, *, upstream: bool
    ) -> list[asyncio.Task[None]]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(_QUEUE_CHUNKS)
        return [
            loop.create_task(self._reader(src, queue)),
            loop.create_task(self._writer(dst, queue, upstream=upstream)),
        ]

    async def _reader(
        self, src: socket.socket, queue: asyncio.Queue[tuple[float, bytes] | None]
    ) -> None:
        loop = asyncio.get_running_loop()
        assert self._flowing is not None
        while True:
            await self._flowing.wait()
            data = await loop.sock_recv(src, _READ_SIZE)
            if not data:
                await queue.put(None)
                return
            await queue.put((time.monotonic(), data))

    async def _writer(
        self,
        dst: socket.socket,
        queue: asyncio.Queue[tuple[float, bytes] | None],
        *,
        upstream: bool,
    ) -> None:
        loop = asyncio.get_running_loop()
        assert self._flowing is not None
        while True:
            item = await queue.get()
            if item is None:
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)
                return
            arrived, data = item
            while True:  # latency is read at delivery time, so add_latency(0) releases at once
                wait = arrived + self._settings.latency - time.monotonic()
                if wait <= 0:
                    break
                await asyncio.sleep(min(wait, 0.05))
            view = memoryview(data)
            while view:
                await self._flowing.wait()
                piece = self._piece_size(len(view))
                await loop.sock_sendall(dst, view[:piece])
                view = view[piece:]
                if upstream:
                    self._counters.bytes_up += piece
                    self._counters.writes_up += 1
                else:
                    self._counters.bytes_down += piece
                    self._counters.writes_down += 1
                await self._pace(piece)

    def _piece_size(self, available: int) -> int:
        s = self._settings
        size = available
        if s.max_chunk is not None:
            size = min(size, self._rng.randint(1, s.max_chunk))
        if s.bytes_per_second is not None:
            size = min(size, max(1, int(s.bytes_per_second / 20)))
        return size

    async def _pace(self, sent: int) -> None:
        s = self._settings
        delay = 0.0
        if s.max_chunk is not None:
            delay = s.chunk_pause
        if s.bytes_per_second is not None:
            delay = max(delay, sent / s.bytes_per_second)
        if delay > 0:
            await asyncio.sleep(delay)

    async def _close_links(self, *, abortive: bool, count: bool = True) -> int:
        links = list(self._links)
        for link in links:
            await self._finish(link, abortive=abortive, from_main=False)
        if count:
            if abortive:
                self._counters.reset += len(links)
            else:
                self._counters.cut += len(links)
        return len(links)

    async def _finish(self, link: _Link, *, abortive: bool, from_main: bool) -> None:
        """Stop a link's pumps, then close both sockets (RST when ``abortive``)."""
        link.closed = True
        self._links.discard(link)
        pending = list(link.tasks)
        if not from_main and link.main is not None:
            pending.append(link.main)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await task
        for sock in (link.client, link.upstream):
            if sock is None:
                continue
            with contextlib.suppress(OSError):
                if abortive:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                else:
                    sock.shutdown(socket.SHUT_RDWR)
            sock.close()

"""asyncio streams for the async shell."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from typing import Any

from ..errors import ConnectFailed, ConnectionLost, DeadlineExceeded
from .base import Address, map_connect_errors, map_io_errors

__all__ = ["AsyncSocketStream", "open_stream"]


#: Called with each chunk of bytes received, then once with ``b""`` when the stream ends
#: (end of stream, reset, or closed here); the error, if any, is the second argument.
Receiver = Callable[[bytes, BaseException | None], None]

#: Bytes in the transport's buffer above which a write waits for it to drain.
_HIGH_WATER = 262144


class _StreamProtocol(asyncio.Protocol):
    """The asyncio protocol under :class:`AsyncSocketStream`: bytes received are buffered for
    :meth:`read`, or, once a receiver is set, handed to it as they arrive (no reader task and
    no buffer in between)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._ended = False
        self.error: BaseException | None = None
        self._read_waiter: asyncio.Future[None] | None = None
        self._receiver: Receiver | None = None
        self._paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        #: Done when the transport is gone (``connection_lost``).
        self.closed: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        receiver = self._receiver
        if receiver is not None:
            receiver(data, None)
            return
        self._buffer += data
        self._wake_reader()

    def eof_received(self) -> bool:
        self._end(None)
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(exc)
        if not self.closed.done():
            self.closed.set_result(None)
        self._paused = False
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _end(self, exc: BaseException | None) -> None:
        if self._ended:
            return
        self._ended = True
        self.error = exc
        receiver = self._receiver
        if receiver is not None:
            receiver(b"", exc)
        self._wake_reader()

    def _wake_reader(self) -> None:
        waiter, self._read_waiter = self._read_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def set_receiver(self, receiver: Receiver) -> None:
        self._receiver = receiver
        if self._buffer:
            data = bytes(self._buffer)
            self._buffer.clear()
            receiver(data, None)
        if self._ended:
            receiver(b"", self.error)

    async def read(self, max_bytes: int) -> bytes:
        while not self._buffer and not self._ended:
            self._read_waiter = self._loop.create_future()
            await self._read_waiter
        if self._buffer:
            data = bytes(self._buffer[:max_bytes])
            del self._buffer[:max_bytes]
            return data
        if self.error is not None:
            raise self.error
        return b""

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def drain(self) -> None:
        if self._paused and not self._ended:
            waiter = self._loop.create_future()
            self._drain_waiters.append(waiter)
            await waiter
        if self._ended:
            raise ConnectionResetError("connection lost")


class AsyncSocketStream:
    """A connected socket (plain or TLS) for the async shell.

    Writes are gathered until the end of the event loop's current iteration and sent as
    one: many tasks sending requests in the same iteration share one system call (and one
    TCP segment for the server to read), as grpcio's combiner does.

    Reading is either pulled (:meth:`read`) or pushed: after :meth:`set_receiver` the event
    loop hands each chunk to the receiver as it arrives, which is how the connection reads,
    so no task has to be woken to read and then wake the callers."""

    __slots__ = ("_closed", "_endpoint", "_loop", "_pending", "_protocol", "_transport")

    def __init__(
        self, transport: asyncio.Transport, protocol: _StreamProtocol, endpoint: str
    ) -> None:
        self._transport = transport
        self._protocol = protocol
        self._endpoint = endpoint
        self._closed = False
        self._pending: list[bytes | bytearray | memoryview] = []
        self._loop = asyncio.get_running_loop()

    def _send_pending(self) -> None:
        pending, self._pending = self._pending, []
        if pending and not self._closed and not self._transport.is_closing():
            self._transport.write(b"".join(pending))

    def set_receiver(self, receiver: Receiver) -> None:
        """From now on, hand received bytes to ``receiver`` as they arrive (see
        :data:`Receiver`); anything already buffered goes to it at once."""
        self._protocol.set_receiver(receiver)

    async def read(self, max_bytes: int, timeout: float | None) -> bytes:
        with map_io_errors(self._endpoint):
            if timeout is None:
                return await self._protocol.read(max_bytes)
            if timeout <= 0:
                raise DeadlineExceeded("read timed out", endpoint=self._endpoint)
            try:
                async with asyncio.timeout(timeout):
                    return await self._protocol.read(max_bytes)
            except TimeoutError:
                raise DeadlineExceeded("read timed out", endpoint=self._endpoint) from None

    @property
    def can_write_nowait(self) -> bool:
        """True while :meth:`write_nowait` may take more without overfilling the transport's
        buffer (what :meth:`write` would wait to drain)."""
        return self._transport.get_write_buffer_size() < _HIGH_WATER

    def write_nowait(self, data: bytes | bytearray | memoryview) -> None:
        """Queue ``data`` for the end of this loop iteration, without waiting for buffer
        space (for control frames, which are small). Dropped if the stream is closing."""
        if self._closed or self._transport.is_closing():
            return
        if not self._pending:
            self._loop.call_soon(self._send_pending)
        self._pending.append(data)

    async def write(self, data: bytes | bytearray | memoryview, timeout: float | None) -> None:
        if self._closed or self._transport.is_closing():
            raise ConnectionLost("connection closed", endpoint=self._endpoint)
        if not self._pending:
            self._loop.call_soon(self._send_pending)
        self._pending.append(data)
        if self._transport.get_write_buffer_size() < _HIGH_WATER:
            return  # the common case: queued for the end of this loop iteration
        with map_io_errors(self._endpoint):
            self._send_pending()
            try:
                async with asyncio.timeout(timeout):
                    await self._protocol.drain()
            except TimeoutError:
                raise DeadlineExceeded("write timed out", endpoint=self._endpoint) from None

    def close_nowait(self) -> None:
        """Close after writing what is queued, without waiting for it to go."""
        if self._closed:
            return
        self._send_pending()
        self._closed = True
        self._transport.close()

    async def aclose(self) -> None:
        if self._closed:
            return
        self.close_nowait()
        try:
            async with asyncio.timeout(1.0):
                await asyncio.shield(self._protocol.closed)
        except TimeoutError:
            pass

    def get_extra_info(self, name: str) -> Any:
        if name == "selected_alpn_protocol":
            obj = self._transport.get_extra_info("ssl_object")
            return obj.selected_alpn_protocol() if obj is not None else None
        return self._transport.get_extra_info(name)


async def open_stream(
    address: Address,
    *,
    ssl_context: ssl.SSLContext | None,
    server_hostname: str | None = None,
    connect_timeout: float | None = 20.0,
    tls_timeout: float | None = 20.0,
    dns_timeout: float | None = 20.0,
    spin: float = 0.0,
) -> AsyncSocketStream:
    """Resolve (bounded by ``dns_timeout``), connect (TCP or Unix socket, each address bounded
    by ``connect_timeout``), then TLS with ALPN h2 when asked (``tls_timeout``).

    ``spin`` is the blocking driver's busy-wait time; an event loop never busy-waits, so it is
    accepted and ignored here."""
    del spin
    endpoint = str(address)
    if address.tls and ssl_context is None:
        raise ConnectFailed("https endpoint without a TLS context", endpoint=endpoint)
    ctx = ssl_context if address.tls else None
    loop = asyncio.get_running_loop()
    if address.unix_path is not None:
        with map_connect_errors(endpoint, "connect"):
            async with asyncio.timeout(connect_timeout):
                transport, protocol = await loop.create_unix_connection(
                    lambda: _StreamProtocol(loop),
                    address.unix_path,
                    ssl=ctx,
                    server_hostname=(server_hostname or "localhost") if ctx else None,
                    ssl_handshake_timeout=tls_timeout if ctx else None,
                )
    else:
        with map_connect_errors(endpoint, "DNS lookup"):
            async with asyncio.timeout(dns_timeout):
                addresses = await loop.getaddrinfo(
                    address.host, address.port, type=socket.SOCK_STREAM
                )
        error: BaseException | None = None
        for family, _, _, _, sockaddr in addresses:
            with map_connect_errors(endpoint, "connect"):
                try:
                    async with asyncio.timeout(connect_timeout):
                        transport, protocol = await loop.create_connection(
                            lambda: _StreamProtocol(loop),
                            str(sockaddr[0]),
                            int(sockaddr[1]),
                            family=family,
                            ssl=ctx,
                            server_hostname=(server_hostname or address.host) if ctx else None,
                            ssl_handshake_timeout=tls_timeout if ctx else None,
                        )
                except (OSError, TimeoutError) as exc:
                    if isinstance(exc, ssl.SSLError):
                        raise
                    error = exc
                    continue
                break
        else:
            with map_connect_errors(endpoint, "connect"):
                raise error if error is not None else OSError("no address to connect to")
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    assert isinstance(transport, asyncio.Transport)
    stream = AsyncSocketStream(transport, protocol, endpoint)
    if ctx is not None and stream.get_extra_info("selected_alpn_protocol") != "h2":
        await stream.aclose()
        raise ConnectFailed("server did not negotiate HTTP/2 (ALPN h2)", endpoint=endpoint)
    return stream

"""asyncio streams for the async shell."""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

from ..errors import ConnectFailed, ConnectionLost, DeadlineExceeded
from .base import Address, map_connect_errors, map_io_errors

__all__ = ["AsyncSocketStream", "open_stream"]


class AsyncSocketStream:
    """Writes are gathered until the end of the event loop's current iteration and sent as
    one: many tasks sending requests in the same iteration share one system call (and one
    TCP segment for the server to read), as grpcio's combiner does."""

    __slots__ = ("_closed", "_endpoint", "_loop", "_pending", "_reader", "_writer")

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, endpoint: str
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._endpoint = endpoint
        self._closed = False
        self._pending: list[bytes | bytearray | memoryview] = []
        self._loop = asyncio.get_running_loop()

    def _send_pending(self) -> None:
        pending, self._pending = self._pending, []
        if pending and not self._closed and not self._writer.is_closing():
            self._writer.write(b"".join(pending))

    async def read(self, max_bytes: int, timeout: float | None) -> bytes:
        with map_io_errors(self._endpoint):
            if timeout is None:
                return await self._reader.read(max_bytes)
            if timeout <= 0:
                raise DeadlineExceeded("read timed out", endpoint=self._endpoint)
            try:
                async with asyncio.timeout(timeout):
                    return await self._reader.read(max_bytes)
            except TimeoutError:
                raise DeadlineExceeded("read timed out", endpoint=self._endpoint) from None

    async def write(self, data: bytes | bytearray | memoryview, timeout: float | None) -> None:
        with map_io_errors(self._endpoint):
            if self._writer.is_closing():
                raise ConnectionLost("connection closed", endpoint=self._endpoint)
            if not self._pending:
                self._loop.call_soon(self._send_pending)
            self._pending.append(data)
            if self._writer.transport.get_write_buffer_size() < 262144:
                return
            self._send_pending()
            try:
                async with asyncio.timeout(timeout):
                    await self._writer.drain()
            except TimeoutError:
                raise DeadlineExceeded("write timed out", endpoint=self._endpoint) from None

    async def aclose(self) -> None:
        if self._closed:
            return
        self._send_pending()
        self._closed = True
        self._writer.close()
        try:
            async with asyncio.timeout(1.0):
                await self._writer.wait_closed()
        except (OSError, ssl.SSLError, TimeoutError):
            pass

    def get_extra_info(self, name: str) -> Any:
        if name == "selected_alpn_protocol":
            obj = self._writer.get_extra_info("ssl_object")
            return obj.selected_alpn_protocol() if obj is not None else None
        if name == "socket":
            return self._writer.get_extra_info("socket")
        return self._writer.get_extra_info(name)


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
    if address.unix_path is not None:
        with map_connect_errors(endpoint, "connect"):
            async with asyncio.timeout(connect_timeout):
                reader, writer = await asyncio.open_unix_connection(
                    address.unix_path,
                    ssl=ctx,
                    server_hostname=(server_hostname or "localhost") if ctx else None,
                    ssl_handshake_timeout=tls_timeout if ctx else None,
                )
    else:
        loop = asyncio.get_running_loop()
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
                        reader, writer = await asyncio.open_connection(
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
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stream = AsyncSocketStream(reader, writer, endpoint)
    if ctx is not None and stream.get_extra_info("selected_alpn_protocol") != "h2":
        await stream.aclose()
        raise ConnectFailed("server did not negotiate HTTP/2 (ALPN h2)", endpoint=endpoint)
    return stream

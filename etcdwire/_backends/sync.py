"""Blocking sockets for the sync shell.

The socket stays non-blocking and waits happen in ``select``/``poll``, looked up at call time,
so gevent's and eventlet's monkey-patching turn every wait into a green switch and one thread
can read while another writes without fighting over a per-socket timeout. TLS objects are not
safe for a read and a write at the same moment, so for TLS each non-blocking operation (never
the wait) runs under a small lock.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
import time
from typing import Any, NoReturn

from ..errors import ConnectFailed, ConnectionLost, DeadlineExceeded, EtcdError
from .base import Address, map_connect_errors, map_io_errors

__all__ = ["SocketStream", "open_stream"]

_WANT_READ = (BlockingIOError, ssl.SSLWantReadError, InterruptedError)
_WANT_WRITE = (ssl.SSLWantWriteError,)
#: What map_io_errors translates. Reads and writes catch these themselves and only then enter
#: it: a generator context manager around every read and write costs about a microsecond.
_FOREIGN = (OSError, ssl.SSLError, ValueError)


def _translate(exc: BaseException, endpoint: str) -> NoReturn:
    """Raise ``exc`` as map_io_errors (the one place that maps foreign errors) translates it."""
    with map_io_errors(endpoint):
        raise exc
    raise exc  # pragma: no cover - map_io_errors translates every _FOREIGN error


def _wait_fd(sock: socket.socket, *, write: bool, timeout: float | None) -> bool:
    """Wait until the socket is readable (or writable); False on timeout."""
    if timeout is not None and timeout <= 0:
        return False
    poll_factory = getattr(select, "poll", None)
    if poll_factory is not None:
        poller = poll_factory()
        poller.register(sock, select.POLLOUT if write else select.POLLIN)
        return bool(poller.poll(None if timeout is None else timeout * 1000))
    fds = [sock]
    if write:
        _, ready, _ = select.select([], fds, [], timeout)
    else:
        ready, _, _ = select.select(fds, [], [], timeout)
    return bool(ready)


#: After this many spins in a row find nothing, a reader skips spinning for up to 2**n - 1
#: waits before it tries again, so a connection whose answers are slow (fsync-bound writes,
#: an idle watch) spends almost nothing on spinning.
_MAX_SPIN_BACKOFF = 6


def _is_green(sock: socket.socket) -> bool:
    """A gevent or eventlet socket: a busy wait would starve the other green threads."""
    return type(sock).__module__.startswith(("gevent", "eventlet"))


class SocketStream:
    """A connected socket for the blocking shell.

    ``spin`` is how long (seconds) a reader polls the socket without sleeping before it blocks.
    On loopback or a fast LAN, etcd answers a read in about 100 us; a thread that sleeps in
    ``poll`` for it pays a wake-up (and, on virtual machines, a halted vCPU) of about as much
    again. Spinning is adaptive: it stops after misses and resumes with backoff."""

    __slots__ = (
        "_closed",
        "_endpoint",
        "_lock",
        "_poller",
        "_sock",
        "_spin",
        "_spin_misses",
        "_spin_skip",
    )

    def __init__(self, sock: socket.socket, endpoint: str, *, spin: float = 0.0) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._endpoint = endpoint
        self._lock = threading.Lock() if isinstance(sock, ssl.SSLSocket) else None
        self._closed = False
        poll_factory = getattr(select, "poll", None)
        if spin > 0 and poll_factory is not None and not _is_green(sock):
            self._poller: Any = poll_factory()
            self._poller.register(sock, select.POLLIN)
            self._spin = spin
        else:
            self._poller = None
            self._spin = 0.0
        self._spin_misses = 0
        self._spin_skip = 0

    def _spin_for_data(self, timeout: float | None) -> bool:
        """Poll without sleeping for up to the spin time; True when data arrived."""
        if self._spin_skip:
            self._spin_skip -= 1
            return False
        spin = self._spin if timeout is None else min(self._spin, timeout)
        poll = self._poller.poll
        clock = time.perf_counter
        end = clock() + spin
        while True:
            if poll(0):
                self._spin_misses = 0
                return True
            if clock() >= end:
                break
        misses = self._spin_misses = min(self._spin_misses + 1, _MAX_SPIN_BACKOFF)
        self._spin_skip = (1 << misses) - 1
        return False

    def read(self, max_bytes: int, timeout: float | None) -> bytes:
        deadline = None if timeout is None else time.monotonic() + timeout
        sock, lock = self._sock, self._lock
        try:
            # Wait first: a reader mostly comes here right after writing a request, when the
            # answer cannot be there yet, and recv() would only fail with EAGAIN. TLS may hold
            # decrypted bytes the kernel does not see, so it tries recv() first.
            if (
                lock is None
                and not (self._spin and self._spin_for_data(timeout))
                and not _wait_fd(sock, write=False, timeout=timeout)
            ):
                if self._closed:
                    return b""
                raise DeadlineExceeded("read timed out", endpoint=self._endpoint)
            while True:
                want_write = False
                try:
                    if lock is None:
                        return sock.recv(max_bytes)
                    with lock:
                        return sock.recv(max_bytes)
                except _WANT_READ:
                    pass
                except _WANT_WRITE:
                    want_write = True
                remaining = None if deadline is None else deadline - time.monotonic()
                if self._closed:
                    return b""
                if not _wait_fd(sock, write=want_write, timeout=remaining):
                    raise DeadlineExceeded("read timed out", endpoint=self._endpoint)
        except EtcdError:
            raise
        except _FOREIGN as exc:
            _translate(exc, self._endpoint)

    def write(self, data: bytes | bytearray | memoryview, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        view = memoryview(data)
        sock, lock = self._sock, self._lock
        try:
            while view:
                want_read = False
                try:
                    if lock is None:
                        sent = sock.send(view)
                    else:
                        with lock:
                            sent = sock.send(view)
                    view = view[sent:]
                    continue
                except (BlockingIOError, ssl.SSLWantWriteError, InterruptedError):
                    pass
                except ssl.SSLWantReadError:
                    want_read = True
                if self._closed:
                    raise ConnectionLost("connection closed", endpoint=self._endpoint)
                remaining = None if deadline is None else deadline - time.monotonic()
                if not _wait_fd(sock, write=not want_read, timeout=remaining):
                    raise DeadlineExceeded("write timed out", endpoint=self._endpoint)
        except EtcdError:
            raise
        except _FOREIGN as exc:
            _translate(exc, self._endpoint)

    #: Writes go out in the caller's thread as they are made: nothing is ever queued.
    can_write_nowait = False

    def write_nowait(self, data: bytes | bytearray | memoryview) -> None:
        """The stream interface's write that does not wait for buffer space; a blocking
        socket has no event loop to queue it for, so it is written at once."""
        self.write(data, None)

    def close_nowait(self) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()

    def get_extra_info(self, name: str) -> Any:
        if name == "selected_alpn_protocol" and isinstance(self._sock, ssl.SSLSocket):
            return self._sock.selected_alpn_protocol()
        if name == "peername":
            try:
                return self._sock.getpeername()
            except OSError:
                return None
        if name == "socket":
            return self._sock
        return None


_AddrInfo = tuple[Any, ...]


def _resolve(host: str, port: int, timeout: float | None) -> list[_AddrInfo]:
    """``getaddrinfo`` bounded by ``timeout``: the C resolver cannot be interrupted, so a slow
    lookup runs on a daemon thread that is abandoned (not waited for) when time is up."""
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        pass
    else:  # an address literal needs no lookup
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    outcome: list[Any] = []

    def lookup() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=lookup, name=f"etcdwire-dns-{host}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        raise TimeoutError(f"DNS lookup of {host!r} timed out after {timeout}s")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return list(outcome[0])


def _connect_any(addresses: list[_AddrInfo], timeout: float | None) -> socket.socket:
    """Connect to the first address that accepts, each attempt bounded by ``timeout``."""
    error: OSError | None = None
    for family, kind, proto, _, sockaddr in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    raise error if error is not None else OSError("no address to connect to")


def open_stream(
    address: Address,
    *,
    ssl_context: ssl.SSLContext | None,
    server_hostname: str | None = None,
    connect_timeout: float | None = 20.0,
    tls_timeout: float | None = 20.0,
    dns_timeout: float | None = 20.0,
    spin: float = 0.0,
) -> SocketStream:
    """Resolve (bounded by ``dns_timeout``), connect (TCP or Unix socket, each address bounded
    by ``connect_timeout``), then TLS with ALPN h2 when asked (``tls_timeout``)."""
    endpoint = str(address)
    if address.unix_path is not None:
        with map_connect_errors(endpoint, "connect"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(connect_timeout)
                sock.connect(address.unix_path)
            except BaseException:
                sock.close()
                raise
    else:
        with map_connect_errors(endpoint, "DNS lookup"):
            addresses = _resolve(address.host, address.port, dns_timeout)
        with map_connect_errors(endpoint, "connect"):
            sock = _connect_any(addresses, connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if address.tls:
        if ssl_context is None:
            sock.close()
            raise ConnectFailed("https endpoint without a TLS context", endpoint=endpoint)
        with map_connect_errors(endpoint, "TLS handshake"):
            try:
                sock.settimeout(tls_timeout)
                sock = ssl_context.wrap_socket(
                    sock, server_hostname=server_hostname or address.host
                )
            except BaseException:
                sock.close()
                raise
        if sock.selected_alpn_protocol() != "h2":
            sock.close()
            raise ConnectFailed("server did not negotiate HTTP/2 (ALPN h2)", endpoint=endpoint)
    return SocketStream(sock, endpoint, spin=spin)

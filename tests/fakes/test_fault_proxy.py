"""The fault proxy does what each mode promises: against a plain echo server (exact byte-level
checks) and against a real etcd member through etcdwire.Client."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

import etcdwire
from etcdwire.tools.embedded import EtcdMember

from .fault_proxy import FaultProxy

# --------------------------------------------------------------------------------------------
# a trivial echo server that records what it read
# --------------------------------------------------------------------------------------------


class EchoServer:
    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = self.listener.getsockname()[:2]
        self.reads: list[int] = []  # size of every recv() that returned data
        self.accepted = 0
        self.eofs = 0
        self.errors: list[str] = []
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._stop = False
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            self._conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        while True:
            try:
                data = conn.recv(65536)
            except OSError as exc:
                self.errors.append(type(exc).__name__)
                return
            if not data:
                self.eofs += 1
                conn.close()
                return
            self.reads.append(len(data))
            try:
                conn.sendall(data)
            except OSError as exc:
                self.errors.append(type(exc).__name__)
                return

    def close(self) -> None:
        self._stop = True
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self.listener.close()
        for conn in self._conns:
            conn.close()
        for thread in self._threads:
            thread.join(2)
        self._acceptor.join(2)


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


@pytest.fixture
def proxy(echo: EchoServer) -> Iterator[FaultProxy]:
    with FaultProxy(echo.address, name="echo") as fp:
        yield fp


def connect(fp: FaultProxy, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(fp.address, timeout=timeout)


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    buf = b""
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise EOFError(f"EOF after {len(buf)} of {size} bytes")
        buf += chunk
    return buf


def wait_for(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


# --------------------------------------------------------------------------------------------
# echo server
# --------------------------------------------------------------------------------------------


def test_pass_through_forwards_both_ways_and_counts(proxy: FaultProxy, echo: EchoServer) -> None:
    payload = bytes(range(256)) * 400
    with connect(proxy) as sock:
        sock.sendall(payload)
        assert recv_exactly(sock, len(payload)) == payload
    wait_for(lambda: proxy.stats().connections_active == 0)
    stats = proxy.stats()
    assert stats.connections_accepted == 1
    assert stats.bytes_up == stats.bytes_down == len(payload)
    assert echo.accepted == 1
    assert echo.eofs == 1  # the client's FIN was passed on


def test_latency_delays_each_direction(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        sock.sendall(b"warm")
        recv_exactly(sock, 4)
        proxy.add_latency(0.15)
        started = time.monotonic()
        sock.sendall(b"ping")
        assert recv_exactly(sock, 4) == b"ping"
        elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.0  # 150 ms up, 150 ms down


def test_latency_keeps_byte_order(proxy: FaultProxy) -> None:
    proxy.add_latency(0.05)
    with connect(proxy) as sock:
        for i in range(20):
            sock.sendall(bytes([i]) * 10)
            time.sleep(0.005)
        assert recv_exactly(sock, 200) == b"".join(bytes([i]) * 10 for i in range(20))


def test_black_hole_holds_live_links_and_delivers_after_it_ends(
    proxy: FaultProxy, echo: EchoServer
) -> None:
    with connect(proxy) as sock:
        sock.sendall(b"a")
        recv_exactly(sock, 1)
        proxy.black_hole()
        sock.sendall(b"held")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(10)
        assert sum(echo.reads) == 1  # nothing reached the server
        proxy.pass_through()
        sock.settimeout(10)
        assert recv_exactly(sock, 4) == b"held"


def test_black_hole_accepts_new_connections_but_never_dials(
    proxy: FaultProxy, echo: EchoServer
) -> None:
    proxy.black_hole()
    with connect(proxy) as sock:
        sock.sendall(b"hello")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(10)
        assert proxy.stats().connections_accepted == 1
        assert echo.accepted == 0
        proxy.unblock()
        sock.settimeout(10)
        assert recv_exactly(sock, 5) == b"hello"
    assert echo.accepted == 1


def test_cut_closes_both_sides_with_fin(proxy: FaultProxy, echo: EchoServer) -> None:
    with connect(proxy) as sock:
        sock.sendall(b"x")
        recv_exactly(sock, 1)
        assert proxy.cut() == 1
        assert sock.recv(10) == b""  # orderly EOF, not an error
    wait_for(lambda: echo.eofs == 1)
    assert echo.errors == []
    assert proxy.stats().cut == 1
    assert proxy.stats().connections_active == 0
    with connect(proxy) as sock:  # the proxy still serves new connections
        sock.sendall(b"y")
        assert recv_exactly(sock, 1) == b"y"


def test_reset_closes_both_sides_with_rst(proxy: FaultProxy, echo: EchoServer) -> None:
    with connect(proxy) as sock:
        sock.sendall(b"x")
        recv_exactly(sock, 1)
        assert proxy.reset() == 1
        with pytest.raises(ConnectionResetError):
            sock.recv(10)
    wait_for(lambda: echo.errors == ["ConnectionResetError"])
    assert proxy.stats().reset == 1


def test_throttle_limits_bandwidth(proxy: FaultProxy) -> None:
    proxy.throttle(40_000)
    payload = b"z" * 20_000
    with connect(proxy, timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(payload)
        assert recv_exactly(sock, len(payload)) == payload
        elapsed = time.monotonic() - started
    # 20 kB at 40 kB/s is 0.5 s each way, and the two directions overlap
    assert 0.45 <= elapsed < 3.0
    proxy.throttle(None)
    big = payload * 20  # 400 kB: 10 s each way if the limit were still on
    with connect(proxy) as sock:
        started = time.monotonic()
        sock.sendall(big)
        recv_exactly(sock, len(big))
        assert time.monotonic() - started < 3.0


def test_split_frames_delivers_in_tiny_pieces(proxy: FaultProxy, echo: EchoServer) -> None:
    proxy.split_frames(max_chunk=5, pause=0.001)
    payload = bytes(range(200))
    with connect(proxy, timeout=5) as sock:
        sock.sendall(payload)
        assert recv_exactly(sock, len(payload)) == payload
    stats = proxy.stats()
    assert stats.writes_up >= len(payload) // 5
    assert max(echo.reads) <= 5  # the server never saw more than one piece per read
    assert len(echo.reads) >= len(payload) // 5


def test_refuse_stops_listening_and_listen_restores_the_same_port(proxy: FaultProxy) -> None:
    address = proxy.address
    proxy.refuse()
    assert not proxy.listening
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=1)
    proxy.pass_through()
    assert proxy.address == address
    with connect(proxy) as sock:
        sock.sendall(b"back")
        assert recv_exactly(sock, 4) == b"back"


def test_refuse_leaves_live_links_alone(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        sock.sendall(b"a")
        recv_exactly(sock, 1)  # accepted (a connection still in the backlog would be reset)
        proxy.refuse()
        sock.sendall(b"still")
        assert recv_exactly(sock, 5) == b"still"


def test_dead_upstream_closes_the_accepted_connection() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        dead = probe.getsockname()[:2]
    with FaultProxy(dead) as fp, connect(fp) as sock:
        try:
            data = sock.recv(10)
        except ConnectionResetError:
            data = b""
        assert data == b""
        wait_for(lambda: fp.stats().upstream_failures == 1)


def test_upstream_callable_is_read_at_each_connection(echo: EchoServer) -> None:
    target = [("127.0.0.1", 1)]
    with FaultProxy(lambda: target[0]) as fp:
        target[0] = echo.address
        with connect(fp) as sock:
            sock.sendall(b"ok")
            assert recv_exactly(sock, 2) == b"ok"


def test_close_ends_every_link_and_the_thread(echo: EchoServer) -> None:
    fp = FaultProxy(echo.address).start()
    sock = connect(fp)
    sock.sendall(b"x")
    recv_exactly(sock, 1)
    assert [t.name for t in threading.enumerate()].count("fault-proxy-proxy") == 1
    fp.close()
    assert sock.recv(10) == b""
    sock.close()
    assert "fault-proxy-proxy" not in [t.name for t in threading.enumerate()]
    fp.close()  # idempotent


def test_only_loopback_is_allowed() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy(("127.0.0.1", 1), host="0.0.0.0")


# --------------------------------------------------------------------------------------------
# real etcd through etcdwire.Client
# --------------------------------------------------------------------------------------------


@pytest.fixture
def etcd_proxy(etcd: EtcdMember) -> Iterator[FaultProxy]:
    with FaultProxy(("127.0.0.1", etcd.client_port), name="etcd") as fp:
        yield fp


@pytest.mark.etcd
def test_etcd_client_works_through_pass_through(etcd_proxy: FaultProxy) -> None:
    with etcdwire.Client([etcd_proxy.endpoint], timeout=5) as client:
        client.put("fp/pass", "1")
        assert client.get("fp/pass").kvs[0].value == b"1"
    assert etcd_proxy.stats().bytes_down > 0


@pytest.mark.etcd
def test_etcd_frames_split_mid_frame_still_decode(etcd_proxy: FaultProxy) -> None:
    """HTTP/2 frames (9-byte header + payload) arrive in pieces of at most 4 bytes."""
    with etcdwire.Client([etcd_proxy.endpoint], timeout=20) as client:
        etcd_proxy.split_frames(max_chunk=4, pause=0.0005)
        value = "v" * 300
        client.put("fp/split", value)
        assert client.get("fp/split").kvs[0].value == value.encode()
        with client.watch("fp/split") as watch:
            client.put("fp/split", "w")
            response = watch.receive(timeout=20)
            assert response is not None
            assert [e.kv.value for e in response.events] == [b"w"]
    stats = etcd_proxy.stats()
    assert stats.writes_down > stats.bytes_down / 4 * 0.99


@pytest.mark.etcd
def test_etcd_call_with_timeout_returns_in_time_when_black_holed(etcd_proxy: FaultProxy) -> None:
    with etcdwire.Client([etcd_proxy.endpoint], timeout=5) as client:
        client.put("fp/bh", "1")
        etcd_proxy.black_hole()
        started = time.monotonic()
        with pytest.raises(etcdwire.DeadlineExceeded):
            client.get("fp/bh", timeout=0.5)
        assert time.monotonic() - started < 1.5
        etcd_proxy.pass_through()
        assert client.get("fp/bh", timeout=5).kvs[0].value == b"1"


@pytest.mark.etcd
@pytest.mark.parametrize("fault", ["cut", "reset"])
def test_etcd_client_recovers_after_links_are_closed(etcd_proxy: FaultProxy, fault: str) -> None:
    with etcdwire.Client([etcd_proxy.endpoint], timeout=5) as client:
        client.put("fp/close", fault)
        assert getattr(etcd_proxy, fault)() == 1
        # a read is safe to retry, so the client reconnects underneath it
        assert client.get("fp/close").kvs[0].value == fault.encode()
    assert etcd_proxy.stats().connections_accepted == 2


@pytest.mark.etcd
def test_etcd_latency_and_throttle_slow_calls_down(etcd_proxy: FaultProxy) -> None:
    with etcdwire.Client([etcd_proxy.endpoint], timeout=10) as client:
        client.put("fp/slow", "x")
        etcd_proxy.add_latency(0.1)
        started = time.monotonic()
        client.get("fp/slow")
        assert time.monotonic() - started >= 0.2
        etcd_proxy.pass_through()
        etcd_proxy.throttle(50_000)
        started = time.monotonic()
        client.put("fp/slow", "y" * 50_000)
        assert time.monotonic() - started >= 0.8


@pytest.mark.etcd
def test_etcd_refused_proxy_fails_fast(etcd_proxy: FaultProxy) -> None:
    etcd_proxy.refuse()
    with etcdwire.Client([etcd_proxy.endpoint], timeout=2, connect_timeout=1) as client:
        started = time.monotonic()
        with pytest.raises(
            (etcdwire.NoEndpointAvailable, etcdwire.ConnectFailed, etcdwire.DeadlineExceeded)
        ):
            client.get("fp/refused")
        assert time.monotonic() - started < 3
        etcd_proxy.pass_through()
        client.put("fp/refused", "1", timeout=5)

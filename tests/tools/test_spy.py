"""``etcdwire spy`` (issue 7, "What it must show" point 2): a transparent proxy in front of a
real etcd, with the real ``etcdctl`` (put, get, watch, lease keep-alive) and etcdwire clients
going through it. etcdctl's commands must still work, and the spy's output must name each RPC
and show its decoded request and response.

The first part checks the passive decoder (etcdwire/tools/spy_decode.py) without sockets, fed
the bytes of both directions one byte at a time as well as whole.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import hpack
import pytest

from etcdwire import Client, RpcError
from etcdwire._grpc.framing import encode_message
from etcdwire._grpc.method import Cardinality, Method
from etcdwire._h2.frames import (
    CONNECTION_PREFACE,
    ErrorCode,
    SettingCode,
    encode_data,
    encode_goaway,
    encode_headers,
    encode_ping,
    encode_rst_stream,
    encode_settings,
    encode_window_update,
)
from etcdwire._pb import rpc_pb2
from etcdwire._sync.channel import Channel
from etcdwire.errors import StatusCode, UsageError
from etcdwire.tools.embedded import free_port, run_etcdctl
from etcdwire.tools.spy import _MethodStats, parse_address
from etcdwire.tools.spy_decode import CLIENT, SERVER, ConnectionSniffer
from etcdwire.tools.spy_output import BackgroundEmitter
from etcdwire.tools.tracefmt import JsonTraceWriter, TracePrinter
from etcdwire.trace import CallTrace, ConnectionTrace, FrameTrace, MessageTrace, TraceEvent
from tests.etcdctl_process import EtcdctlProcess

ANSI = re.compile(r"\x1b\[[0-9;]*m")

# --- the passive decoder, no sockets ---------------------------------------------------------

REQUEST_HEADERS = [
    (":method", "POST"),
    (":scheme", "http"),
    (":path", "/etcdserverpb.KV/Put"),
    (":authority", "etcd"),
    ("content-type", "application/grpc"),
    ("te", "trailers"),
    ("token", "sekrit-token-value"),
]


def _conversation() -> list[tuple[str, bytes]]:
    """One Put call as a client and a server would write it: the request's field block split
    across HEADERS and CONTINUATION, its message split across two DATA frames (one padded),
    an error status in the trailers."""
    client_hpack, server_hpack = hpack.Encoder(), hpack.Encoder()
    request = encode_message(rpc_pb2.PutRequest(key=b"k1", value=b"v1").SerializeToString())
    response = encode_message(
        rpc_pb2.PutResponse(header=rpc_pb2.ResponseHeader(revision=7)).SerializeToString()
    )
    block = client_hpack.encode(REQUEST_HEADERS)
    return [
        (CLIENT, CONNECTION_PREFACE + encode_settings([(SettingCode.INITIAL_WINDOW_SIZE, 1000)])),
        (SERVER, encode_settings([(SettingCode.MAX_CONCURRENT_STREAMS, 100)])),
        (CLIENT, encode_headers(1, block, max_frame_size=20)),  # HEADERS + CONTINUATIONs
        (CLIENT, encode_data(1, request[:4], pad_length=3)),
        (CLIENT, encode_data(1, request[4:], end_stream=True)),
        (SERVER, encode_window_update(0, 100) + encode_ping(b"12345678")),
        (CLIENT, encode_ping(b"12345678", ack=True)),
        (SERVER, encode_headers(1, server_hpack.encode([(":status", "200")]))),
        (SERVER, encode_data(1, response)),
        (CLIENT, encode_window_update(1, 50)),
        (
            SERVER,
            encode_headers(
                1,
                server_hpack.encode([("grpc-status", "5"), ("grpc-message", "not%20here")]),
                end_stream=True,
            ),
        ),
        (SERVER, encode_goaway(1, ErrorCode.NO_ERROR, b"bye")),
    ]


def _sniff(chunks: list[tuple[str, bytes]], *, bytewise: bool) -> list[TraceEvent]:
    ticks = iter(range(1000))
    sniffer = ConnectionSniffer(1, "test", clock=lambda: float(next(ticks)))
    events: list[TraceEvent] = []
    for direction, data in chunks:
        if bytewise:
            for i in range(len(data)):
                events += sniffer.feed(direction, data[i : i + 1])
        else:
            events += sniffer.feed(direction, data)
    assert sniffer.broken is None
    return events


@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "byte-at-a-time"])
def test_sniffer_follows_a_call_across_continuation_and_split_data(bytewise: bool) -> None:
    """RFC 9113 §3.4 preface, §6.10 a field block across CONTINUATION frames, §6.1 padded DATA;
    gRPC messages reassembled across DATA frames."""
    events = _sniff(_conversation(), bytewise=bytewise)
    calls = [e for e in events if isinstance(e, CallTrace)]
    assert [(c.event, c.method) for c in calls] == [
        ("start", "/etcdserverpb.KV/Put"),
        ("end", "/etcdserverpb.KV/Put"),
    ]
    assert calls[1].code == 5 and calls[1].message == "not here"
    assert calls[1].duration is not None and calls[1].duration > 0
    messages = [e for e in events if isinstance(e, MessageTrace)]
    assert [(m.direction, m.method) for m in messages] == [
        (CLIENT, "/etcdserverpb.KV/Put"),
        (SERVER, "/etcdserverpb.KV/Put"),
    ]
    assert messages[0].decode() == rpc_pb2.PutRequest(key=b"k1", value=b"v1")
    assert messages[1].decode().header.revision == 7
    frames = [e.record for e in events if isinstance(e, FrameTrace)]
    kinds = [(r.direction, r.frame_type) for r in frames]
    assert kinds.count((CLIENT, "CONTINUATION")) >= 2
    assert (SERVER, "GOAWAY") in kinds
    # the decoded fields ride on the frame that completed the block, secrets redacted
    request_block = next(r for r in frames if r.headers and r.direction == CLIENT)
    assert request_block.frame_type == "CONTINUATION"
    assert ("token", "<redacted 18B>") in (request_block.headers or [])
    trailers = [r for r in frames if r.direction == SERVER and r.flags == (
        "END_STREAM", "END_HEADERS"
    )]
    assert trailers[0].headers == [("grpc-status", "5"), ("grpc-message", "not%20here")]


def test_sniffer_window_figures_rfc9113_6_9() -> None:
    """§6.9: DATA (padding included) uses the sender's windows, a WINDOW_UPDATE from the other
    side adds to them; §6.9.2: a stream starts with the peer's SETTINGS_INITIAL_WINDOW_SIZE."""
    events = _sniff(_conversation(), bytewise=False)
    updates = [
        e.record for e in events
        if isinstance(e, FrameTrace) and e.record.frame_type == "WINDOW_UPDATE"
    ]
    server_grant, client_grant = updates
    # the server granted the client 100 more on the connection after its 2 DATA frames
    request_len = len(encode_message(
        rpc_pb2.PutRequest(key=b"k1", value=b"v1").SerializeToString()
    ))
    used = request_len + 1 + 3  # pad length octet + 3 octets of padding
    assert server_grant.conn_window == (65_535 - used, 65_535 - used + 100)
    # the client (INITIAL_WINDOW_SIZE 1000) granted the server 50 more on stream 1
    assert client_grant.stream_window is not None
    before, after = client_grant.stream_window
    response_len = len(encode_message(
        rpc_pb2.PutResponse(header=rpc_pb2.ResponseHeader(revision=7)).SerializeToString()
    ))
    assert after - before == 50 and before == 1000 - response_len


def test_sniffer_names_unknown_services_with_raw_sizes() -> None:
    encoder = hpack.Encoder()
    headers = [(":method", "POST"), (":path", "/acme.Foo/Bar"), (":scheme", "http")]
    sniffer = ConnectionSniffer(1, "test")
    events = sniffer.feed(
        CLIENT,
        CONNECTION_PREFACE
        + encode_headers(1, encoder.encode(headers))
        + encode_data(1, encode_message(b"\x01\x02\x03")),
    )
    message = next(e for e in events if isinstance(e, MessageTrace))
    assert message.method == "/acme.Foo/Bar"
    assert message.message_type is None and bytes(message.payload) == b"\x01\x02\x03"
    text = io.StringIO()
    TracePrinter(text, colour=False)(message)
    assert re.fullmatch(r" +\d+\.\d+ c1 >> MESSAGE +s=1 /acme\.Foo/Bar raw \(3 bytes\)\n",
                        text.getvalue())
    lines = io.StringIO()
    JsonTraceWriter(lines)(message)
    fields = json.loads(lines.getvalue())["fields"]
    assert fields == {"method": "/acme.Foo/Bar", "message_type": None, "size": 3,
                      "payload": base64.b64encode(b"\x01\x02\x03").decode()}


def test_sniffer_rst_stream_ends_the_call_as_cancelled() -> None:
    """RFC 9113 §6.4 RST_STREAM ends the stream; gRPC maps CANCEL to CANCELLED."""
    encoder = hpack.Encoder()
    sniffer = ConnectionSniffer(1, "test")
    sniffer.feed(CLIENT, CONNECTION_PREFACE + encode_headers(1, encoder.encode(REQUEST_HEADERS)))
    events = sniffer.feed(CLIENT, encode_rst_stream(1, ErrorCode.CANCEL))
    end = next(e for e in events if isinstance(e, CallTrace))
    assert end.event == "end" and end.code == 1
    assert end.message == "RST_STREAM CANCEL from the client"
    assert sniffer.open_streams == []


def test_sniffer_reports_traffic_that_is_not_http2_once_and_never_raises() -> None:
    """RFC 9113 §3.4: a connection must start with the preface; anything else is reported and
    left undecoded (the proxy still forwards it)."""
    sniffer = ConnectionSniffer(1, "test")
    events = sniffer.feed(CLIENT, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(events) == 1 and isinstance(events[0], ConnectionTrace)
    assert events[0].state == "decode-error" and "preface" in events[0].detail
    assert sniffer.feed(CLIENT, b"more") == []
    assert sniffer.feed(SERVER, b"HTTP/1.1 400 Bad Request\r\n\r\n") == []
    (tls,) = ConnectionSniffer(2, "test").feed(CLIENT, b"\x16\x03\x01\x02\x00\x01")
    assert isinstance(tls, ConnectionTrace) and "this client expects TLS" in tls.detail


def test_sniffer_close_ends_open_calls() -> None:
    encoder = hpack.Encoder()
    sniffer = ConnectionSniffer(1, "test")
    sniffer.feed(CLIENT, CONNECTION_PREFACE + encode_headers(1, encoder.encode(REQUEST_HEADERS)))
    (end,) = sniffer.close("connection closed by the client")
    assert isinstance(end, CallTrace) and end.code is None
    assert end.message == "connection closed by the client"


# --- the spy as a process, with real etcd and etcdctl ----------------------------------------


class SpyProcess:
    """``etcdwire spy`` running in the background, its output in a file."""

    def __init__(self, upstream: str, out: Path, *extra: str) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.out = out
        self._file = out.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "etcdwire.tools.cli", "spy",
                "--listen", self.address, "--upstream", upstream, *extra,
            ],
            stdout=self._file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": ""},
        )
        self.wait_for("listening on", timeout=20)

    def text(self) -> str:
        return self.out.read_bytes().decode("utf-8", "replace")

    def wait_for(self, pattern: str, *, count: int = 1, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            if len(re.findall(pattern, text)) >= count:
                return text
            if self.proc.poll() is not None:
                pytest.fail(f"spy exited {self.proc.returncode}:\n{text}")
            if time.monotonic() > deadline:
                pytest.fail(f"{pattern!r} x{count} not in the spy's output:\n{text[-6000:]}")
            time.sleep(0.05)

    def stop(self) -> int:
        """Ctrl-C (SIGINT): the spy exits 0."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._file.close()
        return self.proc.returncode


@pytest.fixture
def spy(tmp_path: Path) -> Iterator[Callable[..., SpyProcess]]:
    started: list[SpyProcess] = []

    def start(upstream: str, *extra: str) -> SpyProcess:
        process = SpyProcess(upstream, tmp_path / f"spy{len(started)}.out", *extra)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def _ctl(spy: SpyProcess, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = run_etcdctl(*args, endpoints=spy.address, timeout=20, **kwargs)
    assert result.returncode == 0, result.stderr
    return result


def _key() -> str:
    return f"spy/{uuid.uuid4().hex[:10]}"


@pytest.mark.etcd
def test_etcdctl_put_and_get_through_the_spy(etcd: Any, spy: Any) -> None:
    proxy = spy(etcd.endpoint, "--color", "never")
    key = _key()
    assert _ctl(proxy, "put", key, "hello-spy").stdout == "OK\n"
    assert _ctl(proxy, "get", key).stdout == f"{key}\nhello-spy\n"
    text = proxy.wait_for(r"/etcdserverpb\.KV/Range end status=OK in \d+\.\d+ ms")
    assert "\x1b[" not in text
    assert re.search(r"CALL +s=1 /etcdserverpb\.KV/Put start", text)
    assert re.search(r">> MESSAGE +s=1 /etcdserverpb\.KV/Put PutRequest \(\d+ bytes\)\n"
                     rf'    key: "{key}"\n    value: "hello-spy"\n', text)
    assert re.search(r"<< MESSAGE +s=1 /etcdserverpb\.KV/Put PutResponse .*\n    header \{\n"
                     r"      cluster_id: \d+\n      member_id: \d+\n      revision: \d+", text)
    assert re.search(r"/etcdserverpb\.KV/Put end status=OK in \d+\.\d{3} ms", text)
    assert re.search(rf'>> MESSAGE +s=1 /etcdserverpb\.KV/Range RangeRequest .*\n    key: "{key}"',
                     text)
    assert re.search(rf'<< MESSAGE +s=1 /etcdserverpb\.KV/Range RangeResponse[^\n]*\n(    .*\n)*'
                     rf'    kvs \{{\n      key: "{key}"\n(      .*\n)*      value: "hello-spy"',
                     text)
    assert re.search(r"\n +count: 1\n", text)
    assert "<< PING" in text  # stream-level events show without --frames
    assert "HEADERS" not in text
    assert proxy.stop() == 0
    # at exit, a summary: one row per method with calls, errors and latency
    summary = proxy.text().split("etcdwire spy: 2 connections, 2 calls\n", 1)[1]
    assert re.fullmatch(
        r" +method +calls +errors +p50 ms +p99 ms +max ms\n"
        r" +/etcdserverpb\.KV/Put +1 +0( +\d+\.\d{3}){3}\n"
        r" +/etcdserverpb\.KV/Range +1 +0( +\d+\.\d{3}){3}\n",
        summary,
    )


@pytest.mark.etcd
def test_etcdctl_watch_through_the_spy(etcd: Any, spy: Any) -> None:
    proxy = spy(etcd.endpoint)
    key = _key()
    watcher = EtcdctlProcess(SimpleNamespace(url=proxy.address), "watch", key)
    try:
        proxy.wait_for(r"WatchResponse[^\n]*\n(    .*\n)*    created: true")
        _ctl(proxy, "put", key, "watched-value")
        assert watcher.read_line(10) == "PUT"
        assert watcher.read_line(5) == key
        assert watcher.read_line(5) == "watched-value"
    finally:
        watcher.stop()
    text = proxy.wait_for(r"/etcdserverpb\.Watch/Watch end")
    assert re.search(r"CALL +s=\d+ /etcdserverpb\.Watch/Watch start", text)
    assert re.search(rf'WatchRequest[^\n]*\n    create_request \{{\n      key: "{key}"', text)
    assert re.search(
        r"<< MESSAGE +s=\d+ /etcdserverpb\.Watch/Watch WatchResponse[^\n]*\n(    .*\n)*"
        rf'    events \{{\n      kv \{{\n        key: "{key}"\n(        .*\n)*'
        r'        value: "watched-value"',
        text,
    )
    # etcdctl was killed mid-stream: the call ends with the connection
    assert re.search(r"/etcdserverpb\.Watch/Watch end status=\? message='connection closed by "
                     r"the client( \(reset\))? before the call ended' in \d+", text)


@pytest.mark.etcd
def test_etcdctl_lease_grant_and_keep_alive_through_the_spy(etcd: Any, spy: Any) -> None:
    proxy = spy(etcd.endpoint)
    granted = _ctl(proxy, "lease", "grant", "6").stdout  # etcdctl keeps alive every TTL/3
    match = re.fullmatch(r"lease ([0-9a-f]+) granted with TTL\(6s\)\n", granted)
    assert match, granted
    lease_hex = match.group(1)
    lease_id = int(lease_hex, 16)
    keeper = EtcdctlProcess(SimpleNamespace(url=proxy.address), "lease", "keep-alive", lease_hex)
    try:
        lines = [keeper.read_line(8) for _ in range(2)]
        assert lines == [f"lease {lease_hex} keepalived with TTL(6)"] * 2, lines
    finally:
        keeper.stop()
    text = proxy.wait_for(r"/etcdserverpb\.Lease/LeaseKeepAlive end")
    assert re.search(r"/etcdserverpb\.Lease/LeaseGrant LeaseGrantRequest[^\n]*\n    TTL: 6\n", text)
    assert re.search(
        r"/etcdserverpb\.Lease/LeaseGrant LeaseGrantResponse[^\n]*\n(    .*\n)*"
        rf"    ID: {lease_id}\n    TTL: 6\n", text
    )
    assert re.search(r"/etcdserverpb\.Lease/LeaseGrant end status=OK", text)
    assert re.search(r"CALL +s=\d+ /etcdserverpb\.Lease/LeaseKeepAlive start", text)
    requests = re.findall(
        rf">> MESSAGE[^\n]*LeaseKeepAliveRequest[^\n]*\n    ID: {lease_id}\n", text
    )
    responses = re.findall(
        r"<< MESSAGE[^\n]*LeaseKeepAliveResponse[^\n]*\n(?:    .*\n)*?"
        rf"    ID: {lease_id}\n    TTL: 6\n", text
    )
    assert len(requests) >= 2 and len(responses) >= 2
    run_etcdctl("lease", "revoke", lease_hex, endpoints=etcd.endpoint)


@pytest.mark.etcd
def test_frames_flag_shows_every_frame_with_headers_and_windows(etcd: Any, spy: Any) -> None:
    proxy = spy(etcd.endpoint, "--frames", "--color=always")
    key = _key()
    _ctl(proxy, "put", key, "f")
    coloured = proxy.wait_for(r"by the client( \(reset\))? after 1 call")
    assert "\x1b[1;36m>>\x1b[0m" in coloured and "\x1b[1;35m<<\x1b[0m" in coloured
    text = ANSI.sub("", coloured)
    # wall-clock timestamps on every event line
    assert re.search(r"\n\d\d:\d\d:\d\d\.\d{6} c1 >> HEADERS", text)
    assert re.search(r">> SETTINGS +s=0 flags=- len=\d+", text)
    assert re.search(r"<< SETTINGS +s=0 flags=ACK", text)
    assert re.search(r">> HEADERS +s=1 flags=END_HEADERS len=\d+\n(    .*\n)*"
                     r"    :path: /etcdserverpb\.KV/Put\n", text)
    assert re.search(r">> DATA +s=1 flags=END_STREAM", text)
    assert re.search(r"<< HEADERS +s=1 flags=END_STREAM\|END_HEADERS len=\d+\n(    .*\n)*"
                     r"    grpc-status: 0\n", text)
    assert re.search(r"WINDOW_UPDATE +s=0 flags=- len=4 incr=\d+ conn-window -?\d+->\d+", text)


@pytest.mark.etcd
def test_passwords_and_tokens_are_redacted(etcd_factory: Any, etcdctl: Any, spy: Any) -> None:
    member = etcd_factory()
    etcdctl("user", "add", "root", "--new-user-password=rootpw1", member=member, check=True)
    etcdctl("auth", "enable", member=member, check=True)
    proxy = spy(member.endpoint, "--frames")
    key = _key()
    assert _ctl(proxy, "--user=root:rootpw1", "put", key, "a").stdout == "OK\n"
    text = proxy.wait_for(r"/etcdserverpb\.KV/Put end status=OK")
    assert "rootpw1" not in text
    # etcdctl sends the token as the `token` header of every later call
    assert re.search(r":path: /etcdserverpb\.KV/Put\n(    .*\n)*    token: <redacted \d+B>\n",
                     text)
    assert re.search(r'AuthenticateRequest[^\n]*\n    name: "root"\n'
                     r'    password: "<redacted 7B>"', text)
    assert re.search(r'AuthenticateResponse[^\n]*\n(    .*\n)*    token: "<redacted \d+B>"', text)


@pytest.mark.etcd
def test_tls_toward_the_client_and_toward_etcd(etcd_tls: Any, tls_certs: Any, spy: Any) -> None:
    """The spy terminates TLS with its own cert (ALPN h2) and connects to a TLS etcd."""
    proxy = spy(
        etcd_tls.endpoint,
        "--tls-cert", tls_certs.server_cert_file,
        "--tls-key", tls_certs.server_key_file,
        "--upstream-tls", "--upstream-cacert", tls_certs.ca_file,
    )
    key = _key()
    url = f"https://{proxy.address}"
    for args, expected in (
        (("put", key, "over-tls"), "OK\n"),
        (("get", key, "--print-value-only"), "over-tls\n"),
    ):
        result = run_etcdctl(
            f"--cacert={tls_certs.ca_file}", *args, endpoints=url, timeout=20
        )
        assert (result.returncode, result.stdout) == (0, expected), result.stderr
    text = proxy.wait_for(r"/etcdserverpb\.KV/Range end status=OK")
    assert re.search(r"accepted TLS TLSv1\.[23] ALPN h2", text)
    assert re.search(r"connected to the upstream over TLS TLSv1\.[23] ALPN h2", text)
    assert re.search(rf'PutRequest[^\n]*\n    key: "{key}"\n    value: "over-tls"', text)
    # and an etcdwire client through the same spy
    with Client(url, ca_file=tls_certs.ca_file) as client:
        assert client.get(key).value == b"over-tls"


@pytest.mark.etcd
def test_many_concurrent_clients_json_output(etcd: Any, spy: Any) -> None:
    """20 etcdwire clients at once, 10 puts and gets each, each on its own connection; every
    call is seen, per connection, with its own decoded messages."""
    proxy = spy(etcd.endpoint, "--json")
    prefix = _key()
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            with Client(f"http://{proxy.address}") as client:
                for i in range(10):
                    client.put(f"{prefix}/{n}/{i}", f"v{n}.{i}")
                    assert client.get(f"{prefix}/{n}/{i}").value == f"v{n}.{i}".encode()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    proxy.wait_for(r'"state":"closed"', count=20, timeout=20)
    events = [json.loads(line) for line in proxy.text().splitlines() if line.startswith("{")]
    ends = [e for e in events if e["type"] == "call" and e["fields"]["event"] == "end"]
    assert len(ends) == 400
    assert all(e["fields"]["status"] == "OK" and e["fields"]["duration"] > 0 for e in ends)
    assert len({e["connection"] for e in ends}) == 20
    puts = [
        e for e in events
        if e["type"] == "message" and e["fields"]["message_type"] == "PutRequest"
    ]
    assert len(puts) == 200
    by_connection: dict[int, set[str]] = {}
    for put in puts:
        value = base64.b64decode(put["fields"]["message"]["value"]).decode()
        by_connection.setdefault(put["connection"], set()).add(value.split(".")[0])
    assert all(len(owners) == 1 for owners in by_connection.values())  # no mixing


@pytest.mark.etcd
def test_upstream_down_closes_the_client_and_the_spy_keeps_running(
    etcd_factory: Any, spy: Any
) -> None:
    member = etcd_factory()
    proxy = spy(member.endpoint)
    member.stop()
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as raw:
        raw.sendall(CONNECTION_PREFACE)
        assert raw.recv(100) == b""  # closed without a byte
    text = proxy.wait_for(r"cannot connect to the upstream")
    assert re.search(r"c1 CONN +127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ failed cannot connect "
                     r"to the upstream \(.+\); closing the client connection", text)
    assert proxy.proc.poll() is None
    member.start()
    key = _key()
    assert _ctl(proxy, "put", key, "back").stdout == "OK\n"
    proxy.wait_for(r"/etcdserverpb\.KV/Put end status=OK")
    assert proxy.stop() == 0


def test_start_fails_with_one_line_when_the_listen_address_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken, socket.socket() as upstream:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        upstream.bind(("127.0.0.1", 0))
        upstream.listen()
        result = subprocess.run(
            [
                sys.executable, "-m", "etcdwire.tools.cli", "spy",
                "--listen", f"127.0.0.1:{taken.getsockname()[1]}",
                "--upstream", f"127.0.0.1:{upstream.getsockname()[1]}",
            ],
            capture_output=True, text=True, timeout=30, check=False,
        )
    assert result.returncode == 1
    assert result.stdout == ""
    assert re.fullmatch(r"etcdwire spy: error: cannot listen on 127\.0\.0\.1:\d+: .+\n",
                        result.stderr)


def test_start_fails_with_one_line_when_the_upstream_is_unreachable() -> None:
    result = subprocess.run(
        [
            sys.executable, "-m", "etcdwire.tools.cli", "spy",
            "--listen", f"127.0.0.1:{free_port()}", "--upstream", f"127.0.0.1:{free_port()}",
        ],
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert result.returncode == 1
    assert re.fullmatch(r"etcdwire spy: error: upstream 127\.0\.0\.1:\d+ is unreachable: .+\n",
                        result.stderr)


@pytest.mark.etcd
def test_failed_tls_handshake_is_reported_and_the_spy_goes_on(
    etcd: Any, tls_certs: Any, spy: Any
) -> None:
    proxy = spy(
        etcd.endpoint,
        "--tls-cert", tls_certs.server_cert_file, "--tls-key", tls_certs.server_key_file,
    )
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as raw:
        raw.sendall(CONNECTION_PREFACE)  # cleartext HTTP/2 to a TLS port
        raw.recv(100)
    proxy.wait_for(r"c1 CONN .* failed TLS handshake failed: ")
    result = run_etcdctl(
        f"--cacert={tls_certs.ca_file}", "put", _key(), "x",
        endpoints=f"https://{proxy.address}", timeout=20,
    )
    assert result.stdout == "OK\n", result.stderr
    proxy.wait_for(r"c2 CONN .* accepted TLS")


@pytest.mark.etcd
def test_ctrl_c_with_a_watch_open_exits_zero(etcd: Any, spy: Any) -> None:
    proxy = spy(etcd.endpoint)
    key = _key()
    watcher = EtcdctlProcess(SimpleNamespace(url=proxy.address), "watch", key)
    try:
        proxy.wait_for(r"created: true")
        started = time.monotonic()
        assert proxy.stop() == 0
        assert time.monotonic() - started < 5
        text = proxy.text()
        assert re.search(r"/etcdserverpb\.Watch/Watch end status=\? message='connection closed "
                         r"by the spy before the call ended'", text)
        assert "Traceback" not in text
    finally:
        watcher.stop()


@pytest.mark.etcd
def test_output_closed_by_its_reader_stops_the_spy_quietly(etcd: Any) -> None:
    """``etcdwire spy ... | head``: once the pipe closes the spy exits 0 without a traceback."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "etcdwire.tools.cli", "spy", "--listen", f"127.0.0.1:{port}",
         "--upstream", etcd.endpoint],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert b"listening on" in proc.stdout.readline()
        proc.stdout.close()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.sendall(CONNECTION_PREFACE)  # the spy has something to print
            raw.recv(100)
        assert proc.wait(10) == 0
        assert proc.stderr.read() == b""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


@pytest.mark.etcd
def test_large_message_across_many_data_frames(etcd: Any, spy: Any) -> None:
    """A 1 MB value crosses the spy in many DATA frames and several window updates: it arrives
    intact and the spy reassembles it into one message (its long text line cut short)."""
    proxy = spy(etcd.endpoint)
    key, value = _key(), os.urandom(1_000_000)
    with Client(f"http://{proxy.address}") as client:
        client.put(key, value)
        assert client.get(key).value == value
    text = proxy.wait_for(r"/etcdserverpb\.KV/Range end status=OK")
    size = len(rpc_pb2.PutRequest(key=key.encode(), value=value).SerializeToString())
    assert re.search(rf">> MESSAGE +s=1 /etcdserverpb\.KV/Put PutRequest \({size} bytes\)", text)
    assert re.search(r'\n    value: ".{900,1000}\.\.\. \(\d+ more characters\)\n', text)
    assert re.search(r"<< MESSAGE +s=3 /etcdserverpb\.KV/Range RangeResponse \(\d{7} bytes\)",
                     text)


@pytest.mark.etcd
def test_colour_on_a_terminal_by_default(etcd: Any) -> None:
    """Log lines go to stdout, coloured when stdout is a terminal (no --color given)."""
    controller, terminal = os.openpty()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen(
        [sys.executable, "-m", "etcdwire.tools.cli", "spy", "--listen", f"127.0.0.1:{port}",
         "--upstream", etcd.endpoint],
        stdout=terminal, stderr=terminal, env=env,
    )
    os.close(terminal)
    seen = b""

    def read_until(marker: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 15
        while marker not in seen and time.monotonic() < deadline:
            ready = select.select([controller], [], [], 0.2)[0]
            if ready:
                seen += os.read(controller, 65536)
        assert marker in seen, seen.decode(errors="replace")

    try:
        read_until(b"listening on")
        run_etcdctl("put", _key(), "tty", endpoints=f"127.0.0.1:{port}", timeout=20)
        read_until(b" after 1 call")
        assert b"\x1b[1;36m>>\x1b[0m" in seen
        assert b"\x1b[32mOK\x1b[0m" in seen
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
        os.close(controller)


@pytest.mark.etcd
def test_unknown_method_shows_raw_sizes_and_the_trailers_only_status(etcd: Any, spy: Any) -> None:
    """A method etcd does not serve: the spy cannot name the message type, so it shows the raw
    size, and the status from the server's Trailers-Only response (gRPC PROTOCOL-HTTP2.md)."""
    proxy = spy(etcd.endpoint)
    nope = Method(
        "/etcdserverpb.KV/NoSuchMethod",
        rpc_pb2.RangeRequest,
        rpc_pb2.RangeResponse,
        Cardinality.UNARY_UNARY,
    )
    channel = Channel(f"http://{proxy.address}")
    try:
        with pytest.raises(RpcError) as caught:
            channel.unary_unary(nope, rpc_pb2.RangeRequest(key=b"abc"))
    finally:
        channel.close()
    assert caught.value.code == StatusCode.UNIMPLEMENTED
    text = proxy.wait_for(r"NoSuchMethod end")
    assert re.search(r">> MESSAGE +s=1 /etcdserverpb\.KV/NoSuchMethod raw \(5 bytes\)\n", text)
    assert re.search(r"/etcdserverpb\.KV/NoSuchMethod end status=UNIMPLEMENTED "
                     r"message='unknown method NoSuchMethod.*' in \d+", text)


# --- output from its own thread ----------------------------------------------------------------


def _conn_event(n: int) -> ConnectionTrace:
    return ConnectionTrace(1, "test", "accepted", str(n))


def test_output_thread_drops_and_counts_events_when_the_writer_falls_behind() -> None:
    """A stalled terminal never stalls the proxy: past the queue limit events are dropped,
    and the next line written says how many."""
    gate = threading.Event()
    written: list[TraceEvent] = []

    def slow(event: TraceEvent) -> None:
        gate.wait(10)
        written.append(event)

    emitter = BackgroundEmitter(slow, limit=2)
    for n in range(10):
        emitter(_conn_event(n))  # never blocks
    assert emitter.dropped >= 7
    gate.set()
    emitter.close()
    notes = [e for e in written if isinstance(e, ConnectionTrace) and e.state == "overrun"]
    assert len(notes) == 1 and notes[0].detail == (
        f"{emitter.dropped} events not shown: the output was too slow"
    )
    assert len(written) == 10 - emitter.dropped + 1


def test_output_thread_stops_once_the_output_is_gone() -> None:
    calls: list[str] = []

    def broken(event: TraceEvent) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    emitter = BackgroundEmitter(broken)
    emitter.on_lost = lambda: calls.append("lost")
    emitter(_conn_event(1))
    emitter(_conn_event(2))
    emitter.close()
    assert emitter.lost and calls == ["lost"]
    emitter(_conn_event(3))  # ignored, no error


# --- small parts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:2379", ("127.0.0.1", 2379)),
        (":2379", ("127.0.0.1", 2379)),
        ("http://localhost:2379", ("localhost", 2379)),
        ("https://10.0.0.1:2379/", ("10.0.0.1", 2379)),
        ("[::1]:2379", ("::1", 2379)),
    ],
)
def test_parse_address(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["localhost", "host:port", "host:0", "host:70000", ""])
def test_parse_address_refuses_bad_input(text: str) -> None:
    with pytest.raises(UsageError, match="expected HOST:PORT"):
        parse_address(text)


def test_summary_percentiles_and_bounded_samples() -> None:
    stats = _MethodStats()
    for ms in range(1, 101):
        stats.add(ms % 10 != 0, ms / 1000)
    assert (stats.count, stats.errors) == (100, 10)
    assert stats.percentile(50) == pytest.approx(0.050)
    assert stats.percentile(99) == pytest.approx(0.099)
    assert stats.slowest == pytest.approx(0.100)
    for _ in range(25_000):
        stats.add(True, 0.001)
    assert stats.count == 25_100 and len(stats.samples) == 10_000
    assert stats.slowest == pytest.approx(0.100)

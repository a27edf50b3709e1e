"""Client CPU per unary Range call, layer by layer, and the whole ``Client.get``.

    python benchmarks/bench_call_cpu.py [--calls 20000] [--repeat 5] [--e2e-calls 5000]
                                        [--replay-calls 10000] [--endpoint URL] [--profile]

The call measured is a serializable Range of one key holding a 64-byte value, as in
``bench_clients.py``. A throwaway etcd is started on loopback unless ``--endpoint`` is given.

Stages (each timed alone, no socket involved):

- ``Op.get``: building and validating the operation;
- ``to_request``: the limit checks and the protobuf ``RangeRequest``;
- ``encode_request``: a ``CallState`` for the call, ``SerializeToString`` and the gRPC prefix;
- ``h2 send``: ``request_headers`` (with ``grpc-timeout``), ``send_headers``, ``send_data`` and
  ``data_to_send``;
- ``h2 receive``: ``receive_data`` on the bytes etcd really sent for such a call (recorded first
  on a live connection: WINDOW_UPDATE, PING, HEADERS, DATA, trailers) and ``handle_event`` for
  each event of the stream, as the shell's dispatcher does;
- ``parse``: ``ParseFromString`` of the response message;
- ``convert``: ``parse_response`` (``convert.get_response``) into the user-facing types.

Stage figures are wall time of CPU-bound code (``perf_counter``), the best mean of ``--repeat``
runs. Then the whole call, through the blocking ``Channel`` and through ``Client.get``, with the
client process's user and system CPU per call (``getrusage``); what the stages do not explain is
the shell (locks, waits, retries, token check) and the socket system calls.

Last, ``Client.get`` against a replayed server: the blocking client's socket stream is swapped
for one that plays back what etcd sent to a live client (connection start and first calls
verbatim, then the recorded answer to a get for each request written). No system call and no
server is involved, so the figure is the client's own CPU per call, shell and layers together,
and much steadier than the live one on a busy machine. The same for ``AsyncClient.get`` from
``--concurrency`` tasks: the replayed server pushes to the asyncio connection the answers to
everything written in one loop iteration, in one chunk, the next iteration, as a busy server
answers many calls in one write.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import pstats
import resource
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import hpack

from etcdwire import AsyncClient, Client
from etcdwire._async import channel as async_channel
from etcdwire._etcd import methods
from etcdwire._etcd.ops import Op
from etcdwire._grpc.call import CallState
from etcdwire._h2.connection import H2Connection
from etcdwire._h2.frames import END_STREAM, FrameType, iter_frames
from etcdwire._pb import rpc_pb2
from etcdwire._sync import channel as sync_channel
from etcdwire._sync.channel import Channel
from etcdwire.tools.embedded import EmbeddedEtcd

KEY = b"bench/key"
VALUE = b"v" * 64
TIMEOUT = 30.0  # the Client's default per-call timeout: every call carries grpc-timeout
RANGE = methods.KV_RANGE
REQUEST = rpc_pb2.RangeRequest(key=KEY, serializable=True)
_STREAM_ID = struct.Struct(">L")
_FRAME_HEADER = struct.Struct(">LBL")


class Recorded:
    """A live HTTP/2 connection to etcd, warmed up, and the bytes etcd sent for one Range.

    After recording, the socket is no longer read: the same ``H2Connection`` (with etcd's HPACK
    dynamic table in it) is fed the recorded response again for each new stream, with the
    stream id patched in."""

    def __init__(self, host: str, port: int) -> None:
        self.authority = f"{host}:{port}"
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.h2 = H2Connection()
        self.h2.initiate_connection()
        self.sock.sendall(self.h2.data_to_send())
        self._live(methods.KV_PUT, rpc_pb2.PutRequest(key=KEY, value=VALUE))
        for _ in range(20):
            response = self._live(RANGE, REQUEST)
        self.template, self.stream_offsets = response
        self.sock.close()

    def _live(self, method: object, request: object) -> tuple[bytes, list[int]]:
        h2 = self.h2
        now = time.monotonic()
        state = CallState(method, deadline=now + TIMEOUT)  # type: ignore[arg-type]
        headers = state.request_headers(now, authority=self.authority, scheme="http")
        stream_id = h2.get_next_available_stream_id()
        h2.send_headers(stream_id, headers)
        payload = state.encode_request(request)
        state.end_request()
        h2.send_data(stream_id, payload, end_stream=True)
        self.sock.sendall(h2.data_to_send())
        received = bytearray()
        while state.status is None:
            data = self.sock.recv(65536)
            if not data:
                raise RuntimeError("etcd closed the connection")
            received += data
            for event in h2.receive_data(data):
                if getattr(event, "stream_id", 0) == stream_id:
                    state.handle_event(event, now=time.monotonic())
        if not state.status.ok:
            raise RuntimeError(f"recording call failed: {state.status}")
        offsets = [start - 4 for _, _, sid, start, _ in iter_frames(received) if sid == stream_id]
        return bytes(received), offsets

    def response_for(self, stream_id: int) -> bytes:
        """The recorded response bytes, addressed to ``stream_id``."""
        buf = bytearray(self.template)
        for offset in self.stream_offsets:
            _STREAM_ID.pack_into(buf, offset, stream_id)
        return bytes(buf)


def best_mean(run: Callable[[int], dict[str, float]], calls: int, repeat: int) -> dict[str, float]:
    """Per-stage seconds per call: the lowest mean over ``repeat`` runs of ``calls`` calls."""
    best: dict[str, float] = {}
    for _ in range(repeat):
        gc.collect()
        for stage, total in run(calls).items():
            mean = total / calls
            best[stage] = min(best.get(stage, mean), mean)
    return best


def build_stages(calls: int) -> dict[str, float]:
    clock = time.perf_counter
    t_op = t_req = t_enc = 0.0
    for _ in range(calls):
        t0 = clock()
        op = Op.get(KEY, serializable=True)
        t1 = clock()
        request = op.to_request()
        t2 = clock()
        state = CallState(RANGE, deadline=t2 + TIMEOUT)
        state.encode_request(request)
        t3 = clock()
        t_op += t1 - t0
        t_req += t2 - t1
        t_enc += t3 - t2
    return {"Op.get": t_op, "to_request": t_req, "encode_request": t_enc}


def h2_stages(recorded: Recorded) -> Callable[[int], dict[str, float]]:
    h2 = recorded.h2
    authority = recorded.authority

    def run(calls: int) -> dict[str, float]:
        clock = time.perf_counter
        t_send = t_recv = 0.0
        message = b""
        for _ in range(calls):
            stream_id = h2.get_next_available_stream_id()
            response = recorded.response_for(stream_id)
            state = CallState(RANGE, deadline=clock() + TIMEOUT)
            payload = state.encode_request(REQUEST)  # timed with the build stages
            t0 = clock()
            headers = state.request_headers(t0, authority=authority, scheme="http")
            stream_id = h2.get_next_available_stream_id()
            h2.send_headers(stream_id, headers, end_stream=False)
            state.end_request()
            h2.send_data(stream_id, payload, end_stream=True)
            h2.data_to_send()
            t1 = clock()
            for event in h2.receive_data(response):
                if getattr(event, "stream_id", 0) == stream_id:
                    messages = state.handle_event(event, now=t1)
                    if messages:
                        message = messages[0]
                    state.take_reset()
            t2 = clock()
            t_send += t1 - t0
            t_recv += t2 - t1
            if state.status is None or not state.status.ok or not message:
                raise RuntimeError(f"replayed call did not succeed: {state.status}")
        h2.data_to_send()  # the WINDOW_UPDATE and PING ACKs the replies queued
        return {"h2 send": t_send, "h2 receive": t_recv}

    return run


def response_stages(raw: bytes) -> Callable[[int], dict[str, float]]:
    op = Op.get(KEY, serializable=True)

    def run(calls: int) -> dict[str, float]:
        clock = time.perf_counter
        t_parse = t_conv = 0.0
        for _ in range(calls):
            t0 = clock()
            message = RANGE.deserialize_response(raw)
            t1 = clock()
            op.parse_response(message)
            t2 = clock()
            t_parse += t1 - t0
            t_conv += t2 - t1
        return {"parse": t_parse, "convert": t_conv}

    return run


def cpu_per_call(fn: Callable[[], object], calls: int) -> tuple[float, float, float]:
    """(wall, user, system) seconds per call over ``calls`` sequential calls."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    wall0 = time.perf_counter()
    for _ in range(calls):
        fn()
    wall = time.perf_counter() - wall0
    after = resource.getrusage(resource.RUSAGE_SELF)
    return (
        wall / calls,
        (after.ru_utime - before.ru_utime) / calls,
        (after.ru_stime - before.ru_stime) / calls,
    )


def end_to_end(url: str, calls: int, repeat: int) -> dict[str, tuple[float, float, float]]:
    results: dict[str, tuple[float, float, float]] = {}

    def keep_best(name: str, sample: tuple[float, float, float]) -> None:
        old = results.get(name)
        if old is None or sum(sample[1:]) < sum(old[1:]):
            results[name] = sample

    with Channel(url) as channel, Client(url) as client:
        client.put(KEY, VALUE)

        def channel_call() -> object:
            return channel.unary_unary(RANGE, REQUEST, timeout=TIMEOUT)

        def client_get() -> object:
            return client.get(KEY, serializable=True)

        for fn in (channel_call, client_get):
            for _ in range(300):
                fn()
        for _ in range(max(1, repeat // 2)):
            gc.collect()
            keep_best("Channel.unary_unary", cpu_per_call(channel_call, calls))
            gc.collect()
            keep_best("Client.get", cpu_per_call(client_get, calls))
    return results


class _RecordingStream:
    """A live socket stream that keeps every chunk it reads."""

    can_write_nowait = False  # it is read by pull, and written through write()

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.chunks: list[bytes] = []

    def read(self, max_bytes: int, timeout: float | None) -> bytes:
        data: bytes = self._stream.read(max_bytes, timeout)
        self.chunks.append(data)
        return data

    def write(self, data: bytes, timeout: float | None) -> None:
        self._stream.write(data, timeout)

    def close(self) -> None:
        self._stream.close()

    def get_extra_info(self, name: str) -> Any:
        return self._stream.get_extra_info(name)


class _ReplayStream:
    """Plays back a recorded server: the recorded chunks in order, then, for each request the
    client ends (DATA with END_STREAM), the recorded answer to a get on that stream."""

    can_write_nowait = False

    def __init__(self, chunks: list[bytes], answer: bytes, answer_stream: int) -> None:
        self._chunks = deque(chunks)
        self._answer = answer
        self._offsets = [
            start - 4 for _, _, sid, start, _ in iter_frames(answer) if sid == answer_stream
        ]
        self._due: list[int] = []
        self.last_write = b""

    def read(self, max_bytes: int, timeout: float | None) -> bytes:
        if self._chunks:
            return self._chunks.popleft()
        if not self._due:
            raise RuntimeError("the client waits for an answer to nothing it sent")
        return self._answers()

    def _answers(self) -> bytes:
        answers = bytearray()
        for stream_id in self._due:
            start = len(answers)
            answers += self._answer
            for offset in self._offsets:
                _STREAM_ID.pack_into(answers, start + offset, stream_id)
        self._due.clear()
        return bytes(answers)

    def write(self, data: bytes, timeout: float | None) -> None:
        self.last_write = data
        if self._chunks:
            return  # still in the recorded part: its answers are already in the chunks
        offset, total = 0, len(data)
        while offset < total:
            word, flags, stream_id = _FRAME_HEADER.unpack_from(data, offset)
            if word & 0xFF == FrameType.DATA and flags & END_STREAM:
                self._due.append(stream_id)
            offset += 9 + (word >> 8)

    def close(self) -> None:
        pass

    def get_extra_info(self, name: str) -> Any:
        return None


class _AsyncReplayStream(_ReplayStream):
    """The replayed server for the asyncio client, which reads by push (the event loop hands
    it bytes as they arrive): the server's connection preface (the stream-0 frames of the
    first recorded chunk) at once, a SETTINGS ACK for the client's SETTINGS, and in the loop
    iteration after the client's writes, the answers to all the requests written by then in
    one chunk, as a busy server's write does. Answers carry the answer stream's frames and
    the connection WINDOW_UPDATE that returns the request's send credit; grpc-go's
    occasional BDP PING is not repeated for every call."""

    _SETTINGS_ACK = bytes((0, 0, 0, FrameType.SETTINGS, 1, 0, 0, 0, 0))
    can_write_nowait = True  # it answers in the next loop iteration, as a socket would

    def __init__(self, chunks: list[bytes], answer: bytes, answer_stream: int) -> None:
        # The recorded answer's header blocks refer to HPACK table entries made earlier in the
        # recorded session, which is not replayed here: decode them in that session's order,
        # then encode them as a server would on a fresh connection: the first answer adds its
        # fields to the table, every later one refers to them (as etcd's answers do).
        decoder = hpack.Decoder()
        frames: list[tuple[int, int, int, bytes | list[tuple[bytes, bytes]]]] = []
        # (``answer`` may be the very object of its last chunk: a one-chunk join returns it,
        # so the answer is told apart by position, not identity.)
        for index, chunk in enumerate([*chunks, answer]):
            for kind, flags, sid, start, end in iter_frames(chunk):
                payload: bytes | list[tuple[bytes, bytes]] = chunk[start:end]
                if kind == FrameType.HEADERS:
                    payload = [
                        (bytes(n), bytes(v)) for n, v in decoder.decode(chunk[start:end], raw=True)
                    ]
                if index == len(chunks) and (
                    sid == answer_stream or kind == FrameType.WINDOW_UPDATE
                ):
                    frames.append((kind, flags, sid, payload))
        encoder = hpack.Encoder()
        first, steady = (
            b"".join(
                _FRAME_HEADER.pack(len(body) << 8 | kind, flags, sid) + body
                for kind, flags, sid, payload in frames
                for body in [payload if isinstance(payload, bytes) else encoder.encode(payload)]
            )
            for _ in range(2)
        )
        super().__init__([], steady, answer_stream)
        self._first: bytes | None = first
        first = chunks[0]
        self._preface = b"".join(
            first[start - 9 : end] for _, _, sid, start, end in iter_frames(first) if sid == 0
        )
        self._receiver: Callable[[bytes, BaseException | None], None] | None = None
        self._control = bytearray()
        self._scheduled = False

    def set_receiver(self, receiver: Callable[[bytes, BaseException | None], None]) -> None:
        self._receiver = receiver
        receiver(self._preface, None)

    def _answers(self) -> bytes:
        if self._first is None:
            return super()._answers()
        # The first answer, which fills the server's HPACK table, goes alone.
        first, self._first = self._first, None
        stream_id, rest = self._due[0], self._due[1:]
        self._due = []
        out = bytearray(first)
        for _, _, sid, start, _ in iter_frames(first):
            if sid:
                _STREAM_ID.pack_into(out, start - 4, stream_id)
        self._due = rest
        return bytes(out) + (super()._answers() if rest else b"")

    def _push(self) -> None:
        self._scheduled = False
        data = bytes(self._control) + (self._answers() if self._due else b"")
        self._control.clear()
        if data and self._receiver is not None:
            self._receiver(data, None)

    def write_nowait(self, data: bytes) -> None:
        self.write_sync(data)

    def write_sync(self, data: bytes) -> None:
        super().write(data, None)
        offset, total = 0, len(data)
        while offset < total:
            word, flags, _ = _FRAME_HEADER.unpack_from(data, offset)
            if word & 0xFF == FrameType.SETTINGS and not flags & 1:
                self._control += self._SETTINGS_ACK
            offset += 9 + (word >> 8)
        if (self._due or self._control) and not self._scheduled:
            # Answer once every task of this loop iteration has written, not per request.
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._push)

    async def write(self, data: bytes, timeout: float | None) -> None:  # type: ignore[override]
        self.write_sync(data)

    def close_nowait(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


class _AsyncRecordingStream(_RecordingStream):
    async def read(self, max_bytes: int, timeout: float | None) -> bytes:  # type: ignore[override]
        data: bytes = await self._stream.read(max_bytes, timeout)
        self.chunks.append(data)
        return data

    async def write(self, data: bytes, timeout: float | None) -> None:  # type: ignore[override]
        await self._stream.write(data, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()


def replayed_async(url: str, calls: int, repeat: int, concurrency: int) -> tuple[float, float]:
    """``AsyncClient.get`` from ``concurrency`` tasks against a replayed server: (calls/s,
    CPU per call). Recorded like :func:`replayed`, on the asyncio client."""
    namespace = vars(async_channel)
    real = namespace["open_stream"]
    recorders: list[_AsyncRecordingStream] = []
    replays: list[_AsyncReplayStream] = []
    recording: dict[str, Any] = {}

    async def record(*args: Any, **kwargs: Any) -> Any:
        recorders.append(_AsyncRecordingStream(await real(*args, **kwargs)))
        return recorders[-1]

    async def replay(*args: Any, **kwargs: Any) -> Any:
        replays.append(_AsyncReplayStream(*recording["replay"]))
        return replays[-1]

    async def fan_out(client: AsyncClient, total: int) -> None:
        async def loop() -> None:
            for _ in range(total // concurrency):
                await client.get(KEY, serializable=True)

        await asyncio.gather(*(loop() for _ in range(concurrency)))

    async def main() -> tuple[float, float]:
        namespace["open_stream"] = record
        try:
            async with AsyncClient(url) as client:
                await client.put(KEY, VALUE)
                for _ in range(50):
                    await client.get(KEY, serializable=True)
                (recorder,) = recorders
                before = len(recorder.chunks)
                await client.get(KEY, serializable=True)
                answer = b"".join(recorder.chunks[before:])
                chunks = list(recorder.chunks)
        finally:
            namespace["open_stream"] = real
        stream = next(sid for t, _, sid, _, _ in iter_frames(answer) if t == FrameType.DATA)
        recording["replay"] = (chunks, answer, stream)
        namespace["open_stream"] = replay
        best = (0.0, float("inf"))
        try:
            async with AsyncClient(url) as client:
                await client.put(KEY, VALUE)
                for _ in range(51):
                    await client.get(KEY, serializable=True)
                await fan_out(client, 2000)
                for _ in range(repeat):
                    gc.collect()
                    wall0, cpu0 = time.perf_counter(), time.process_time()
                    await fan_out(client, calls)
                    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
                    done = calls // concurrency * concurrency
                    if cpu / done < best[1]:
                        best = (done / wall, cpu / done)
        finally:
            namespace["open_stream"] = real
        return best

    return asyncio.run(main())


@contextlib.contextmanager
def _streams(make: Callable[[Any], Any]) -> Iterator[None]:
    """Wrap or replace the socket stream of every connection the blocking channel opens."""
    namespace = vars(sync_channel)  # the channel calls open_stream by its module-global name
    real = namespace["open_stream"]

    def open_stream(*args: Any, **kwargs: Any) -> Any:
        return make(lambda: real(*args, **kwargs))

    namespace["open_stream"] = open_stream
    try:
        yield
    finally:
        namespace["open_stream"] = real


def replayed(url: str, calls: int, repeat: int) -> tuple[tuple[float, float, float], float]:
    """``Client.get`` (wall, user, system) per call against a replayed server (see the module
    docstring), and the CPU per call of the replay stream itself (included in the former)."""
    warmup = 50
    recorders: list[_RecordingStream] = []

    def record(connect: Callable[[], Any]) -> Any:
        recorders.append(_RecordingStream(connect()))
        return recorders[-1]

    with _streams(record), Client(url) as client:
        client.put(KEY, VALUE)
        for _ in range(warmup):
            client.get(KEY, serializable=True)
        (recorder,) = recorders
        before = len(recorder.chunks)
        client.get(KEY, serializable=True)
        answer = b"".join(recorder.chunks[before:])
        chunks = list(recorder.chunks)
    answer_stream = next(sid for t, _, sid, _, _ in iter_frames(answer) if t == FrameType.DATA)
    streams: list[_ReplayStream] = []

    def replay(_: object) -> _ReplayStream:
        streams.append(_ReplayStream(chunks, answer, answer_stream))
        return streams[-1]

    with _streams(replay), Client(url) as client:
        client.put(KEY, VALUE)
        for _ in range(warmup + 1 + 300):
            client.get(KEY, serializable=True)

        def client_get() -> object:
            return client.get(KEY, serializable=True)

        best: tuple[float, float, float] | None = None
        for _ in range(repeat):
            gc.collect()
            sample = cpu_per_call(client_get, calls)
            if best is None or sum(sample[1:]) < sum(best[1:]):
                best = sample
        (stream,) = streams
        request = stream.last_write  # a get's HEADERS and DATA (and any control frames)
    assert best is not None

    def server_only() -> object:
        stream.write(request, None)
        return stream.read(65536, None)

    own = min(sum(cpu_per_call(server_only, calls)[1:]) for _ in range(repeat))
    return best, own


def profile(url: str, recorded: Recorded, message: bytes, calls: int) -> None:
    with Client(url) as client:
        for _ in range(300):
            client.get(KEY, serializable=True)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(calls):
            client.get(KEY, serializable=True)
        profiler.disable()
    print(f"\ncProfile of {calls} Client.get calls, by own time:")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    profiler = cProfile.Profile()
    profiler.enable()
    build_stages(calls)
    h2_stages(recorded)(calls)
    response_stages(message)(calls)
    profiler.disable()
    print(f"\ncProfile of {calls} calls of the sans-IO stages, by own time:")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


def run(url: str, host: str, port: int, args: argparse.Namespace) -> None:
    recorded = Recorded(host, port)
    message = _first_message(recorded)
    print(
        f"unary Range (serializable, one {len(VALUE)}-byte value); response on the wire: "
        f"{len(recorded.template)} bytes in {len(list(iter_frames(recorded.template)))} frames"
    )
    stages: dict[str, float] = {}
    stages.update(best_mean(build_stages, args.calls, args.repeat))
    stages.update(best_mean(h2_stages(recorded), args.calls, args.repeat))
    stages.update(best_mean(response_stages(message), args.calls, args.repeat))
    print(f"\nper stage, best mean of {args.repeat} x {args.calls} calls:")
    for stage, seconds in stages.items():
        print(f"  {stage:<22} {seconds * 1e6:7.2f} us")
    total = sum(stages.values())
    print(f"  {'sum of stages':<22} {total * 1e6:7.2f} us")
    # Client.get builds its Op once per key and option set (memoized), so it is left out of
    # what the calls below are compared with.
    per_call = total - stages["Op.get"]
    if args.e2e_calls:
        runs = max(1, args.repeat // 2)
        print(f"\nend to end, {args.e2e_calls} sequential calls (best of {runs}):")
        for name, sample in end_to_end(url, args.e2e_calls, args.repeat).items():
            _report(name, sample, per_call)
    if args.replay_calls:
        calls = args.replay_calls
        print(f"\nagainst a replayed server, {calls} calls (best of {args.repeat}):")
        sample, own = replayed(url, calls, args.repeat)
        _report("Client.get", sample, per_call)
        print(f"  (of which the replayed server's own work: {own * 1e6:.1f} us)")
        rate, cpu = replayed_async(url, calls, args.repeat, args.concurrency)
        print(
            f"  AsyncClient.get x{args.concurrency} {rate:7.0f} calls/s   CPU {cpu * 1e6:6.1f} us"
            " (tasks sharing one connection; answers batched as a busy server's are)"
        )
    if args.profile:
        profile(url, recorded, message, min(args.calls, 5000))


def _report(name: str, sample: tuple[float, float, float], stages: float) -> None:
    wall, user, system = sample
    print(
        f"  {name:<22} {1 / wall:7.0f} calls/s   CPU {(user + system) * 1e6:6.1f} us "
        f"(user {user * 1e6:6.1f}, system {system * 1e6:5.1f});"
        f" user beyond the stages {(user - stages) * 1e6:6.1f} us"
    )


def _first_message(recorded: Recorded) -> bytes:
    """The serialized RangeResponse inside the recorded DATA frame."""
    for frame_type, _, _, start, end in iter_frames(recorded.template):
        if frame_type == 0:  # DATA: skip the 5-byte gRPC prefix
            return recorded.template[start + 5 : end]
    raise RuntimeError("no DATA frame in the recorded response")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000, help="calls per stage run")
    parser.add_argument("--repeat", type=int, default=5, help="runs per stage (best is kept)")
    parser.add_argument("--e2e-calls", type=int, default=5_000, help="0 skips the live calls")
    parser.add_argument("--replay-calls", type=int, default=10_000, help="0 skips the replay")
    parser.add_argument("--concurrency", type=int, default=64, help="tasks in the async replay")
    parser.add_argument("--endpoint", help="host:port of a running etcd (cleartext)")
    parser.add_argument("--profile", action="store_true", help="also print cProfile tables")
    args = parser.parse_args()
    if args.endpoint:
        endpoint = args.endpoint.removeprefix("http://")
        host, port = endpoint.rsplit(":", 1)
        run(f"http://{endpoint}", host, int(port), args)
        return
    with EmbeddedEtcd() as server:
        run(server.url, "127.0.0.1", server.client_port, args)


if __name__ == "__main__":
    main()

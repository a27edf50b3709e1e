"""``etcdwire demo``: start a throwaway etcd and walk through the API with the frames traced.

It shows a unary Put and Range, a watch (bidi stream) seeing a write, and a lease kept alive
(client-driven stream), then prints a summary of every HTTP/2 frame and gRPC message exchanged.
With ``--endpoint`` it uses an existing server instead of starting one.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from .._etcd import methods
from .._pb import kv_pb2, rpc_pb2
from .._sync.channel import Channel
from ..trace import TraceEvent, TraceSummary, TraceWriter
from .embedded import EmbeddedEtcd


def run_tour(endpoint: str, out: TextIO, *, trace_frames: bool = False) -> TraceSummary:
    """Run the tour against ``endpoint``; returns the frame summary."""
    summary = TraceSummary()
    writer = TraceWriter(out, decode_messages=True) if trace_frames else None

    def hook(event: TraceEvent) -> None:
        summary(event)
        if writer is not None:
            writer(event)

    def say(text: str) -> None:
        out.write(text + "\n")

    with Channel(endpoint, trace=hook) as channel:
        put = channel.unary_unary(
            methods.KV_PUT, rpc_pb2.PutRequest(key=b"demo/greeting", value=b"hello")
        )
        say(f"put demo/greeting=hello          -> revision {put.header.revision}")
        got = channel.unary_unary(methods.KV_RANGE, rpc_pb2.RangeRequest(key=b"demo/greeting"))
        kv = got.kvs[0]
        say(
            f"get demo/greeting                -> {kv.value.decode()!r} "
            f"(created at {kv.create_revision}, version {kv.version})"
        )

        with channel.stream_stream(methods.WATCH_WATCH, timeout=10) as watch:
            watch.send_message(
                rpc_pb2.WatchRequest(
                    create_request=rpc_pb2.WatchCreateRequest(
                        key=b"demo/", range_end=b"demo0", start_revision=put.header.revision + 1
                    )
                )
            )
            created = watch.receive()
            assert created is not None
            say(f"watch demo/ (prefix)             -> watch id {created.watch_id} created")
            channel.unary_unary(
                methods.KV_PUT, rpc_pb2.PutRequest(key=b"demo/greeting", value=b"bonjour")
            )
            seen = watch.receive()
            assert seen is not None
            for event in seen.events:
                kind = kv_pb2.Event.EventType.Name(event.type)
                say(
                    f"  event {kind} {event.kv.key.decode()}={event.kv.value.decode()!r} "
                    f"at revision {event.kv.mod_revision}"
                )

        grant = channel.unary_unary(methods.LEASE_GRANT, rpc_pb2.LeaseGrantRequest(TTL=10))
        say(f"lease grant ttl=10               -> lease {grant.ID:x}")
        channel.unary_unary(
            methods.KV_PUT,
            rpc_pb2.PutRequest(key=b"demo/session", value=b"alive", lease=grant.ID),
        )
        with channel.stream_stream(methods.LEASE_KEEP_ALIVE, timeout=10) as keepalive:
            keepalive.send_message(rpc_pb2.LeaseKeepAliveRequest(ID=grant.ID))
            reply = keepalive.receive()
            assert reply is not None
            say(f"lease keep-alive                 -> ttl {reply.TTL}s")
            keepalive.done_writing()
            keepalive.receive()
        channel.unary_unary(methods.LEASE_REVOKE, rpc_pb2.LeaseRevokeRequest(ID=grant.ID))
        after = channel.unary_unary(methods.KV_RANGE, rpc_pb2.RangeRequest(key=b"demo/session"))
        say(f"lease revoke                     -> demo/session gone: {after.count == 0}")
    say("")
    say("frame trace summary")
    say(summary.format())
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="etcdwire demo", description=__doc__)
    parser.add_argument("--endpoint", help="use this etcd instead of starting one")
    parser.add_argument("--trace", action="store_true", help="print every frame and message")
    args = parser.parse_args(argv)
    if args.endpoint:
        run_tour(args.endpoint, sys.stdout, trace_frames=args.trace)
        return 0
    with EmbeddedEtcd() as server:
        sys.stdout.write(f"started etcd {server.version} at {server.url}\n\n")
        run_tour(server.url, sys.stdout, trace_frames=args.trace)
    return 0

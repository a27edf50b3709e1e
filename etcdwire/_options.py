"""Transport options shared by the async shell and its sync twin."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ChannelOptions"]


@dataclass(frozen=True, slots=True)
class ChannelOptions:
    """Limits and timeouts of one gRPC channel. Defaults follow etcd's Go client."""

    #: Largest response message accepted (Go clientv3: MaxInt32; etcd ranges can be large).
    max_receive_message_length: int = 2**31 - 1
    #: Largest request message sent (Go clientv3 default 2 MiB; etcd accepts 1.5 MiB + 512 KiB).
    max_send_message_length: int = 2 * 1024 * 1024
    #: Name resolution, TCP connect (per address) and TLS handshake are bounded separately;
    #: the call's deadline bounds all three together.
    dns_timeout: float = 20.0
    connect_timeout: float = 20.0
    tls_handshake_timeout: float = 20.0
    write_timeout: float | None = 60.0
    #: Local cap on concurrent streams per connection, on top of the server's setting.
    max_concurrent_streams: int = 1000
    stream_window_size: int = 4 * 1024 * 1024
    connection_window_size: int = 16 * 1024 * 1024
    max_header_list_size: int = 65536
    #: Highest client stream id before a new connection is opened (RFC 9113 §5.1.1); grpc-go
    #: drains at 3/4 of 2**31-1. Lower it only to test id exhaustion.
    max_stream_id: int = 1_610_612_735
    user_agent: str = ""
    #: Blocking client only: how long a reader polls its socket without sleeping before it
    #: blocks, while answers keep arriving that fast (it backs off when they do not). It saves
    #: the thread wake-up on every sequential call (about a third of a loopback round trip)
    #: for little CPU. 0 turns it off; asyncio and gevent/eventlet never spin.
    read_spin_time: float = 300e-6
    #: HTTP/2 keepalive PINGs (gRPC A8): off by default, as in etcd's Go client. When set,
    #: a connection with active streams that has read nothing for this many seconds is pinged,
    #: never faster than ``keepalive_min_time`` (etcd's enforcement permits one per 5 s with
    #: streams, none without), and closed when no byte arrives within ``keepalive_timeout``.
    #: Long-lived streams (watches, lease keep-alive) then move to a healthy endpoint instead
    #: of stalling on a black-holed one.
    keepalive_time: float | None = None
    keepalive_timeout: float = 20.0
    keepalive_without_calls: bool = False
    keepalive_min_time: float = 10.0

"""HTTP/2 keepalive against etcd's enforcement (issue "The client": keepalive pings "never
faster than etcd's enforcement allows (no ``too_many_pings`` GOAWAY on an idle client held for
2 minutes)"). etcd's defaults: ``--grpc-keepalive-min-time=5s`` and no pings without streams;
grpc-go sends GOAWAY ENHANCE_YOUR_CALM "too_many_pings" after more than two strikes."""

from __future__ import annotations

import time
from typing import Any

import pytest

from etcdwire import AsyncClient
from etcdwire._compat import asleep
from etcdwire._options import ChannelOptions

pytestmark = [pytest.mark.etcd, pytest.mark.slow]

HELD = 130.0  # a little over two minutes


async def test_keepalive_clients_held_idle_two_minutes_get_no_goaway(etcd: Any) -> None:
    """Two clients with keepalive asked as aggressive as a user could (1 s): one idle with no
    stream, one idle with a watch open. Both keep their one connection for 130 s, the one
    with a stream pings (and gets answers), and neither gets a GOAWAY."""
    options = ChannelOptions(keepalive_time=1.0, keepalive_timeout=20.0)
    async with (
        AsyncClient(etcd.url, options=options, timeout=10) as idle,
        AsyncClient(etcd.url, options=options, timeout=10) as watching,
    ):
        await idle.get("keepalive/idle")
        async with watching.watch("keepalive/w") as watch:
            started = time.monotonic()
            while time.monotonic() - started < HELD:
                await asleep(5)
            await idle.put("keepalive/w", "still here")
            async for response in watch:
                assert response.events[0].kv.value == b"still here"
                break
            connections = {
                name: client.manager.channel_for(client.endpoints[0]).connection
                for name, client in (("idle", idle), ("watching", watching))
            }
            for name, connection in connections.items():
                assert connection is not None and connection.usable, name
                assert connection.goaway is None, name
            assert len(connections["watching"].pings_acked) >= HELD / 15
            assert all(row.connects == 1 for row in (*idle.info(), *watching.info()))

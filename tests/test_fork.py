"""Fork safety of the blocking client (issue "The client": ``fork()`` safe)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest

from etcdwire import AsyncClient, Client

pytestmark = pytest.mark.etcd


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_fork_child_reconnects_instead_of_sharing_the_parents_socket(etcd: Any) -> None:
    """A forked child never uses the parent's connection (python-etcd3 #224, grpc fork
    hazards): it opens its own, and the parent's keeps working."""
    key = f"fork-{uuid.uuid4().hex[:6]}"
    with Client(etcd.url) as client:
        client.put(key, "parent")
        parent_connection = client.manager._channel(client.endpoints[0]).connection
        pid = os.fork()
        if pid == 0:  # the child: exit status says whether it worked
            code = 1
            try:
                client.put(key, "child")
                child_connection = client.manager._channel(client.endpoints[0]).connection
                code = 0 if child_connection is not parent_connection else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert client.get(key).value == b"child"
        client.put(key, "parent again")
        assert client.manager._channel(client.endpoints[0]).connection is parent_connection


def test_subprocess_with_preexec_fn_leaves_an_async_client_working(etcd: Any) -> None:
    """A child forked for ``subprocess`` (``preexec_fn`` forces fork) must not close the
    parent's asyncio sockets: that would unregister them from the shared epoll instance."""
    async def run() -> bytes | None:
        async with AsyncClient(etcd.url) as client:
            await client.put("fork-async", "before")
            subprocess.run([sys.executable, "-c", "pass"], preexec_fn=lambda: None, check=True)
            await client.put("fork-async", "after")
            return (await client.get("fork-async", timeout=5)).value

    assert asyncio.run(run()) == b"after"

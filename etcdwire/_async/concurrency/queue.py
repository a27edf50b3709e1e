"""A multi-producer, multi-consumer FIFO queue (after Go's
client/v3/experimental/recipes/queue.go): each item is a key ``name/<ns>``; a consumer claims
the oldest item by deleting it in a txn guarded by its mod revision, so each item goes to
exactly one consumer."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..._etcd.ops import Compare, Op, utf8
from ..._etcd.recipes import key_prefix
from ...types import EventType, KeyValue, SortOrder, SortTarget
from ..channel import deadline_after
from ._wait import remaining, wait_event

if TYPE_CHECKING:
    from ..client import AsyncClient

__all__ = ["AsyncDistributedQueue"]


class AsyncDistributedQueue:
    """A queue on ``name``: ``put(value)`` appends, ``get(timeout=None)`` removes and
    returns the oldest item, waiting for one if the queue is empty."""

    def __init__(self, client: AsyncClient, name: bytes | str) -> None:
        self.client = client
        self.prefix = key_prefix(name)

    async def put(self, value: bytes | str, *, timeout: float | None = None) -> None:
        """Append ``value`` (a new key named after the clock, retried on a clash)."""
        raw = utf8(value, "value") if isinstance(value, str) else value
        while True:
            key = self.prefix + str(time.time_ns()).encode("ascii")
            response = await self.client.kv.do(
                Op.txn([Compare.version(key) == 0], [Op.put(key, raw)]), timeout=timeout
            )
            if response.succeeded:
                return

    async def get(self, timeout: float | None = None) -> bytes:
        """Remove and return the oldest item; DeadlineExceeded after ``timeout``."""
        deadline = deadline_after(timeout)
        while True:
            response = await self.client.get(
                self.prefix,
                prefix=True,
                sort_target=SortTarget.MOD_REVISION,
                sort_order=SortOrder.ASCEND,
                limit=1,
                timeout=remaining(deadline),
            )
            if response.kvs:
                if await self._claim(response.kvs[0], deadline):
                    return response.kvs[0].value
                continue  # another consumer took it: look again
            if response.more:
                continue
            event = await wait_event(
                self.client,
                self.prefix,
                response.header.revision,
                EventType.PUT,
                deadline,
                prefix=True,
            )
            if await self._claim(event.kv, deadline):
                return event.kv.value

    async def _claim(self, kv: KeyValue, deadline: float | None) -> bool:
        """Delete ``kv`` if it is still the version we saw; True if we did."""
        response = await self.client.kv.do(
            Op.txn([Compare.mod_revision(kv.key) == kv.mod_revision], [Op.delete(kv.key)]),
            timeout=remaining(deadline),
        )
        return response.succeeded

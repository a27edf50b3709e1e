"""A double barrier (after Go's client/v3/experimental/recipes/double_barrier.go, with its
keys ``name/waiters/<ns>`` and ``name/ready``): ``enter`` blocks until ``count``
participants have entered, ``leave`` until all of them have left. A participant that dies
leaves with its session's lease."""

from __future__ import annotations

import contextlib
import time

from ..._etcd.ops import Compare, Op
from ..._etcd.recipes import key_prefix
from ...errors import EtcdError, RecipeError, UsageError
from ...types import EventType, SortOrder, SortTarget
from ..channel import deadline_after
from ._wait import remaining, wait_event
from .session import AsyncSession

__all__ = ["AsyncDoubleBarrier"]


class AsyncDoubleBarrier:
    """A barrier of ``count`` participants on ``name``, one per object, each with a session."""

    def __init__(self, session: AsyncSession, name: bytes | str, count: int) -> None:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise UsageError(f"a barrier needs a count >= 1, not {count!r}")
        self.session = session
        self.name = key_prefix(name)[:-1]
        self.count = count
        self.waiters = self.name + b"/waiters"
        self.ready = self.name + b"/ready"
        self.key = b""
        self.revision = 0

    async def _entered(self, deadline: float | None) -> list[tuple[bytes, int]]:
        response = await self.session.client.get(
            self.waiters,
            prefix=True,
            sort_target=SortTarget.CREATE_REVISION,
            sort_order=SortOrder.ASCEND,
            timeout=remaining(deadline),
        )
        return [(kv.key, kv.create_revision) for kv in response.kvs]

    async def enter(self, timeout: float | None = None) -> None:
        """Join, then wait until ``count`` participants have joined. RecipeError if the
        barrier already has ``count`` participants (our key is then withdrawn)."""
        deadline = deadline_after(timeout)
        if len(await self._entered(deadline)) >= self.count:
            raise RecipeError(f"the barrier {self.name!r} already has {self.count} participants")
        await self._new_key(deadline)
        entered = await self._entered(deadline)
        if len(entered) >= self.count:
            last_revision = entered[self.count - 1][1]
            if self.revision > last_revision:  # came in after the barrier filled up
                await self._withdraw()
                raise RecipeError(f"the barrier {self.name!r} filled up before we entered")
            if self.revision == last_revision:  # we complete it: release everyone
                await self.session.client.put(self.ready, b"", timeout=remaining(deadline))
                return
        await wait_event(self.session.client, self.ready, self.revision, EventType.PUT, deadline)

    async def leave(self, timeout: float | None = None) -> None:
        """Leave, then wait until every participant has left."""
        deadline = deadline_after(timeout)
        client = self.session.client
        while True:
            response = await client.get(self.waiters, prefix=True, timeout=remaining(deadline))
            if not response.kvs:
                return
            lowest = min(response.kvs, key=lambda kv: kv.mod_revision)
            highest = max(response.kvs, key=lambda kv: kv.mod_revision)
            is_lowest = lowest.key == self.key
            if len(response.kvs) == 1 and is_lowest:  # the last one out cleans up
                await client.delete(self.ready, timeout=remaining(deadline))
                await client.delete(self.key, timeout=remaining(deadline))
                self.key = b""
                return
            if is_lowest:  # the first in waits for the last one
                await wait_event(
                    client, highest.key, highest.mod_revision, EventType.DELETE, deadline
                )
                continue
            if self.key:
                await client.delete(self.key, timeout=remaining(deadline))
                self.key = b""
            await wait_event(client, lowest.key, lowest.mod_revision, EventType.DELETE, deadline)

    async def _new_key(self, deadline: float | None) -> None:
        lease_id = self.session.lease_id
        while True:
            key = self.waiters + b"/" + str(time.time_ns()).encode("ascii")
            response = await self.session.client.kv.do(
                Op.txn([Compare.version(key) == 0], [Op.put(key, b"", lease=lease_id)]),
                timeout=remaining(deadline),
            )
            if response.succeeded:
                self.key, self.revision = key, response.header.revision
                return

    async def _withdraw(self) -> None:
        with contextlib.suppress(EtcdError):  # else the key goes with the session's lease
            await self.session.client.delete(self.key)
        self.key = b""

"""Waiting for keys to go away (after Go's concurrency/key.go ``waitDelete`` and
``waitDeletes``), with an optional deadline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._compat import monotonic
from ..._etcd.recipes import last_created_before
from ...errors import DeadlineExceeded, RecipeError
from ...types import Event, EventType, ResponseHeader

if TYPE_CHECKING:
    from ..client import AsyncClient

__all__ = ["remaining", "wait_delete", "wait_deletes", "wait_event"]


def remaining(deadline: float | None) -> float | None:
    """Seconds left before ``deadline`` (None: no deadline); DeadlineExceeded once past."""
    if deadline is None:
        return None
    left = deadline - monotonic()
    if left <= 0:
        raise DeadlineExceeded("the recipe's timeout passed")
    return left


async def wait_event(
    client: AsyncClient,
    key: bytes,
    revision: int,
    kind: EventType,
    deadline: float | None,
    *,
    prefix: bool = False,
) -> Event:
    """The first event of ``kind`` on ``key`` (or under it, with ``prefix``) at or after
    ``revision`` (Go's recipes ``WaitEvents`` / ``WaitPrefixEvents``)."""
    watch = client.watch(key, prefix=prefix, start_revision=revision)
    await watch.start(remaining(deadline))  # the deadline bounds the creation too
    async with watch:
        while True:
            response = await watch.receive(timeout=remaining(deadline))
            if response is None:
                if watch.ended:
                    raise RecipeError(f"lost the watch waiting for an event on {key!r}")
                continue  # the deadline check above raises on the next turn
            for event in response.events:
                if event.type is kind:
                    return event


async def wait_delete(
    client: AsyncClient, key: bytes, revision: int, deadline: float | None
) -> None:
    """Return once ``key`` is deleted at or after ``revision``."""
    await wait_event(client, key, revision, EventType.DELETE, deadline)


async def wait_deletes(
    client: AsyncClient, prefix: bytes, max_create_revision: int, deadline: float | None
) -> ResponseHeader:
    """Wait until no key under ``prefix`` created at or before ``max_create_revision`` is
    left, one key at a time, newest first (each waiter watches only its predecessor)."""
    op = last_created_before(prefix, max_create_revision)
    while True:
        response = await client.kv.do(op, timeout=remaining(deadline))
        if not response.kvs:
            return response.header
        await wait_delete(client, response.kvs[0].key, response.header.revision, deadline)

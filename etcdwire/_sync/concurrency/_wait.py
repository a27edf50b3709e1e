# Generated from etcdwire/_async/concurrency/_wait.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""Waiting for keys to go away (after Go's concurrency/key.go ``waitDelete`` and
``waitDeletes``), with an optional deadline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._compat import monotonic
from ..._etcd.recipes import last_created_before
from ...errors import DeadlineExceeded, RecipeError
from ...types import Event, EventType, ResponseHeader

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["remaining", "wait_delete", "wait_deletes", "wait_event"]


def remaining(deadline: float | None) -> float | None:
    """Seconds left before ``deadline`` (None: no deadline); DeadlineExceeded once past."""
    if deadline is None:
        return None
    left = deadline - monotonic()
    if left <= 0:
        raise DeadlineExceeded("the recipe's timeout passed")
    return left


def wait_event(
    client: Client,
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
    watch.start(remaining(deadline))  # the deadline bounds the creation too
    with watch:
        while True:
            response = watch.receive(timeout=remaining(deadline))
            if response is None:
                if watch.ended:
                    raise RecipeError(f"lost the watch waiting for an event on {key!r}")
                continue  # the deadline check above raises on the next turn
            for event in response.events:
                if event.type is kind:
                    return event


def wait_delete(
    client: Client, key: bytes, revision: int, deadline: float | None
) -> None:
    """Return once ``key`` is deleted at or after ``revision``."""
    wait_event(client, key, revision, EventType.DELETE, deadline)


def wait_deletes(
    client: Client, prefix: bytes, max_create_revision: int, deadline: float | None
) -> ResponseHeader:
    """Wait until no key under ``prefix`` created at or before ``max_create_revision`` is
    left, one key at a time, newest first (each waiter watches only its predecessor)."""
    op = last_created_before(prefix, max_create_revision)
    while True:
        response = client.kv.do(op, timeout=remaining(deadline))
        if not response.kvs:
            return response.header
        wait_delete(client, response.kvs[0].key, response.header.revision, deadline)

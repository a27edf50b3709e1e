# Generated from etcdwire/_async/concurrency/_wait.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""Waiting for keys to go away (after Go's concurrency/key.go ``waitDelete`` and
``waitDeletes``), with an optional deadline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._compat import monotonic
from ..._etcd.recipes import last_created_before
from ...errors import DeadlineExceeded, RecipeError
from ...types import EventType, ResponseHeader

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["remaining", "wait_delete", "wait_deletes"]


def remaining(deadline: float | None) -> float | None:
    """Seconds left before ``deadline`` (None: no deadline); DeadlineExceeded once past."""
    if deadline is None:
        return None
    left = deadline - monotonic()
    if left <= 0:
        raise DeadlineExceeded("the recipe's timeout passed")
    return left


def wait_delete(
    client: Client, key: bytes, revision: int, deadline: float | None
) -> None:
    """Return once ``key`` is deleted at or after ``revision``."""
    with client.watch(key, start_revision=revision) as watch:
        while True:
            response = watch.receive(timeout=remaining(deadline))
            if response is None:
                if watch.ended:
                    raise RecipeError(f"lost the watch waiting for {key!r} to be deleted")
                continue  # the deadline check above raises on the next turn
            for event in response.events:
                if event.type is EventType.DELETE:
                    return


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

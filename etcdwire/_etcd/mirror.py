"""A local copy of a key range, kept in step with etcd: what the copy holds and how a watch
response or a fresh read changes it. Pure; the shell in ``_async/mirror.py`` does the reading
and the watching.

The copy is built from a range read at one revision R (every page read at R, so the copy is
one consistent snapshot, as etcd's Go ``mirror.Syncer`` reads its base) and then follows a
watch from R + 1. Each watch response holds whole revisions, so the copy moves from one state
the store really had to the next. When the revision the watch needs next has been compacted
(the client was away longer than the server keeps history), the changes in between are gone
for good: the copy is rebuilt from a new read, and the update that says so has ``reset`` set,
so whoever derives state from the updates knows to derive it again from the whole copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..types import Event, EventType, KeyValue
from .watching import WatchResponse

__all__ = ["MirrorState", "MirrorUpdate"]


@dataclass(frozen=True, slots=True)
class MirrorUpdate:
    """One change to a mirror's copy, already applied when it is handed over.

    ``revision``: the store revision the copy now reflects. ``events``: the changes applied,
    in order (whole revisions). ``reset``: the copy was rebuilt from a new read of the range
    (the first fill, or after the watch's next revision was compacted); ``events`` is then
    empty and the copy may differ from the previous one in any way."""

    revision: int
    events: Sequence[Event] = ()
    reset: bool = False


class MirrorState:
    """The copy (``data``: key -> :class:`~etcdwire.types.KeyValue`) and the revision it
    reflects. ``data`` is one dict for the mirror's whole life: a read-only view taken once
    stays current."""

    __slots__ = ("data", "revision")

    def __init__(self) -> None:
        self.data: dict[bytes, KeyValue] = {}
        self.revision = 0

    def reset(self, kvs: Iterable[KeyValue], revision: int) -> MirrorUpdate:
        """Replace the copy with ``kvs``, the whole range as read at ``revision``."""
        self.data.clear()
        self.data.update((kv.key, kv) for kv in kvs)
        self.revision = revision
        return MirrorUpdate(revision, reset=True)

    def apply(self, response: WatchResponse) -> MirrorUpdate | None:
        """Apply a watch response; the update, or None when it changed nothing (a progress
        notification or a resume notice only moves the revision)."""
        events = response.events
        data = self.data
        for event in events:
            if event.type is EventType.PUT:
                data[event.kv.key] = event.kv
            else:
                data.pop(event.kv.key, None)
        self.revision = max(self.revision, response.revision)
        return MirrorUpdate(self.revision, events) if events else None

"""What a watch hands its consumer, and how a user's watch options become a ``WatchSpec``.

Pure: the shell in ``_async/watch.py`` turns the demultiplexer's deliveries into
:class:`WatchResponse` values with :func:`response_from_delivery`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

from .._pb import kv_pb2
from ..errors import UsageError
from ..types import Event, ResponseHeader
from . import convert
from .checks import resolve_range
from .watch_demux import Events, Progress, Resumed, WatchSpec

__all__ = ["EventSequence", "WatchResponse", "response_from_delivery", "watch_spec"]


class EventSequence(Sequence[Event]):
    """The events of one watch response: an immutable sequence of :class:`Event`, built from
    the wire message as they are read.

    A catch-up can bring tens of thousands of events in one response. Building each event
    when the consumer reaches it (not all of them before the response is handed over) lets
    the first be read at once, and events the consumer does not keep die young, which spares
    the garbage collector from scanning tens of thousands of live objects. Reading an event
    twice builds it twice: the two are equal (events are frozen values). Compares equal to
    any sequence (tuple, list) holding equal events; pickles as a tuple.
    """

    __slots__ = ("_build", "_messages")

    def __init__(
        self,
        messages: Sequence[kv_pb2.Event],
        build: Callable[[kv_pb2.Event], Event] = convert.event,
    ) -> None:
        self._messages = messages
        self._build = build

    def __len__(self) -> int:
        return len(self._messages)

    def __iter__(self) -> Iterator[Event]:
        return map(self._build, self._messages)

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Event, ...]: ...

    def __getitem__(self, index: int | slice) -> Event | tuple[Event, ...]:
        if isinstance(index, slice):
            return tuple(map(self._build, self._messages[index]))
        return self._build(self._messages[index])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EventSequence | tuple | list):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"EventSequence({list(self)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (tuple, (tuple(self),))


@dataclass(frozen=True, slots=True)
class WatchResponse:
    """One delivery of a watch.

    ``events``: the events of one or more whole revisions, in order (never split, never
    repeated). ``revision``: the last revision this response covers (the last event's, or the
    store revision of a progress notification). ``progress_notify``: no events, just progress.
    ``resumed``: the watch was re-created on a new stream (reconnect or failover) from
    ``revision + 1`` and no event was lost; ``header`` is the server's for that response."""

    header: ResponseHeader
    events: Sequence[Event] = ()
    revision: int = 0
    progress_notify: bool = False
    resumed: bool = False

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)


def response_from_delivery(delivery: Events | Progress | Resumed) -> WatchResponse:
    header = convert.header(delivery.header)
    if isinstance(delivery, Events):
        return WatchResponse(
            header=header,
            events=EventSequence(
                delivery.events,
                convert.event if delivery.prev_kv else convert.event_without_prev,
            ),
            revision=delivery.revision,
        )
    if isinstance(delivery, Progress):
        return WatchResponse(header=header, revision=delivery.revision, progress_notify=True)
    return WatchResponse(header=header, revision=delivery.start_revision - 1, resumed=True)


def watch_spec(
    key: bytes | str,
    *,
    range_end: bytes | str | None = None,
    prefix: bool = False,
    from_key: bool = False,
    start_revision: int = 0,
    prev_kv: bool = False,
    no_put: bool = False,
    no_delete: bool = False,
    progress_notify: bool = False,
    fragment: bool = False,
) -> WatchSpec:
    """Check a user's watch options and build the demultiplexer's spec (UsageError on bad
    input, before anything is sent)."""
    flags = {
        "prefix": prefix,
        "from_key": from_key,
        "prev_kv": prev_kv,
        "no_put": no_put,
        "no_delete": no_delete,
        "progress_notify": progress_notify,
        "fragment": fragment,
    }
    for name, flag in flags.items():
        if not isinstance(flag, bool):
            raise UsageError(f"watch: {name} must be True or False, not {flag!r}")
    raw_key, end = resolve_range(key, range_end, prefix, from_key, "watch")
    if (
        isinstance(start_revision, bool)
        or not isinstance(start_revision, int)
        or start_revision < 0
    ):
        raise UsageError(f"watch: start_revision must be >= 0, got {start_revision!r}")
    if no_put and no_delete:
        raise UsageError("watch: filtering out both puts and deletes leaves nothing to watch")
    return WatchSpec(
        key=raw_key,
        range_end=end,
        start_revision=start_revision,
        prev_kv=prev_kv,
        no_put=no_put,
        no_delete=no_delete,
        progress_notify=progress_notify,
        fragment=fragment,
    )

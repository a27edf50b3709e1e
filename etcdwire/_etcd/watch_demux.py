"""Many watches on one Watch stream: the sans-IO demultiplexer.

The I/O shell owns one ``etcdserverpb.Watch/Watch`` bidi stream per connection and metadata group
and drives a :class:`WatchDemux`:

1. ``local_id = demux.add(WatchSpec(...))`` queues a watch; ``demux.cancel(local_id)`` ends one;
   ``demux.request_progress()`` asks the server for a progress notification.
2. After any of those, and after every :meth:`WatchDemux.receive`, the shell writes
   ``demux.requests_to_send()`` (``WatchRequest`` messages) to the stream, in order.
3. Every ``WatchResponse`` read from the stream goes to ``demux.receive(response)``, which returns
   the :data:`Delivery` values to hand to the per-watch consumers.
4. When the stream breaks (or is replaced), the shell calls ``demux.stream_lost()`` before it
   feeds anything from the new stream; every live watch is then re-created, one at a time, from
   its :attr:`next revision <WatchDemux.next_revision>`.

The rules come from etcd's Go client (``client/v3/watch.go``, cited by function) and server
(``server/etcdserver/api/v3rpc/watch.go``):

- **Creates are serialized** (``run``: a create is sent only when it is the head of ``resuming``;
  the next one after the ``Created`` response). The server answers creates in order, so a
  ``created`` response always belongs to the one create in flight, whatever its ``watch_id``.
- **A failed create** comes back with ``created`` and ``canceled`` set, the reason in
  ``cancel_reason`` and ``watch_id`` -1 (3.5.5 and later) or the requested id, 0 (earlier 3.5);
  ``addSubstream`` never registers it. The reason is Go's status text, ``"rpc error: code =
  Unauthenticated desc = etcdserver: invalid auth token"``; :func:`cancel_reason_error` maps it
  to the typed error (:class:`~etcdwire.errors.InvalidAuthToken` here). For an invalid or stale
  token Go opens a new stream, which fetches a fresh token, and creates the watch again
  (``shouldRetryWatch``); the demux asks the shell for that with :class:`RestartStream`, once per
  watch (a second refusal in a row cancels it). etcd before 3.5.5 reports a bad token as
  ``permission denied``; pass ``restart_on=(..., PermissionDenied)`` for those servers.
- **Events** are routed by ``watch_id``. Events for an id nobody owns get one
  ``WatchCancelRequest`` per id (``run``, the ``cancelSet``); its acknowledgement (``canceled``,
  ``compact_revision`` 0) clears the id again.
- **Fragments** (``fragment`` true) are kept until the piece with ``fragment`` false and
  delivered as one response (``run`` merges into ``cur``; here the buffer is per watch id).
- **Progress**: a response with no events, neither created nor canceled, ``compact_revision`` 0
  and a non-zero header revision is a progress notification (``IsProgressNotify``). Those with
  ``watch_id`` -1 answer a ``WatchProgressRequest`` and go to every created watch on the stream
  (``dispatchEvent`` / ``broadcastResponse``).
- **Compaction**: ``canceled`` with ``compact_revision`` N ends the watch with
  :class:`~etcdwire.errors.Compacted` (``compact_revision=N``); like Go's closing path, a cancel
  request then frees the server's watcher. Any other server cancel ends it with the reason's
  error, :class:`~etcdwire.errors.WatchCanceled` when there is no reason.
- **Next revision** (``serveSubstream``'s ``nextRev``): the create's ``start_revision`` at
  first; on the first ``Created`` of a watch from "now" (start 0), the header revision; on a
  progress notification, its header revision; after events, the last event's ``mod_revision``
  + 1. Like Go, a progress moves it to the revision itself, not one past it: etcd before 3.5.8
  answered progress requests out of band, possibly ahead of queued events (etcd-io/etcd#15220),
  and the revision is resent at most once, then dropped by the de-duplication below. Unlike
  Go, the next revision never moves backwards (a lagging member's progress cannot pull it back).
  Resuming a watch from "now" from its ``Created`` revision may deliver events of that very
  revision, as in Go: the server cannot say on which side of the creation they fell.
- **De-duplication and monotonicity** (etcd-clients.md, Appendix C): events at or below the
  highest revision already delivered to a watch are dropped (a resumed watch may get them again,
  possibly from another member); events of one response are delivered together, never split;
  a progress notification lower than what the watch has already reported is ignored
  (etcd-io/etcd#20221). A progress notification never hides later events, even of lower
  revisions (again etcd-io/etcd#15220): those were never delivered.

Per-watch lifecycle: :data:`TRANSITIONS` maps ``(WatchState, WatchInput)`` to the next state;
a pair missing from it is a bug in the demux (:class:`~etcdwire.errors.LocalProtocolError`).
Peer misbehaviour that would need a missing pair (a ``Created`` with no create in flight, a
``watch_id`` given twice) raises :class:`~etcdwire.errors.RemoteProtocolError` from
:meth:`WatchDemux.receive`; the shell should then drop the stream and call
:meth:`WatchDemux.stream_lost`.
"""

from __future__ import annotations

import enum
import logging
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeAlias

from .._pb import kv_pb2, rpc_pb2
from ..errors import (
    AuthOldRevision,
    Compacted,
    EtcdError,
    InvalidAuthToken,
    LocalProtocolError,
    RemoteProtocolError,
    StatusCode,
    UsageError,
    WatchCanceled,
    error_from_status,
)

__all__ = [
    "INVALID_WATCH_ID",
    "TRANSITIONS",
    "Canceled",
    "Created",
    "Delivery",
    "Events",
    "Progress",
    "RestartStream",
    "Resumed",
    "WatchCounts",
    "WatchDemux",
    "WatchInput",
    "WatchSpec",
    "WatchState",
    "cancel_reason_error",
]

log = logging.getLogger("etcdwire.watch")

#: The watch id of progress notifications sent for a whole stream (Go's ``InvalidWatchID``).
INVALID_WATCH_ID = -1

_COMPACTED_MESSAGE = "etcdserver: mvcc: required revision has been compacted"


# --- what the caller asks for -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WatchSpec:
    """One watch, as the caller asked for it (the fields of ``WatchCreateRequest``).

    ``range_end`` empty means the single key ``key``; ``b"\\0"`` means every key >= ``key``.
    ``start_revision`` 0 watches from the revision after the current one. ``created_notify`` is
    for the shell: whether the consumer wants to see :class:`Created` (the demux always returns it).
    """

    key: bytes
    range_end: bytes = b""
    start_revision: int = 0
    prev_kv: bool = False
    no_put: bool = False
    no_delete: bool = False
    progress_notify: bool = False
    fragment: bool = False
    created_notify: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.key, bytes) or not isinstance(self.range_end, bytes):
            raise UsageError("watch key and range_end must be bytes")
        if self.start_revision < 0:
            raise UsageError(f"watch start_revision must be >= 0, not {self.start_revision}")

    def create_request(self, start_revision: int) -> rpc_pb2.WatchRequest:
        """The ``WatchRequest`` that creates this watch from ``start_revision``."""
        filters: list[rpc_pb2.WatchCreateRequest.FilterType] = []
        if self.no_put:
            filters.append(rpc_pb2.WatchCreateRequest.NOPUT)
        if self.no_delete:
            filters.append(rpc_pb2.WatchCreateRequest.NODELETE)
        create = rpc_pb2.WatchCreateRequest(
            key=self.key,
            range_end=self.range_end,
            start_revision=start_revision,
            progress_notify=self.progress_notify,
            filters=filters,
            prev_kv=self.prev_kv,
            fragment=self.fragment,
        )
        return rpc_pb2.WatchRequest(create_request=create)


# --- what the demux hands back ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Created:
    """The server created the watch (first time). ``header.revision`` is the store revision."""

    local_id: int
    watch_id: int
    header: rpc_pb2.ResponseHeader


@dataclass(frozen=True, slots=True)
class Resumed:
    """The watch was created again on a new stream, from ``start_revision``."""

    local_id: int
    watch_id: int
    header: rpc_pb2.ResponseHeader
    start_revision: int


@dataclass(frozen=True, slots=True)
class Events:
    """New events of one watch, whole revisions only, in order, none delivered before.

    ``revision`` is the ``mod_revision`` of the last event.
    """

    local_id: int
    header: rpc_pb2.ResponseHeader
    #: The response's own repeated field when every event in it is new (the usual case), so
    #: nothing is copied per event; a list otherwise.
    events: Sequence[kv_pb2.Event]
    revision: int
    #: The watch asked for ``prev_kv`` (without it, events never carry one).
    prev_kv: bool = False


@dataclass(frozen=True, slots=True)
class Progress:
    """The watch has seen every event up to ``revision`` (never lower than a previous report)."""

    local_id: int
    revision: int
    header: rpc_pb2.ResponseHeader


@dataclass(frozen=True, slots=True)
class Canceled:
    """The watch ended for ``error`` (compaction, server cancel, failed create); it is gone."""

    local_id: int
    error: EtcdError


@dataclass(frozen=True, slots=True)
class RestartStream:
    """The server refused a create for the stream's credentials (``error``).

    The shell should fetch a fresh token, open a new stream and call
    :meth:`WatchDemux.stream_lost`. Until then no further create is sent; created watches keep
    receiving.
    """

    error: EtcdError


Delivery: TypeAlias = Created | Resumed | Events | Progress | Canceled | RestartStream


class WatchCounts(NamedTuple):
    """For the status table."""

    watches: int  #: live watches (queued, being created or created)
    active: int  #: created on the current stream
    pending: int  #: waiting for their create (queued or in flight)
    unacked_cancels: int  #: cancel requests sent and not yet acknowledged


# --- the per-watch state machine ----------------------------------------------------------------


class WatchState(enum.IntEnum):
    QUEUED = 0  #: waiting for its create request to be sent
    CREATING = 1  #: its create request is the one in flight
    ACTIVE = 2  #: created; owns a watch_id on the current stream
    DONE = 3  #: cancelled, failed or ended; the demux has forgotten it


class WatchInput(enum.IntEnum):
    SEND_CREATE = 0
    RECV_CREATED = 1
    RECV_CREATE_FAILED = 2
    #: the create was refused for the stream's token; back to the head of the queue
    RECV_CREATE_AUTH_RETRY = 3
    RECV_RESPONSE = 4  #: events or a progress notification
    RECV_CANCELED = 5  #: the server ended the watch (compaction or cancel)
    CANCEL = 6  #: the caller cancelled it
    STREAM_LOST = 7
    FAIL = 8  #: the whole stream failed for good (fail_all)


_S = WatchState
_I = WatchInput

#: (state, input) -> next state. Everything else is a bug in the demux.
TRANSITIONS: dict[tuple[WatchState, WatchInput], WatchState] = {
    (_S.QUEUED, _I.SEND_CREATE): _S.CREATING,
    (_S.QUEUED, _I.CANCEL): _S.DONE,
    (_S.QUEUED, _I.STREAM_LOST): _S.QUEUED,
    (_S.QUEUED, _I.FAIL): _S.DONE,
    (_S.CREATING, _I.RECV_CREATED): _S.ACTIVE,
    (_S.CREATING, _I.RECV_CREATE_FAILED): _S.DONE,
    (_S.CREATING, _I.RECV_CREATE_AUTH_RETRY): _S.QUEUED,
    (_S.CREATING, _I.CANCEL): _S.DONE,
    (_S.CREATING, _I.STREAM_LOST): _S.QUEUED,
    (_S.CREATING, _I.FAIL): _S.DONE,
    (_S.ACTIVE, _I.RECV_RESPONSE): _S.ACTIVE,
    (_S.ACTIVE, _I.RECV_CANCELED): _S.DONE,
    (_S.ACTIVE, _I.CANCEL): _S.DONE,
    (_S.ACTIVE, _I.STREAM_LOST): _S.QUEUED,
    (_S.ACTIVE, _I.FAIL): _S.DONE,
}


class _Watch:
    """Per-watch bookkeeping: kept small, there may be tens of thousands."""

    __slots__ = (
        "auth_retried",
        "created_once",
        "event_rev",
        "local_id",
        "next_rev",
        "progress_rev",
        "spec",
        "state",
        "watch_id",
    )

    def __init__(self, local_id: int, spec: WatchSpec) -> None:
        self.local_id = local_id
        self.spec = spec
        self.state = WatchState.QUEUED
        self.watch_id = INVALID_WATCH_ID
        #: start_revision of the next create (Go's nextRev)
        self.next_rev = spec.start_revision
        #: highest event revision delivered; events at or below it are dropped
        self.event_rev = spec.start_revision - 1 if spec.start_revision else 0
        #: highest revision reported by Progress
        self.progress_rev = 0
        self.created_once = False
        self.auth_retried = False


def _move(watch: _Watch, event: WatchInput) -> None:
    try:
        watch.state = TRANSITIONS[watch.state, event]
    except KeyError:
        raise LocalProtocolError(
            f"watch {watch.local_id}: no transition for {event.name} in {watch.state.name}"
        ) from None


# --- cancel reasons -----------------------------------------------------------------------------

# Go's codes.Code.String(): the names, or "Code(N)" for numbers it does not know.
_GO_CODE_NAMES = {
    "OK": StatusCode.OK,
    "Canceled": StatusCode.CANCELLED,
    "Unknown": StatusCode.UNKNOWN,
    "InvalidArgument": StatusCode.INVALID_ARGUMENT,
    "DeadlineExceeded": StatusCode.DEADLINE_EXCEEDED,
    "NotFound": StatusCode.NOT_FOUND,
    "AlreadyExists": StatusCode.ALREADY_EXISTS,
    "PermissionDenied": StatusCode.PERMISSION_DENIED,
    "ResourceExhausted": StatusCode.RESOURCE_EXHAUSTED,
    "FailedPrecondition": StatusCode.FAILED_PRECONDITION,
    "Aborted": StatusCode.ABORTED,
    "OutOfRange": StatusCode.OUT_OF_RANGE,
    "Unimplemented": StatusCode.UNIMPLEMENTED,
    "Internal": StatusCode.INTERNAL,
    "Unavailable": StatusCode.UNAVAILABLE,
    "DataLoss": StatusCode.DATA_LOSS,
    "Unauthenticated": StatusCode.UNAUTHENTICATED,
}
_STATUS_TEXT = re.compile(r"rpc error: code = (?:Code\((\d+)\)|(\w+)) desc = (.*)", re.DOTALL)


def cancel_reason_error(reason: str, compact_revision: int = 0) -> EtcdError:
    """The error a server cancel stands for.

    ``compact_revision`` != 0 is :class:`~etcdwire.errors.Compacted`. A ``reason`` in Go's status
    text (``rpc error: code = <Code> desc = <message>``, what ``status.Error(...).Error()``
    prints, and what etcd puts in ``cancel_reason`` for refused creates) is mapped like a gRPC
    status, etcd message first; etcd's bare compaction message is ``Compacted``; anything else,
    or nothing, is :class:`~etcdwire.errors.WatchCanceled` with the reason.
    """
    if compact_revision:
        return Compacted(
            _COMPACTED_MESSAGE, compact_revision=compact_revision, code=StatusCode.OUT_OF_RANGE
        )
    match = _STATUS_TEXT.fullmatch(reason)
    if match is not None:
        number, name, desc = match.groups()
        code = int(number) if number is not None else _GO_CODE_NAMES.get(name, StatusCode.UNKNOWN)
        return error_from_status(code, desc)
    if reason == _COMPACTED_MESSAGE:
        return Compacted(reason, code=StatusCode.OUT_OF_RANGE)
    return WatchCanceled(reason or "watch canceled by the server", reason=reason)


# --- the demultiplexer --------------------------------------------------------------------------


class WatchDemux:
    """Create/cancel/progress requests out, ``WatchResponse`` in, per-watch deliveries out.

    ``restart_on`` lists the create refusals answered with :class:`RestartStream` (once per
    watch) instead of :class:`Canceled`; Go retries on exactly these two (``shouldRetryWatch``).
    """

    def __init__(
        self,
        *,
        restart_on: tuple[type[EtcdError], ...] = (InvalidAuthToken, AuthOldRevision),
    ) -> None:
        self._restart_on = restart_on
        self._watches: dict[int, _Watch] = {}  # live watches by local id, in creation order
        self._queue: deque[_Watch] = deque()  # creates to send; DONE entries are skipped
        self._inflight: _Watch | None = None  # the watch whose create awaits its response
        self._by_id: dict[int, _Watch] = {}  # ACTIVE watches by server watch id
        self._cancel_sent: set[int] = set()  # ids cancelled and not yet acknowledged
        self._fragments: dict[int, list[kv_pb2.Event]] = {}  # partial responses by watch id
        self._outbox: list[rpc_pb2.WatchRequest] = []  # cancel and progress requests
        self._stalled = False  # a RestartStream is pending: send no creates
        self._last_local_id = 0

    # -- caller side -----------------------------------------------------------------------------

    def add(self, spec: WatchSpec) -> int:
        """Queue a watch; returns its local id (positive, never reused by this demux)."""
        self._last_local_id += 1
        watch = _Watch(self._last_local_id, spec)
        self._watches[watch.local_id] = watch
        self._queue.append(watch)
        return watch.local_id

    def cancel(self, local_id: int) -> bool:
        """Stop a watch; nothing more is delivered for it. False if it was not live.

        Queued: dropped before its create is sent. Create in flight: cancelled as soon as the
        ``Created`` arrives. Created: a ``WatchCancelRequest`` is queued.
        """
        watch = self._watches.pop(local_id, None)
        if watch is None:
            return False
        state = watch.state
        _move(watch, WatchInput.CANCEL)
        if state is WatchState.ACTIVE:
            del self._by_id[watch.watch_id]
            self._fragments.pop(watch.watch_id, None)
            self._send_cancel(watch.watch_id)
        return True

    def request_progress(self) -> None:
        """Queue a ``WatchProgressRequest``; the answer reaches every created watch."""
        progress = rpc_pb2.WatchProgressRequest()
        self._outbox.append(rpc_pb2.WatchRequest(progress_request=progress))

    def requests_to_send(self) -> list[rpc_pb2.WatchRequest]:
        """What to write to the stream now, in order: cancels and progress requests as queued,
        then at most one create, and only when no create is in flight."""
        out, self._outbox = self._outbox, []
        if self._inflight is None and not self._stalled:
            while self._queue:
                watch = self._queue.popleft()
                if watch.state is WatchState.QUEUED:
                    _move(watch, WatchInput.SEND_CREATE)
                    self._inflight = watch
                    out.append(watch.spec.create_request(watch.next_rev))
                    break
        return out

    def stream_lost(self) -> None:
        """The stream is gone: forget its watch ids and queue every live watch for a create
        from its next revision, in local id order. Unsent cancel and progress requests are
        dropped (they concern the old stream)."""
        self._by_id.clear()
        self._cancel_sent.clear()
        self._fragments.clear()
        self._outbox.clear()
        self._inflight = None
        self._stalled = False
        for watch in self._watches.values():
            _move(watch, WatchInput.STREAM_LOST)
        self._queue = deque(self._watches.values())

    def fail_all(self, error: EtcdError) -> list[Canceled]:
        """The stream failed for good (Go's halting errors): end every live watch with ``error``."""
        ended = []
        for watch in self._watches.values():
            _move(watch, WatchInput.FAIL)
            ended.append(Canceled(watch.local_id, error))
        self._watches.clear()
        self.stream_lost()
        return ended

    # -- inspection ------------------------------------------------------------------------------

    @property
    def counts(self) -> WatchCounts:
        active = len(self._by_id)
        return WatchCounts(
            len(self._watches), active, len(self._watches) - active, len(self._cancel_sent)
        )

    def spec(self, local_id: int) -> WatchSpec:
        """The spec of a live watch (KeyError if it is not live)."""
        return self._watches[local_id].spec

    def state(self, local_id: int) -> WatchState:
        """DONE for a watch that is not live."""
        watch = self._watches.get(local_id)
        return WatchState.DONE if watch is None else watch.state

    def next_revision(self, local_id: int) -> int:
        """The start_revision a re-create of this live watch would ask for (0: "now")."""
        return self._watches[local_id].next_rev

    # -- server side -----------------------------------------------------------------------------

    def receive(self, response: rpc_pb2.WatchResponse) -> list[Delivery]:
        """Feed one ``WatchResponse`` from the current stream."""
        if response.created:
            return self._on_created(response)
        watch_id = response.watch_id
        if response.canceled:
            self._fragments.pop(watch_id, None)
            return self._on_canceled(response)
        if response.fragment:
            self._fragments.setdefault(watch_id, []).extend(response.events)
            return []
        events: Sequence[kv_pb2.Event] = response.events
        pending = self._fragments.pop(watch_id, None)
        if pending is not None:
            pending.extend(events)
            events = pending
        if not events and watch_id == INVALID_WATCH_ID:
            return self._broadcast_progress(response.header)
        watch = self._by_id.get(watch_id)
        if watch is None:
            # Go: "watch response on unexpected watch id; cancel id" (once per id).
            self._send_cancel(watch_id)
            return []
        _move(watch, WatchInput.RECV_RESPONSE)
        if events:
            return self._events(watch, response.header, events)
        return self._progress(watch, response.header)

    def _on_created(self, response: rpc_pb2.WatchResponse) -> list[Delivery]:
        watch = self._inflight
        if watch is None:
            raise RemoteProtocolError("watch Created response with no create request in flight")
        failed = response.canceled or response.watch_id == INVALID_WATCH_ID
        if not failed and response.watch_id in self._by_id:
            raise RemoteProtocolError(f"watch id {response.watch_id} created twice")
        self._inflight = None
        if watch.state is WatchState.DONE:  # cancelled while its create was in flight
            if not failed:
                self._send_cancel(response.watch_id)
            return []
        if failed:
            error = cancel_reason_error(response.cancel_reason, response.compact_revision)
            if isinstance(error, self._restart_on) and not watch.auth_retried:
                watch.auth_retried = True
                _move(watch, WatchInput.RECV_CREATE_AUTH_RETRY)
                self._queue.appendleft(watch)
                self._stalled = True
                return [RestartStream(error)]
            _move(watch, WatchInput.RECV_CREATE_FAILED)
            del self._watches[watch.local_id]
            return [Canceled(watch.local_id, error)]
        _move(watch, WatchInput.RECV_CREATED)
        watch.watch_id = response.watch_id
        watch.auth_retried = False
        self._by_id[watch.watch_id] = watch
        if watch.next_rev == 0:
            # Go: "a current revision watch must resume at the store revision".
            watch.next_rev = response.header.revision
        if watch.created_once:
            return [Resumed(watch.local_id, watch.watch_id, response.header, watch.next_rev)]
        watch.created_once = True
        return [Created(watch.local_id, watch.watch_id, response.header)]

    def _on_canceled(self, response: rpc_pb2.WatchResponse) -> list[Delivery]:
        watch_id = response.watch_id
        watch = self._by_id.pop(watch_id, None)
        if watch is None:
            if not response.compact_revision:  # the acknowledgement of our cancel
                self._cancel_sent.discard(watch_id)
            return []
        _move(watch, WatchInput.RECV_CANCELED)
        del self._watches[watch.local_id]
        if response.compact_revision:
            # The server stopped sending but still holds the watcher until it is cancelled.
            self._send_cancel(watch_id)
        error = cancel_reason_error(response.cancel_reason, response.compact_revision)
        return [Canceled(watch.local_id, error)]

    def _events(
        self, watch: _Watch, header: rpc_pb2.ResponseHeader, events: Sequence[kv_pb2.Event]
    ) -> list[Delivery]:
        floor = watch.event_rev
        last = events[-1].kv.mod_revision
        watch.next_rev = max(watch.next_rev, last + 1)
        if last <= floor:
            return []
        fresh = events
        if events[0].kv.mod_revision <= floor:
            # A response repeating revisions already delivered (after a resume): the server
            # sends events in revision order, so the new ones are a tail.
            fresh = [event for event in events if event.kv.mod_revision > floor]
        watch.event_rev = last
        return [Events(watch.local_id, header, fresh, last, watch.spec.prev_kv)]

    def _progress(self, watch: _Watch, header: rpc_pb2.ResponseHeader) -> list[Delivery]:
        revision = header.revision
        if revision == 0:  # not a progress notification (IsProgressNotify)
            return []
        watch.next_rev = max(watch.next_rev, revision)
        if revision < watch.event_rev or revision < watch.progress_rev:
            return []
        watch.progress_rev = revision
        return [Progress(watch.local_id, revision, header)]

    def _broadcast_progress(self, header: rpc_pb2.ResponseHeader) -> list[Delivery]:
        out: list[Delivery] = []
        for watch in self._by_id.values():
            _move(watch, WatchInput.RECV_RESPONSE)
            out += self._progress(watch, header)
        return out

    def _send_cancel(self, watch_id: int) -> None:
        if watch_id in self._cancel_sent:
            return
        self._cancel_sent.add(watch_id)
        log.debug("cancelling watch id %d", watch_id)
        cancel = rpc_pb2.WatchCancelRequest(watch_id=watch_id)
        self._outbox.append(rpc_pb2.WatchRequest(cancel_request=cancel))

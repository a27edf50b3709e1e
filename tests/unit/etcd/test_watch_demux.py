"""WatchDemux driven by crafted WatchResponse sequences.

Sources: etcd's Go client ``client/v3/watch.go`` (``run``, ``addSubstream``, ``dispatchEvent``,
``serveSubstream``, ``shouldRetryWatch``), the server's ``server/etcdserver/api/v3rpc/watch.go``
(``recvLoop``, ``sendLoop``, ``sendFragments``), transport-requirements.md §4.5-4.6 and
etcd-clients.md Appendix C (etcd-io/etcd#15220, #20221, python-etcd3#729).
"""

from __future__ import annotations

import gc
import itertools
import tracemalloc
from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etcdwire._etcd import watch_demux
from etcdwire._etcd.watch_demux import (
    INVALID_WATCH_ID,
    TRANSITIONS,
    Canceled,
    Created,
    Delivery,
    Events,
    Progress,
    RestartStream,
    Resumed,
    WatchCounts,
    WatchDemux,
    WatchInput,
    WatchSpec,
    WatchState,
    cancel_reason_error,
)
from etcdwire._pb import kv_pb2, rpc_pb2
from etcdwire.errors import (
    AuthOldRevision,
    Compacted,
    InvalidAuthToken,
    LocalProtocolError,
    NoLeader,
    PermissionDenied,
    RemoteProtocolError,
    StatusCode,
    Unknown,
    UsageError,
    UserEmpty,
    WatchCanceled,
)

PUT = kv_pb2.Event.PUT
DELETE = kv_pb2.Event.DELETE

INVALID_TOKEN = "rpc error: code = Unauthenticated desc = etcdserver: invalid auth token"
PERMISSION_DENIED = "rpc error: code = PermissionDenied desc = etcdserver: permission denied"


# --- message builders ---------------------------------------------------------------------------


def header(revision: int) -> rpc_pb2.ResponseHeader:
    return rpc_pb2.ResponseHeader(cluster_id=11, member_id=22, revision=revision, raft_term=3)


def event(key: bytes, revision: int, kind: kv_pb2.Event.EventType = PUT) -> kv_pb2.Event:
    kv = kv_pb2.KeyValue(key=key, mod_revision=revision, create_revision=revision, version=1)
    return kv_pb2.Event(type=kind, kv=kv)


def created(watch_id: int, revision: int) -> rpc_pb2.WatchResponse:
    return rpc_pb2.WatchResponse(header=header(revision), watch_id=watch_id, created=True)


def create_refused(reason: str, watch_id: int = INVALID_WATCH_ID) -> rpc_pb2.WatchResponse:
    return rpc_pb2.WatchResponse(
        header=header(9), watch_id=watch_id, created=True, canceled=True, cancel_reason=reason
    )


def events(
    watch_id: int, *evs: kv_pb2.Event, revision: int = 0, fragment: bool = False
) -> rpc_pb2.WatchResponse:
    revision = revision or max(e.kv.mod_revision for e in evs)
    return rpc_pb2.WatchResponse(
        header=header(revision), watch_id=watch_id, events=evs, fragment=fragment
    )


def progress(watch_id: int, revision: int) -> rpc_pb2.WatchResponse:
    return rpc_pb2.WatchResponse(header=header(revision), watch_id=watch_id)


def canceled(
    watch_id: int, *, compact_revision: int = 0, reason: str = ""
) -> rpc_pb2.WatchResponse:
    return rpc_pb2.WatchResponse(
        header=header(50),
        watch_id=watch_id,
        canceled=True,
        compact_revision=compact_revision,
        cancel_reason=reason,
    )


def kinds(requests: Iterable[rpc_pb2.WatchRequest]) -> list[str]:
    return [str(r.WhichOneof("request_union")) for r in requests]


def cancel_ids(requests: Iterable[rpc_pb2.WatchRequest]) -> list[int]:
    return [r.cancel_request.watch_id for r in requests if r.HasField("cancel_request")]


def create_one(demux: WatchDemux, watch_id: int, revision: int = 5) -> list[Delivery]:
    """Send the next create and answer it with ``watch_id``."""
    requests = demux.requests_to_send()
    assert kinds(requests)[-1:] == ["create_request"]
    return demux.receive(created(watch_id, revision))


def active_demux(n: int, *, start_revision: int = 0) -> tuple[WatchDemux, list[int]]:
    """A demux with ``n`` created watches on keys k0..k(n-1), watch ids 0..n-1."""
    demux = WatchDemux()
    local = [demux.add(WatchSpec(b"k%d" % i, start_revision=start_revision)) for i in range(n)]
    for i in range(n):
        create_one(demux, i)
    return demux, local


def owner(delivery: Delivery) -> int | None:
    return None if isinstance(delivery, RestartStream) else delivery.local_id


def revisions(delivery: Delivery) -> list[int]:
    assert isinstance(delivery, Events)
    return [e.kv.mod_revision for e in delivery.events]


# --- WatchSpec ----------------------------------------------------------------------------------


def test_spec_create_request_carries_every_field() -> None:
    """Go's watchRequest.toPB: key, range_end, start revision, options, filters."""
    spec = WatchSpec(
        b"/a",
        range_end=b"/b",
        start_revision=7,
        prev_kv=True,
        no_put=True,
        no_delete=True,
        progress_notify=True,
        fragment=True,
    )
    create = spec.create_request(42).create_request
    assert create.key == b"/a"
    assert create.range_end == b"/b"
    assert create.start_revision == 42
    assert create.prev_kv and create.progress_notify and create.fragment
    assert list(create.filters) == [
        rpc_pb2.WatchCreateRequest.NOPUT,
        rpc_pb2.WatchCreateRequest.NODELETE,
    ]
    assert create.watch_id == 0  # ids are always assigned by the server, as in Go


def test_spec_defaults_send_plain_create() -> None:
    create = WatchSpec(b"k").create_request(0).create_request
    assert (create.range_end, create.start_revision, list(create.filters)) == (b"", 0, [])
    assert not (create.prev_kv or create.progress_notify or create.fragment)


@pytest.mark.parametrize(
    "kwargs",
    [{"key": "text"}, {"key": b"k", "range_end": "z"}, {"key": b"k", "start_revision": -1}],
)
def test_spec_rejects_bad_input(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        WatchSpec(**kwargs)  # type: ignore[arg-type]


# --- creates ------------------------------------------------------------------------------------


def test_go_run_creates_are_serialized() -> None:
    """Go run(): a create is sent only at the head of ``resuming``, the next after Created."""
    demux = WatchDemux()
    a, b, c = (demux.add(WatchSpec(k)) for k in (b"a", b"b", b"c"))
    first = demux.requests_to_send()
    assert [r.create_request.key for r in first] == [b"a"]
    assert demux.requests_to_send() == []  # in flight: nothing more
    demux.request_progress()
    assert kinds(demux.requests_to_send()) == ["progress_request"]  # no create with it
    assert demux.receive(created(0, 5)) == [Created(a, 0, header(5))]
    assert [r.create_request.key for r in demux.requests_to_send()] == [b"b"]
    assert demux.receive(created(1, 6)) == [Created(b, 1, header(6))]
    assert [r.create_request.key for r in demux.requests_to_send()] == [b"c"]
    assert demux.counts == WatchCounts(watches=3, active=2, pending=1, unacked_cancels=0)
    assert demux.receive(created(2, 6)) == [Created(c, 2, header(6))]
    assert demux.requests_to_send() == []
    assert demux.counts == WatchCounts(3, 3, 0, 0)
    assert [demux.state(x) for x in (a, b, c)] == [WatchState.ACTIVE] * 3


def test_created_notify_is_kept_in_the_spec_and_created_always_returned() -> None:
    demux = WatchDemux()
    local = demux.add(WatchSpec(b"k", created_notify=True))
    assert demux.spec(local).created_notify
    assert create_one(demux, 3) == [Created(local, 3, header(5))]


def test_many_watches_demultiplexed_by_watch_id() -> None:
    demux, (a, b, c) = active_demux(3)
    out = demux.receive(events(1, event(b"k1", 7)))
    out += demux.receive(events(0, event(b"k0", 8)))
    out += demux.receive(events(2, event(b"k2", 9), event(b"k2", 10, DELETE)))
    out += demux.receive(events(1, event(b"k1", 11)))
    assert [(owner(d), revisions(d)) for d in out] == [
        (b, [7]),
        (a, [8]),
        (c, [9, 10]),
        (b, [11]),
    ]
    assert all(isinstance(d, Events) for d in out)
    last = out[2]
    assert isinstance(last, Events)
    assert last.revision == 10 and last.header.revision == 10
    assert [e.type for e in last.events] == [PUT, DELETE]


def test_events_of_one_revision_are_delivered_together() -> None:
    """python-etcd3#729: a revision (one Txn) is never split across deliveries."""
    demux, (a,) = active_demux(1)
    txn = [event(b"k0", 9), event(b"k0/x", 9), event(b"k0/y", 9, DELETE)]
    (out,) = demux.receive(events(0, *txn))
    assert revisions(out) == [9, 9, 9]
    assert demux.next_revision(a) == 10


# --- cancel -------------------------------------------------------------------------------------


def test_cancel_before_the_create_is_sent_drops_it() -> None:
    demux = WatchDemux()
    a = demux.add(WatchSpec(b"a"))
    b = demux.add(WatchSpec(b"b"))
    assert demux.cancel(a)
    assert demux.counts == WatchCounts(1, 0, 1, 0)
    (request,) = demux.requests_to_send()
    assert request.create_request.key == b"b"
    assert demux.receive(created(0, 5)) == [Created(b, 0, header(5))]
    assert demux.state(a) is WatchState.DONE


def test_cancel_while_the_create_is_in_flight() -> None:
    """The watch is cancelled on the server as soon as its Created arrives; no delivery."""
    demux = WatchDemux()
    a = demux.add(WatchSpec(b"a"))
    b = demux.add(WatchSpec(b"b"))
    assert kinds(demux.requests_to_send()) == ["create_request"]
    assert demux.cancel(a)
    assert demux.requests_to_send() == []  # still waiting for a's Created
    assert demux.receive(created(4, 5)) == []
    requests = demux.requests_to_send()
    assert kinds(requests) == ["cancel_request", "create_request"]
    assert cancel_ids(requests) == [4]
    assert requests[1].create_request.key == b"b"
    assert demux.receive(events(4, event(b"a", 6))) == []  # late events: dropped, no 2nd cancel
    assert demux.receive(created(5, 6)) == [Created(b, 5, header(6))]
    assert demux.requests_to_send() == []
    assert demux.counts.unacked_cancels == 1
    assert demux.receive(canceled(4)) == []
    assert demux.counts == WatchCounts(1, 1, 0, 0)


def test_cancel_while_in_flight_and_the_create_fails() -> None:
    demux = WatchDemux()
    a = demux.add(WatchSpec(b"a"))
    demux.requests_to_send()
    demux.cancel(a)
    assert demux.receive(create_refused(PERMISSION_DENIED)) == []
    assert demux.requests_to_send() == []
    assert demux.counts == WatchCounts(0, 0, 0, 0)


def test_cancel_after_create_sends_one_cancel_request() -> None:
    """Go run() closingc: an established watch is cancelled on the server proactively."""
    demux, (a, b) = active_demux(2)
    assert demux.cancel(a)
    assert not demux.cancel(a)  # already gone
    assert cancel_ids(demux.requests_to_send()) == [0]
    assert demux.receive(events(0, event(b"k0", 8))) == []  # in the cancel set: no new cancel
    assert demux.requests_to_send() == []
    assert demux.receive(canceled(0)) == []  # acknowledgement
    assert demux.counts == WatchCounts(1, 1, 0, 0)
    (out,) = demux.receive(events(1, event(b"k1", 9)))
    assert owner(out) == b


def test_cancel_unknown_local_id() -> None:
    assert not WatchDemux().cancel(12345)


def test_go_run_events_for_unknown_id_cancel_once_per_id() -> None:
    """Go run(): "watch response on unexpected watch id; cancel id", once (cancelSet)."""
    demux, _ = active_demux(1)
    assert demux.receive(events(7, event(b"x", 8))) == []
    assert demux.receive(events(7, event(b"x", 9))) == []
    assert demux.receive(progress(7, 9)) == []
    assert demux.receive(events(8, event(b"y", 9))) == []
    assert cancel_ids(demux.requests_to_send()) == [7, 8]
    assert demux.receive(canceled(7)) == []  # the ack clears the id (Go: delete(cancelSet, id))
    assert demux.receive(events(7, event(b"x", 10))) == []
    assert cancel_ids(demux.requests_to_send()) == [7]


def test_canceled_for_unknown_id_is_ignored() -> None:
    demux, _ = active_demux(1)
    assert demux.receive(canceled(99)) == []
    assert demux.receive(canceled(98, compact_revision=3)) == []
    assert demux.requests_to_send() == []


# --- fragments ----------------------------------------------------------------------------------


def test_fragments_are_merged_until_the_last_piece() -> None:
    """Server sendFragments splits one response (even inside a revision); Go run() merges."""
    demux, (a,) = active_demux(1)
    pieces = [
        events(0, event(b"k0", 7), event(b"k0", 8), revision=9, fragment=True),
        events(0, event(b"k0/a", 8), revision=9, fragment=True),
        events(0, event(b"k0/b", 8), event(b"k0", 9), revision=9),
    ]
    assert demux.receive(pieces[0]) == []
    assert demux.receive(pieces[1]) == []
    assert demux.next_revision(a) == 5  # nothing applied before the last piece
    (out,) = demux.receive(pieces[2])
    assert isinstance(out, Events)
    assert revisions(out) == [7, 8, 8, 8, 9]
    assert [e.kv.key for e in out.events] == [b"k0", b"k0", b"k0/a", b"k0/b", b"k0"]
    assert out.revision == 9
    assert demux.next_revision(a) == 10


def test_fragments_of_two_watches_do_not_mix() -> None:
    demux, (a, b) = active_demux(2)
    assert demux.receive(events(0, event(b"k0", 7), fragment=True)) == []
    assert demux.receive(events(1, event(b"k1", 7), fragment=True)) == []
    (out_b,) = demux.receive(events(1, event(b"k1", 8)))
    (out_a,) = demux.receive(events(0, event(b"k0", 8)))
    assert (owner(out_a), revisions(out_a)) == (a, [7, 8])
    assert (owner(out_b), revisions(out_b)) == (b, [7, 8])


def test_fragments_are_dropped_with_the_stream() -> None:
    """A half-received response is resent whole on the new stream: delivered once."""
    demux, (_a,) = active_demux(1, start_revision=3)
    demux.receive(events(0, event(b"k0", 3), event(b"k0", 4), fragment=True))
    demux.stream_lost()
    (request,) = demux.requests_to_send()
    assert request.create_request.start_revision == 3
    demux.receive(created(0, 6))
    demux.receive(events(0, event(b"k0", 3), fragment=True))
    (out,) = demux.receive(events(0, event(b"k0", 4)))
    assert revisions(out) == [3, 4]


def test_fragments_dropped_when_the_watch_is_canceled() -> None:
    demux, (_a,) = active_demux(1)
    demux.receive(events(0, event(b"k0", 7), fragment=True))
    (out,) = demux.receive(canceled(0, compact_revision=6))
    assert isinstance(out, Canceled)
    demux.receive(events(0, event(b"k0", 8)))  # unknown id now
    assert demux.counts.watches == 0


# --- progress -----------------------------------------------------------------------------------


def test_progress_notify_for_one_watch() -> None:
    """IsProgressNotify: no events, not created/canceled, compact 0, header revision != 0."""
    demux, (a, b) = active_demux(2)
    assert demux.receive(progress(1, 12)) == [Progress(b, 12, header(12))]
    assert demux.next_revision(b) == 12  # Go serveSubstream: nextRev = header.revision
    assert demux.next_revision(a) == 5
    assert demux.receive(progress(1, 0)) == []  # revision 0: not a progress notification


def test_progress_request_answer_with_watch_id_minus_one_is_broadcast() -> None:
    """v3rpc recvLoop answers WatchProgressRequest with watch_id -1; Go dispatchEvent
    broadcasts it to every created watch (not to one whose create is in flight)."""
    demux, (a, b) = active_demux(2)
    c = demux.add(WatchSpec(b"c"))
    demux.request_progress()
    requests = demux.requests_to_send()
    assert kinds(requests) == ["progress_request", "create_request"]
    out = demux.receive(progress(INVALID_WATCH_ID, 20))
    assert out == [Progress(a, 20, header(20)), Progress(b, 20, header(20))]
    assert demux.receive(created(2, 21)) == [Created(c, 2, header(21))]
    assert [demux.next_revision(x) for x in (a, b, c)] == [20, 20, 21]


def test_progress_lower_than_seen_is_ignored() -> None:
    """etcd-io/etcd#20221: a member behind the events already seen may report lower progress."""
    demux, (a,) = active_demux(1)
    demux.receive(events(0, event(b"k0", 10)))
    assert demux.receive(progress(0, 8)) == []
    assert demux.next_revision(a) == 11  # and it does not pull the resume point back
    assert demux.receive(progress(0, 10)) == [Progress(a, 10, header(10))]
    assert demux.receive(progress(0, 14)) == [Progress(a, 14, header(14))]
    assert demux.receive(progress(INVALID_WATCH_ID, 13)) == []
    assert demux.receive(progress(0, 14)) == [Progress(a, 14, header(14))]
    assert demux.next_revision(a) == 14


def test_progress_does_not_hide_later_events_of_lower_revisions() -> None:
    """etcd-io/etcd#15220 (etcd < 3.5.8): a requested progress could overtake queued events;
    those events were never delivered, so they still are."""
    demux, (a,) = active_demux(1)
    demux.receive(events(0, event(b"k0", 6)))
    demux.receive(progress(INVALID_WATCH_ID, 10))
    (out,) = demux.receive(events(0, event(b"k0", 8), revision=10))
    assert revisions(out) == [8]
    assert demux.next_revision(a) == 10


# --- server cancels and errors ------------------------------------------------------------------


def test_compaction_cancels_with_compacted_and_revision() -> None:
    """Canceled with compact_revision N -> Compacted(N); Go's closing path then cancels the id."""
    demux, (a, _b) = active_demux(2, start_revision=2)
    (out,) = demux.receive(canceled(0, compact_revision=17))
    assert isinstance(out, Canceled) and out.local_id == a
    assert isinstance(out.error, Compacted)
    assert out.error.compact_revision == 17
    assert out.error.code is StatusCode.OUT_OF_RANGE
    assert "compacted" in str(out.error)
    assert demux.state(a) is WatchState.DONE
    assert cancel_ids(demux.requests_to_send()) == [0]
    assert demux.receive(canceled(0)) == []  # ack
    assert demux.counts == WatchCounts(1, 1, 0, 0)


def test_server_cancel_without_reason_is_watch_canceled() -> None:
    demux, (_a,) = active_demux(1)
    (out,) = demux.receive(canceled(0))
    assert isinstance(out, Canceled) and isinstance(out.error, WatchCanceled)
    assert out.error.reason == ""
    assert demux.requests_to_send() == []  # the server already dropped it


def test_server_cancel_with_status_reason_is_typed() -> None:
    demux, (_a,) = active_demux(1)
    (out,) = demux.receive(
        canceled(0, reason="rpc error: code = Unavailable desc = etcdserver: no leader")
    )
    assert isinstance(out, Canceled) and isinstance(out.error, NoLeader)


def test_in_band_invalid_token_restarts_the_stream_once() -> None:
    """transport-requirements §4.5: a create refused for a bad token comes back in-band;
    Go shouldRetryWatch opens a new stream (fresh token) and creates the watch again."""
    demux = WatchDemux()
    a = demux.add(WatchSpec(b"a"))
    b = demux.add(WatchSpec(b"b"))
    demux.requests_to_send()
    (out,) = demux.receive(create_refused(INVALID_TOKEN))
    assert isinstance(out, RestartStream) and isinstance(out.error, InvalidAuthToken)
    assert out.error.code is StatusCode.UNAUTHENTICATED
    assert demux.requests_to_send() == []  # stalled until the shell replaces the stream
    assert demux.state(a) is WatchState.QUEUED
    demux.stream_lost()
    (request,) = demux.requests_to_send()
    assert request.create_request.key == b"a"
    (out,) = demux.receive(create_refused(INVALID_TOKEN))  # refused again: give up on it
    assert isinstance(out, Canceled) and out.local_id == a
    assert isinstance(out.error, InvalidAuthToken)
    (request,) = demux.requests_to_send()
    assert request.create_request.key == b"b"
    assert demux.receive(created(0, 5)) == [Created(b, 0, header(5))]


def test_auth_retry_allowance_returns_after_a_successful_create() -> None:
    demux = WatchDemux()
    a = demux.add(WatchSpec(b"a"))
    demux.requests_to_send()
    assert isinstance(demux.receive(create_refused(INVALID_TOKEN))[0], RestartStream)
    demux.stream_lost()
    create_one(demux, 0)
    demux.stream_lost()  # token expires again later
    demux.requests_to_send()
    reason = "rpc error: code = InvalidArgument desc = etcdserver: revision of auth store is old"
    (out,) = demux.receive(create_refused(reason))
    assert isinstance(out, RestartStream) and isinstance(out.error, AuthOldRevision)
    assert demux.state(a) is WatchState.QUEUED


def test_in_band_auth_errors_without_restart() -> None:
    demux = WatchDemux(restart_on=())
    a = demux.add(WatchSpec(b"a"))
    demux.requests_to_send()
    (out,) = demux.receive(create_refused(INVALID_TOKEN))
    assert isinstance(out, Canceled) and out.local_id == a
    assert isinstance(out.error, InvalidAuthToken)


def test_in_band_permission_denied_etcd_3_5_1_shape() -> None:
    """etcd < 3.5.5 answers a refused create with watch_id = the requested id (0) and
    "permission denied" for any auth failure; id 0 must not be registered."""
    demux = WatchDemux()
    a = demux.add(WatchSpec(b"a"))
    b = demux.add(WatchSpec(b"b"))
    demux.requests_to_send()
    (out,) = demux.receive(create_refused(PERMISSION_DENIED, watch_id=0))
    assert isinstance(out, Canceled) and out.local_id == a
    assert isinstance(out.error, PermissionDenied)
    create_one(demux, 0)
    (ev,) = demux.receive(events(0, event(b"b", 6)))
    assert owner(ev) == b


def test_permission_denied_can_be_made_a_restart_for_old_servers() -> None:
    demux = WatchDemux(restart_on=(InvalidAuthToken, AuthOldRevision, PermissionDenied))
    demux.add(WatchSpec(b"a"))
    demux.requests_to_send()
    (out,) = demux.receive(create_refused(PERMISSION_DENIED, watch_id=0))
    assert isinstance(out, RestartStream) and isinstance(out.error, PermissionDenied)


@pytest.mark.parametrize(
    ("reason", "compact", "expected"),
    [
        (INVALID_TOKEN, 0, InvalidAuthToken),
        (
            "rpc error: code = InvalidArgument desc = etcdserver: revision of auth store is old",
            0,
            AuthOldRevision,
        ),
        ("rpc error: code = InvalidArgument desc = etcdserver: user name is empty", 0, UserEmpty),
        (PERMISSION_DENIED, 0, PermissionDenied),
        ("rpc error: code = Code(42) desc = something new", 0, Unknown),
        ("rpc error: code = Bogus desc = x", 0, Unknown),
        ("etcdserver: mvcc: required revision has been compacted", 0, Compacted),
        ("mvcc: watcher range is empty", 0, WatchCanceled),
        ("", 0, WatchCanceled),
        ("anything", 9, Compacted),
    ],
)
def test_cancel_reason_error(reason: str, compact: int, expected: type[Exception]) -> None:
    """§4.5 REQ: parse Go's "rpc error: code = X desc = Y" to the typed errors."""
    error = cancel_reason_error(reason, compact)
    assert type(error) is expected
    if isinstance(error, WatchCanceled):
        assert error.reason == reason
    if isinstance(error, Compacted):
        assert error.compact_revision == (compact or None)
    if reason.startswith("rpc error:") and "desc = etcdserver" in reason:
        assert error.message == reason.split("desc = ", 1)[1]


# --- next revision and resume -------------------------------------------------------------------


def test_go_serve_substream_next_revision_rules() -> None:
    """nextRev: start revision; Created of a "now" watch -> header.revision; events -> last
    mod_revision + 1; progress -> header.revision; never backwards."""
    demux = WatchDemux()
    now = demux.add(WatchSpec(b"a"))
    fixed = demux.add(WatchSpec(b"b", start_revision=5))
    assert demux.next_revision(now) == 0
    create_one(demux, 0, revision=7)
    assert demux.next_revision(now) == 7
    create_one(demux, 1, revision=20)
    assert demux.next_revision(fixed) == 5  # an explicit start is kept
    demux.receive(events(0, event(b"a", 8), event(b"a", 9), revision=12))
    assert demux.next_revision(now) == 10  # not header.revision + 1: more may be pending
    demux.receive(progress(0, 15))
    assert demux.next_revision(now) == 15
    demux.receive(progress(1, 3))  # a future watch: progress below its start
    assert demux.next_revision(fixed) == 5


def test_stream_lost_recreates_every_watch_from_its_next_revision() -> None:
    demux, (a, b) = active_demux(2)
    c = demux.add(WatchSpec(b"c", start_revision=4))  # queued, never created
    demux.receive(events(0, event(b"k0", 9)))
    demux.receive(progress(1, 11))
    demux.request_progress()
    demux.cancel(b)
    b2 = demux.add(WatchSpec(b"k1"))
    demux.stream_lost()  # nothing to deliver
    assert demux.counts == WatchCounts(3, 0, 3, 0)
    sent: list[tuple[bytes, int]] = []
    deliveries: list[Delivery] = []
    for watch_id in range(3):
        requests = demux.requests_to_send()
        assert kinds(requests) == ["create_request"]  # old cancels/progress dropped
        create = requests[0].create_request
        sent.append((create.key, create.start_revision))
        assert demux.requests_to_send() == []
        deliveries += demux.receive(created(100 + watch_id, 30))
    assert sent == [(b"k0", 10), (b"c", 4), (b"k1", 0)]
    assert deliveries == [
        Resumed(a, 100, header(30), 10),
        Created(c, 101, header(30)),
        Created(b2, 102, header(30)),
    ]
    assert demux.counts == WatchCounts(3, 3, 0, 0)
    # Old ids are forgotten: id 0 is unknown on the new stream.
    assert demux.receive(events(0, event(b"k0", 31))) == []
    assert cancel_ids(demux.requests_to_send()) == [0]


def test_stream_lost_while_a_create_is_in_flight() -> None:
    demux = WatchDemux()
    a = demux.add(WatchSpec(b"a"))
    demux.requests_to_send()
    demux.stream_lost()
    (request,) = demux.requests_to_send()
    assert request.create_request.start_revision == 0
    assert demux.receive(created(0, 5)) == [Created(a, 0, header(5))]  # still the first


def test_resumed_watch_drops_events_already_delivered() -> None:
    """Events at or below the last delivered revision (a replay, maybe from another member)
    are dropped; the rest of the response is delivered."""
    demux, (a,) = active_demux(1, start_revision=3)
    demux.receive(events(0, event(b"k0", 3), event(b"k0", 5)))
    demux.stream_lost()
    (request,) = demux.requests_to_send()
    assert request.create_request.start_revision == 6
    assert demux.receive(created(0, 9)) == [Resumed(a, 0, header(9), 6)]
    # A server replaying from an older revision: 3 and 5 again, then new ones.
    (out,) = demux.receive(events(0, event(b"k0", 3), event(b"k0", 5), event(b"k0", 7)))
    assert revisions(out) == [7]
    assert demux.receive(events(0, event(b"k0", 7))) == []


def test_start_revision_is_a_floor_for_events() -> None:
    demux, (_a,) = active_demux(1, start_revision=10)
    (out,) = demux.receive(events(0, event(b"k0", 9), event(b"k0", 10)))
    assert revisions(out) == [10]


def test_fail_all_ends_every_watch() -> None:
    demux, (a, b) = active_demux(2)
    c = demux.add(WatchSpec(b"c"))
    demux.requests_to_send()
    error = NoLeader("etcdserver: no leader")
    assert demux.fail_all(error) == [Canceled(a, error), Canceled(b, error), Canceled(c, error)]
    assert demux.counts == WatchCounts(0, 0, 0, 0)
    assert demux.requests_to_send() == []


# --- protocol violations and the table ----------------------------------------------------------


def test_created_with_nothing_in_flight_is_a_remote_error() -> None:
    demux, _ = active_demux(1)
    with pytest.raises(RemoteProtocolError):
        demux.receive(created(5, 6))


def test_watch_id_created_twice_is_a_remote_error() -> None:
    demux, _ = active_demux(1)
    demux.add(WatchSpec(b"x"))
    demux.requests_to_send()
    with pytest.raises(RemoteProtocolError):
        demux.receive(created(0, 6))


def test_transition_table_has_no_way_out_of_done() -> None:
    assert not [key for key in TRANSITIONS if key[0] is WatchState.DONE]
    assert {
        TRANSITIONS[s, WatchInput.STREAM_LOST] for s in WatchState if s is not WatchState.DONE
    } == {WatchState.QUEUED}


@pytest.mark.parametrize(
    ("state", "event"),
    [(s, i) for s, i in itertools.product(WatchState, WatchInput) if (s, i) not in TRANSITIONS],
)
def test_missing_transition_is_a_local_error(state: WatchState, event: WatchInput) -> None:
    watch = watch_demux._Watch(1, WatchSpec(b"k"))
    watch.state = state
    with pytest.raises(LocalProtocolError):
        watch_demux._move(watch, event)


# --- memory -------------------------------------------------------------------------------------


def test_memory_of_10000_idle_watches_under_1_kib_each() -> None:
    """Target: < 2 KiB per idle watch in total; the demux's share must stay under 1 KiB."""
    count = 10_000
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        demux = WatchDemux()
        for i in range(count):
            key = b"/registry/pods/namespace-%05d/" % i
            demux.add(WatchSpec(key, range_end=key[:-1] + b"0", progress_notify=True))
        for watch_id in range(count):
            demux.requests_to_send()
            demux.receive(created(watch_id, 1_000_000 + watch_id))
        assert demux.counts == WatchCounts(count, count, 0, 0)
        gc.collect()
        per_watch = (tracemalloc.get_traced_memory()[0] - before) / count
    finally:
        tracemalloc.stop()
    assert per_watch < 1024, f"{per_watch:.0f} bytes per idle watch"


# --- resume property ----------------------------------------------------------------------------

KEYS = (b"a", b"b", b"c")


class FakeMember:
    """One stream to an etcd member that knows history up to ``known``.

    Sends whole revisions per response (optionally fragmented anywhere), per-watch progress
    only when the watch is synced, and answers progress requests only when every watch is
    synced (etcd >= 3.5.8, etcd-io/etcd#15220). With ``replay`` > 0 it starts every watch that
    many revisions early, resending what the client may already have.
    """

    def __init__(self, history: list[list[kv_pb2.Event]], known: int, replay: int = 0) -> None:
        self.history = history  # history[rev] = events of revision rev (0 unused)
        self.known = known
        self.replay = replay
        self.next_id = 0
        self.cursor: dict[int, int] = {}  # watch id -> next revision to send
        self.match: dict[int, bytes | None] = {}  # watch id -> key (None: every key)
        self.outbox: list[rpc_pb2.WatchResponse] = []
        self.unanswered_creates = 0  # creates whose Created the client has not read yet

    def handle(self, request: rpc_pb2.WatchRequest) -> None:
        kind = request.WhichOneof("request_union")
        if kind == "create_request":
            self.unanswered_creates += 1
            assert self.unanswered_creates == 1, "a create sent while another is in flight"
            create = request.create_request
            watch_id, self.next_id = self.next_id, self.next_id + 1
            start = create.start_revision or self.known + 1
            self.cursor[watch_id] = max(1, start - self.replay)
            self.match[watch_id] = None if create.range_end == b"\0" else create.key
            self.outbox.append(created(watch_id, self.known))
        elif kind == "cancel_request":
            watch_id = request.cancel_request.watch_id
            if self.cursor.pop(watch_id, None) is not None:
                self.outbox.append(canceled(watch_id))
        elif all(c > self.known for c in self.cursor.values()):
            self.outbox.append(progress(INVALID_WATCH_ID, self.known))

    def emit(self, watch_id: int, upto: int, cuts: list[int]) -> None:
        upto = min(upto, self.known)
        start = self.cursor[watch_id]
        key = self.match[watch_id]
        evs = [
            e
            for rev in range(start, upto + 1)
            for e in self.history[rev]
            if key is None or e.kv.key == key
        ]
        self.cursor[watch_id] = max(start, upto + 1)
        if not evs:
            return
        bounds = sorted({c % len(evs) for c in cuts} - {0})
        pieces = [evs[i:j] for i, j in zip([0, *bounds], [*bounds, len(evs)], strict=True)]
        for n, piece in enumerate(pieces):
            last = n == len(pieces) - 1
            self.outbox.append(events(watch_id, *piece, revision=self.known, fragment=not last))

    def notify_progress(self, watch_id: int) -> None:
        if self.cursor[watch_id] > self.known:
            self.outbox.append(progress(watch_id, self.known))


@st.composite
def histories(draw: st.DrawFn) -> list[list[kv_pb2.Event]]:
    length = draw(st.integers(1, 20))
    history: list[list[kv_pb2.Event]] = [[]]
    for rev in range(1, length + 1):
        keys = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3, unique=True))
        history.append([event(k, rev, draw(st.sampled_from([PUT, DELETE]))) for k in keys])
    return history


def _feed(demux: WatchDemux, member: FakeMember, delivered: list[Delivery], count: int) -> None:
    for _ in range(count):
        for request in demux.requests_to_send():
            member.handle(request)
        if not member.outbox:
            return
        response = member.outbox.pop(0)
        member.unanswered_creates -= response.created
        delivered += demux.receive(response)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories(), data=st.data())
def test_resume_delivers_every_event_exactly_once_in_order(
    history: list[list[kv_pb2.Event]], data: st.DataObject
) -> None:
    """Random event streams cut at random points by stream_lost, resumed on members that may
    lag behind: per watch, the delivered events are the source events from its start revision,
    each exactly once, in order, whole revisions per delivery (Go's nextRev resume)."""
    top = len(history) - 1
    specs = data.draw(
        st.lists(
            st.builds(
                WatchSpec,
                key=st.sampled_from(KEYS),
                range_end=st.sampled_from([b"", b"\0"]),
                start_revision=st.integers(1, top),
                progress_notify=st.booleans(),
            ),
            min_size=1,
            max_size=4,
        )
    )
    demux = WatchDemux()
    local_ids = [demux.add(spec) for spec in specs]
    members = st.builds(FakeMember, st.just(history), st.integers(0, top), st.integers(0, 2))
    member = data.draw(members)
    delivered: list[Delivery] = []
    resume_at = dict.fromkeys(local_ids, 0)
    for _ in range(data.draw(st.integers(0, 60))):
        for local_id in local_ids:  # the resume point never moves back
            assert demux.next_revision(local_id) >= resume_at[local_id]
            resume_at[local_id] = demux.next_revision(local_id)
        op = data.draw(st.sampled_from(["feed", "advance", "emit", "progress", "ask", "lose"]))
        if op == "feed":
            _feed(demux, member, delivered, data.draw(st.integers(1, 4)))
        elif op == "advance":
            member.known = min(top, member.known + data.draw(st.integers(1, 3)))
        elif op == "emit" and member.cursor:
            watch_id = data.draw(st.sampled_from(sorted(member.cursor)))
            cuts = data.draw(st.lists(st.integers(0, 20), max_size=3))
            member.emit(watch_id, member.cursor[watch_id] + data.draw(st.integers(0, 4)), cuts)
        elif op == "progress":
            for watch_id in sorted(member.cursor):
                member.notify_progress(watch_id)
        elif op == "ask":
            demux.request_progress()
        elif op == "lose":
            demux.stream_lost()
            member = data.draw(members)  # maybe lagging, maybe replaying
    # Drain on an up-to-date member.
    demux.stream_lost()
    member = FakeMember(history, top)
    for _ in range(10 * (len(specs) + top)):
        _feed(demux, member, delivered, 1000)
        for watch_id in sorted(member.cursor):
            member.emit(watch_id, top, [])
        if not member.outbox and demux.counts.pending == 0:
            break
    assert demux.counts.pending == 0

    for local_id, spec in zip(local_ids, specs, strict=True):
        mine = [d for d in delivered if owner(d) == local_id]
        assert not [d for d in mine if isinstance(d, (Canceled, RestartStream))]
        got = [
            (e.kv.mod_revision, e.kv.key, e.type)
            for d in mine
            if isinstance(d, Events)
            for e in d.events
        ]
        want = [
            (e.kv.mod_revision, e.kv.key, e.type)
            for rev in range(spec.start_revision, top + 1)
            for e in history[rev]
            if spec.range_end == b"\0" or e.kv.key == spec.key
        ]
        assert got == want
        seen = 0
        for d in mine:
            if isinstance(d, Events):
                revs = [e.kv.mod_revision for e in d.events]
                assert revs and revs[0] > seen and d.revision == revs[-1]
                for rev in set(revs):  # whole revisions
                    assert revs.count(rev) == sum(
                        spec.range_end == b"\0" or e.kv.key == spec.key for e in history[rev]
                    )
                seen = revs[-1]
            elif isinstance(d, Progress):
                assert d.revision >= seen
                seen = d.revision
        assert isinstance(mine[0], Created)
        assert sum(isinstance(d, Created) for d in mine) == 1

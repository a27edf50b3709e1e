"""The mirror's copy (etcdwire._etcd.mirror): a reset replaces it in place, watch responses
apply their events in order, and the revision only moves forward."""

from __future__ import annotations

from types import MappingProxyType

from etcdwire import Event, EventType, KeyValue, ResponseHeader, WatchResponse
from etcdwire._etcd.mirror import MirrorState, MirrorUpdate


def kv(key: bytes, value: bytes, revision: int) -> KeyValue:
    return KeyValue(key=key, value=value, create_revision=revision, mod_revision=revision)


def response(revision: int, *events: Event, progress: bool = False) -> WatchResponse:
    return WatchResponse(
        header=ResponseHeader(revision=revision),
        events=events,
        revision=revision,
        progress_notify=progress,
    )


def test_reset_replaces_the_copy_in_place_so_a_view_stays_current() -> None:
    state = MirrorState()
    view = MappingProxyType(state.data)
    first = state.reset([kv(b"a", b"1", 2), kv(b"b", b"1", 3)], 3)
    assert first == MirrorUpdate(3, (), reset=True)
    assert dict(view) == {b"a": kv(b"a", b"1", 2), b"b": kv(b"b", b"1", 3)}
    state.reset([kv(b"c", b"1", 9)], 9)
    assert list(view) == [b"c"] and state.revision == 9


def test_events_apply_in_order_and_progress_only_moves_the_revision() -> None:
    state = MirrorState()
    state.reset([kv(b"a", b"1", 2)], 2)
    put_b = Event(EventType.PUT, kv(b"b", b"1", 3))
    put_a = Event(EventType.PUT, kv(b"a", b"2", 4))
    del_a = Event(EventType.DELETE, KeyValue(key=b"a", mod_revision=4))
    update = state.apply(response(4, put_b, put_a, del_a))
    assert update == MirrorUpdate(4, (put_b, put_a, del_a))
    assert state.data == {b"b": kv(b"b", b"1", 3)}
    assert state.apply(response(7, progress=True)) is None
    assert state.revision == 7
    # a response that reports an older revision (a lagging member's progress) never moves
    # the revision back
    assert state.apply(response(5, progress=True)) is None
    assert state.revision == 7
    # deleting a key the copy does not hold is not an error
    gone = Event(EventType.DELETE, KeyValue(key=b"zz", mod_revision=8))
    assert state.apply(response(8, gone)) == MirrorUpdate(8, (gone,))
    assert state.data == {b"b": kv(b"b", b"1", 3)}

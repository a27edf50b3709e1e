"""What a watch hands its consumer: ``WatchResponse`` and its lazily built ``EventSequence``."""

from __future__ import annotations

import pickle

import pytest

from etcdwire import Event, EventSequence, EventType, KeyValue, WatchResponse
from etcdwire._etcd import convert
from etcdwire._etcd.watch_demux import Events
from etcdwire._etcd.watching import response_from_delivery
from etcdwire._pb import kv_pb2, rpc_pb2
from etcdwire.errors import Internal


def wire_events(count: int, *, prev: bool = False) -> rpc_pb2.WatchResponse:
    response = rpc_pb2.WatchResponse(watch_id=1)
    response.header.revision = 100
    for i in range(count):
        message = response.events.add()
        message.type = kv_pb2.Event.DELETE if i % 3 == 2 else kv_pb2.Event.PUT
        message.kv.key = b"k%d" % i
        message.kv.value = b"v%d" % i
        message.kv.create_revision = 10 + i
        message.kv.mod_revision = 10 + i
        message.kv.version = 1
        message.kv.lease = 7
        if prev:
            message.prev_kv.key = b"k%d" % i
            message.prev_kv.value = b"old"
    return response


def expected(count: int, *, prev: bool = False) -> tuple[Event, ...]:
    return tuple(
        Event(
            EventType.DELETE if i % 3 == 2 else EventType.PUT,
            KeyValue(b"k%d" % i, b"v%d" % i, 10 + i, 10 + i, 1, 7),
            KeyValue(b"k%d" % i, b"old") if prev else None,
        )
        for i in range(count)
    )


def test_sequence_reads_as_the_events_of_the_message() -> None:
    events = EventSequence(wire_events(5).events)
    assert len(events) == 5
    assert list(events) == list(expected(5))
    assert events[0] == expected(5)[0]
    assert events[-1] == expected(5)[-1]
    assert events[1:3] == expected(5)[1:3]
    assert isinstance(events[1:3], tuple)
    with pytest.raises(IndexError):
        events[5]


def test_sequence_equals_tuples_lists_and_sequences_of_equal_events() -> None:
    events = EventSequence(wire_events(4).events)
    assert events == expected(4)
    assert events == list(expected(4))
    assert events == EventSequence(wire_events(4).events)
    assert events != expected(3)
    assert events != expected(4)[::-1]
    assert EventSequence(wire_events(0).events) == ()
    assert events != "not events"
    assert hash(events) == hash(expected(4))


def test_sequence_pickles_as_a_tuple_of_events() -> None:
    events = EventSequence(wire_events(3).events)
    copy = pickle.loads(pickle.dumps(events))
    assert copy == expected(3) and isinstance(copy, tuple)
    assert repr(events) == f"EventSequence({list(expected(3))!r})"


def test_without_prev_builds_what_the_general_conversion_builds() -> None:
    """The inline builder for watches without prev_kv is the general one minus the check."""
    messages = wire_events(6).events
    assert EventSequence(messages, convert.event_without_prev) == tuple(
        map(convert.event, messages)
    )
    with_prev = wire_events(6, prev=True).events
    assert EventSequence(with_prev, convert.event) == expected(6, prev=True)


def test_events_are_built_when_read_and_a_bad_one_fails_typed_when_reached() -> None:
    """Building happens as the consumer reads (a catch-up of many thousands is handed over
    at once); an event of an unknown type raises Internal when it is reached, not before."""
    response = wire_events(3)
    response.events[2].type = 7  # type: ignore[assignment]
    events = EventSequence(response.events, convert.event_without_prev)
    assert events[0] == expected(3)[0]
    seen = []
    with pytest.raises(Internal, match="unknown type 7"):
        for event in events:
            seen.append(event)
    assert seen == list(expected(2))


def test_response_from_delivery_picks_the_builder_by_the_watch_prev_kv() -> None:
    plain = wire_events(2)
    response = response_from_delivery(Events(1, plain.header, plain.events, 11, False))
    assert isinstance(response, WatchResponse)
    assert response.events == expected(2) and response.revision == 11
    assert list(response) == list(expected(2)) and len(response) == 2
    with_prev = wire_events(2, prev=True)
    response = response_from_delivery(Events(1, with_prev.header, with_prev.events, 11, True))
    assert response.events == expected(2, prev=True)

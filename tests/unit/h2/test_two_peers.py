"""Our client against an independent server implementation: the ``h2`` package, with bytes
moved between the two in memory (no sockets)."""

from __future__ import annotations

from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings

from etcdwire._h2.connection import H2Connection
from etcdwire._h2.events import (
    DataReceived,
    Event,
    GoAwayReceived,
    InformationalResponseReceived,
    PingAckReceived,
    PingReceived,
    RemoteSettingsChanged,
    ResponseReceived,
    SettingsAcknowledged,
    StreamEnded,
    StreamReset,
    TrailersReceived,
    WindowUpdated,
)
from etcdwire._h2.frames import ErrorCode, SettingCode
from etcdwire._h2.stream import StreamState

from .helpers import REQUEST, RESPONSE, TRAILERS


class Pair:
    """A client and an h2 server joined by an in-memory link."""

    def __init__(self, **client_kwargs: Any) -> None:
        self.client = H2Connection(**client_kwargs)
        self.server = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        self.client.initiate_connection()
        self.server.initiate_connection()
        self.client_events: list[Event] = []
        self.server_events: list[h2.events.Event] = []
        self.pump()

    def pump(self) -> None:
        for _ in range(1000):
            to_server = self.client.data_to_send()
            if to_server:
                self.server_events += self.server.receive_data(to_server)
            to_client = self.server.data_to_send()
            if to_client:
                self.client_events += self.client.receive_data(to_client)
            if not to_server and not to_client:
                return
        raise AssertionError("the peers never went quiet")

    def take_client(self) -> list[Event]:
        events, self.client_events = self.client_events, []
        return events

    def take_server(self) -> list[h2.events.Event]:
        events, self.server_events = self.server_events, []
        return events


def test_preface_exchange() -> None:
    pair = Pair()
    events = pair.take_client()
    assert isinstance(events[0], RemoteSettingsChanged)
    assert SettingsAcknowledged() in events
    assert pair.client.preface_received
    assert pair.client.remote_settings.max_concurrent_streams == 100
    server_events = pair.take_server()
    assert any(isinstance(e, h2.events.RemoteSettingsChanged) for e in server_events)
    assert any(isinstance(e, h2.events.SettingsAcknowledged) for e in server_events)
    assert pair.server.remote_settings.enable_push == 0
    assert pair.server.remote_settings.initial_window_size == 4 * 2**20


def test_unary_request_response_trailers() -> None:
    pair = Pair()
    pair.take_client()
    pair.take_server()
    stream_id = pair.client.open_stream([*REQUEST, (b"token", b"s3cret")])
    pair.client.send_data(stream_id, b"\x00\x00\x00\x00\x03abc", end_stream=True)
    pair.pump()
    request, data, ended = pair.take_server()
    assert isinstance(request, h2.events.RequestReceived)
    assert request.headers == [*REQUEST, (b"token", b"s3cret")]
    assert isinstance(data, h2.events.DataReceived)
    assert data.data == b"\x00\x00\x00\x00\x03abc"
    assert isinstance(ended, h2.events.StreamEnded)

    pair.server.send_headers(stream_id, RESPONSE)
    pair.server.send_data(stream_id, b"\x00\x00\x00\x00\x02ok")
    pair.server.send_headers(stream_id, TRAILERS, end_stream=True)
    pair.pump()
    assert pair.take_client() == [
        ResponseReceived(stream_id, RESPONSE, False),
        DataReceived(stream_id, b"\x00\x00\x00\x00\x02ok", 7, False),
        TrailersReceived(stream_id, TRAILERS),
    ]
    assert pair.client.stream_state(stream_id) is StreamState.CLOSED
    assert pair.client.open_outbound_streams == 0


def test_informational_response_and_trailers_only() -> None:
    pair = Pair()
    pair.take_client()
    one = pair.client.open_stream(REQUEST, end_stream=True)
    three = pair.client.open_stream(REQUEST, end_stream=True)
    pair.pump()
    pair.server.send_headers(one, [(b":status", b"100")])
    pair.server.send_headers(one, RESPONSE)
    pair.server.send_headers(one, TRAILERS, end_stream=True)
    error = [*RESPONSE, (b"grpc-status", b"5"), (b"grpc-message", b"not found")]
    pair.server.send_headers(three, error, end_stream=True)
    pair.pump()
    assert pair.take_client() == [
        InformationalResponseReceived(one, [(b":status", b"100")]),
        ResponseReceived(one, RESPONSE, False),
        TrailersReceived(one, TRAILERS),
        ResponseReceived(three, error, True),
    ]


def test_large_request_body_beyond_the_server_window() -> None:
    pair = Pair()
    stream_id = pair.client.open_stream(REQUEST)
    body = bytes(range(256)) * 4096  # 1 MiB against the server's 65,535-octet windows
    sent = 0
    received = bytearray()
    blocked = 0
    updates = 0
    while pair.client.stream_state(stream_id) is not StreamState.HALF_CLOSED_LOCAL:
        window = pair.client.local_flow_control_window(stream_id)
        if window > 0 and sent < len(body):
            chunk = body[sent : sent + window]
            sent += len(chunk)
            pair.client.send_data(stream_id, chunk, end_stream=sent == len(body))
        else:
            blocked += 1
        pair.pump()
        for event in pair.take_server():
            if isinstance(event, h2.events.DataReceived):
                received += event.data
                pair.server.acknowledge_received_data(event.flow_controlled_length, stream_id)
        pair.pump()
        updates += sum(isinstance(e, WindowUpdated) for e in pair.take_client())
    assert bytes(received) == body
    assert blocked == 0  # each turn's WINDOW_UPDATEs arrived before the next send
    assert updates > 2 * len(body) // 65_535


def test_large_response_beyond_our_stream_window() -> None:
    pair = Pair(initial_window_size=100_000)
    stream_id = pair.client.open_stream(REQUEST, end_stream=True)
    pair.pump()
    body = bytes(range(256)) * 8192  # 2 MiB through a 100,000-octet stream window
    pair.server.send_headers(stream_id, RESPONSE)
    pair.take_client()
    sent = 0
    received = bytearray()
    while sent < len(body):
        window = min(
            pair.server.local_flow_control_window(stream_id), pair.server.max_outbound_frame_size
        )
        assert window > 0, "the client stopped granting credit"
        chunk = body[sent : sent + window]
        sent += len(chunk)
        pair.server.send_data(stream_id, chunk, end_stream=sent == len(body))
        pair.pump()
        for event in pair.take_client():
            if isinstance(event, DataReceived):
                received += event.data
                pair.client.acknowledge_received_data(stream_id, event.flow_controlled_length)
        pair.pump()
    assert bytes(received) == body
    assert pair.client.stream_state(stream_id) is StreamState.CLOSED


def test_pings_both_ways() -> None:
    pair = Pair()
    pair.take_client()
    pair.take_server()
    pair.client.ping(b"client!!")
    pair.server.ping(b"server!!")
    pair.pump()
    assert PingAckReceived(b"client!!") in pair.client_events
    assert PingReceived(b"server!!") in pair.client_events
    server_events = pair.take_server()
    assert any(
        isinstance(e, h2.events.PingAckReceived) and e.ping_data == b"server!!"
        for e in server_events
    )


def test_server_reset_and_goaway() -> None:
    pair = Pair()
    one, three, five = (pair.client.open_stream(REQUEST, end_stream=True) for _ in range(3))
    pair.pump()
    pair.take_client()
    pair.server.reset_stream(one, ErrorCode.CANCEL)
    pair.server.close_connection(
        error_code=ErrorCode.NO_ERROR, last_stream_id=three, additional_data=b"bye"
    )
    pair.pump()
    assert pair.take_client() == [
        StreamReset(one, ErrorCode.CANCEL, remote=True),
        GoAwayReceived(three, ErrorCode.NO_ERROR, b"bye"),
        StreamReset(five, ErrorCode.REFUSED_STREAM, remote=False),
    ]
    assert not pair.client.can_open_stream
    assert pair.client.stream_state(three) is StreamState.HALF_CLOSED_LOCAL
    assert not pair.client.closed


def test_server_settings_changes() -> None:
    pair = Pair()
    stream_id = pair.client.open_stream(REQUEST)
    pair.pump()
    pair.take_client()
    pair.server.update_settings(
        {
            h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 1000,
            h2.settings.SettingCodes.HEADER_TABLE_SIZE: 0,
            h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 2,
        }
    )
    pair.pump()
    events = pair.take_client()
    assert events[0] == RemoteSettingsChanged(
        {
            SettingCode.INITIAL_WINDOW_SIZE: (65_535, 1000),
            SettingCode.HEADER_TABLE_SIZE: (4096, 0),
            SettingCode.MAX_CONCURRENT_STREAMS: (100, 2),
        }
    )
    assert events[1] == WindowUpdated(0, 0)
    assert any(isinstance(e, h2.events.SettingsAcknowledged) for e in pair.take_server())
    assert pair.client.local_flow_control_window(stream_id) == 1000
    # The server's HPACK decoder now holds our encoder to a zero-size table.
    other = pair.client.open_stream(REQUEST, end_stream=True)
    pair.pump()
    request = next(e for e in pair.take_server() if isinstance(e, h2.events.RequestReceived))
    assert request.stream_id == other
    assert not pair.client.can_open_stream


def test_many_concurrent_streams_interleaved() -> None:
    pair = Pair()
    ids = [pair.client.open_stream(REQUEST, end_stream=True) for _ in range(50)]
    pair.pump()
    pair.take_client()
    for stream_id in ids:
        pair.server.send_headers(stream_id, RESPONSE)
    for stream_id in reversed(ids):
        pair.server.send_data(stream_id, stream_id.to_bytes(4, "big"))
    for stream_id in ids[::2]:
        pair.server.send_headers(stream_id, TRAILERS, end_stream=True)
    for stream_id in ids[1::2]:
        pair.server.end_stream(stream_id)
    pair.pump()
    events = pair.take_client()
    data: dict[int, bytes] = {}
    for event in events:
        if isinstance(event, DataReceived):
            data[event.stream_id] = data.get(event.stream_id, b"") + event.data
    assert data == {sid: sid.to_bytes(4, "big") for sid in ids}
    finished = [e.stream_id for e in events if isinstance(e, (TrailersReceived, StreamEnded))]
    assert sorted(finished) == ids
    assert pair.client.open_outbound_streams == 0

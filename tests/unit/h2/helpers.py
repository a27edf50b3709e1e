"""Shared pieces for the HTTP/2 unit tests: a hand-driven server peer that crafts frames with its
own HPACK encoder, and assertions on what the client queued for the wire."""

from __future__ import annotations

from typing import NamedTuple

import hpack
import pytest

from etcdwire._h2 import frames as fr
from etcdwire._h2.connection import H2Connection
from etcdwire._h2.events import Event, StreamReset
from etcdwire._h2.frames import ErrorCode, FrameType
from etcdwire._h2.stream import StreamState
from etcdwire.errors import RemoteProtocolError

REQUEST = [
    (b":method", b"POST"),
    (b":scheme", b"http"),
    (b":path", b"/etcdserverpb.KV/Range"),
    (b":authority", b"127.0.0.1:2379"),
    (b"te", b"trailers"),
    (b"content-type", b"application/grpc"),
]
RESPONSE = [(b":status", b"200"), (b"content-type", b"application/grpc")]
TRAILERS = [(b"grpc-status", b"0"), (b"grpc-message", b"")]


class Sent(NamedTuple):
    type: int
    flags: int
    stream_id: int
    payload: bytes


def parse_frames(data: bytes) -> list[Sent]:
    if data.startswith(fr.CONNECTION_PREFACE):
        data = data[len(fr.CONNECTION_PREFACE) :]
    out = [Sent(t, f, s, data[a:b]) for t, f, s, a, b in fr.iter_frames(data)]
    consumed = sum(9 + len(frame.payload) for frame in out)
    assert consumed == len(data), "data_to_send() ended in a partial frame"
    return out


def sent_frames(conn: H2Connection) -> list[Sent]:
    """Parse (and flush) everything the client queued."""
    return parse_frames(conn.data_to_send())


def rst_frames(frames: list[Sent]) -> list[tuple[int, int]]:
    return [
        (f.stream_id, fr.decode_rst_stream(f.payload, 0, 4))
        for f in frames
        if f.type == FrameType.RST_STREAM
    ]


def window_updates(frames: list[Sent]) -> list[tuple[int, int]]:
    return [
        (f.stream_id, fr.decode_window_update(f.payload, 0, 4))
        for f in frames
        if f.type == FrameType.WINDOW_UPDATE
    ]


class Peer:
    """A server written by hand: it frames whatever the test wants, legal or not."""

    def __init__(self) -> None:
        self.encoder = hpack.Encoder()

    def block(self, fields: list[tuple[bytes, bytes]]) -> bytes:
        block: bytes = self.encoder.encode(fields)
        return block

    def headers(
        self,
        stream_id: int,
        fields: list[tuple[bytes, bytes]],
        *,
        end_stream: bool = False,
        max_frame_size: int = 16_384,
        pad_length: int | None = None,
        priority: tuple[int, int, bool] | None = None,
    ) -> bytes:
        return fr.encode_headers(
            stream_id,
            self.block(fields),
            end_stream=end_stream,
            max_frame_size=max_frame_size,
            pad_length=pad_length,
            priority=priority,
        )

    def response(self, stream_id: int, end_stream: bool = False) -> bytes:
        return self.headers(stream_id, RESPONSE, end_stream=end_stream)

    def trailers(self, stream_id: int) -> bytes:
        return self.headers(stream_id, TRAILERS, end_stream=True)

    @staticmethod
    def data(
        stream_id: int, payload: bytes, end_stream: bool = False, pad_length: int | None = None
    ) -> bytes:
        return fr.encode_data(stream_id, payload, end_stream=end_stream, pad_length=pad_length)

    @staticmethod
    def settings(pairs: list[tuple[int, int]] | None = None) -> bytes:
        return fr.encode_settings(pairs or [])


def connect(**kwargs: object) -> tuple[H2Connection, Peer]:
    """A client past the preface exchange, with its output flushed."""
    conn = H2Connection(**kwargs)  # type: ignore[arg-type]
    conn.initiate_connection()
    conn.data_to_send()
    peer = Peer()
    conn.receive_data(peer.settings() + fr.encode_settings_ack())
    conn.data_to_send()
    return conn, peer


def open_stream(conn: H2Connection, end_stream: bool = True) -> int:
    stream_id = conn.open_stream(REQUEST, end_stream=end_stream)
    conn.data_to_send()
    return stream_id


def expect_connection_error(conn: H2Connection, data: bytes, code: int) -> RemoteProtocolError:
    """``data`` must make the client fail the connection with ``code``: it raises, is closed,
    and its output ends with GOAWAY(code)."""
    with pytest.raises(RemoteProtocolError) as info:
        conn.receive_data(data)
    assert info.value.h2_error_code == code, info.value
    assert conn.closed
    frames = sent_frames(conn)
    assert frames, "no GOAWAY queued"
    last = frames[-1]
    assert last.type == FrameType.GOAWAY
    assert fr.decode_goaway(last.payload, 0, len(last.payload))[:2] == (0, code)
    assert conn.receive_data(b"anything") == []  # a closed connection reads nothing more
    return info.value


def expect_stream_error(conn: H2Connection, data: bytes, stream_id: int, code: int) -> list[Event]:
    """``data`` must reset ``stream_id`` with ``code`` and leave the connection usable."""
    events = conn.receive_data(data)
    assert StreamReset(stream_id, code, remote=False) in events, events
    frames = sent_frames(conn)
    assert (stream_id, code) in rst_frames(frames)
    assert not conn.closed
    assert conn.stream_state(stream_id) == StreamState.CLOSED
    return events


__all__ = [
    "REQUEST",
    "RESPONSE",
    "TRAILERS",
    "ErrorCode",
    "FrameType",
    "Peer",
    "Sent",
    "connect",
    "expect_connection_error",
    "expect_stream_error",
    "open_stream",
    "parse_frames",
    "rst_frames",
    "sent_frames",
    "window_updates",
]

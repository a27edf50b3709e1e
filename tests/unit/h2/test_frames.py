"""Frame encoders and decoders (RFC 9113 §4.1, §6): hypothesis round-trips for every frame type,
plus the size and padding checks, and agreement with an independent codec (hyperframe, which
the h2 test dependency brings)."""

from __future__ import annotations

import hyperframe.frame as hf
import pytest
from hypothesis import given
from hypothesis import strategies as st

from etcdwire._h2 import frames as fr
from etcdwire._h2.frames import ErrorCode, FrameType
from etcdwire.errors import LocalProtocolError, RemoteProtocolError

stream_ids = st.integers(min_value=0, max_value=2**31 - 1)
nonzero_stream_ids = st.integers(min_value=1, max_value=2**31 - 1)
u32 = st.integers(min_value=0, max_value=2**32 - 1)
pads = st.none() | st.integers(min_value=0, max_value=255)


def _only_frame(data: bytes) -> tuple[int, int, int, bytes]:
    frames = list(fr.iter_frames(data))
    assert len(frames) == 1
    frame_type, flags, stream_id, start, end = frames[0]
    assert end == len(data)
    return frame_type, flags, stream_id, data[start:end]


@given(
    length=st.integers(0, 2**24 - 1),
    frame_type=st.integers(0, 255),
    flags=st.integers(0, 255),
    stream_id=stream_ids,
)
def test_rfc9113_4_1_header_round_trip(
    length: int, frame_type: int, flags: int, stream_id: int
) -> None:
    header = fr.pack_header(length, frame_type, flags, stream_id)
    assert len(header) == fr.FRAME_HEADER_SIZE
    assert fr.parse_header(header) == (length, frame_type, flags, stream_id)
    assert fr.parse_header(b"xx" + header, 2) == (length, frame_type, flags, stream_id)


def test_rfc9113_4_1_reserved_bit_is_ignored_on_receipt_and_zero_on_send() -> None:
    header = bytearray(fr.pack_header(0, FrameType.PING, 0, 7))
    header[5] |= 0x80
    assert fr.parse_header(bytes(header))[3] == 7
    assert fr.pack_header(0, 0, 0, 2**31 + 5)[5] & 0x80 == 0


@given(stream_id=nonzero_stream_ids, data=st.binary(max_size=600), end=st.booleans(), pad=pads)
def test_rfc9113_6_1_data_round_trip(
    stream_id: int, data: bytes, end: bool, pad: int | None
) -> None:
    frame = fr.encode_data(stream_id, data, end_stream=end, pad_length=pad)
    frame_type, flags, sid, payload = _only_frame(frame)
    assert (frame_type, sid) == (FrameType.DATA, stream_id)
    assert bool(flags & fr.END_STREAM) == end
    assert fr.decode_data(flags, payload, 0, len(payload)) == (data, pad or 0)
    parsed, _ = hf.Frame.parse_frame_header(memoryview(frame[:9]))
    parsed.parse_body(memoryview(frame[9:]))
    assert isinstance(parsed, hf.DataFrame)
    assert parsed.data == data
    assert parsed.flow_controlled_length == len(payload)


@given(
    stream_id=nonzero_stream_ids,
    block=st.binary(max_size=40_000),
    end=st.booleans(),
    pad=pads,
    max_frame=st.sampled_from([16_384, 20_000, 65_536]),
    priority=st.none() | st.tuples(st.integers(0, 2**31 - 1), st.integers(1, 256), st.booleans()),
)
def test_rfc9113_6_2_6_10_headers_split_into_continuations(
    stream_id: int,
    block: bytes,
    end: bool,
    pad: int | None,
    max_frame: int,
    priority: tuple[int, int, bool] | None,
) -> None:
    data = fr.encode_headers(
        stream_id,
        block,
        end_stream=end,
        max_frame_size=max_frame,
        pad_length=pad,
        priority=priority,
    )
    frames = [(t, f, s, data[a:b]) for t, f, s, a, b in fr.iter_frames(data)]
    assert sum(9 + len(p) for *_, p in frames) == len(data)
    assert all(len(payload) <= max_frame for *_, payload in frames)
    first_type, first_flags, _, first_payload = frames[0]
    assert first_type == FrameType.HEADERS
    assert bool(first_flags & fr.END_STREAM) == end  # END_STREAM stays on HEADERS (§6.2)
    fragment, pad_length, prio = fr.decode_headers(
        first_flags, first_payload, 0, len(first_payload)
    )
    assert (pad_length, prio) == (pad or 0, priority)
    rest = b""
    for frame_type, flags, sid, payload in frames[1:]:
        assert (frame_type, sid) == (FrameType.CONTINUATION, stream_id)
        assert not flags & fr.END_STREAM
        rest += payload
    assert fragment + rest == block
    # END_HEADERS on the last frame only.
    assert [bool(f & fr.END_HEADERS) for _, f, _, _ in frames] == [False] * (len(frames) - 1) + [
        True
    ]


@given(pairs=st.lists(st.tuples(st.integers(0, 2**16 - 1), u32), max_size=20))
def test_rfc9113_6_5_settings_round_trip(pairs: list[tuple[int, int]]) -> None:
    frame = fr.encode_settings(pairs)
    frame_type, flags, sid, payload = _only_frame(frame)
    assert (frame_type, flags, sid) == (FrameType.SETTINGS, 0, 0)
    assert fr.decode_settings(payload, 0, len(payload)) == pairs
    assert _only_frame(fr.encode_settings_ack())[:3] == (FrameType.SETTINGS, fr.ACK, 0)


@given(data=st.binary(min_size=8, max_size=8), ack=st.booleans())
def test_rfc9113_6_7_ping_round_trip(data: bytes, ack: bool) -> None:
    frame_type, flags, sid, payload = _only_frame(fr.encode_ping(data, ack=ack))
    assert (frame_type, flags, sid) == (FrameType.PING, fr.ACK if ack else 0, 0)
    assert fr.decode_ping(payload, 0, len(payload)) == data


@given(stream_id=stream_ids, increment=st.integers(1, 2**31 - 1))
def test_rfc9113_6_9_window_update_round_trip(stream_id: int, increment: int) -> None:
    frame_type, _, sid, payload = _only_frame(fr.encode_window_update(stream_id, increment))
    assert (frame_type, sid) == (FrameType.WINDOW_UPDATE, stream_id)
    assert fr.decode_window_update(payload, 0, 4) == increment


@given(stream_id=nonzero_stream_ids, code=u32)
def test_rfc9113_6_4_rst_stream_round_trip(stream_id: int, code: int) -> None:
    frame_type, _, sid, payload = _only_frame(fr.encode_rst_stream(stream_id, code))
    assert (frame_type, sid) == (FrameType.RST_STREAM, stream_id)
    assert fr.decode_rst_stream(payload, 0, 4) == code


@given(last=st.integers(0, 2**31 - 1), code=u32, debug=st.binary(max_size=300))
def test_rfc9113_6_8_goaway_round_trip(last: int, code: int, debug: bytes) -> None:
    frame_type, _, sid, payload = _only_frame(fr.encode_goaway(last, code, debug))
    assert (frame_type, sid) == (FrameType.GOAWAY, 0)
    assert fr.decode_goaway(payload, 0, len(payload)) == (last, code, debug)


@given(
    stream_id=nonzero_stream_ids,
    depends_on=st.integers(0, 2**31 - 1),
    weight=st.integers(1, 256),
    exclusive=st.booleans(),
)
def test_rfc9113_6_3_priority_round_trip(
    stream_id: int, depends_on: int, weight: int, exclusive: bool
) -> None:
    frame = fr.encode_priority(stream_id, depends_on, weight, exclusive)
    frame_type, _, sid, payload = _only_frame(frame)
    assert (frame_type, sid) == (FrameType.PRIORITY, stream_id)
    assert fr.decode_priority(payload, 0, 5) == (depends_on, weight, exclusive)


def test_encoders_agree_with_hyperframe() -> None:
    cases: list[tuple[bytes, hf.Frame]] = [
        (
            fr.encode_settings([(1, 4096), (4, 65535)]),
            hf.SettingsFrame(0, settings={1: 4096, 4: 65535}),
        ),
        (
            fr.encode_ping(b"12345678", ack=True),
            hf.PingFrame(0, opaque_data=b"12345678", flags=["ACK"]),
        ),
        (fr.encode_window_update(3, 1000), hf.WindowUpdateFrame(3, window_increment=1000)),
        (fr.encode_rst_stream(5, 8), hf.RstStreamFrame(5, error_code=8)),
        (
            fr.encode_goaway(7, 2, b"bye"),
            hf.GoAwayFrame(0, last_stream_id=7, error_code=2, additional_data=b"bye"),
        ),
        (
            fr.encode_data(1, b"abc", end_stream=True, pad_length=2),
            hf.DataFrame(1, data=b"abc", flags=["END_STREAM", "PADDED"], pad_length=2),
        ),
    ]
    for ours, theirs in cases:
        assert ours == theirs.serialize()


def test_rfc9113_6_1_padding_errors() -> None:
    # Pad Length missing.
    with pytest.raises(RemoteProtocolError) as info:
        fr.decode_data(fr.PADDED, b"", 0, 0)
    assert info.value.h2_error_code == ErrorCode.FRAME_SIZE_ERROR
    # Padding as long as the payload: PROTOCOL_ERROR.
    with pytest.raises(RemoteProtocolError) as info:
        fr.decode_data(fr.PADDED, b"\x04abc", 0, 4)
    assert info.value.h2_error_code == ErrorCode.PROTOCOL_ERROR
    # Padding filling exactly what follows the Pad Length octet is fine.
    assert fr.decode_data(fr.PADDED, b"\x03\x00\x00\x00", 0, 4) == (b"", 3)


@pytest.mark.parametrize(
    ("decoder", "payload"),
    [
        (fr.decode_ping, b"1234567"),
        (fr.decode_window_update, b"\x00\x00\x01"),
        (fr.decode_rst_stream, b"\x00\x00\x00\x00\x00"),
        (fr.decode_goaway, b"\x00" * 7),
        (fr.decode_settings, b"\x00" * 7),
        (fr.decode_priority, b"\x00" * 4),
    ],
)
def test_fixed_size_frames_reject_other_lengths(decoder, payload: bytes) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RemoteProtocolError) as info:
        decoder(payload, 0, len(payload))
    assert info.value.h2_error_code == ErrorCode.FRAME_SIZE_ERROR


def test_headers_priority_fields_must_fit() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        fr.decode_headers(fr.PRIORITY_FLAG, b"\x00\x00", 0, 2)
    assert info.value.h2_error_code == ErrorCode.FRAME_SIZE_ERROR


def test_local_encoder_misuse() -> None:
    with pytest.raises(LocalProtocolError):
        fr.encode_ping(b"short")
    with pytest.raises(LocalProtocolError):
        fr.encode_window_update(0, 0)
    with pytest.raises(LocalProtocolError):
        fr.encode_window_update(0, 2**31)
    with pytest.raises(LocalProtocolError):
        fr.encode_data(1, b"", pad_length=256)
    with pytest.raises(LocalProtocolError):
        fr.encode_headers(1, b"x", max_frame_size=100, pad_length=200)


def test_flag_names() -> None:
    assert fr.flag_names(FrameType.HEADERS, 0x25) == ("END_STREAM", "END_HEADERS", "PRIORITY")
    assert fr.flag_names(FrameType.PING, 1) == ("ACK",)
    assert fr.flag_names(0xEE, 0xFF) == ()


def test_iter_frames_stops_at_a_partial_frame() -> None:
    data = fr.encode_ping(b"12345678") + fr.encode_ping(b"abcdefgh")[:-1]
    assert len(list(fr.iter_frames(data))) == 1

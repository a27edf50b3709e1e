"""Length-Prefixed-Message framing (grpc/grpc doc/PROTOCOL-HTTP2.md "Requests")."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etcdwire._grpc.framing import MessageReader, encode_message
from etcdwire.errors import Internal, ResourceExhausted, StatusCode, UsageError


def test_grpc_framing_prefix_is_flag_then_big_endian_length() -> None:
    assert encode_message(b"abc") == b"\x00\x00\x00\x00\x03abc"
    assert encode_message(b"", compressed=True) == b"\x01\x00\x00\x00\x00"
    assert encode_message(b"x" * 0x1_02_03) == b"\x00\x00\x01\x02\x03" + b"x" * 0x1_02_03


def test_grpc_framing_empty_message_is_a_whole_message() -> None:
    reader = MessageReader(100)
    assert reader.feed(encode_message(b"")) == [b""]
    assert reader.at_boundary


def test_grpc_framing_several_messages_in_one_data_frame() -> None:
    reader = MessageReader(100)
    data = b"".join(encode_message(m) for m in (b"a", b"", b"bcd"))
    assert reader.feed(data) == [b"a", b"", b"bcd"]
    assert reader.pending_bytes == 0
    assert reader.needed_bytes == 0


def test_grpc_framing_needed_bytes_counts_prefix_then_body() -> None:
    reader = MessageReader(1 << 20)
    data = encode_message(b"z" * 1000)
    assert reader.feed(data[:3]) == []
    assert reader.needed_bytes == 2  # the rest of the 5-byte prefix
    assert reader.pending_bytes == 3
    assert not reader.at_boundary
    assert reader.feed(data[3:105]) == []
    assert reader.needed_bytes == 900
    assert reader.pending_bytes == 105
    assert reader.feed(data[105:]) == [b"z" * 1000]
    assert reader.needed_bytes == 0
    assert reader.at_boundary


def test_grpc_framing_rejects_oversized_declared_length_before_the_body_arrives() -> None:
    """Report RESOURCE_EXHAUSTED as soon as the prefix declares too much (transport
    requirements §2.2: reject before buffering)."""
    reader = MessageReader(10)
    with pytest.raises(ResourceExhausted) as info:
        reader.feed(b"\x00\x00\x00\x00\x0b")  # 11 > 10, and no body byte yet
    assert info.value.code is StatusCode.RESOURCE_EXHAUSTED
    assert "11 vs. 10" in info.value.message
    # The reader stays poisoned.
    with pytest.raises(ResourceExhausted):
        reader.feed(b"x")


def test_grpc_framing_message_of_exactly_max_length_is_accepted() -> None:
    reader = MessageReader(10)
    assert reader.feed(encode_message(b"0123456789")) == [b"0123456789"]


def test_grpc_framing_compressed_flag_without_grpc_encoding_is_internal() -> None:
    """doc/compression.md: a compressed flag without grpc-encoding is INTERNAL."""
    reader = MessageReader(100)
    with pytest.raises(Internal, match="grpc-encoding is absent"):
        reader.feed(encode_message(b"abc", compressed=True))


def test_grpc_framing_compressed_with_unsupported_encoding_is_internal() -> None:
    reader = MessageReader(100, encoding="gzip")
    with pytest.raises(Internal, match="unsupported grpc-encoding 'gzip'"):
        reader.feed(encode_message(b"abc", compressed=True))


def test_grpc_framing_flag_other_than_0_or_1_is_internal() -> None:
    reader = MessageReader(100)
    with pytest.raises(Internal, match="invalid compressed flag 2"):
        reader.feed(b"\x02\x00\x00\x00\x00")


def test_grpc_framing_negative_max_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        MessageReader(-1)


def test_grpc_framing_long_stream_of_small_messages_keeps_buffer_small() -> None:
    """Consumed bytes are dropped as we go: the buffer never holds the whole history."""
    reader = MessageReader(100)
    one = encode_message(b"m" * 20)
    stream = one * 20_000
    step = 4093  # deliberately not aligned with the 25-byte messages
    count = 0
    for i in range(0, len(stream), step):
        count += len(reader.feed(stream[i : i + step]))
        assert len(reader._buffer) < 2 * 64 * 1024 + step
    assert count == 20_000
    assert reader.at_boundary


messages_strategy = st.lists(st.binary(max_size=300), max_size=12)


@settings(max_examples=200, deadline=None)
@given(messages=messages_strategy, data=st.data())
def test_grpc_framing_random_messages_split_at_random_data_boundaries(
    messages: list[bytes], data: st.DataObject
) -> None:
    """PROTOCOL-HTTP2.md "Data Frames": DATA boundaries have no relation to message
    boundaries. Any split must give back the same messages."""
    stream = b"".join(encode_message(m) for m in messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    reader = MessageReader(1000)
    out: list[bytes] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        out.extend(reader.feed(stream[start:cut]))
        start = cut
    assert out == messages
    assert reader.at_boundary
    assert reader.pending_bytes == 0


@settings(max_examples=50, deadline=None)
@given(messages=messages_strategy)
def test_grpc_framing_byte_at_a_time(messages: list[bytes]) -> None:
    stream = b"".join(encode_message(m) for m in messages)
    reader = MessageReader(1000)
    out: list[bytes] = []
    consumed = 0
    for i in range(len(stream)):
        got = reader.feed(stream[i : i + 1])
        out.extend(got)
        consumed += sum(5 + len(m) for m in got)
        assert reader.pending_bytes == i + 1 - consumed
        if got:
            assert reader.at_boundary
    assert out == messages


@settings(max_examples=100, deadline=None)
@given(prefix=st.lists(st.binary(max_size=50), max_size=4), size=st.integers(101, 1 << 31))
def test_grpc_framing_oversize_detected_on_the_last_prefix_byte(
    prefix: list[bytes], size: int
) -> None:
    """The declared length is checked the moment the 5-byte prefix is complete."""
    reader = MessageReader(100)
    assert reader.feed(b"".join(encode_message(m) for m in prefix)) == prefix
    header = b"\x00" + size.to_bytes(4, "big")
    for i in range(4):
        assert reader.feed(header[i : i + 1]) == []
    with pytest.raises(ResourceExhausted):
        reader.feed(header[4:])


def test_grpc_framing_consumed_bytes_are_compacted_away() -> None:
    reader = MessageReader(100)
    many = encode_message(b"m" * 20) * 3000  # 75,000 bytes of whole messages
    partial = encode_message(b"p" * 20)[:3]
    assert len(reader.feed(many + partial)) == 3000
    assert len(reader._buffer) == 3  # only the partial prefix is kept
    assert reader.feed(encode_message(b"p" * 20)[3:]) == [b"p" * 20]

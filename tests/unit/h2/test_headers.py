"""The HPACK decode cache (RFC 7541 §6.1: indexed fields never change the dynamic table) and the
field-validation helpers."""

from __future__ import annotations

from collections.abc import Iterable

import hpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from etcdwire._h2 import frames as fr
from etcdwire._h2.events import ResponseReceived, TrailersReceived
from etcdwire._h2.frames import ErrorCode, SettingCode
from etcdwire._h2.headers import (
    HeaderDecoder,
    HeaderEncoder,
    RequestHeaderTemplate,
    check_request_headers,
    header_list_size,
    inspect_response_headers,
)
from etcdwire._h2.settings import Settings, check_remote_setting
from etcdwire.errors import LocalProtocolError, RemoteProtocolError

from .helpers import RESPONSE, TRAILERS, connect, open_stream


class CountingDecoder(HeaderDecoder):
    """Counts how many blocks reach hpack."""

    def __init__(self) -> None:
        super().__init__(hard_limit=1 << 20)
        self.calls = 0
        real = self._decoder.decode

        def counting(block: bytes, raw: bool = False) -> Iterable[hpack.HeaderTuple]:
            self.calls += 1
            return real(block, raw=raw)

        self._decoder.decode = counting  # type: ignore[method-assign,assignment]


def test_indexed_only_blocks_are_decoded_once() -> None:
    encoder = hpack.Encoder()
    decoder = CountingDecoder()
    first = encoder.encode(RESPONSE)  # adds content-type to the dynamic table
    again = encoder.encode(RESPONSE)  # now fully indexed: b"\x88\xbe"
    assert again == b"\x88\xbe"
    assert decoder.decode(first)[0] == tuple(RESPONSE)
    assert decoder.decode(again)[0] == tuple(RESPONSE)
    assert decoder.decode(again)[0] == tuple(RESPONSE)
    assert decoder.decode(again)[1:] == (header_list_size(RESPONSE), 200, None)
    assert decoder.calls == 2


def test_the_cache_is_dropped_when_the_table_may_have_changed() -> None:
    encoder = hpack.Encoder()
    decoder = CountingDecoder()
    decoder.decode(encoder.encode([(b"x-a", b"1")]))
    indexed = encoder.encode([(b"x-a", b"1")])
    assert indexed == b"\xbe"
    assert decoder.decode(indexed)[0] == ((b"x-a", b"1"),)
    # A new entry shifts the dynamic indices: the same octets now mean another field.
    decoder.decode(encoder.encode([(b"x-b", b"2")]))
    assert encoder.encode([(b"x-b", b"2")]) == indexed
    assert decoder.decode(indexed)[0] == ((b"x-b", b"2"),)
    # A change of the allowed table size also drops it.
    decoder.decode(indexed)
    calls = decoder.calls
    decoder.max_allowed_table_size = 4096
    assert decoder.max_allowed_table_size == 4096
    decoder.decode(indexed)
    assert decoder.calls == calls + 1


def test_cache_is_bounded() -> None:
    decoder = CountingDecoder()
    blocks = [bytes((0x80 + i,)) for i in range(1, 62)] + [
        bytes((0x82, 0x80 + i)) for i in range(1, 40)
    ]
    for block in blocks:
        decoder.decode(block)
    assert len(decoder._cache) <= 64


def test_cached_blocks_on_a_connection_give_independent_lists() -> None:
    conn, peer = connect()
    one = open_stream(conn)
    three = open_stream(conn)
    events = conn.receive_data(peer.response(one) + peer.response(three))
    assert events == [
        ResponseReceived(one, RESPONSE, False),
        ResponseReceived(three, RESPONSE, False),
    ]
    events[0].headers.append((b"mutated", b"by the application"))  # type: ignore[attr-defined]
    five = open_stream(conn)
    assert conn.receive_data(peer.response(five)) == [ResponseReceived(five, RESPONSE, False)]
    assert conn.receive_data(peer.trailers(five)) == [TrailersReceived(five, TRAILERS)]


def test_hpack_errors_become_compression_errors() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        HeaderDecoder(hard_limit=100).decode(b"\x40\x85" + b"x" * 5 + b"\x7f\x7f" + b"y" * 200)
    assert info.value.h2_error_code == ErrorCode.COMPRESSION_ERROR


def test_inspect_response_headers() -> None:
    assert inspect_response_headers(RESPONSE) == (200, None)
    assert inspect_response_headers(TRAILERS) == (0, None)
    assert inspect_response_headers([(b":status", b"404"), (b"X", b"1")])[1] is not None


def test_check_request_headers_accepts_grpc_requests() -> None:
    check_request_headers(
        [
            (b":method", b"POST"),
            (b":scheme", b"https"),
            (b":path", b"/etcdserverpb.Watch/Watch"),
            (b":authority", b"example:2379"),
            (b"te", b"trailers"),
            (b"grpc-timeout", b"4999m"),
        ]
    )
    check_request_headers([(b"x-trailer", b"v")], trailers=True)
    with pytest.raises(LocalProtocolError):
        check_request_headers([(b":method", b"POST"), (b":unknown", b"x")])


def test_encoder_table_size_and_never_indexed_fields() -> None:
    encoder = HeaderEncoder()
    assert encoder.table_size == 4096
    first = encoder.encode([(b"grpc-timeout", b"5S"), (b"x-a", b"1")])
    second = encoder.encode([(b"grpc-timeout", b"5S"), (b"x-a", b"1")])
    # x-a is indexed the second time; grpc-timeout never churns the peer's table.
    assert len(second) < len(first)
    decoded = list(hpack.Decoder().decode(first, raw=True))
    assert isinstance(decoded[0], hpack.NeverIndexedHeaderTuple)
    encoder.table_size = 0
    assert encoder.encode([(b"x-a", b"1")])[:1] == b"\x20"


def test_settings_object() -> None:
    settings = Settings()
    assert settings.get(SettingCode.INITIAL_WINDOW_SIZE) == 65_535
    assert settings.set(SettingCode.MAX_CONCURRENT_STREAMS, 5) is None
    assert settings.as_dict()[SettingCode.MAX_CONCURRENT_STREAMS] == 5
    assert "MAX_CONCURRENT_STREAMS=5" in repr(settings)
    assert Settings.is_known(SettingCode.MAX_FRAME_SIZE)
    assert not Settings.is_known(SettingCode.ENABLE_CONNECT_PROTOCOL)
    assert check_remote_setting(0x99, 2**32 - 1) is None
    assert check_remote_setting(SettingCode.HEADER_TABLE_SIZE, 2**32 - 1) is None


def test_frames_helpers_used_by_the_connection() -> None:
    assert fr.decode_padding(0, b"abc", 0, 3) == (0, 3, 0)


_BEFORE = [(b":method", b"POST"), (b":scheme", b"http"), (b":path", b"/a.B/C")]
_AFTER = [(b"content-type", b"application/grpc")]


@given(
    name=st.sampled_from([b"grpc-timeout", b"accept-encoding", b"x-custom"]),
    value=st.one_of(
        st.just(b"gzip, deflate"),  # with accept-encoding, a whole field of the static table
        st.binary(min_size=0, max_size=300).map(
            lambda b: bytes(0x61 + c % 26 for c in b)  # letters: a valid field value
        ),
    ),
)
def test_rfc7541_template_block_is_what_the_encoder_makes_of_its_fields(
    name: bytes, value: bytes
) -> None:
    """RFC 7541 §5.1, §6.1, §6.2.2: the template's block (a static-table index for a whole
    known field, else a literal with a 7-bit length prefix, which values of 127 octets and
    more overflow) decodes to its fields and equals the connection encoder's block."""
    template = RequestHeaderTemplate(_BEFORE, name, _AFTER)
    headers = template.fill(value)
    assert list(headers) == [*_BEFORE, (name, value), *_AFTER]
    encoder = HeaderEncoder()
    encoder.encode([])  # the first block's table size update is not the template's concern
    assert headers.block == encoder.encode(list(headers))
    assert hpack.Decoder().decode(headers.block, raw=True) == list(headers)

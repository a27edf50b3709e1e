"""Request headers, custom metadata and grpc-timeout (grpc/grpc doc/PROTOCOL-HTTP2.md)."""

from __future__ import annotations

import base64
import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etcdwire._grpc.metadata import (
    SENSITIVE_HEADERS,
    USER_AGENT,
    _encode_timeout_exactly,
    build_request_headers,
    decode_binary,
    decode_timeout,
    encode_binary,
    encode_metadata,
    encode_timeout,
    validate_metadata_key,
)
from etcdwire.errors import UsageError

TIMEOUT_SYNTAX = re.compile(r"[0-9]{1,8}[HMSmun]")

# --- grpc-timeout ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "encoded"),
    [
        (0, "0n"),
        (-3.0, "0n"),
        (1e-9, "1n"),
        (1e-10, "1n"),  # rounds up: never a shorter deadline than ours
        (0.001, "1000000n"),
        (0.099999999, "99999999n"),
        (0.1, "100000u"),
        (1.0, "1000000u"),
        (1.1, "1100000u"),  # float noise must not leak into the value
        (99.999999, "99999999u"),
        (100.0, "100000m"),
        (5.0000001, "5000001u"),
        (99_999.999, "99999999m"),
        (100_000.0, "100000S"),
        (99_999_999.0, "99999999S"),
        (99_999_999.5, "1666667M"),
        (6_000_000_000.0, "1666667H"),  # 100,000,000 minutes is 9 digits
        (99_999_999 * 3600.0, "99999999H"),
        (1e20, "99999999H"),
        (math.inf, "99999999H"),
    ],
)
def test_grpc_timeout_encoding_finest_unit_that_fits(seconds: float, encoded: str) -> None:
    """TimeoutValue: positive integer of at most 8 digits; finest unit, rounded up (grpc-go
    encode_duration.go)."""
    assert encode_timeout(seconds) == encoded


def test_grpc_timeout_encoding_rejects_nan() -> None:
    with pytest.raises(UsageError):
        encode_timeout(math.nan)


@given(st.floats(min_value=1e-9, max_value=99_999_999 * 3600.0, allow_nan=False))
def test_grpc_timeout_eight_digit_rule_and_never_shorter(seconds: float) -> None:
    encoded = encode_timeout(seconds)
    assert TIMEOUT_SYNTAX.fullmatch(encoded), encoded
    decoded = decode_timeout(encoded)
    # Never shorter than asked (up to the nanosecond rounding), and not much longer: the
    # round-up costs less than one unit, and a coarser unit is only used once the finer one
    # overflowed 8 digits, so one unit is below 1e-5 of the value.
    assert decoded >= seconds - 1e-9
    assert decoded - seconds <= max(seconds * 1e-5, 1e-9)


@given(st.floats(min_value=0.1, max_value=99.0, exclude_min=True, exclude_max=True))
def test_grpc_timeout_fast_path_for_usual_timeouts_matches_the_exact_one(seconds: float) -> None:
    """Call timeouts of 0.1-99 s take a float shortcut; it encodes exactly what the integer
    arithmetic of the general path does."""
    assert encode_timeout(seconds) == _encode_timeout_exactly(seconds)


@pytest.mark.parametrize(
    ("encoded", "seconds"),
    [
        ("1H", 3600.0),
        ("2M", 120.0),
        ("3S", 3.0),
        ("4m", 0.004),
        ("5u", 0.000005),
        ("6n", 0.000000006),
        ("99999999S", 99_999_999.0),
        ("0n", 0.0),
    ],
)
def test_grpc_timeout_decoding(encoded: str, seconds: float) -> None:
    assert decode_timeout(encoded) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "encoded", ["", "S", "1", "123456789S", "1s", "1x", "-1S", "1.5S", " 1S", "\uff11S", "1SS"]
)
def test_grpc_timeout_decoding_rejects_malformed(encoded: str) -> None:
    with pytest.raises(UsageError):
        decode_timeout(encoded)


@given(st.integers(0, 99_999_999), st.sampled_from("HMSmun"))
def test_grpc_timeout_decode_encode_round_trip(value: int, unit: str) -> None:
    """Re-encoding a decoded timeout gives an equal duration (maybe in a finer unit)."""
    seconds = decode_timeout(f"{value}{unit}")
    again = decode_timeout(encode_timeout(seconds))
    assert again == pytest.approx(seconds, rel=1e-9, abs=1e-9)


# --- custom metadata ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["token", "hasleader", "client-api-version", "a.b_c-d", "x-bin", "0"]
)
def test_grpc_metadata_valid_keys(key: str) -> None:
    validate_metadata_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "Token",  # uppercase
        "a b",
        "a/b",
        "\u00e9",
        ":path",  # pseudo-header
        "grpc-timeout",  # reserved for gRPC
        "grpc-custom",
        "content-type",
        "user-agent",
        "te",
        "connection",
        "transfer-encoding",
    ],
)
def test_grpc_metadata_invalid_keys_are_usage_errors(key: str) -> None:
    """Header-Name = 1*( %x30-39 / %x61-7A / "_" / "-" / "." ); grpc-* is reserved."""
    with pytest.raises(UsageError):
        validate_metadata_key(key)
    with pytest.raises(UsageError):
        encode_metadata([(key, "v")])


@pytest.mark.parametrize("value", ["", "v", "a b", "~!@#$%^&*()", "x" * 1000])
def test_grpc_metadata_valid_ascii_values(value: str) -> None:
    assert encode_metadata([("k", value)]) == [(b"k", value.encode())]


@pytest.mark.parametrize("value", [" lead", "trail ", "tab\t", "nl\n", "\x7f", "caf\u00e9", "\x00"])
def test_grpc_metadata_invalid_ascii_values(value: str) -> None:
    """ASCII-Value = 1*( %x20-%x7E ), without leading or trailing whitespace."""
    with pytest.raises(UsageError):
        encode_metadata([("k", value)])


def test_grpc_metadata_bin_values_are_bytes_sent_unpadded() -> None:
    """Binary headers: base64, emitted un-padded."""
    assert encode_metadata([("trace-bin", b"\x00\x01")]) == [(b"trace-bin", b"AAE")]
    assert encode_metadata([("trace-bin", b"")]) == [(b"trace-bin", b"")]
    assert encode_binary(b"\xff\xfe\xfd") == b"//79"


def test_grpc_metadata_bin_key_needs_bytes_and_ascii_key_needs_str() -> None:
    with pytest.raises(UsageError):
        encode_metadata([("trace-bin", "text")])
    with pytest.raises(UsageError):
        encode_metadata([("trace", b"bytes")])


def test_grpc_metadata_order_and_duplicates_kept() -> None:
    fields = encode_metadata([("b", "1"), ("a", "2"), ("b", "3")])
    assert fields == [(b"b", b"1"), (b"a", b"2"), (b"b", b"3")]


@given(st.binary(max_size=64))
def test_grpc_metadata_bin_round_trip(value: bytes) -> None:
    (encoded,) = [v for _, v in encode_metadata([("x-bin", value)])]
    assert b"=" not in encoded
    assert decode_binary(encoded) == [value]
    assert decode_binary(base64.b64encode(value)) == [value]  # padded accepted too


def test_grpc_metadata_bin_decoding_splits_joined_values() -> None:
    """ "Implementations must split Binary-Headers on ',' before decoding"."""
    assert decode_binary(b"AAE,//79") == [b"\x00\x01", b"\xff\xfe\xfd"]
    assert decode_binary("AAE=, AQ==") == [b"\x00\x01", b"\x01"]


@pytest.mark.parametrize("value", [b"A", b"@@@@", b"AA=A"])
def test_grpc_metadata_bin_decoding_rejects_garbage(value: bytes) -> None:
    with pytest.raises(UsageError):
        decode_binary(value)


# --- request headers ---------------------------------------------------------------------------


def test_grpc_request_headers_order() -> None:
    """PROTOCOL-HTTP2.md: pseudo-headers first, Timeout right after, Call-Definition headers
    before Custom-Metadata."""
    headers = build_request_headers(
        "/etcdserverpb.KV/Range",
        authority="127.0.0.1:2379",
        scheme="http",
        timeout=1.5,
        metadata=[("token", "abc"), ("hasleader", "true")],
    )
    assert headers == [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", b"/etcdserverpb.KV/Range"),
        (b":authority", b"127.0.0.1:2379"),
        (b"te", b"trailers"),
        (b"grpc-timeout", b"1500000u"),
        (b"content-type", b"application/grpc"),
        (b"user-agent", USER_AGENT.encode()),
        (b"token", b"abc"),
        (b"hasleader", b"true"),
    ]


def test_grpc_request_headers_without_deadline_omit_timeout() -> None:
    headers = build_request_headers("/s/m", authority="h", scheme="https")
    names = [name for name, _ in headers]
    assert b"grpc-timeout" not in names
    assert b"grpc-accept-encoding" not in names  # identity only: implied
    assert dict(headers)[b":scheme"] == b"https"


def test_grpc_request_headers_user_agent_form() -> None:
    """User-Agent = "grpc-" Language ?("-" Variant) "/" Version."""
    assert re.fullmatch(r"grpc-python-etcdwire/\S+", USER_AGENT)
    headers = build_request_headers("/s/m", authority="h", scheme="http", user_agent="grpc-x/1")
    assert (b"user-agent", b"grpc-x/1") in headers


@pytest.mark.parametrize(
    "kwargs",
    [
        {"path": "s/m"},
        {"path": "/s/caf\u00e9"},
        {"scheme": "ftp"},
        {"authority": ""},
        {"authority": "h\u00f6st"},
        {"user_agent": "bad\n"},
        {"metadata": [("Bad", "v")]},
    ],
)
def test_grpc_request_headers_bad_input_is_usage_error(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"path": "/s/m", "authority": "h", "scheme": "http"}
    args.update(kwargs)
    with pytest.raises(UsageError):
        build_request_headers(**args)  # type: ignore[arg-type]


def test_grpc_sensitive_headers_are_the_credentials() -> None:
    """RFC 7541 §7.1.3: credentials go out as never-indexed literals."""
    assert frozenset({b"authorization", b"token"}) == SENSITIVE_HEADERS

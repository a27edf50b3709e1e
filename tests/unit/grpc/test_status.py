"""Status mapping: trailers, Trailers-Only, HTTP status, RST_STREAM, grpc-message encoding.

Sources: grpc/grpc doc/PROTOCOL-HTTP2.md, doc/http-grpc-status-mapping.md, doc/statuscodes.md.
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etcdwire._grpc.status import (
    H2ErrorCode,
    Status,
    http_status_to_code,
    is_grpc_content_type,
    percent_decode,
    percent_encode,
    response_metadata,
    status_from_http,
    status_from_reset,
    status_from_trailers,
)
from etcdwire.errors import (
    CallCancelled,
    Compacted,
    DeadlineExceeded,
    NotFound,
    StatusCode,
    Unavailable,
)

# --- doc/http-grpc-status-mapping.md, every row --------------------------------------------

HTTP_ROWS = [
    (400, StatusCode.INTERNAL),
    (401, StatusCode.UNAUTHENTICATED),
    (403, StatusCode.PERMISSION_DENIED),
    (404, StatusCode.UNIMPLEMENTED),
    (429, StatusCode.UNAVAILABLE),
    (431, StatusCode.INTERNAL),
    (502, StatusCode.UNAVAILABLE),
    (503, StatusCode.UNAVAILABLE),
    (504, StatusCode.UNAVAILABLE),
    # "All other codes", and 200 "because there should be a grpc-status".
    (200, StatusCode.UNKNOWN),
    (201, StatusCode.UNKNOWN),
    (302, StatusCode.UNKNOWN),
    (405, StatusCode.UNKNOWN),
    (415, StatusCode.UNKNOWN),
    (500, StatusCode.UNKNOWN),
    (501, StatusCode.UNKNOWN),
    (599, StatusCode.UNKNOWN),
]


@pytest.mark.parametrize(("http_status", "code"), HTTP_ROWS)
def test_grpc_status_mapping_http_table(http_status: int, code: StatusCode) -> None:
    assert http_status_to_code(http_status) is code
    status = status_from_http(http_status, "text/html")
    assert status.code is code
    assert "text/html" in status.message


def test_grpc_status_mapping_http_503_unavailable() -> None:
    status = status_from_http(503, "text/html", b"<html>Service Unavailable</html>\n")
    assert status.code is StatusCode.UNAVAILABLE
    assert "503 (Service Unavailable)" in status.message
    assert status.message.endswith("body: <html>Service Unavailable</html>")


def test_grpc_status_mapping_http_404_unimplemented() -> None:
    status = status_from_http(404, "text/plain")
    assert status.code is StatusCode.UNIMPLEMENTED
    assert "404 (Not Found)" in status.message


def test_grpc_status_mapping_http_missing_content_type() -> None:
    status = status_from_http(200, None)
    assert status.code is StatusCode.UNKNOWN
    assert "missing HTTP content-type" in status.message


def test_grpc_status_mapping_http_missing_status_is_internal() -> None:
    assert status_from_http(None, "application/grpc").code is StatusCode.INTERNAL


def test_grpc_status_mapping_unregistered_http_code_keeps_number() -> None:
    status = status_from_http(599, "text/plain")
    assert "599" in status.message


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/grpc", True),
        ("application/grpc+proto", True),
        ("application/grpc;charset=utf-8", True),
        ("Application/GRPC", True),
        ("application/grpc-web", False),
        ("application/grpcx", False),
        ("text/html", False),
        ("", False),
        (None, False),
    ],
)
def test_grpc_content_type_must_begin_with_application_grpc(
    content_type: str | None, expected: bool
) -> None:
    assert is_grpc_content_type(content_type) is expected


# --- trailers ---------------------------------------------------------------------------------


def test_grpc_trailers_status_and_percent_decoded_message() -> None:
    status = status_from_trailers(
        [
            (b"grpc-status", b"5"),
            (b"grpc-message", b"key %22a%22 not found %E2%9C%93"),
            (b"x-trace", b"abc"),
        ]
    )
    assert status == Status(
        StatusCode.NOT_FOUND, 'key "a" not found \u2713', None, [("x-trace", "abc")]
    )


def test_grpc_trailers_ok_status() -> None:
    status = status_from_trailers([(b"grpc-status", b"0")])
    assert status.ok
    assert status.message == ""


def test_grpc_trailers_reserved_fields_are_not_metadata() -> None:
    headers = [
        (b":status", b"200"),
        (b"content-type", b"application/grpc"),
        (b"grpc-status", b"0"),
        (b"grpc-message", b""),
        (b"grpc-status-details-bin", b"AAE"),
        (b"grpc-encoding", b"identity"),
        (b"grpc-accept-encoding", b"identity"),
        (b"grpc-retry-pushback-ms", b"10"),
        (b"hasleader", b"true"),
        (b"trace-bin", b"AAEC"),
    ]
    assert response_metadata(headers) == [
        ("grpc-retry-pushback-ms", "10"),
        ("hasleader", "true"),
        ("trace-bin", "AAEC"),
    ]


@pytest.mark.parametrize("value", [b"abc", b"", b"-1", b"1.0", b" 5", b"\xff", b"12345678901"])
def test_grpc_trailers_malformed_grpc_status_is_unknown(value: bytes) -> None:
    """http-grpc-status-mapping / grpc-go: a non-integer grpc-status is UNKNOWN."""
    status = status_from_trailers([(b"grpc-status", value), (b"grpc-message", b"boom")])
    assert status.code is StatusCode.UNKNOWN
    assert status.message.startswith("malformed grpc-status")
    assert status.message.endswith(": boom")


def test_grpc_trailers_out_of_range_code_is_unknown() -> None:
    assert status_from_trailers([(b"grpc-status", b"17")]).code is StatusCode.UNKNOWN
    assert status_from_trailers([(b"grpc-status", b"999")]).code is StatusCode.UNKNOWN


def test_grpc_trailers_missing_grpc_status_is_unknown() -> None:
    status = status_from_trailers([(b"x", b"y")])
    assert status.code is StatusCode.UNKNOWN
    assert "missing grpc-status" in status.message
    assert status.trailers == [("x", "y")]


def test_grpc_trailers_only_missing_grpc_status_maps_http_status() -> None:
    """Trailers-Only without grpc-status: synthesize from :status (mapping doc)."""
    status = status_from_trailers([(b":status", b"503"), (b"content-type", b"text/plain")])
    assert status.code is StatusCode.UNAVAILABLE
    assert "503" in status.message


def test_grpc_trailers_only_grpc_status_wins_over_http_status() -> None:
    """ "If grpc-status was provided, it must be used"."""
    status = status_from_trailers(
        [(b":status", b"503"), (b"content-type", b"text/plain"), (b"grpc-status", b"9")]
    )
    assert status.code is StatusCode.FAILED_PRECONDITION


def test_grpc_trailers_missing_status_after_non_200_headers_maps_that_status() -> None:
    status = status_from_trailers([], http_status=429)
    assert status.code is StatusCode.UNAVAILABLE


@pytest.mark.parametrize("padded", [True, False])
def test_grpc_status_details_bin_padded_or_not_kept_raw(padded: bool) -> None:
    raw = b"\x08\x05\x12\x03abc"  # a google.rpc.Status: code 5, message "abc"
    encoded = base64.b64encode(raw)
    if not padded:
        encoded = encoded.rstrip(b"=")
    status = status_from_trailers([(b"grpc-status", b"5"), (b"grpc-status-details-bin", encoded)])
    assert status.details == raw


def test_grpc_status_details_bin_invalid_base64_is_dropped() -> None:
    status = status_from_trailers([(b"grpc-status", b"5"), (b"grpc-status-details-bin", b"%%%")])
    assert status.code is StatusCode.NOT_FOUND
    assert status.details is None


# --- RST_STREAM (PROTOCOL-HTTP2.md "Errors"), every row ----------------------------------------

RESET_ROWS = [
    (H2ErrorCode.NO_ERROR, StatusCode.INTERNAL),
    (H2ErrorCode.PROTOCOL_ERROR, StatusCode.INTERNAL),
    (H2ErrorCode.INTERNAL_ERROR, StatusCode.INTERNAL),
    (H2ErrorCode.FLOW_CONTROL_ERROR, StatusCode.INTERNAL),
    (H2ErrorCode.SETTINGS_TIMEOUT, StatusCode.INTERNAL),
    (H2ErrorCode.STREAM_CLOSED, StatusCode.INTERNAL),
    (H2ErrorCode.FRAME_SIZE_ERROR, StatusCode.INTERNAL),
    (H2ErrorCode.REFUSED_STREAM, StatusCode.UNAVAILABLE),
    (H2ErrorCode.CANCEL, StatusCode.CANCELLED),
    (H2ErrorCode.COMPRESSION_ERROR, StatusCode.INTERNAL),
    (H2ErrorCode.CONNECT_ERROR, StatusCode.INTERNAL),
    (H2ErrorCode.ENHANCE_YOUR_CALM, StatusCode.RESOURCE_EXHAUSTED),
    (H2ErrorCode.INADEQUATE_SECURITY, StatusCode.PERMISSION_DENIED),
    (H2ErrorCode.HTTP_1_1_REQUIRED, StatusCode.INTERNAL),
    (0x42, StatusCode.INTERNAL),  # unknown codes trigger nothing special (RFC 9113 §7)
]


@pytest.mark.parametrize(("error_code", "code"), RESET_ROWS)
def test_grpc_http2_rst_stream_mapping(error_code: int, code: StatusCode) -> None:
    status = status_from_reset(error_code, deadline_passed=False)
    assert status.code is code
    assert status.not_processed is (error_code == H2ErrorCode.REFUSED_STREAM)


def test_grpc_http2_refused_stream_is_unavailable_not_processed() -> None:
    status = status_from_reset(H2ErrorCode.REFUSED_STREAM, deadline_passed=False)
    assert status.code is StatusCode.UNAVAILABLE
    assert status.not_processed
    exc = status.to_exception("10.0.0.1:2379")
    assert isinstance(exc, Unavailable)
    assert exc.endpoint == "10.0.0.1:2379"


def test_grpc_http2_cancel_after_our_deadline_is_deadline_exceeded() -> None:
    """PROTOCOL-HTTP2.md "Client Cancellation": a CANCELLED failure after the deadline is
    reported as DEADLINE_EXCEEDED."""
    status = status_from_reset(H2ErrorCode.CANCEL, deadline_passed=True)
    assert status.code is StatusCode.DEADLINE_EXCEEDED
    # Other codes keep their mapping even after the deadline.
    assert status_from_reset(H2ErrorCode.PROTOCOL_ERROR, deadline_passed=True).code is (
        StatusCode.INTERNAL
    )


def test_grpc_http2_reset_message_names_the_code_and_who_reset() -> None:
    remote = status_from_reset(H2ErrorCode.PROTOCOL_ERROR, deadline_passed=False)
    local = status_from_reset(H2ErrorCode.PROTOCOL_ERROR, deadline_passed=False, remote=False)
    assert "PROTOCOL_ERROR (0x1)" in remote.message
    assert "by the server" in remote.message
    assert "HTTP/2 layer" in local.message
    assert "0x42" in status_from_reset(0x42, deadline_passed=False).message


# --- exceptions ----------------------------------------------------------------------------------


def test_grpc_status_to_exception_uses_the_error_table() -> None:
    compacted = Status(
        StatusCode.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted"
    )
    assert isinstance(compacted.to_exception(), Compacted)
    exc = Status(StatusCode.NOT_FOUND, "nope", b"raw", [("k", "v")]).to_exception("e1")
    assert isinstance(exc, NotFound)
    assert exc.details == b"raw"
    assert exc.trailers == [("k", "v")]
    assert exc.endpoint == "e1"
    assert isinstance(Status(StatusCode.CANCELLED).to_exception(), CallCancelled)
    assert isinstance(Status(StatusCode.DEADLINE_EXCEEDED).to_exception(), DeadlineExceeded)


def test_grpc_status_ok_has_no_exception() -> None:
    with pytest.raises(ValueError, match="OK"):
        Status(StatusCode.OK).to_exception()


# --- grpc-message percent-encoding (PROTOCOL-HTTP2.md "Responses") ---------------------------


def test_grpc_message_percent_encoding_unencoded_range() -> None:
    """Percent-Byte-Unencoded = %x20-24 / %x26-7E: everything printable but % passes."""
    printable = "".join(chr(c) for c in range(0x20, 0x7F) if c != 0x25)
    assert percent_encode(printable) == printable
    assert percent_encode("100%") == "100%25"
    assert percent_encode("a\nb\tc") == "a%0Ab%09c"
    assert percent_encode("caf\u00e9") == "caf%C3%A9"  # UTF-8, uppercase hex
    assert percent_encode("\U0001f600") == "%F0%9F%98%80"


@given(st.text())
def test_grpc_message_percent_round_trip(text: str) -> None:
    encoded = percent_encode(text)
    assert all(0x20 <= ord(c) <= 0x7E for c in encoded)
    expected = text.encode("utf-8", "replace").decode("utf-8")
    assert percent_decode(encoded) == expected
    assert percent_decode(encoded.encode("ascii")) == expected


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        (b"%", "%"),
        (b"%4", "%4"),
        (b"50%", "50%"),
        (b"%zz ok", "%zz ok"),
        (b"%%41", "%A"),
        (b"%4g%41", "%4gA"),
        (b"%61", "a"),
        (b"%C3%A9", "\u00e9"),
        (b"%c3%a9", "\u00e9"),  # lowercase hex accepted on receipt
        (b"%C3", "\ufffd"),  # truncated UTF-8 becomes U+FFFD, never an error
        (b"%FF%FE", "\ufffd\ufffd"),
        (b"raw \xc3\xa9", "raw \u00e9"),  # unencoded UTF-8 from a lax server
        (b"raw \xff", "raw \ufffd"),
    ],
)
def test_grpc_message_percent_decode_never_fails(raw: bytes, decoded: str) -> None:
    """ "When decoding invalid values, implementations MUST NOT error or throw away the
    message": broken escapes are kept as they are."""
    assert percent_decode(raw) == decoded


@given(st.binary())
def test_grpc_message_percent_decode_total_on_any_bytes(raw: bytes) -> None:
    assert isinstance(percent_decode(raw), str)


def test_grpc_trailers_only_ok_http_and_content_type_but_no_grpc_status_is_unknown() -> None:
    status = status_from_trailers([(b":status", b"200"), (b"content-type", b"application/grpc")])
    assert status.code is StatusCode.UNKNOWN
    assert status.message == "missing grpc-status"


def test_grpc_trailers_only_malformed_http_status_is_internal() -> None:
    status = status_from_trailers([(b":status", b"2x0"), (b"content-type", b"application/grpc")])
    assert status.code is StatusCode.INTERNAL
    assert "missing HTTP status" in status.message

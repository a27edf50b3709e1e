"""CallState driven by crafted HTTP/2 event sequences.

Sources: grpc/grpc doc/PROTOCOL-HTTP2.md ("Responses", "Errors", "Client Cancellation",
"Early Server Closure"), doc/http-grpc-status-mapping.md, doc/statuscodes.md, RFC 9113 §8.1.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import pytest
from google.protobuf.wrappers_pb2 import Int64Value, StringValue

from etcdwire._grpc.call import ERROR_BODY_LIMIT, CallPhase, CallState
from etcdwire._grpc.framing import encode_message
from etcdwire._grpc.method import Cardinality, Method
from etcdwire._grpc.status import H2ErrorCode, Status
from etcdwire._h2.events import (
    DataReceived,
    Event,
    InformationalResponseReceived,
    ResponseReceived,
    StreamEnded,
    StreamReset,
    TrailersReceived,
    WindowUpdated,
)
from etcdwire.errors import (
    CallCancelled,
    DeadlineExceeded,
    ResourceExhausted,
    StatusCode,
    UsageError,
)

UNARY = Method("/test.Echo/Unary", StringValue, StringValue, Cardinality.UNARY_UNARY)
SERVER_STREAM = Method("/test.Echo/Watch", StringValue, StringValue, Cardinality.UNARY_STREAM)
CLIENT_STREAM = Method("/test.Echo/Upload", StringValue, StringValue, Cardinality.STREAM_UNARY)
BIDI = Method("/test.Echo/Chat", StringValue, StringValue, Cardinality.STREAM_STREAM)
SID = 1


def grpc_headers(*extra: tuple[bytes, bytes]) -> ResponseReceived:
    return ResponseReceived(
        SID, [(b":status", b"200"), (b"content-type", b"application/grpc"), *extra], False
    )


def trailers(code: int = 0, message: bytes | None = None, *extra: tuple[bytes, bytes]) -> Event:
    fields = [(b"grpc-status", str(code).encode())]
    if message is not None:
        fields.append((b"grpc-message", message))
    return TrailersReceived(SID, [*fields, *extra])


def payload(text: str) -> bytes:
    return StringValue(value=text).SerializeToString()


def data(*texts: str, end_stream: bool = False) -> DataReceived:
    raw = b"".join(encode_message(payload(t)) for t in texts)
    return DataReceived(SID, raw, len(raw), end_stream)


def raw_data(raw: bytes, end_stream: bool = False) -> DataReceived:
    return DataReceived(SID, raw, len(raw), end_stream)


def start(
    method: Method[StringValue, StringValue] = UNARY,
    *,
    deadline: float | None = None,
    end_request: bool = True,
    **kwargs: int,
) -> CallState:
    call = CallState(method, deadline=deadline, **kwargs)
    call.request_headers(0.0, authority="127.0.0.1:2379", scheme="http")
    call.encode_request(StringValue(value="req"))
    if end_request:
        call.end_request()
    return call


def feed(call: CallState, events: Sequence[Event], now: float = 0.0) -> list[bytes]:
    out: list[bytes] = []
    for event in events:
        out.extend(call.handle_event(event, now=now))
    return out


def phase_of(call: CallState) -> CallPhase:
    # A call, so that mypy does not narrow the property across events.
    return call.state


def final(call: CallState) -> Status:
    assert call.done
    assert phase_of(call) is CallPhase.DONE
    assert call.status is not None
    return call.status


# --- normal calls --------------------------------------------------------------------------


def test_grpc_unary_call_headers_message_trailers() -> None:
    """Response = Response-Headers *Length-Prefixed-Message Trailers."""
    call = start()
    assert phase_of(call) is CallPhase.WAITING_HEADERS
    assert feed(call, [grpc_headers((b"x-meta", b"1"))]) == []
    assert phase_of(call) is CallPhase.RECEIVING
    assert call.initial_metadata == [("x-meta", "1")]
    assert feed(call, [data("hello")]) == [payload("hello")]
    assert not call.done
    assert feed(call, [trailers(0, None, (b"x-trailer", b"2"))]) == []
    status = final(call)
    assert status.ok
    assert status.trailers == [("x-trailer", "2")]
    assert call.trailing_metadata == [("x-trailer", "2")]
    assert call.take_reset() is None  # both sides closed cleanly
    assert call.messages_received == 1


def test_grpc_unary_message_split_across_data_frames_reports_needed_bytes() -> None:
    """PROTOCOL-HTTP2.md "Data Frames": DATA boundaries have no relation to messages;
    needed_bytes lets the I/O layer open the window for a large message."""
    call = start(max_receive_message_length=1 << 20)
    feed(call, [grpc_headers()])
    raw = encode_message(payload("x" * 100_000))
    assert feed(call, [raw_data(raw[:16384])]) == []
    assert call.needed_bytes == len(raw) - 16384
    assert feed(call, [raw_data(raw[16384:])]) == [payload("x" * 100_000)]
    assert call.needed_bytes == 0
    feed(call, [trailers()])
    assert final(call).ok


def test_grpc_server_stream_of_n_messages() -> None:
    call = start(SERVER_STREAM)
    feed(call, [grpc_headers()])
    texts = [f"event-{i}" for i in range(50)]
    stream = b"".join(encode_message(payload(t)) for t in texts)
    got: list[bytes] = []
    for i in range(0, len(stream), 7):
        got += call.handle_event(raw_data(stream[i : i + 7]), now=0.0)
    assert got == [payload(t) for t in texts]
    feed(call, [trailers()])
    assert final(call).ok
    assert call.messages_received == 50


def test_grpc_server_stream_of_zero_messages_is_ok() -> None:
    call = start(SERVER_STREAM)
    feed(call, [grpc_headers(), trailers()])
    assert final(call).ok


def test_grpc_http2_data_end_stream_then_stream_ended_is_handled_once() -> None:
    """An END_STREAM may be reported on the DATA and again as StreamEnded."""
    call = start(SERVER_STREAM)
    feed(call, [grpc_headers(), data("a", end_stream=True)])
    status = final(call)
    assert status.code is StatusCode.INTERNAL
    assert "without sending trailers" in status.message
    feed(call, [StreamEnded(SID)])
    assert call.status is status


def test_grpc_events_not_about_calls_are_ignored() -> None:
    call = start()
    assert call.handle_event(WindowUpdated(SID, 100), now=0.0) == []
    assert phase_of(call) is CallPhase.WAITING_HEADERS


# --- Trailers-Only and status synthesis ---------------------------------------------------------


def test_grpc_http2_trailers_only_carries_the_status() -> None:
    """Trailers-Only = HTTP-Status Content-Type Trailers, one HEADERS with END_STREAM."""
    call = start()
    event = ResponseReceived(
        SID,
        [
            (b":status", b"200"),
            (b"content-type", b"application/grpc"),
            (b"grpc-status", b"5"),
            (b"grpc-message", b"etcdserver: requested lease not found"),
            (b"x-meta", b"v"),
        ],
        True,
    )
    assert feed(call, [event]) == []
    status = final(call)
    assert status.code is StatusCode.NOT_FOUND
    assert status.message == "etcdserver: requested lease not found"
    assert call.initial_metadata == []
    assert call.trailing_metadata == [("x-meta", "v")]
    assert call.take_reset() is None


def test_grpc_http2_trailers_only_ok_for_unary_is_cardinality_violation() -> None:
    """statuscodes.md: UNIMPLEMENTED for a response cardinality violation (0 messages)."""
    call = start()
    feed(call, [ResponseReceived(SID, [(b":status", b"200"), (b"grpc-status", b"0")], True)])
    status = final(call)
    assert status.code is StatusCode.UNIMPLEMENTED
    assert "cardinality violation" in status.message
    assert "received 0" in status.message


def test_grpc_status_mapping_http_503_unavailable_html_reply() -> None:
    """http-grpc-status-mapping.md: a proxy's 503 page is UNAVAILABLE, body in the message."""
    call = start()
    html = b"<html><body>503 Service Unavailable</body></html>"
    feed(
        call,
        [
            ResponseReceived(SID, [(b":status", b"503"), (b"content-type", b"text/html")], False),
            raw_data(html[:10]),
            raw_data(html[10:]),
        ],
    )
    assert phase_of(call) is CallPhase.HTTP_ERROR
    feed(call, [StreamEnded(SID)])
    status = final(call)
    assert status.code is StatusCode.UNAVAILABLE
    assert "503 (Service Unavailable)" in status.message
    assert "text/html" in status.message
    assert status.message.endswith(html.decode())
    assert call.take_reset() is None


def test_grpc_status_mapping_http_404_html_reply_is_unimplemented() -> None:
    call = start()
    feed(
        call,
        [
            ResponseReceived(SID, [(b":status", b"404"), (b"content-type", b"text/html")], False),
            raw_data(b"<h1>Not Found</h1>", end_stream=True),
        ],
    )
    status = final(call)
    assert status.code is StatusCode.UNIMPLEMENTED
    assert "<h1>Not Found</h1>" in status.message


def test_grpc_status_mapping_http_404_without_body() -> None:
    call = start()
    feed(call, [ResponseReceived(SID, [(b":status", b"404")], True)])
    assert final(call).code is StatusCode.UNIMPLEMENTED


def test_grpc_status_mapping_http_error_body_is_bounded_then_call_is_reset() -> None:
    call = start(end_request=False)
    feed(
        call,
        [ResponseReceived(SID, [(b":status", b"502"), (b"content-type", b"text/html")], False)],
    )
    feed(call, [raw_data(b"a" * 600)])
    assert not call.done
    feed(call, [raw_data(b"b" * 600)])
    status = final(call)
    assert status.code is StatusCode.UNAVAILABLE
    assert status.message.endswith("a" * 600 + "b" * (ERROR_BODY_LIMIT - 600))
    assert call.take_reset() == H2ErrorCode.CANCEL  # stop the rest of the page


def test_grpc_status_mapping_200_with_non_grpc_content_type_is_unknown() -> None:
    call = start()
    feed(
        call,
        [
            ResponseReceived(SID, [(b":status", b"200"), (b"content-type", b"text/plain")], False),
            raw_data(b"hello", end_stream=True),
        ],
    )
    status = final(call)
    assert status.code is StatusCode.UNKNOWN
    assert "content-type 'text/plain'" in status.message


def test_grpc_status_mapping_grpc_status_in_trailers_of_non_grpc_response_wins() -> None:
    call = start()
    feed(
        call,
        [
            ResponseReceived(SID, [(b":status", b"503"), (b"content-type", b"text/html")], False),
            trailers(14, b"draining"),
        ],
    )
    status = final(call)
    assert (status.code, status.message) == (StatusCode.UNAVAILABLE, "draining")


def test_grpc_status_mapping_non_grpc_trailers_without_status_use_http_status() -> None:
    call = start()
    feed(
        call,
        [
            ResponseReceived(SID, [(b":status", b"401"), (b"content-type", b"text/html")], False),
            raw_data(b"login"),
            TrailersReceived(SID, [(b"x", b"y")]),
        ],
    )
    status = final(call)
    assert status.code is StatusCode.UNAUTHENTICATED
    assert status.trailers == [("x", "y")]


def test_grpc_status_mapping_reset_while_reading_error_page_keeps_http_status() -> None:
    call = start()
    feed(
        call,
        [
            ResponseReceived(SID, [(b":status", b"503"), (b"content-type", b"text/html")], False),
            StreamReset(SID, H2ErrorCode.INTERNAL_ERROR),
        ],
    )
    assert final(call).code is StatusCode.UNAVAILABLE
    assert call.take_reset() is None


def test_grpc_trailers_missing_grpc_status_is_unknown() -> None:
    call = start()
    feed(call, [grpc_headers(), data("x"), TrailersReceived(SID, [(b"x-other", b"1")])])
    status = final(call)
    assert status.code is StatusCode.UNKNOWN
    assert "missing grpc-status" in status.message


def test_grpc_trailers_malformed_grpc_status_is_unknown() -> None:
    call = start()
    feed(call, [grpc_headers(), data("x"), TrailersReceived(SID, [(b"grpc-status", b"ok")])])
    status = final(call)
    assert status.code is StatusCode.UNKNOWN
    assert "malformed grpc-status" in status.message


def test_grpc_trailers_status_details_bin_reach_the_status() -> None:
    details = b"\x08\x09\x12\x04oops"
    call = start()
    feed(
        call,
        [
            grpc_headers(),
            trailers(
                9,
                b"oops",
                (b"grpc-status-details-bin", base64.b64encode(details).rstrip(b"=")),
            ),
        ],
    )
    status = final(call)
    assert status.code is StatusCode.FAILED_PRECONDITION
    assert status.details == details
    assert status.to_exception().details == details  # type: ignore[attr-defined]


def test_grpc_trailers_message_is_percent_decoded() -> None:
    call = start()
    feed(call, [grpc_headers(), trailers(3, b"bad %E2%9C%93 50%")])
    assert final(call).message == "bad \u2713 50%"


def test_grpc_http2_trailers_as_header_block_with_end_stream() -> None:
    """A second header block with END_STREAM is the trailers however it is reported."""
    call = start()
    feed(call, [grpc_headers(), data("a"), ResponseReceived(SID, [(b"grpc-status", b"0")], True)])
    assert final(call).ok


# --- message-level errors ------------------------------------------------------------------------


def test_grpc_oversized_message_is_resource_exhausted_and_reset_cancel() -> None:
    """Transport requirements §2.2: reject a declared length over the max before buffering,
    RESOURCE_EXHAUSTED, then RST_STREAM CANCEL."""
    call = start(SERVER_STREAM, max_receive_message_length=100)
    feed(call, [grpc_headers()])
    # One good message, then a prefix that declares 101 bytes.
    got = feed(call, [raw_data(encode_message(payload("ok")) + b"\x00\x00\x00\x00\x65")])
    status = final(call)
    assert status.code is StatusCode.RESOURCE_EXHAUSTED
    assert "101 vs. 100" in status.message
    assert got == []
    assert call.should_reset == H2ErrorCode.CANCEL
    assert call.take_reset() == H2ErrorCode.CANCEL
    assert call.take_reset() is None
    assert call.needed_bytes == 0
    # Whatever still arrives is ignored.
    assert feed(call, [data("late"), trailers()]) == []
    assert call.status is status


def test_grpc_compressed_message_without_encoding_is_internal() -> None:
    call = start()
    feed(call, [grpc_headers(), raw_data(encode_message(b"zz", compressed=True))])
    status = final(call)
    assert status.code is StatusCode.INTERNAL
    assert "grpc-encoding" in status.message
    assert call.take_reset() == H2ErrorCode.CANCEL


def test_grpc_compressed_message_with_unsupported_encoding_is_internal() -> None:
    call = start()
    feed(
        call,
        [
            grpc_headers((b"grpc-encoding", b"gzip")),
            raw_data(encode_message(b"z", compressed=True)),
        ],
    )
    assert "unsupported grpc-encoding 'gzip'" in final(call).message


def test_grpc_partial_message_at_end_stream_is_internal() -> None:
    """Transport requirements §2.2: a partial message at END_STREAM is INTERNAL."""
    call = start()
    raw = encode_message(payload("truncated"))
    feed(call, [grpc_headers(), raw_data(raw[:-3]), trailers(0)])
    status = final(call)
    assert status.code is StatusCode.INTERNAL
    assert "inside a message" in status.message


def test_grpc_response_cardinality_violation_two_messages() -> None:
    """statuscodes.md: unary method with more than one response message and status OK is
    UNIMPLEMENTED; the extra message is not delivered."""
    call = start()
    assert feed(call, [grpc_headers(), data("one", "two")]) == [payload("one")]
    assert feed(call, [data("three")]) == []
    feed(call, [trailers()])
    status = final(call)
    assert status.code is StatusCode.UNIMPLEMENTED
    assert status.message.startswith("Response cardinality violation")
    assert "received 3" in status.message


def test_grpc_response_cardinality_server_error_status_wins() -> None:
    call = start()
    feed(call, [grpc_headers(), data("one", "two"), trailers(13, b"broken")])
    assert final(call).code is StatusCode.INTERNAL
    assert final(call).message == "broken"


def test_grpc_response_cardinality_zero_messages_with_ok() -> None:
    call = start()
    feed(call, [grpc_headers(), trailers()])
    assert final(call).code is StatusCode.UNIMPLEMENTED


def test_grpc_oversized_message_in_final_data_frame() -> None:
    call = start(max_receive_message_length=4)
    feed(call, [grpc_headers(), data("too long", end_stream=True)])
    assert final(call).code is StatusCode.RESOURCE_EXHAUSTED
    assert call.take_reset() is None  # the peer already ended the stream, and so did we


# --- RST_STREAM ---------------------------------------------------------------------------------


def test_grpc_http2_rst_before_headers_refused_stream_not_processed() -> None:
    """PROTOCOL-HTTP2.md "Errors": REFUSED_STREAM is UNAVAILABLE, "no processing occurred"."""
    call = start()
    feed(call, [StreamReset(SID, H2ErrorCode.REFUSED_STREAM)])
    status = final(call)
    assert status.code is StatusCode.UNAVAILABLE
    assert status.not_processed
    assert call.take_reset() is None  # never answer RST_STREAM with RST_STREAM


def test_grpc_http2_goaway_excluded_stream_is_not_processed() -> None:
    """A stream above GOAWAY's last-stream-id arrives as a local REFUSED_STREAM reset."""
    call = start()
    feed(call, [StreamReset(SID, H2ErrorCode.REFUSED_STREAM, remote=False)])
    assert final(call).not_processed
    assert "HTTP/2 layer" in final(call).message


def test_grpc_http2_rst_after_headers() -> None:
    call = start()
    feed(call, [grpc_headers(), StreamReset(SID, H2ErrorCode.INTERNAL_ERROR)])
    status = final(call)
    assert status.code is StatusCode.INTERNAL
    assert not status.not_processed
    assert call.take_reset() is None


def test_grpc_http2_rst_during_data_discards_partial_message() -> None:
    call = start()
    raw = encode_message(payload("partial"))
    assert feed(call, [grpc_headers(), raw_data(raw[:4])]) == []
    feed(call, [StreamReset(SID, H2ErrorCode.ENHANCE_YOUR_CALM)])
    assert final(call).code is StatusCode.RESOURCE_EXHAUSTED
    assert call.needed_bytes == 0


def test_grpc_http2_server_cancel_after_data_is_cancelled() -> None:
    call = start(SERVER_STREAM)
    feed(call, [grpc_headers(), data("a", "b"), StreamReset(SID, H2ErrorCode.CANCEL)])
    assert final(call).code is StatusCode.CANCELLED
    assert isinstance(final(call).to_exception(), CallCancelled)


def test_grpc_http2_rst_after_trailers_keeps_received_status() -> None:
    """RFC 9113 §8.1: RST_STREAM after a complete response must not discard it."""
    call = start(CLIENT_STREAM, end_request=False)
    feed(call, [grpc_headers(), data("done"), trailers()])
    assert call.should_reset == H2ErrorCode.NO_ERROR
    feed(call, [StreamReset(SID, H2ErrorCode.NO_ERROR)])
    assert final(call).ok
    assert call.take_reset() is None  # the peer already closed the stream


def test_grpc_http2_stream_closed_reset_is_logged_and_internal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PROTOCOL-HTTP2.md "Errors": STREAM_CLOSED has no mapping; "Implementations should
    log"."""
    call = start()
    with caplog.at_level("DEBUG", logger="etcdwire.grpc"):
        feed(call, [StreamReset(SID, H2ErrorCode.STREAM_CLOSED)])
    assert final(call).code is StatusCode.INTERNAL
    assert "STREAM_CLOSED" in caplog.text
    assert "/test.Echo/Unary" in repr(call)


# --- early server closure -------------------------------------------------------------------


def test_grpc_http2_trailers_before_our_end_stream_owe_rst_no_error() -> None:
    """PROTOCOL-HTTP2.md "Early Server Closure": trailers before the client's END_STREAM ->
    the client sends RST_STREAM(NO_ERROR)."""
    call = start(CLIENT_STREAM, end_request=False)
    feed(call, [grpc_headers(), data("summary"), trailers()])
    assert final(call).ok
    assert call.take_reset() == H2ErrorCode.NO_ERROR
    assert call.take_reset() is None


def test_grpc_http2_end_request_after_early_closure_clears_the_reset() -> None:
    call = start(BIDI, end_request=False)
    feed(call, [grpc_headers(), trailers(14, b"bye")])
    assert call.should_reset == H2ErrorCode.NO_ERROR
    call.end_request()
    assert call.take_reset() is None


# --- malformed responses ----------------------------------------------------------------------


def test_grpc_http2_informational_headers_are_skipped() -> None:
    """http-grpc-status-mapping.md / RFC 9113 §8.1: skip 1xx, read the next header block."""
    call = start()
    feed(call, [InformationalResponseReceived(SID, [(b":status", b"100")])])
    assert phase_of(call) is CallPhase.WAITING_HEADERS
    feed(call, [InformationalResponseReceived(SID, [(b":status", b"103")])])
    feed(call, [grpc_headers(), data("x"), trailers()])
    assert final(call).ok


def test_grpc_http2_informational_after_final_headers_is_malformed() -> None:
    call = start()
    feed(call, [grpc_headers(), InformationalResponseReceived(SID, [(b":status", b"100")])])
    assert final(call).code is StatusCode.INTERNAL
    assert call.take_reset() == H2ErrorCode.PROTOCOL_ERROR


def test_grpc_http2_second_headers_without_end_stream_is_internal_and_reset() -> None:
    """Transport requirements §2.3: a second HEADERS without END_STREAM -> INTERNAL +
    RST_STREAM PROTOCOL_ERROR (RFC 9113 §8.1: malformed)."""
    call = start()
    feed(call, [grpc_headers(), data("x"), grpc_headers()])
    status = final(call)
    assert status.code is StatusCode.INTERNAL
    assert "malformed response" in status.message
    assert call.take_reset() == H2ErrorCode.PROTOCOL_ERROR


def test_grpc_http2_data_before_headers_is_malformed() -> None:
    call = start()
    feed(call, [data("x")])
    assert final(call).code is StatusCode.INTERNAL
    assert call.take_reset() == H2ErrorCode.PROTOCOL_ERROR


def test_grpc_http2_malformed_final_block_owes_no_error_when_we_are_still_sending() -> None:
    """A violation carried by an END_STREAM block: the peer is done, we only stop sending."""
    call = start(CLIENT_STREAM, end_request=False)
    feed(call, [data("x", end_stream=True)])
    assert final(call).code is StatusCode.INTERNAL
    assert call.take_reset() == H2ErrorCode.NO_ERROR


def test_grpc_response_headers_missing_status_is_internal() -> None:
    call = start()
    feed(call, [ResponseReceived(SID, [(b"content-type", b"application/grpc")], False)])
    feed(call, [StreamEnded(SID)])
    status = final(call)
    assert status.code is StatusCode.INTERNAL
    assert "missing HTTP status" in status.message


# --- cancellation and deadlines ----------------------------------------------------------------


def test_grpc_client_cancel_resets_with_cancel_once() -> None:
    """PROTOCOL-HTTP2.md "Client Cancellation": RST_STREAM with CANCEL."""
    call = start(SERVER_STREAM, deadline=10.0)
    feed(call, [grpc_headers(), data("a")])
    status = call.cancel(1.0)
    assert status.code is StatusCode.CANCELLED
    assert final(call) is status
    assert call.take_reset() == H2ErrorCode.CANCEL
    assert call.take_reset() is None
    assert feed(call, [data("b"), trailers()]) == []
    assert call.cancel(2.0) is status


def test_grpc_client_cancel_after_deadline_is_deadline_exceeded() -> None:
    call = start(deadline=1.0)
    assert call.cancel(1.5).code is StatusCode.DEADLINE_EXCEEDED


def test_grpc_cancel_before_headers_were_sent_owes_no_reset() -> None:
    call = CallState(UNARY)
    assert call.cancel(0.0).code is StatusCode.CANCELLED
    assert call.take_reset() is None  # no stream exists at the peer
    with pytest.raises(CallCancelled):
        call.request_headers(0.0, authority="h", scheme="http")


def test_grpc_cancel_after_completion_keeps_status() -> None:
    call = start()
    feed(call, [grpc_headers(), data("x"), trailers()])
    assert call.cancel(5.0).ok
    assert call.expire(5.0).ok
    assert call.take_reset() is None


def test_grpc_deadline_expiry_ignores_late_trailers() -> None:
    """ "Client implementations are entitled to fail calls with DEADLINE_EXCEEDED at any point
    after the deadline expires, even if doing so would throw away messages and trailers"."""
    call = start(deadline=5.0)
    feed(call, [grpc_headers()], now=1.0)
    assert feed(call, [data("late")], now=5.0) == []
    status = final(call)
    assert status.code is StatusCode.DEADLINE_EXCEEDED
    assert status.trailers == []
    assert call.take_reset() == H2ErrorCode.CANCEL
    assert isinstance(status.to_exception(), DeadlineExceeded)


def test_grpc_deadline_passing_with_trailers_in_hand_is_still_deadline_exceeded() -> None:
    call = start(deadline=5.0)
    feed(call, [grpc_headers(), data("x")], now=1.0)
    feed(call, [trailers()], now=6.0)
    assert final(call).code is StatusCode.DEADLINE_EXCEEDED
    assert call.trailing_metadata is None  # generated without any part of the trailers
    assert call.take_reset() is None  # the peer ended the stream and so did we


def test_grpc_expire_generates_deadline_exceeded_locally() -> None:
    call = start(SERVER_STREAM, deadline=2.0)
    feed(call, [grpc_headers(), data("x")], now=1.0)
    status = call.expire(2.0)
    assert status.code is StatusCode.DEADLINE_EXCEEDED
    assert call.take_reset() == H2ErrorCode.CANCEL


def test_grpc_server_cancel_after_our_deadline_is_deadline_exceeded() -> None:
    """PROTOCOL-HTTP2.md: "when a call fails with CANCELLED status the client is encouraged to
    check whether the deadline has expired and fail the call with DEADLINE_EXCEEDED"."""
    call = start(deadline=3.0)
    feed(call, [grpc_headers()], now=1.0)
    feed(call, [StreamReset(SID, H2ErrorCode.CANCEL)], now=3.5)
    assert final(call).code is StatusCode.DEADLINE_EXCEEDED
    assert call.take_reset() is None


def test_grpc_request_headers_carry_remaining_time() -> None:
    """Transport requirements §2.7: grpc-timeout is the time left when HEADERS is written."""
    call = CallState(UNARY, deadline=12.5)
    headers = call.request_headers(10.0, authority="h", scheme="http", metadata=[("token", "t")])
    assert (b"grpc-timeout", b"2500000u") in headers
    assert headers[2] == (b":path", b"/test.Echo/Unary")
    assert headers[-1] == (b"token", b"t")
    assert call.started


def test_grpc_request_headers_after_deadline_raise_deadline_exceeded() -> None:
    call = CallState(UNARY, deadline=1.0)
    with pytest.raises(DeadlineExceeded):
        call.request_headers(1.0, authority="h", scheme="http")
    assert final(call).code is StatusCode.DEADLINE_EXCEEDED
    assert call.take_reset() is None


def test_grpc_request_headers_without_deadline_have_no_timeout() -> None:
    headers = CallState(UNARY).request_headers(99.0, authority="h", scheme="https")
    assert b"grpc-timeout" not in dict(headers)


# --- sending ---------------------------------------------------------------------------------


def test_grpc_encode_request_frames_the_message() -> None:
    call = CallState(UNARY)
    assert call.encode_request(StringValue(value="a")) == encode_message(payload("a"))
    assert call.messages_sent == 1


def test_grpc_encode_request_over_max_send_is_resource_exhausted_before_sending() -> None:
    call = CallState(UNARY, max_send_message_length=10)
    with pytest.raises(ResourceExhausted, match="larger than max"):
        call.encode_request(StringValue(value="x" * 20))
    assert call.messages_sent == 0
    assert not call.done


def test_grpc_encode_request_unary_takes_exactly_one_message() -> None:
    call = CallState(UNARY)
    with pytest.raises(UsageError):
        call.end_request()
    call.encode_request(StringValue(value="a"))
    with pytest.raises(UsageError):
        call.encode_request(StringValue(value="b"))
    call.end_request()
    with pytest.raises(UsageError):
        call.encode_request(StringValue(value="c"))


def test_grpc_encode_request_streaming_accepts_many_then_end() -> None:
    call = CallState(BIDI)
    for i in range(3):
        call.encode_request(StringValue(value=str(i)))
    call.end_request()
    assert call.messages_sent == 3
    with pytest.raises(UsageError):
        call.encode_request(StringValue(value="late"))


def test_grpc_encode_request_wrong_type_is_usage_error() -> None:
    with pytest.raises(UsageError):
        CallState(UNARY).encode_request(Int64Value(value=1))


# --- failures found by the I/O layer ---------------------------------------------------------


def test_grpc_fail_with_local_status_resets_the_stream() -> None:
    call = start()
    feed(call, [grpc_headers(), data("x")])
    status = Status(StatusCode.INTERNAL, "failed to parse response")
    assert call.fail(status) is status
    assert call.take_reset() == H2ErrorCode.CANCEL
    assert call.fail(Status(StatusCode.UNKNOWN)) is status


def test_grpc_fail_after_connection_loss_owes_no_reset() -> None:
    call = start()
    call.fail(Status(StatusCode.UNAVAILABLE, "connection lost"), reset=False)
    assert final(call).code is StatusCode.UNAVAILABLE
    assert call.take_reset() is None


# --- the transition table ---------------------------------------------------------------------

PHASE_PREFIXES: dict[CallPhase, list[Event]] = {
    CallPhase.WAITING_HEADERS: [],
    CallPhase.RECEIVING: [grpc_headers()],
    CallPhase.HTTP_ERROR: [
        ResponseReceived(SID, [(b":status", b"503"), (b"content-type", b"text/html")], False)
    ],
    CallPhase.DONE: [grpc_headers(), data("x"), trailers()],
}
INPUTS: dict[str, Event] = {
    "informational": InformationalResponseReceived(SID, [(b":status", b"100")]),
    "grpc_headers": grpc_headers(),
    "other_headers": ResponseReceived(SID, [(b":status", b"404")], False),
    "headers_end": ResponseReceived(SID, [(b":status", b"200"), (b"grpc-status", b"0")], True),
    "data": data("y"),
    "data_end": data("y", end_stream=True),
    "trailers": trailers(),
    "stream_end": StreamEnded(SID),
    "reset": StreamReset(SID, H2ErrorCode.INTERNAL_ERROR),
}
ALLOWED = {
    (CallPhase.WAITING_HEADERS, "informational"),
    (CallPhase.WAITING_HEADERS, "grpc_headers"),
    (CallPhase.WAITING_HEADERS, "other_headers"),
    (CallPhase.WAITING_HEADERS, "headers_end"),
    (CallPhase.WAITING_HEADERS, "reset"),
    (CallPhase.RECEIVING, "data"),
    (CallPhase.RECEIVING, "data_end"),
    (CallPhase.RECEIVING, "trailers"),
    (CallPhase.RECEIVING, "headers_end"),
    (CallPhase.RECEIVING, "stream_end"),
    (CallPhase.RECEIVING, "reset"),
    (CallPhase.HTTP_ERROR, "data"),
    (CallPhase.HTTP_ERROR, "data_end"),
    (CallPhase.HTTP_ERROR, "trailers"),
    (CallPhase.HTTP_ERROR, "headers_end"),
    (CallPhase.HTTP_ERROR, "stream_end"),
    (CallPhase.HTTP_ERROR, "reset"),
}


@pytest.mark.parametrize("phase", list(CallPhase))
@pytest.mark.parametrize("name", list(INPUTS))
def test_grpc_call_every_phase_and_input(phase: CallPhase, name: str) -> None:
    """STYLE rule 2: every (phase, input) is in the table or poisons the call with INTERNAL
    and a PROTOCOL_ERROR reset; a finished call ignores everything."""
    call = start(SERVER_STREAM)
    feed(call, PHASE_PREFIXES[phase])
    assert call.state is phase
    before = call.status
    call.handle_event(INPUTS[name], now=0.0)
    if phase is CallPhase.DONE:
        assert call.status is before
        assert call.take_reset() is None
    elif (phase, name) in ALLOWED:
        assert call.status is None or "malformed response" not in call.status.message
    else:
        status = final(call)
        assert status.code is StatusCode.INTERNAL
        assert status.message.startswith("malformed response")
        ends_stream = name in ("data_end", "stream_end", "trailers", "headers_end")
        expected = None if ends_stream else H2ErrorCode.PROTOCOL_ERROR
        assert call.take_reset() == expected

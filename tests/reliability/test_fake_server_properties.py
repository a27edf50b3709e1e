"""Arbitrary server answers through the public client (issue 8, bad input).

The fake server (tests/fakes/h2_peer.py, on the ``h2`` package) answers the blocking ``Client``
with what hypothesis draws: any gRPC status number or text, any status message, extra
trailers, Trailers-Only or not, arbitrary bytes as the response message, messages marked
compressed, cut short or split, any ``:status`` and content-type, and arbitrary raw frames
after the response headers. Every call (unary KV, a bidirectional keep-alive stream, member
list) must end with a result or a typed ``etcdwire`` error within its deadline, and the client
must serve the next call once the server behaves again.

tests/_async/test_transport_errors.py and test_conformance.py cover chosen cases on the
channel; this file draws the cases and goes through the public client API.
"""

from __future__ import annotations

import contextlib
import string
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etcdwire import Client
from etcdwire._pb import kv_pb2, rpc_pb2
from etcdwire.errors import EtcdError
from tests.fakes.h2_peer import FakeRequest, FakeServer, frame, grpc_message
from tests.reliability.bounded import run_bounded

CALL_TIMEOUT = 0.4
HANG_LIMIT = CALL_TIMEOUT + 4.0

GOOD_REPLIES: dict[str, bytes] = {
    "/etcdserverpb.KV/Range": rpc_pb2.RangeResponse(
        kvs=[kv_pb2.KeyValue(key=b"k", value=b"good", mod_revision=2)], count=1
    ).SerializeToString(),
    "/etcdserverpb.KV/Put": rpc_pb2.PutResponse().SerializeToString(),
    "/etcdserverpb.Lease/LeaseKeepAlive": rpc_pb2.LeaseKeepAliveResponse(
        ID=7, TTL=5
    ).SerializeToString(),
    "/etcdserverpb.Cluster/MemberList": rpc_pb2.MemberListResponse().SerializeToString(),
}

Action = Callable[[FakeRequest], None]
#: gRPC's grpc-message percent-encoding leaves printable ASCII other than "%" as it is
PRINTABLE = "".join(c for c in string.printable if c.isprintable() and c != "%")


def good(request: FakeRequest) -> None:
    reply = GOOD_REPLIES.get(request.path)
    if request.path.endswith("LeaseKeepAlive"):
        request.next_message()
    else:
        request.wait_end()
    if reply is None:
        request.respond(status=12, trailers_only=True)
    else:
        request.respond([reply])


# --- strategies ------------------------------------------------------------------------------

header_names = st.from_regex(r"\A[a-z][a-z0-9\-]{0,15}\Z").filter(
    lambda n: n not in ("te", "connection", "transfer-encoding", "upgrade", "keep-alive")
)
header_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
statuses = st.one_of(
    st.integers(min_value=0, max_value=20), st.sampled_from([-1, 99, 2**31, 2**64])
)


def take_request(request: FakeRequest) -> None:
    """Read what the client sends: all of it for a unary call, one message for a stream."""
    if request.path.endswith("LeaseKeepAlive"):
        request.next_message(timeout=2)
    else:
        request.wait_end(timeout=2)


@st.composite
def status_replies(draw: st.DrawFn) -> Action:
    status = draw(statuses)
    text_status = draw(st.one_of(st.none(), header_values))
    message = draw(st.text(max_size=40))
    trailers = draw(st.lists(st.tuples(header_names, header_values), max_size=3))
    trailers_only = draw(st.booleans())
    with_reply = draw(st.booleans()) and not trailers_only

    def act(request: FakeRequest) -> None:
        take_request(request)
        extra = list(trailers)
        code: int | None = status
        if text_status is not None:
            code, extra = None, [("grpc-status", text_status), *extra]
        messages = [GOOD_REPLIES.get(request.path, b"")] if with_reply else []
        if trailers_only:
            block = [(":status", "200"), ("content-type", "application/grpc")]
            if code is not None:
                block.append(("grpc-status", str(code)))
            if message:
                block.append(("grpc-message", quote(message, safe=PRINTABLE)))
            request.send_headers([*block, *extra], exact=True, end_stream=True)
            return
        request.send_headers()
        for payload in messages:
            request.send_message(payload)
        request.send_trailers(code, message, extra)

    return act


@st.composite
def message_replies(draw: st.DrawFn) -> Action:
    payloads = draw(st.lists(st.binary(max_size=200), min_size=0, max_size=3))
    compressed = draw(st.booleans())
    cut = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=30)))
    chunk = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=16)))
    status = draw(st.one_of(st.just(0), statuses))

    def act(request: FakeRequest) -> None:
        take_request(request)
        request.send_headers()
        data = b"".join(grpc_message(p, compressed=compressed) for p in payloads)
        if cut is not None:
            data = data[: max(0, len(data) - cut)]
        if data:
            request.send_data(data, chunk_size=chunk)
        request.send_trailers(status)

    return act


@st.composite
def header_replies(draw: st.DrawFn) -> Action:
    status = draw(st.one_of(st.sampled_from(["200", "204", "404", "503", "999"]), header_values))
    content_type = draw(
        st.one_of(
            st.sampled_from(["application/grpc", "application/grpc+proto", "text/html"]),
            header_values,
        )
    )
    end_stream = draw(st.booleans())

    def act(request: FakeRequest) -> None:
        take_request(request)
        block = [(":status", status), ("content-type", content_type)]
        request.send_headers(block, exact=True, end_stream=end_stream)
        if not end_stream:
            request.send_trailers(0)

    return act


@st.composite
def raw_frame_replies(draw: st.DrawFn) -> Action:
    frames = draw(
        st.lists(
            st.tuples(
                st.integers(min_value=0, max_value=12),  # DATA..CONTINUATION, then unknown
                st.integers(min_value=0, max_value=255),
                st.sampled_from(["own", "zero", "other", "even"]),
                st.binary(max_size=40),
            ),
            min_size=1,
            max_size=4,
        )
    )
    after_headers = draw(st.booleans())
    tail = draw(st.binary(max_size=12))

    def act(request: FakeRequest) -> None:
        take_request(request)
        if after_headers:
            request.send_headers()
        ids = {
            "own": request.stream_id,
            "zero": 0,
            "other": request.stream_id + 2,
            "even": 2,
        }
        raw = b"".join(frame(t, f, ids[s], p) for t, f, s, p in frames) + tail
        request.send_raw(raw)
        request.stall(timeout=CALL_TIMEOUT + 1)

    return act


actions = st.one_of(status_replies(), message_replies(), header_replies(), raw_frame_replies())

CALLS: dict[str, Callable[[Client], Any]] = {
    "get": lambda c: c.get("k"),
    "put": lambda c: c.put("k", "v"),
    "keep_alive_once": lambda c: c.lease.keep_alive_once(7),
    "member_list": lambda c: c.cluster.member_list(),
}


# --- the property ----------------------------------------------------------------------------


class Switchboard:
    """The handler of the fake server: runs the current action; failures of the fake itself
    (h2 refusing to send something, the client gone) are not the client's doing."""

    def __init__(self) -> None:
        self.action: Action = good

    def __call__(self, request: FakeRequest) -> None:
        with contextlib.suppress(Exception):
            self.action(request)



RECOVERY = 5.0  # seconds for the client to serve a read again (reconnect backoff included)


def recovers(client: Client) -> bool:
    """With the server behaving again, a read succeeds within RECOVERY seconds (an endpoint
    that failed is retried after a backoff)."""
    deadline = time.monotonic() + RECOVERY
    while time.monotonic() < deadline:
        try:
            return client.get("k").value == b"good"
        except EtcdError:
            time.sleep(0.05)
    return False


def test_arbitrary_server_answers_end_in_results_or_typed_errors(
    request: pytest.FixtureRequest,
) -> None:
    slow = request.config.getoption("--runslow")
    switchboard = Switchboard()
    outcomes = {"results": 0, "errors": 0}
    recovery: list[float] = []
    with FakeServer(switchboard) as server, Client(server.address, timeout=CALL_TIMEOUT) as client:
        assert recovers(client)

        @settings(
            max_examples=1000 if slow else 40,
            derandomize=not slow,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(action=actions, call=st.sampled_from(sorted(CALLS)))
        def check(action: Action, call: str) -> None:
            switchboard.action = action
            try:
                _result, error = run_bounded(lambda: CALLS[call](client), HANG_LIMIT)
            finally:
                switchboard.action = good
            if error is not None and not isinstance(error, EtcdError):
                raise AssertionError(f"{call} raised {error!r}") from error
            outcomes["errors" if error is not None else "results"] += 1
            started = time.monotonic()
            assert recovers(client), f"the client did not recover after {call}"
            recovery.append(time.monotonic() - started)

        check()
    assert outcomes["errors"] > 10, outcomes
    print(outcomes, f"max recovery {max(recovery):.2f}s", f"total {sum(recovery):.1f}s")

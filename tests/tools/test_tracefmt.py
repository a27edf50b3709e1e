"""Trace formatting (etcdwire/tools/tracefmt.py): colour choice, the text printer and the JSON
lines writer, fed with real events from a real client talking to a real etcd (issue 7, "CLI":
``--trace`` prints each frame each way with decoded headers, secrets redacted, flow-control
windows and each gRPC message as protobuf text; ``--trace-file`` writes JSON lines)."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import time
import uuid
from typing import Any

import pytest

from etcdwire import Client, RpcError
from etcdwire._pb import rpc_pb2
from etcdwire.tools.tracefmt import (
    JsonTraceWriter,
    TracePrinter,
    colour_enabled,
    redact_message,
)
from etcdwire.trace import MessageTrace, TraceEvent

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _key() -> str:
    return f"tracefmt/{uuid.uuid4().hex[:10]}"


class _Both:
    """One hook feeding several printers the same events."""

    def __init__(self, *hooks: Any) -> None:
        self.hooks = hooks
        self.events: list[TraceEvent] = []

    def __call__(self, event: TraceEvent) -> None:
        self.events.append(event)
        for hook in self.hooks:
            hook(event)


# --- colour choice ------------------------------------------------------------------------


def test_colour_flag_always_and_never_override_the_stream() -> None:
    assert colour_enabled(io.StringIO(), "always") is True
    assert colour_enabled(io.StringIO(), "never") is False


def test_colour_auto_is_off_for_a_pipe_or_file() -> None:
    assert colour_enabled(io.StringIO(), "auto") is False
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "w") as pipe:
        assert colour_enabled(pipe) is False
    os.close(read_end)


def test_colour_auto_on_a_terminal_honours_no_color_and_dumb_term(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """no-color.org: NO_COLOR set (to anything non-empty) turns colour off; TERM=dumb too."""
    controller, terminal = os.openpty()
    try:
        with os.fdopen(terminal, "w", closefd=False) as tty:
            monkeypatch.delenv("NO_COLOR", raising=False)
            monkeypatch.setenv("TERM", "xterm-256color")
            assert colour_enabled(tty) is True
            monkeypatch.setenv("NO_COLOR", "1")
            assert colour_enabled(tty) is False
            assert colour_enabled(tty, "always") is True
            monkeypatch.delenv("NO_COLOR")
            monkeypatch.setenv("TERM", "dumb")
            assert colour_enabled(tty) is False
    finally:
        os.close(terminal)
        os.close(controller)


# --- redaction of message fields ------------------------------------------------------------


def test_redact_message_replaces_password_fields_and_keeps_the_original() -> None:
    request = rpc_pb2.AuthUserAddRequest(name="alice", password="s3cret", hashedPassword="$2a$x")
    shown = redact_message(request)
    assert shown.name == "alice"
    assert shown.password == "<redacted 6B>"
    assert shown.hashedPassword == "<redacted 5B>"
    assert request.password == "s3cret"  # the caller's message is untouched


def test_redact_message_returns_messages_without_secrets_unchanged() -> None:
    request = rpc_pb2.PutRequest(key=b"k", value=b"password")
    assert redact_message(request) is request


def test_redact_message_reaches_nested_messages() -> None:
    response = rpc_pb2.AuthenticateResponse(
        header=rpc_pb2.ResponseHeader(revision=3), token="abc.def"
    )
    shown = redact_message(response)
    assert shown.token == "<redacted 7B>"
    assert shown.header.revision == 3


# --- real traffic ---------------------------------------------------------------------------


@pytest.mark.etcd
def test_printer_shows_frames_headers_windows_messages_and_calls(etcd: Any) -> None:
    out = io.StringIO()
    key = _key()
    with Client(etcd.url, trace=TracePrinter(out, colour=False)) as client:
        client.put(key, "v-one")
        assert client.get(key).value == b"v-one"
    text = out.getvalue()
    assert "\x1b[" not in text
    # frames each way, with flags and stream ids
    assert re.search(r">> SETTINGS +s=0 flags=- len=\d+ .*INITIAL_WINDOW_SIZE=\d+", text)
    assert re.search(r"<< SETTINGS +s=0 flags=ACK", text)
    assert re.search(r">> HEADERS +s=1 flags=END_HEADERS len=\d+", text)
    assert re.search(r">> DATA +s=1 flags=END_STREAM len=\d+", text)
    assert re.search(r"<< HEADERS +s=1 flags=END_STREAM\|END_HEADERS", text)
    # flow control: the increment and the window before and after
    assert re.search(r"WINDOW_UPDATE +s=0 flags=- len=4 incr=\d+ conn-window \d+->\d+", text)
    # decoded header fields, one per line
    assert "    :path: /etcdserverpb.KV/Put" in text
    assert "    :path: /etcdserverpb.KV/Range" in text
    assert "    grpc-status: 0" in text
    # messages named by method and type, decoded as protobuf text
    assert re.search(r">> MESSAGE +s=1 /etcdserverpb.KV/Put PutRequest \(\d+ bytes\)", text)
    assert f'    key: "{key}"' in text
    assert '    value: "v-one"' in text
    assert re.search(r"<< MESSAGE +s=3 /etcdserverpb.KV/Range RangeResponse", text)
    assert re.search(r"\n      revision: \d+", text)  # nested header fields are indented
    # calls: start and end with status and duration
    assert re.search(r"CALL +s=1 /etcdserverpb.KV/Put start", text)
    assert re.search(r"CALL +s=3 /etcdserverpb.KV/Range end status=OK in \d+\.\d{3} ms", text)
    assert "CONN" in text and " ready" in text


@pytest.mark.etcd
def test_colour_output_is_the_plain_output_with_ansi_codes(etcd: Any) -> None:
    plain, coloured = io.StringIO(), io.StringIO()
    hook = _Both(TracePrinter(plain, colour=False), TracePrinter(coloured, colour=True))
    with Client(etcd.url, trace=hook) as client:
        client.put(_key(), "x")
    text = coloured.getvalue()
    assert ANSI.sub("", text) == plain.getvalue()
    # direction: cyan for client to server, magenta back; frame types have their own colours
    assert "\x1b[1;36m>>\x1b[0m" in text
    assert "\x1b[1;35m<<\x1b[0m" in text
    assert "\x1b[33mSETTINGS" in text
    assert "\x1b[1;34mHEADERS" in text
    assert "\x1b[32mOK\x1b[0m" in text


@pytest.mark.etcd
def test_printer_without_decoding_or_frames(etcd: Any) -> None:
    bare, messages_only = io.StringIO(), io.StringIO()
    hook = _Both(
        TracePrinter(bare, colour=False, decode=False),
        TracePrinter(messages_only, colour=False, frames=False),
    )
    key = _key()
    with Client(etcd.url, trace=hook) as client:
        client.put(key, "x")
    assert "PutRequest" in bare.getvalue()
    assert key not in bare.getvalue()
    assert "HEADERS" not in messages_only.getvalue()
    assert f'key: "{key}"' in messages_only.getvalue()


@pytest.mark.etcd
def test_printer_reports_a_failed_call_with_its_status(etcd: Any) -> None:
    out = io.StringIO()
    with (
        Client(etcd.url, trace=TracePrinter(out, colour=False)) as client,
        pytest.raises(RpcError),
    ):
        client.lease.revoke(0x7EADBEEF)
    assert re.search(
        r"CALL +s=\d+ /etcdserverpb.Lease/LeaseRevoke end status=NOT_FOUND "
        r"message='etcdserver: requested lease not found' in",
        out.getvalue(),
    )


@pytest.mark.etcd
def test_json_writer_one_object_per_event(etcd: Any) -> None:
    out = io.StringIO()
    key = _key()
    before = time.time()
    collector = _Both(JsonTraceWriter(out))
    with Client(etcd.url, trace=collector) as client:
        client.put(key, b"\x00\xffbin")
        client.get(key)
    lines = out.getvalue().splitlines()
    assert len(lines) == len(collector.events)
    objects = [json.loads(line) for line in lines]
    assert {o["type"] for o in objects} == {"frame", "message", "call", "connection"}
    for obj in objects:
        assert set(obj) == {"type", "time", "direction", "connection", "stream", "fields"}
        assert before - 1 <= obj["time"] <= time.time() + 1
    puts = [
        o for o in objects
        if o["type"] == "message" and o["fields"]["message_type"] == "PutRequest"
    ]
    assert len(puts) == 1
    put = puts[0]
    assert put["direction"] == "send" and put["stream"] == 1
    assert put["fields"]["method"] == "/etcdserverpb.KV/Put"
    assert base64.b64decode(put["fields"]["message"]["key"]) == key.encode()
    assert base64.b64decode(put["fields"]["message"]["value"]) == b"\x00\xffbin"
    ends = [o for o in objects if o["type"] == "call" and o["fields"]["event"] == "end"]
    assert [e["fields"]["status"] for e in ends] == ["OK", "OK"]
    assert all(e["fields"]["duration"] > 0 for e in ends)
    headers = [
        o for o in objects
        if o["type"] == "frame" and o["fields"]["frame_type"] == "HEADERS"
        and o["direction"] == "send"
    ]
    assert [":path", "/etcdserverpb.KV/Put"] in headers[0]["fields"]["headers"]
    updates = [
        o for o in objects
        if o["type"] == "frame" and o["fields"]["frame_type"] == "WINDOW_UPDATE"
    ]
    assert updates and all(u["fields"]["increment"] > 0 for u in updates)
    settings = [
        o for o in objects
        if o["type"] == "frame" and o["fields"]["frame_type"] == "SETTINGS"
        and o["direction"] == "send" and not o["fields"]["ack"]
    ]
    assert "INITIAL_WINDOW_SIZE" in settings[0]["fields"]["settings"]


@pytest.fixture
def auth_member(etcd_factory: Any, etcdctl: Any) -> Any:
    member = etcd_factory()
    etcdctl("user", "add", "root", "--new-user-password=rootpw", member=member, check=True)
    etcdctl("user", "add", "tracy", "--new-user-password=s3cretpw", member=member, check=True)
    etcdctl("role", "add", "tr", member=member, check=True)
    etcdctl("role", "grant-permission", "tr", "readwrite", "tr/", "--prefix=true",
            member=member, check=True)
    etcdctl("user", "grant-role", "tracy", "tr", member=member, check=True)
    etcdctl("auth", "enable", member=member, check=True)
    return member


@pytest.mark.etcd
def test_secrets_are_redacted_in_text_and_json(auth_member: Any) -> None:
    """The password in AuthenticateRequest, the token in AuthenticateResponse and the
    ``token`` header carrying it are never printed; their lengths are."""
    text, lines = io.StringIO(), io.StringIO()
    hook = _Both(TracePrinter(text, colour=False), JsonTraceWriter(lines))
    with Client(auth_member.url, username="tracy", password="s3cretpw", trace=hook) as client:
        client.put("tr/k", "v")
    tokens = [
        e.decode().token for e in hook.events
        if isinstance(e, MessageTrace) and e.method.endswith("/Authenticate")
        and e.direction == "recv"
    ]
    assert tokens and tokens[0]
    for output in (text.getvalue(), lines.getvalue()):
        assert "s3cretpw" not in output
        assert tokens[0] not in output
    assert 'password: "<redacted 8B>"' in text.getvalue()
    assert f'token: "<redacted {len(tokens[0])}B>"' in text.getvalue()
    assert re.search(r"    token: <redacted \d+B>", text.getvalue())  # the header field
    auth = [
        json.loads(line) for line in lines.getvalue().splitlines()
        if '"AuthenticateRequest"' in line
    ]
    assert auth[0]["fields"]["message"] == {"name": "tracy", "password": "<redacted 8B>"}

"""TLS verification and secrets (issue 8, security).

TLS: verification is on by default, so a server whose certificate the client cannot verify
(no CA given, the wrong CA, a certificate for another host name) is refused with a typed error
that names the TLS failure; skipping verification takes the explicit ``insecure_skip_verify``.
Both the blocking and the asyncio client are checked (their sockets are set up by different
backends).

Secrets: passwords and auth tokens never appear in the ``etcdwire`` logs at DEBUG, in traces
(TraceWriter with decoded messages, to a stream and to the logger; the tools' TracePrinter and
JSON writer), in exception messages, reprs and tracebacks (wrong password, invalid token), or
in the reprs of the client, its options and its endpoint table.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import json
import logging
import ssl
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from etcdwire import (
    AsyncClient,
    ChannelOptions,
    Client,
    TLSConfig,
)
from etcdwire.errors import (
    AuthFailed,
    ConnectFailed,
    EtcdError,
    InvalidAuthToken,
    NoEndpointAvailable,
    UsageError,
)
from etcdwire.tools.embedded import EtcdMember, run_etcdctl
from etcdwire.tools.tracefmt import JsonTraceWriter, TracePrinter
from etcdwire.trace import TraceWriter
from tests.conftest import MEMBER_DEFAULTS, TLSFiles
from tests.fakes.h2_peer import FakeRequest, FakeServer

# --- TLS -------------------------------------------------------------------------------------


def connect_error(flavour: str, url: str, **tls: Any) -> BaseException | None:
    """The error of a first call with these TLS options (None if it succeeded)."""

    async def work() -> BaseException | None:
        client: Any = (Client if flavour == "sync" else AsyncClient)(url, timeout=5, **tls)
        try:
            result = client.get("sec/k")
            if inspect.isawaitable(result):
                await result
        except EtcdError as exc:
            return exc
        finally:
            closing = client.aclose() if flavour == "async" else client.close()
            if inspect.isawaitable(closing):
                await closing
        return None

    return asyncio.run(work())


def tls_failure(error: BaseException | None) -> str:
    """The TLS reason carried by a refused connection: a ConnectFailed, alone or as one of
    NoEndpointAvailable's attempts, chained to the ssl error."""
    assert error is not None, "the connection was accepted"
    failures = [error]
    if isinstance(error, NoEndpointAvailable):
        failures = [e for _, e in error.attempts]
    connect = [e for e in failures if isinstance(e, ConnectFailed)]
    assert connect, f"no ConnectFailed in {error!r}"
    assert isinstance(connect[0].__cause__, ssl.SSLError), repr(connect[0].__cause__)
    assert "TLS" in str(error)
    return str(error)


@pytest.mark.etcd
@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_tls_verification_is_on_by_default(flavour: str, etcd_tls: Any) -> None:
    """No CA given: the system store does not know the test CA, so the server is refused."""
    reason = tls_failure(connect_error(flavour, etcd_tls.url))
    assert "certificate verify failed" in reason


@pytest.mark.etcd
@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_tls_wrong_ca_fails_clearly(flavour: str, etcd_tls: Any, tls_certs: TLSFiles) -> None:
    reason = tls_failure(connect_error(flavour, etcd_tls.url, ca_file=tls_certs.other_ca_file))
    assert "certificate verify failed" in reason
    assert connect_error(flavour, etcd_tls.url, ca_file=tls_certs.ca_file) is None


@pytest.mark.etcd
@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_tls_expected_host_name_not_in_certificate_fails_clearly(
    flavour: str, etcd_tls: Any, tls_certs: TLSFiles
) -> None:
    """The right CA, but the client expects another name than the certificate's."""
    reason = tls_failure(
        connect_error(
            flavour,
            etcd_tls.url,
            ca_file=tls_certs.ca_file,
            server_hostname="db.elsewhere.test",
        )
    )
    assert "Hostname mismatch" in reason or "doesn't match" in reason
    assert "db.elsewhere.test" in reason


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_tls_certificate_issued_for_another_host_fails_clearly(
    flavour: str, tls_certs: TLSFiles, tmp_path: Any
) -> None:
    """A server presenting a valid certificate (trusted CA) issued for another host name."""
    other = tls_certs.ca.issue_cert("db.elsewhere.test")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    other.configure_cert(context)

    def handler(request: FakeRequest) -> None:
        request.wait_end()
        request.respond([b""])

    with FakeServer(handler, tls_context=context) as server:
        reason = tls_failure(connect_error(flavour, server.url, ca_file=tls_certs.ca_file))
        assert server.connections_accepted >= 1
    assert "IP address mismatch" in reason  # the client connected by address
    assert "127.0.0.1" in reason


@pytest.mark.etcd
@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_insecure_skip_verify_is_explicit(flavour: str, etcd_tls: Any) -> None:
    """Off unless asked for, everywhere it can be given; once asked for, the unverifiable
    server is accepted."""
    for signature in (inspect.signature(Client), inspect.signature(AsyncClient)):
        assert signature.parameters["insecure_skip_verify"].default is False
    assert TLSConfig().insecure_skip_verify is False
    assert TLSConfig().make_context().verify_mode == ssl.CERT_REQUIRED
    assert TLSConfig().make_context().check_hostname is True
    assert connect_error(flavour, etcd_tls.url) is not None
    assert connect_error(flavour, etcd_tls.url, insecure_skip_verify=True) is None
    assert connect_error(flavour, etcd_tls.url, tls=TLSConfig(insecure_skip_verify=True)) is None


# --- secrets ---------------------------------------------------------------------------------

ROOT_PASSWORD = "R00t-Pa55w0rd-7f3a"
ALICE_PASSWORD = "Al1ce-Pa55w0rd-91c2"
WRONG_PASSWORD = "Wr0ng-Pa55w0rd-55e0"
BOB_PASSWORD = "B0b-Pa55w0rd-0d1e"
BOB_NEW_PASSWORD = "B0b-N3w-Pa55w0rd-c4b8"
PASSWORDS = (ROOT_PASSWORD, ALICE_PASSWORD, WRONG_PASSWORD, BOB_PASSWORD, BOB_NEW_PASSWORD)


@pytest.fixture(scope="module")
def auth_member() -> Iterator[EtcdMember]:
    """A member of this module's own with auth on: root, and alice with readwrite on sec/."""
    member = EtcdMember("sec-auth", **MEMBER_DEFAULTS).start()
    try:
        for args in (
            ("user", "add", "root", f"--new-user-password={ROOT_PASSWORD}"),
            ("user", "add", "alice", f"--new-user-password={ALICE_PASSWORD}"),
            ("role", "add", "app"),
            ("role", "grant-permission", "app", "readwrite", "sec/", "--prefix=true"),
            ("user", "grant-role", "alice", "app"),
            ("auth", "enable"),
        ):
            result = run_etcdctl(*args, endpoints=member.url, tls=None)
            assert result.returncode == 0, result.stderr
        yield member
    finally:
        member.close()


class Capture:
    """Everything a user could see or ship somewhere: logs, traces, error texts, reprs."""

    def __init__(self) -> None:
        self.logs = io.StringIO()
        self.traces: dict[str, io.StringIO] = {
            name: io.StringIO() for name in ("writer", "printer", "json")
        }
        self.texts: list[str] = []

    def hooks(self) -> Callable[[Any], None]:
        writer = TraceWriter(self.traces["writer"], decode_messages=True)
        logged = TraceWriter(decode_messages=True)  # to the etcdwire.trace logger
        printer = TracePrinter(self.traces["printer"], colour=False, decode=True)
        as_json = JsonTraceWriter(self.traces["json"])

        def hook(event: Any) -> None:
            for each in (writer, logged, printer, as_json):
                each(event)

        return hook

    def error(self, exc: BaseException) -> None:
        self.texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
        for name in ("details", "trailers", "message"):
            self.texts.append(repr(getattr(exc, name, None)))

    def everything(self) -> dict[str, str]:
        found = {name: stream.getvalue() for name, stream in self.traces.items()}
        found["logs"] = self.logs.getvalue()
        found["texts"] = "\n".join(self.texts)
        return found


@pytest.fixture
def capture() -> Iterator[Capture]:
    captured = Capture()
    handler = logging.StreamHandler(captured.logs)
    handler.setLevel(logging.DEBUG)
    logger = logging.getLogger("etcdwire")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield captured
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def describe(client: Client, capture: Capture) -> None:
    capture.texts += [
        repr(client),
        repr(client.manager),
        repr(client.manager.tokens),
        repr(client.info()),
        repr(client.kv),
        repr(client.auth),
    ]


@pytest.mark.etcd
def test_passwords_and_tokens_stay_out_of_logs_traces_errors_and_reprs(
    auth_member: EtcdMember, capture: Capture
) -> None:
    url = auth_member.url
    with Client(url, username="root", password=ROOT_PASSWORD, trace=capture.hooks()) as root:
        root.auth.user_add("bob", BOB_PASSWORD)
        root.auth.user_change_password("bob", BOB_NEW_PASSWORD)
        root.auth.user_delete("bob")
        describe(root, capture)
    with Client(url, username="alice", password=ALICE_PASSWORD, trace=capture.hooks()) as alice:
        alice.put("sec/k", "v")
        assert alice.get("sec/k").value == b"v"
        lease = alice.lease.grant(10)
        alice.lease.keep_alive_once(lease.id)
        alice.lease.revoke(lease.id)
        token = alice.manager.tokens.token_for_request()
        assert token
        describe(alice, capture)
    with Client(url, username="alice", password=WRONG_PASSWORD, trace=capture.hooks()) as wrong:
        with pytest.raises(AuthFailed) as failed:
            wrong.get("sec/k")
        capture.error(failed.value)
        describe(wrong, capture)
    with Client(url, token=token + "-stale", trace=capture.hooks()) as stale:
        with pytest.raises(InvalidAuthToken) as invalid:
            stale.get("sec/k")
        capture.error(invalid.value)
        describe(stale, capture)
    with Client(url, token=token, trace=capture.hooks()) as static:
        assert static.get("sec/k").value == b"v"  # the token works: it was a real secret
        describe(static, capture)
    capture.texts += [repr(ChannelOptions()), repr(TLSConfig(ca_file="ca.pem"))]

    found = capture.everything()
    assert "Authenticate" in found["writer"] and "UserAdd" in found["printer"]
    assert "redacted" in found["writer"] and "redacted" in found["printer"]
    assert "Authenticate" in found["logs"]  # the logged trace was captured at DEBUG
    json_events = [json.loads(line) for line in found["json"].splitlines()]
    assert any("Authenticate" in json.dumps(event) for event in json_events)
    for secret in (*PASSWORDS, token, token + "-stale"):
        for where, text in found.items():
            assert secret not in text, f"{secret!r} appears in {where}"


def test_credentials_in_an_endpoint_are_refused_without_echo() -> None:
    """``http://user:password@host`` is not how credentials are given; the error says so and
    does not repeat the password (it would end up in logs)."""
    for endpoint in (
        f"http://alice:{ALICE_PASSWORD}@127.0.0.1:2379",
        f"alice:{ALICE_PASSWORD}@127.0.0.1:2379",
        f"https://alice:{ALICE_PASSWORD}@localhost/",
    ):
        with pytest.raises(UsageError) as info, Client(endpoint, timeout=1) as client:
            client.get("sec/k")
        text = "".join(traceback.format_exception(info.value))
        assert ALICE_PASSWORD not in text
        assert "username=" in str(info.value)

"""Shared fixtures for the whole suite.

Sections:
  1. command-line options and markers (``--runslow``)
  2. TLS material made at test time with trustme (``tls_certs``)
  3. real etcd servers (``etcd``, ``etcd_tls``, ``etcd_mtls``, ``etcd_cluster``,
     ``fresh_cluster``, ``etcd_factory``)
  4. etcdctl (``etcdctl``)
  5. process hygiene: shared servers must survive each test; no server outlives the session

Session-scoped servers are shared by many tests: use unique key prefixes, and never stop,
kill or pause them (use ``etcd_factory`` / ``fresh_cluster`` for destructive tests; a test
that leaves a shared server down fails in teardown).
"""

from __future__ import annotations

import contextlib
import os
import signal
import ssl
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import trustme

from etcdwire.tools.embedded import (
    ClientTLS,
    EmbeddedCluster,
    EtcdMember,
    find_orphans,
    live_pids,
    run_etcdctl,
)

# ============================================================================================
# 1. options and markers
# ============================================================================================


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--runslow", action="store_true", default=False, help="also run tests marked slow"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow test: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


# ============================================================================================
# 2. TLS material
# ============================================================================================


@dataclass(frozen=True)
class TLSFiles:
    """PEM files from one test CA: a server cert for 127.0.0.1/localhost and a client cert,
    plus a second, unrelated CA and client cert for negative tests."""

    ca: trustme.CA
    server: trustme.LeafCert
    ca_file: str
    server_cert_file: str
    server_key_file: str
    client_cert_file: str
    client_key_file: str
    other_ca_file: str
    other_client_cert_file: str
    other_client_key_file: str

    def client_tls(self, *, with_cert: bool = True) -> ClientTLS:
        if with_cert:
            return ClientTLS(self.ca_file, self.client_cert_file, self.client_key_file)
        return ClientTLS(self.ca_file)

    def server_context(self, alpn: Sequence[str] = ("h2",)) -> ssl.SSLContext:
        """A server-side context (for fake servers) presenting the server cert."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server.configure_cert(ctx)
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        return ctx


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    base = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("client.etcdwire.test", common_name="etcdwire-client")
    other_ca = trustme.CA()
    other_client = other_ca.issue_cert("client.etcdwire.test", common_name="etcdwire-client")

    def write(name: str, blob: trustme.Blob) -> str:
        path = base / name
        blob.write_to_path(str(path))
        return str(path)

    return TLSFiles(
        ca=ca,
        server=server,
        ca_file=write("ca.pem", ca.cert_pem),
        server_cert_file=write("server.pem", server.cert_chain_pems[0]),
        server_key_file=write("server-key.pem", server.private_key_pem),
        client_cert_file=write("client.pem", client.cert_chain_pems[0]),
        client_key_file=write("client-key.pem", client.private_key_pem),
        other_ca_file=write("other-ca.pem", other_ca.cert_pem),
        other_client_cert_file=write("other-client.pem", other_client.cert_chain_pems[0]),
        other_client_key_file=write("other-client-key.pem", other_client.private_key_pem),
    )


def _tls_kwargs(certs: TLSFiles, *, mtls: bool) -> dict[str, Any]:
    return {
        "cert_file": certs.server_cert_file,
        "key_file": certs.server_key_file,
        "trusted_ca_file": certs.ca_file,
        "client_cert_auth": mtls,
        "client_tls": certs.client_tls(),
    }


# ============================================================================================
# 3. real etcd servers
# ============================================================================================

# Test servers skip fsync (etcd >= 3.5; the flag is dropped for 3.4): a killed process still
# leaves its writes in the page cache, so crash/restart tests keep their meaning.
MEMBER_DEFAULTS: dict[str, Any] = {"unsafe_no_fsync": True, "log_level": "warn"}

# Shared (session-scoped) servers, checked after every test by _shared_servers_intact.
_SHARED: list[EtcdMember] = []


def _share(*members: EtcdMember) -> None:
    _SHARED.extend(members)


def _unshare(*members: EtcdMember) -> None:
    for member in members:
        if member in _SHARED:
            _SHARED.remove(member)


@pytest.fixture(scope="session")
def etcd() -> Iterator[EtcdMember]:
    """One cleartext member shared by the session. Do not stop it."""
    member = EtcdMember("shared", **MEMBER_DEFAULTS).start()
    _share(member)
    yield member
    _unshare(member)
    member.close()


@pytest.fixture(scope="session")
def etcd_tls(tls_certs: TLSFiles) -> Iterator[EtcdMember]:
    """One https member (server cert for 127.0.0.1/localhost), no client certs required.

    ``.client_tls`` holds ``ca_file``/``cert_file``/``key_file``; ``.client_cert_auth`` is
    False; ``.tls_config`` is the matching etcdwire TLS config.
    """
    member = EtcdMember("shared-tls", **MEMBER_DEFAULTS, **_tls_kwargs(tls_certs, mtls=False))
    member.start()
    _share(member)
    yield member
    _unshare(member)
    member.close()


@pytest.fixture(scope="session")
def etcd_mtls(tls_certs: TLSFiles) -> Iterator[EtcdMember]:
    """Like ``etcd_tls`` but with ``--client-cert-auth``: clients must present a cert."""
    member = EtcdMember("shared-mtls", **MEMBER_DEFAULTS, **_tls_kwargs(tls_certs, mtls=True))
    member.start()
    _share(member)
    yield member
    _unshare(member)
    member.close()


@pytest.fixture(scope="session")
def etcd_cluster() -> Iterator[EmbeddedCluster]:
    """Three cleartext members shared by the session. Do not stop members: use fresh_cluster."""
    cluster = EmbeddedCluster(3, name_prefix="shared", **MEMBER_DEFAULTS).start()
    _share(*cluster.members)
    yield cluster
    _unshare(*cluster.members)
    cluster.close()


ClusterFactory = Callable[..., EmbeddedCluster]
MemberFactory = Callable[..., EtcdMember]


@pytest.fixture
def fresh_cluster(request: pytest.FixtureRequest) -> Iterator[ClusterFactory]:
    """``fresh_cluster(size=3, *, tls=False, mtls=False, start=True, **kwargs)``: a cluster of
    this test's own, free to break; closed at teardown. kwargs go to EmbeddedCluster."""
    made: list[EmbeddedCluster] = []

    def make(
        size: int = 3, *, tls: bool = False, mtls: bool = False, start: bool = True, **kwargs: Any
    ) -> EmbeddedCluster:
        options = {**MEMBER_DEFAULTS, **kwargs}
        if tls or mtls:
            options.update(_tls_kwargs(request.getfixturevalue("tls_certs"), mtls=mtls))
        cluster = EmbeddedCluster(size, name_prefix=f"c{len(made)}m", **options)
        made.append(cluster)
        return cluster.start() if start else cluster

    yield make
    for cluster in made:
        cluster.close()


@pytest.fixture
def etcd_factory(request: pytest.FixtureRequest) -> Iterator[MemberFactory]:
    """``etcd_factory(*extra_args, tls=False, mtls=False, start=True, **kwargs)``: a member of
    this test's own with extra etcd flags (e.g. ``"--auth-token-ttl=2"``); closed at teardown.
    kwargs go to EtcdMember."""
    made: list[EtcdMember] = []

    def make(
        *extra_args: str, tls: bool = False, mtls: bool = False, start: bool = True, **kwargs: Any
    ) -> EtcdMember:
        options = {**MEMBER_DEFAULTS, **kwargs}
        options.setdefault("name", f"own{len(made)}")
        if tls or mtls:
            options.update(_tls_kwargs(request.getfixturevalue("tls_certs"), mtls=mtls))
        options["extra_args"] = [*options.get("extra_args", ()), *extra_args]
        member = EtcdMember(**options)
        made.append(member)
        return member.start() if start else member

    yield make
    for member in made:
        member.close()


# ============================================================================================
# 4. etcdctl
# ============================================================================================

_AUTO: Any = object()
Etcdctl = Callable[..., "subprocess.CompletedProcess[str]"]


def _as_client_tls(tls: Any) -> ClientTLS | None:
    if tls is None or isinstance(tls, ClientTLS):
        return tls
    # anything with ca_file/cert_file/key_file, e.g. etcdwire's TLSConfig
    return ClientTLS(tls.ca_file, tls.cert_file, tls.key_file)


@pytest.fixture
def etcdctl(request: pytest.FixtureRequest) -> Etcdctl:
    """``etcdctl(*args, endpoint=None, tls=<auto>, input=None, timeout=30, check=False)``.

    Runs the bundled etcdctl with ETCDCTL_API=3. ``endpoint`` (alias ``member``) is an
    EtcdMember, an EmbeddedCluster, a URL / ``host:port`` string or a list of them; default:
    the shared ``etcd``. ``tls`` defaults to the target's client files (CA + client cert);
    ``None`` passes no TLS flags; a ClientTLS (or any object with ca_file/cert_file/key_file)
    is used as given. ``check=True`` fails the test on a non-zero exit, showing stderr.
    """

    def run(
        *args: str,
        endpoint: Any = None,
        member: Any = None,
        tls: Any = _AUTO,
        input: str | None = None,
        timeout: float = 30.0,
        check: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        target = endpoint if endpoint is not None else member
        if target is None:
            target = request.getfixturevalue("etcd")
        auto: ClientTLS | None = None
        if isinstance(target, EtcdMember):
            endpoints: str | list[str] = target.url
            auto = target.client_tls
        elif isinstance(target, EmbeddedCluster):
            endpoints = target.urls
            auto = target.client_tls
        elif isinstance(target, str):
            endpoints = target
        else:
            endpoints = [m.url if isinstance(m, EtcdMember) else str(m) for m in target]
        client_tls = auto if tls is _AUTO else _as_client_tls(tls)
        result = run_etcdctl(
            *args, endpoints=endpoints, tls=client_tls, input=input, timeout=timeout
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"etcdctl {' '.join(args)} exited {result.returncode}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}"
            )
        return result

    return run


# ============================================================================================
# 5. process hygiene
# ============================================================================================


@pytest.fixture(autouse=True)
def _shared_servers_intact() -> Iterator[None]:
    """A test that stops, kills or pauses a shared server fails here, and the server is
    brought back so later tests do not fail for it."""
    yield
    damaged: list[str] = []
    for member in list(_SHARED):
        if member.paused:
            member.resume()
            damaged.append(f"{member.name} left paused")
        elif not member.running:
            damaged.append(f"{member.name} left stopped")
            member.start()
    if damaged:
        pytest.fail(
            "shared etcd servers were damaged (use etcd_factory or fresh_cluster): "
            + ", ".join(damaged)
        )


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run loudly if any etcd started by this process is still alive."""
    leftovers = sorted(set(find_orphans()) | set(live_pids()))
    if not leftovers:
        return
    for pid in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    message = f"etcd processes outlived the test session and were killed: {leftovers}"
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_line(message, red=True, bold=True)
    else:
        os.write(2, f"{message}\n".encode())
    session.exitstatus = pytest.ExitCode.TESTS_FAILED

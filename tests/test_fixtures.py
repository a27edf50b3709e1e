"""The real-etcd fixtures and the launcher behind them (etcdwire.tools.embedded)."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path
from typing import Any

import pytest

from etcdwire.tools import embedded
from etcdwire.tools.embedded import ClientTLS, EmbeddedCluster, EtcdMember, find_orphans

pytestmark = pytest.mark.etcd

# Fail fast when a connection is refused on purpose.
QUICK = ("--dial-timeout=1s", "--command-timeout=1s")


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


# -------------------------------------------------------------------------------------------
# single member, cluster
# -------------------------------------------------------------------------------------------


def test_single_member_is_healthy_and_serves_kv(etcd: EtcdMember, etcdctl: Any) -> None:
    health = etcdctl("endpoint", "health", check=True)
    assert f"{etcd.url} is healthy" in health.stdout + health.stderr
    etcdctl("put", "fixtures/single", "v1", check=True)
    got = etcdctl("get", "fixtures/single", "--print-value-only", check=True)
    assert got.stdout.strip() == "v1"
    assert etcd.endpoint == f"127.0.0.1:{etcd.client_port}"
    assert etcd.url == f"http://{etcd.endpoint}"
    assert etcd.tls_config is None
    assert etcd.is_leader()
    assert etcd.version.startswith("3.")


@pytest.mark.cluster
def test_cluster_has_three_healthy_members_and_one_leader(
    etcd_cluster: EmbeddedCluster, etcdctl: Any
) -> None:
    health = etcdctl("endpoint", "health", endpoint=etcd_cluster, check=True)
    output = health.stdout + health.stderr
    for url in etcd_cluster.urls:
        assert f"{url} is healthy" in output
    members = etcdctl("member", "list", endpoint=etcd_cluster, check=True)
    assert len(members.stdout.strip().splitlines()) == 3
    leaders = [m for m in etcd_cluster if m.is_leader()]
    assert len(leaders) == 1
    assert etcd_cluster.leader() is leaders[0]
    assert len({m.client_port for m in etcd_cluster} | {m.peer_port for m in etcd_cluster}) == 6


@pytest.mark.cluster
def test_killed_member_restarts_on_same_ports_and_catches_up(
    fresh_cluster: Any, etcdctl: Any
) -> None:
    cluster = fresh_cluster(3)
    etcdctl("put", "fixtures/before", "1", endpoint=cluster, check=True)
    victim = cluster.leader()
    assert victim is not None
    old_pid, old_url, old_dir = victim.pid, victim.url, victim.data_dir
    assert old_pid is not None
    assert victim.kill() == -9
    assert not victim.running
    assert not alive(old_pid)
    others = [m for m in cluster if m is not victim]
    assert cluster.wait_leader(timeout=15) in others
    etcdctl("put", "fixtures/during", "2", "--command-timeout=15s", endpoint=others, check=True)

    victim.restart()
    assert victim.pid not in (None, old_pid)
    assert (victim.url, victim.data_dir) == (old_url, old_dir)
    got = etcdctl("get", "fixtures/", "--prefix", "--print-value-only", endpoint=victim)
    assert got.stdout.split() == ["1", "2"]


# -------------------------------------------------------------------------------------------
# TLS
# -------------------------------------------------------------------------------------------


def test_tls_member_answers_with_the_ca_and_refuses_without(
    etcd_tls: EtcdMember, etcdctl: Any, tls_certs: Any
) -> None:
    assert etcd_tls.url.startswith("https://127.0.0.1:")
    assert not etcd_tls.client_cert_auth
    etcdctl("endpoint", "health", endpoint=etcd_tls, check=True)
    # the CA alone is enough when client certs are not required
    ca_only = ClientTLS(tls_certs.ca_file)
    etcdctl("endpoint", "health", endpoint=etcd_tls, tls=ca_only, check=True)
    # no CA: the server's certificate cannot be verified
    assert etcdctl("endpoint", "health", *QUICK, endpoint=etcd_tls, tls=None).returncode != 0
    wrong = ClientTLS(tls_certs.other_ca_file)
    assert etcdctl("endpoint", "health", *QUICK, endpoint=etcd_tls, tls=wrong).returncode != 0
    # cleartext to a TLS port does not get an answer either
    plain = f"http://{etcd_tls.endpoint}"
    assert etcdctl("endpoint", "health", *QUICK, endpoint=plain, tls=None).returncode != 0
    config = etcd_tls.tls_config
    assert config is not None
    assert (config.ca_file, config.cert_file) == (tls_certs.ca_file, tls_certs.client_cert_file)


def test_mtls_member_requires_a_client_cert_from_its_ca(
    etcd_mtls: EtcdMember, etcdctl: Any, tls_certs: Any
) -> None:
    assert etcd_mtls.client_cert_auth
    etcdctl("put", "fixtures/mtls", "ok", endpoint=etcd_mtls, check=True)
    ca_only = ClientTLS(tls_certs.ca_file)
    assert etcdctl("get", "fixtures/mtls", *QUICK, endpoint=etcd_mtls, tls=ca_only).returncode
    foreign = ClientTLS(
        tls_certs.ca_file, tls_certs.other_client_cert_file, tls_certs.other_client_key_file
    )
    assert etcdctl("get", "fixtures/mtls", *QUICK, endpoint=etcd_mtls, tls=foreign).returncode
    # any object with ca_file/cert_file/key_file works as tls=, e.g. the member's own config
    got = etcdctl(
        "get", "fixtures/mtls", "--print-value-only", endpoint=etcd_mtls, tls=etcd_mtls.tls_config
    )
    assert got.stdout.strip() == "ok"


# -------------------------------------------------------------------------------------------
# the factory and the launcher
# -------------------------------------------------------------------------------------------


def test_factory_passes_server_flags(etcd_factory: Any, etcdctl: Any) -> None:
    member = etcd_factory("--max-request-bytes=4096")
    assert "--max-request-bytes=4096" in member.command()
    etcdctl("put", "small", "x" * 100, endpoint=member, check=True)
    big = etcdctl("put", "big", "x" * 8192, endpoint=member)
    assert big.returncode != 0
    assert "request is too large" in big.stderr


def test_pause_makes_a_black_hole_and_resume_ends_it(etcd_factory: Any) -> None:
    member = etcd_factory()
    member.pause()
    assert member.paused and member.running
    assert not member.is_healthy(timeout=0.3)
    member.resume()
    member.wait_ready(timeout=10)
    assert not member.paused


def test_stop_and_close_leave_no_process_or_temp_dir() -> None:
    with EtcdMember("gone", unsafe_no_fsync=True) as member:
        pid = member.pid
        assert pid is not None and pid in find_orphans()
        temp_root = member.log_path.parent
        assert member.log_path.is_file()
        assert member.stop() == -15  # etcd re-raises SIGTERM after shutting down
        assert not alive(pid)
        member.start()  # same data dir: stop() keeps it
        pid = member.pid
        assert pid is not None
    assert not alive(pid)
    assert not temp_root.exists()
    assert pid not in find_orphans()
    assert pid not in embedded.live_pids()
    with pytest.raises(RuntimeError, match="closed"):
        member.start()


@pytest.mark.cluster
def test_cluster_context_manager_leaves_no_process() -> None:
    with EmbeddedCluster(3, unsafe_no_fsync=True) as cluster:
        pids = [m.pid for m in cluster]
        assert all(pid is not None and alive(pid) for pid in pids)
    assert not any(alive(pid) for pid in pids if pid is not None)
    assert not set(find_orphans()) & set(pids)


def test_startup_failure_reports_the_log_tail_and_cleans_up() -> None:
    member = EtcdMember("broken", extra_args=["--no-such-flag"])
    with pytest.raises(RuntimeError, match="no-such-flag") as info:
        member.start()
    assert str(member.log_path) in str(info.value)
    assert not member.running
    member.close()
    assert not member.log_path.exists()


def test_lost_port_race_is_retried_on_new_ports() -> None:
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    member = EtcdMember("raced", unsafe_no_fsync=True)
    # the port was free when picked, then someone else took it before etcd could
    member._ports = embedded._Ports(taken, member.peer_port, member._ports.metrics)
    try:
        member.start()
        assert member.client_port != taken
        assert member.is_healthy()
    finally:
        member.close()
        squatter.close()


def test_binary_override_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "etcdctl"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv(embedded.BIN_ENV, str(tmp_path))
    assert embedded.find_etcd_binary("etcdctl") == str(fake)
    with pytest.raises(FileNotFoundError, match=embedded.BIN_ENV):
        embedded.find_etcd_binary("etcdutl")
    monkeypatch.delenv(embedded.BIN_ENV)
    found = embedded.find_etcd_binary("etcd")
    assert os.access(found, os.X_OK)

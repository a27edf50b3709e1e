"""The admin commands of the ``etcdwire`` command line (issue 7, "What it must show" point 1):
member, endpoint, snapshot, defrag, alarm, move-leader, auth, user and role.

The pure formatting is checked against output captured from etcdctl 3.5; the commands run as
real processes against real etcd and are cross-checked with the real ``etcdctl`` (and
``etcdutl`` for snapshots): what one changes the other sees, and the JSON of both agrees.
"""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from etcdwire import Client, NoSpace
from etcdwire.tools.ctl.auth import grant_range, revoke_text, role_get_lines
from etcdwire.tools.ctl.cluster import initial_cluster_lines, member_row
from etcdwire.tools.ctl.common import CommandError
from etcdwire.tools.ctl.maintenance import (
    SnapshotProgress,
    admin_table,
    alarm_text,
    go_duration,
    humanize_bytes,
    member_id_arg,
    render_progress,
)
from etcdwire.tools.ctl.snapshot_db import SnapshotFormatError, crc32c, snapshot_db_status
from etcdwire.tools.embedded import EtcdMember, find_etcd_binary
from etcdwire.types import Member, Permission, PermissionType

from .conftest import CliResult
from .conftest import cli as run_etcdwire


def cli(*args: str, endpoints: Any, input: str | None = None, timeout: float = 60.0) -> CliResult:
    """The real ``etcdwire`` command against ``endpoints`` (a URL, a member, a cluster or a
    list of them), through the tools' ``cli`` helper (no ETCDCTL_* variable leaks in)."""
    return run_etcdwire(*args, endpoint=_urls(endpoints), input=input, timeout=timeout)


def ok(result: CliResult) -> str:
    assert result.rc == 0, f"exit {result.rc}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result.stdout


def _urls(target: Any) -> str:
    if isinstance(target, str):
        return target
    if isinstance(target, EtcdMember):
        return target.url
    if hasattr(target, "urls"):
        return ",".join(target.urls)
    return ",".join(m.url if isinstance(m, EtcdMember) else str(m) for m in target)


def without_member_id(text: str) -> list[str]:
    """``fields`` output without the header's MemberID line (whichever member answered)."""
    return [line for line in text.splitlines() if not line.startswith('"MemberID"')]


# ============================================================================================
# pure formatting, checked against etcdctl 3.5's own output
# ============================================================================================

# etcdctl 3.5.1 `member list -w table` with one learner not started yet
ETCDCTL_MEMBER_TABLE = (
    "+------------------+-----------+------+---------------------"
    "---+------------------------+------------+\n"
    "|        ID        |  STATUS   | NAME |       PEER ADDRS    "
    "   |      CLIENT ADDRS      | IS LEARNER |\n"
    "+------------------+-----------+------+---------------------"
    "---+------------------------+------------+\n"
    "| 47fcdeb22199dd72 | unstarted |      |  http://127.0.0.1:11"
    "11 |                        |       true |\n"
    "| 95864c7ba52003a8 |   started |   x0 | http://127.0.0.1:548"
    "05 | http://127.0.0.1:59699 |      false |\n"
    "+------------------+-----------+------+---------------------"
    "---+------------------------+------------+\n"
)


def test_member_table_is_drawn_as_etcdctl_draws_it() -> None:
    members = [
        Member(0x47FCDEB22199DD72, "", ("http://127.0.0.1:1111",), (), is_learner=True),
        Member(0x95864C7BA52003A8, "x0", ("http://127.0.0.1:54805",), ("http://127.0.0.1:59699",)),
    ]
    header = ("ID", "Status", "Name", "Peer Addrs", "Client Addrs", "Is Learner")
    assert admin_table(header, [member_row(m) for m in members]) == ETCDCTL_MEMBER_TABLE


def test_table_header_centred_with_the_odd_space_on_the_right() -> None:
    table = admin_table(("status",), [["started"]]).splitlines()
    assert table[1] == "| STATUS  |"
    assert table[3] == "| started |"
    assert {len(line) for line in table} == {len(table[0])}


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (9, "9 B"),
        (10, "10 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (2048, "2.0 kB"),
        (20480, "20 kB"),
        (28672, "29 kB"),
        (2519040, "2.5 MB"),
        (16 * 1024**3, "17 GB"),
    ],
)
def test_sizes_as_go_humanize_bytes(size: int, text: str) -> None:
    assert humanize_bytes(size) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.003830824, "3.830824ms"),
        (0.007, "7ms"),
        (0.0000015, "1.5µs"),
        (0.0000005, "500ns"),
        (1.5, "1.5s"),
        (123.0, "2m3s"),
        (3600.0, "1h0m0s"),
        (0.0, "0s"),
    ],
)
def test_durations_as_go_time_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_member_ids_are_hex_and_bad_ones_exit_128() -> None:
    assert member_id_arg("95864c7ba52003a8") == 0x95864C7BA52003A8
    for bad in ("zz", "", "-1", "1" * 17, "0x10"):
        with pytest.raises(CommandError) as caught:
            member_id_arg(bad)
        assert caught.value.code == 128 and "expecting ID in Hex" in caught.value.message


def test_member_add_settings_name_the_new_member() -> None:
    members = [
        Member(1, "", ("http://127.0.0.1:1111",), (), is_learner=True),
        Member(2, "x0", ("http://127.0.0.1:54805",)),
    ]
    lines = initial_cluster_lines("newm", 1, ["http://127.0.0.1:1111"], members)
    assert lines == [
        'ETCD_NAME="newm"',
        'ETCD_INITIAL_CLUSTER="newm=http://127.0.0.1:1111,x0=http://127.0.0.1:54805"',
        'ETCD_INITIAL_ADVERTISE_PEER_URLS="http://127.0.0.1:1111"',
        'ETCD_INITIAL_CLUSTER_STATE="existing"',
    ]


def test_role_get_lines_as_etcdctl() -> None:
    perms = [
        Permission(PermissionType.READ, b"/a", b"/b"),
        Permission(PermissionType.WRITE, b"/f", b"\0"),
        Permission(PermissionType.READWRITE, b"/p", b"/q"),
        Permission(PermissionType.WRITE, b"single"),
    ]
    assert role_get_lines("r1", perms) == [
        "Role r1",
        "KV Read:",
        "\t[/a, /b) (prefix /a)",
        "\t[/p, /q) (prefix /p)",
        "KV Write:",
        "\t[/f, <open ended>",
        "\t[/p, /q) (prefix /p)",
        "\tsingle",
    ]


def test_permission_ranges_and_revoke_messages() -> None:
    assert grant_range("/p", None, prefix=True, from_key=False) == (b"/p", b"/q")
    assert grant_range("/f", None, prefix=False, from_key=True) == (b"/f", b"\0")
    assert grant_range("", None, prefix=True, from_key=False) == (b"\0", b"\0")
    assert grant_range("a", "b", prefix=False, from_key=False) == (b"a", b"b")
    assert grant_range("a", None, prefix=False, from_key=False) == (b"a", b"")
    for kwargs, end in (({"prefix": True, "from_key": True}, None), ({"prefix": True}, "z")):
        with pytest.raises(CommandError) as caught:
            grant_range("a", end, **{"prefix": False, "from_key": False, **kwargs})
        assert caught.value.code == 128
    assert revoke_text("r", b"k", b"") == "Permission of key k is revoked from role r"
    assert revoke_text("r", b"a", b"b") == "Permission of range [a, b) is revoked from role r"
    assert revoke_text("r", b"a", b"\0") == (
        "Permission of range [a, <open ended> is revoked from role r"
    )


def test_alarm_text_is_protobuf_compact_text() -> None:
    assert alarm_text(123, "NOSPACE") == "memberID:123 alarm:NOSPACE "


def test_progress_line_fits_and_fills() -> None:
    half = render_progress(500_000, 1_000_000, 1.0, 80)
    assert len(half) <= 80 and " 50% 500 kB / 1.0 MB" in half
    inside = half[half.index("[") + 1 : half.index("]")]
    assert inside.count("#") == len(inside) // 2
    full = render_progress(1_000_000, 1_000_000, 1.0, 80, colour=True)
    assert "#" * 10 in full and "." not in full.split("]")[0]
    narrow = render_progress(1_000_000, 1_000_000, 1.0, 40)
    assert len(narrow) <= 40 and "[" not in narrow
    assert "100%" in full and "\x1b[32m" in full
    assert render_progress(10, None, 0.0, 80).startswith("Downloading snapshot ")


def test_progress_draws_only_on_a_terminal() -> None:
    clock = iter(float(t) for t in range(100))
    screen = io.StringIO()
    bar = SnapshotProgress(screen, tty=True, interval=0.5, clock=lambda: next(clock))
    for received in (100, 200, 300):
        bar(received, 300)
    bar.finish()
    drawn = screen.getvalue()
    assert drawn.count("\r\x1b[K") == bar.drawn == 4 and drawn.endswith("\n")
    assert "100%" in drawn.rsplit("\r", 1)[-1]
    piped = io.StringIO()
    quiet = SnapshotProgress(piped, tty=False)
    quiet(100, 300)
    quiet.finish()
    assert piped.getvalue() == ""


def test_crc32c_check_value() -> None:
    # the CRC-32C (Castagnoli) check value of "123456789" (RFC 3720, B.4)
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"6789", crc32c(b"12345")) == 0xE3069283


def test_snapshot_status_refuses_what_is_not_bbolt(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(16384))
    with pytest.raises(SnapshotFormatError):
        snapshot_db_status(junk)


# ============================================================================================
# membership, on a 3-member cluster (shared for reads, a fresh one for changes)
# ============================================================================================


@pytest.mark.etcd
@pytest.mark.cluster
def test_member_list_matches_etcdctl_in_every_format(etcd_cluster: Any, etcdctl: Any) -> None:
    for fmt in ("simple", "table"):
        mine = ok(cli("member", "list", "-w", fmt, endpoints=etcd_cluster))
        theirs = etcdctl("member", "list", "-w", fmt, endpoint=etcd_cluster, check=True).stdout
        assert mine == theirs
    mine = ok(cli("member", "list", "-w", "fields", endpoints=etcd_cluster))
    theirs = etcdctl("member", "list", "-w", "fields", endpoint=etcd_cluster, check=True).stdout
    assert without_member_id(mine) == without_member_id(theirs)
    mine_json = json.loads(ok(cli("member", "list", "-w", "json", endpoints=etcd_cluster)))
    theirs_json = json.loads(
        etcdctl("member", "list", "-w", "json", endpoint=etcd_cluster, check=True).stdout
    )
    assert mine_json["members"] == theirs_json["members"]
    assert mine_json["header"]["cluster_id"] == theirs_json["header"]["cluster_id"]
    assert len(mine_json["members"]) == 3


def _add_learner(peer_url: str, endpoints: Any) -> str:
    """``member add --learner`` through etcdwire, waiting out etcd's refusal of changes in
    the first seconds of a cluster ("unhealthy cluster")."""
    end = time.monotonic() + 20
    while True:
        result = cli(
            "member", "add", "joiner", f"--peer-urls={peer_url}", "--learner", endpoints=endpoints
        )
        if result.rc == 0 or "unhealthy cluster" not in result.stderr:
            return ok(result)
        assert time.monotonic() < end, result.stderr
        time.sleep(0.5)


@pytest.mark.etcd
@pytest.mark.cluster
def test_membership_changes_seen_by_etcdctl(fresh_cluster: Any, etcdctl: Any) -> None:
    cluster = fresh_cluster(3)
    joiner = EtcdMember("joiner", unsafe_no_fsync=True, log_level="warn")
    try:
        added = _add_learner(joiner.peer_url, cluster)
        first = added.splitlines()[0].split()
        assert first[0] == "Member" and first[2:5] == ["added", "to", "cluster"]
        new_id = first[1]
        initial = next(
            line for line in added.splitlines() if line.startswith("ETCD_INITIAL_CLUSTER=")
        )
        assert f"joiner={joiner.peer_url}" in initial

        listed = etcdctl("member", "list", endpoint=cluster, check=True).stdout
        row = next(line for line in listed.splitlines() if line.startswith(new_id))
        assert row == f"{new_id}, unstarted, , {joiner.peer_url}, , true"

        joiner.join(initial.split("=", 1)[1].strip('"')).start()
        end = time.monotonic() + 30
        while True:  # etcd refuses until the learner caught up with the leader
            result = cli("member", "promote", new_id, endpoints=cluster)
            if result.rc == 0:
                break
            assert "in sync with leader" in result.stderr and time.monotonic() < end, result.stderr
            time.sleep(0.3)
        # etcdctl pads the hex IDs to 16 columns (%16x): a shorter ID gets leading spaces.
        assert result.stdout.startswith(f"Member {int(new_id, 16):16x} promoted in cluster ")
        listed = etcdctl("member", "list", "-w", "json", endpoint=cluster, check=True).stdout
        mine = {m["ID"]: m for m in json.loads(listed)["members"]}
        assert (
            not mine[int(new_id, 16)].get("isLearner") and mine[int(new_id, 16)]["name"] == "joiner"
        )

        # etcdctl changes, etcdwire sees
        other = joiner.peer_url.replace("127.0.0.1", "localhost")
        etcdctl("member", "update", new_id, f"--peer-urls={other}", endpoint=cluster, check=True)
        seen = json.loads(ok(cli("member", "list", "-w", "json", endpoints=cluster)))
        assert {m["ID"]: m for m in seen["members"]}[int(new_id, 16)]["peerURLs"] == [other]
        # etcdwire changes, etcdctl sees
        updated = json.loads(
            ok(
                cli(
                    "member",
                    "update",
                    new_id,
                    f"--peer-urls={joiner.peer_url}",
                    "-w",
                    "json",
                    endpoints=cluster,
                )
            )
        )
        assert {m["ID"]: m for m in updated["members"]}[int(new_id, 16)]["peerURLs"] == [
            joiner.peer_url
        ]
        listed = etcdctl("member", "list", endpoint=cluster, check=True).stdout
        assert f"{new_id}, started, joiner, {joiner.peer_url}, {joiner.url}, false" in listed

        removed = ok(cli("member", "remove", new_id, endpoints=cluster))
        assert removed.startswith(f"Member {int(new_id, 16):16x} removed from cluster ")
        listed = etcdctl("member", "list", endpoint=cluster, check=True).stdout
        assert new_id not in listed and len(listed.splitlines()) == 3
        again = cli("member", "remove", new_id, endpoints=cluster)
        assert again.rc == 1 and again.stderr == "Error: etcdserver: member not found\n"

        # leadership moved to a follower, as etcdctl then reports it
        statuses = json.loads(
            etcdctl("endpoint", "status", "-w", "json", endpoint=cluster, check=True).stdout
        )
        leader = statuses[0]["Status"]["leader"]
        target = next(
            s["Status"]["header"]["member_id"]
            for s in statuses
            if s["Status"]["header"]["member_id"] != leader
        )
        moved = ok(cli("move-leader", f"{target:x}", endpoints=cluster))
        assert moved == f"Leadership transferred from {leader:x} to {target:x}\n"
        after = json.loads(
            etcdctl("endpoint", "status", "-w", "json", endpoint=cluster, check=True).stdout
        )
        assert {s["Status"]["leader"] for s in after} == {target}
    finally:
        joiner.close()


@pytest.mark.etcd
def test_changes_in_an_unsupported_format_exit_4_and_change_nothing(etcd_factory: Any) -> None:
    member = etcd_factory()
    for fmt in ("table", "fields"):
        result = cli(
            "member", "add", "x", "--peer-urls=http://127.0.0.1:1", "-w", fmt, endpoints=member
        )
        assert result.rc == 4
        assert result.stderr == f"Error: {fmt} not supported as output format\n"
    assert len(ok(cli("member", "list", endpoints=member)).splitlines()) == 1
    bad = cli("member", "add", "x", endpoints=member)
    assert bad.rc == 128 and "peer urls not provided" in bad.stderr


# ============================================================================================
# endpoint status / health / hashkv: one row per endpoint, as etcdctl
# ============================================================================================


@pytest.mark.etcd
@pytest.mark.cluster
def test_endpoint_status_rows_agree_with_etcdctl(etcd_cluster: Any, etcdctl: Any) -> None:
    urls = list(etcd_cluster.urls)
    mine = json.loads(ok(cli("endpoint", "status", "-w", "json", endpoints=urls)))
    theirs = json.loads(
        etcdctl("endpoint", "status", "-w", "json", endpoint=urls, check=True).stdout
    )
    assert [row["Endpoint"] for row in mine] == [row["Endpoint"] for row in theirs] == urls
    for a, b in zip(mine, theirs, strict=True):
        assert set(a["Status"]) == set(b["Status"])
        for field in ("version", "leader", "raftTerm"):
            assert a["Status"][field] == b["Status"][field]
        assert a["Status"]["header"]["member_id"] == b["Status"]["header"]["member_id"]
        assert abs(a["Status"]["raftIndex"] - b["Status"]["raftIndex"]) < 50

    table = ok(cli("endpoint", "status", "-w", "table", endpoints=urls)).splitlines()
    their_table = etcdctl(
        "endpoint", "status", "-w", "table", endpoint=urls, check=True
    ).stdout.splitlines()
    assert table[:3] == their_table[:3] and len(table) == len(their_table) == 3 + len(urls) + 1
    simple = ok(cli("endpoint", "status", endpoints=urls)).splitlines()
    their_simple = etcdctl("endpoint", "status", endpoint=urls, check=True).stdout.splitlines()
    for a, b in zip(simple, their_simple, strict=True):
        mine_cells, their_cells = a.split(", "), b.split(", ")
        # endpoint, ID, version, db size, is leader, is learner, raft term
        assert mine_cells[:7] == their_cells[:7] and len(mine_cells) == len(their_cells) == 10
    fields = ok(cli("endpoint", "status", "-w", "fields", endpoints=urls))
    their_fields = etcdctl("endpoint", "status", "-w", "fields", endpoint=urls, check=True).stdout
    names = [line.split(" : ")[0] for line in fields.splitlines()]
    assert names == [line.split(" : ")[0] for line in their_fields.splitlines()]

    # --cluster: every member's client URL, whichever endpoint was given
    rows = ok(cli("endpoint", "status", "--cluster", endpoints=urls[0])).splitlines()
    assert sorted(row.split(", ")[0] for row in rows) == sorted(urls)
    rows = ok(cli("endpoint", "--cluster", "status", endpoints=urls[0])).splitlines()
    assert sorted(row.split(", ")[0] for row in rows) == sorted(urls)
    assert len(ok(cli("endpoint", "status", endpoints=urls[0])).splitlines()) == 1


@pytest.mark.etcd
@pytest.mark.cluster
def test_endpoint_health_one_row_per_endpoint(etcd_cluster: Any, etcdctl: Any) -> None:
    urls = list(etcd_cluster.urls)
    simple = cli("endpoint", "health", endpoints=urls)
    ok(simple)
    assert simple.stdout == ""  # etcdctl writes health lines to stderr
    lines = simple.stderr.splitlines()
    assert sorted(line.split()[0] for line in lines) == sorted(urls)
    assert all(" is healthy: successfully committed proposal: took = " in line for line in lines)
    mine = json.loads(ok(cli("endpoint", "health", "-w", "json", endpoints=urls)))
    theirs = json.loads(
        etcdctl("endpoint", "health", "-w", "json", endpoint=urls, check=True).stdout
    )
    assert sorted(r["endpoint"] for r in mine) == sorted(r["endpoint"] for r in theirs)
    assert {tuple(sorted(r)) for r in mine} == {tuple(sorted(r)) for r in theirs}
    assert all(r["health"] is True and r["took"].endswith("s") for r in mine)
    table = ok(cli("endpoint", "health", "-w", "table", endpoints=urls)).splitlines()
    assert [cell.strip() for cell in table[1].split("|")[1:-1]] == [
        "ENDPOINT",
        "HEALTH",
        "TOOK",
        "ERROR",
    ]
    assert len(table) == 3 + len(urls) + 1 and len({len(line) for line in table}) == 1


@pytest.mark.etcd
def test_endpoint_health_reports_an_unreachable_endpoint(etcd: Any) -> None:
    dead = "http://127.0.0.1:1"
    result = cli(
        "--dial-timeout=1s",
        "--command-timeout=2s",
        "endpoint",
        "health",
        endpoints=[etcd.url, dead],
    )
    assert result.rc == 1 and "Traceback" not in result.stderr
    assert f"{etcd.url} is healthy" in result.stderr
    assert f"{dead} is unhealthy: failed to commit proposal: " in result.stderr
    assert result.stderr.rstrip().endswith("Error: unhealthy cluster")


@pytest.mark.etcd
def test_endpoint_commands_over_mtls(etcd_mtls: Any, etcdctl: Any) -> None:
    """Calls meant for one member use the client's TLS settings: CA and client certificate,
    whether the endpoint is given as https://host:port or host:port."""
    files = etcd_mtls.client_tls
    flags = (f"--cacert={files.ca_file}", f"--cert={files.cert_file}", f"--key={files.key_file}")
    for endpoint in (etcd_mtls.url, etcd_mtls.url.split("://", 1)[1]):
        status = ok(cli(*flags, "endpoint", "status", endpoints=endpoint)).split(", ")
        assert status[0] == endpoint and status[4] == "true"
        health = cli(*flags, "endpoint", "health", "-w", "json", endpoints=endpoint)
        assert json.loads(ok(health))[0]["health"] is True
    theirs = etcdctl("endpoint", "status", member=etcd_mtls, check=True).stdout.split(", ")
    assert theirs[1] == status[1]
    no_cert = cli(f"--cacert={files.ca_file}", "endpoint", "status", endpoints=etcd_mtls.url)
    # refused at the handshake: one line naming the cause, the bad-connection status
    assert no_cert.rc == 2 and no_cert.stderr.count("\n") == 1
    assert no_cert.stderr.startswith("Error: ") and "certificate" in no_cert.stderr


@pytest.mark.etcd
@pytest.mark.cluster
def test_endpoint_hashkv_agrees_with_etcdctl(etcd_cluster: Any, etcdctl: Any) -> None:
    urls = list(etcd_cluster.urls)
    with Client(urls) as client:
        revision = client.put("admin/hashkv", "v").header.revision
    rev = f"--rev={revision}"
    mine = ok(cli("endpoint", "hashkv", rev, endpoints=urls))
    theirs = etcdctl("endpoint", "hashkv", rev, endpoint=urls, check=True).stdout
    assert mine == theirs
    hashes = {line.split(", ")[1] for line in mine.splitlines()}
    assert len(hashes) == 1 and len(mine.splitlines()) == 3  # every member agrees
    mine_json = json.loads(ok(cli("endpoint", "hashkv", rev, "-w", "json", endpoints=urls)))
    theirs_json = json.loads(
        etcdctl("endpoint", "hashkv", rev, "-w", "json", endpoint=urls, check=True).stdout
    )
    for a, b in zip(mine_json, theirs_json, strict=True):
        assert a["Endpoint"] == b["Endpoint"]
        assert a["HashKV"]["hash"] == b["HashKV"]["hash"]
        assert a["HashKV"]["compact_revision"] == b["HashKV"]["compact_revision"]
    table = ok(cli("endpoint", "hashkv", rev, "-w", "table", endpoints=urls))
    assert (
        table == etcdctl("endpoint", "hashkv", rev, "-w", "table", endpoint=urls, check=True).stdout
    )


# ============================================================================================
# alarms, defrag, snapshots
# ============================================================================================


@pytest.mark.etcd
def test_alarm_list_and_disarm_on_a_healthy_member(etcd: Any, etcdctl: Any) -> None:
    assert ok(cli("alarm", "list", endpoints=etcd)) == ""
    mine = json.loads(ok(cli("alarm", "list", "-w", "json", endpoints=etcd)))
    theirs = json.loads(etcdctl("alarm", "list", "-w", "json", check=True).stdout)
    assert set(mine) == set(theirs) == {"header"}
    assert mine["header"]["cluster_id"] == theirs["header"]["cluster_id"]
    assert ok(cli("alarm", "disarm", "-w", "json", endpoints=etcd)).strip() == "{}"
    table = cli("alarm", "list", "-w", "table", endpoints=etcd)
    assert table.rc == 4 and table.stderr == "Error: table not supported as output format\n"


@pytest.mark.etcd
def test_nospace_alarm_listed_then_disarmed(etcd_factory: Any, etcdctl: Any) -> None:
    member = etcd_factory(f"--quota-backend-bytes={2 * 1024 * 1024}")
    with Client(member.url) as client:
        with pytest.raises(NoSpace):
            for index in range(200):
                client.put(f"fill/{index % 4}", b"q" * (256 * 1024))
        listed = ok(cli("alarm", "list", endpoints=member))
        assert listed == etcdctl("alarm", "list", member=member, check=True).stdout
        assert listed.endswith("alarm:NOSPACE \n") and listed.startswith("memberID:")
        health = cli("endpoint", "health", "-w", "json", endpoints=member)
        assert health.rc == 1
        assert json.loads(health.stdout)[0]["error"] == "Active Alarm(s): NOSPACE"
        fields = ok(cli("alarm", "list", "-w", "fields", endpoints=member))
        assert '"AlarmType" : NOSPACE' in fields
        gone = client.delete("fill/", prefix=True)
        client.kv.compact(gone.header.revision, physical=True)
        assert ok(cli("defrag", endpoints=member)) == (
            f"Finished defragmenting etcd member[{member.url}]\n"
        )
        disarmed = json.loads(ok(cli("alarm", "disarm", "-w", "json", endpoints=member)))
        assert disarmed["alarms"][0]["alarm"] == 1  # NOSPACE, as a number like encoding/json
        assert ok(cli("alarm", "list", endpoints=member)) == ""
        assert etcdctl("alarm", "list", member=member, check=True).stdout == ""


@pytest.mark.etcd
@pytest.mark.cluster
def test_defrag_each_endpoint_and_the_whole_cluster(etcd_cluster: Any) -> None:
    urls = list(etcd_cluster.urls)
    out = ok(cli("defrag", endpoints=urls))
    assert out.splitlines() == [f"Finished defragmenting etcd member[{url}]" for url in urls]
    out = ok(cli("defrag", "--cluster", endpoints=urls[0]))
    assert sorted(out.splitlines()) == sorted(
        f"Finished defragmenting etcd member[{url}]" for url in urls
    )


@pytest.mark.etcd
def test_defrag_of_an_unreachable_endpoint_fails(etcd: Any) -> None:
    dead = "http://127.0.0.1:1"
    result = cli("--dial-timeout=1s", "--command-timeout=2s", "defrag", endpoints=[etcd.url, dead])
    assert result.rc == 1 and "Traceback" not in result.stderr
    assert result.stdout == f"Finished defragmenting etcd member[{etcd.url}]\n"
    assert result.stderr.startswith(f"Failed to defragment etcd member[{dead}] (")


def etcdutl_status(path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [find_etcd_binary("etcdutl"), "snapshot", "status", str(path), "-w", "json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return dict(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.etcd
def test_snapshot_save_accepted_by_etcdutl_and_status_agrees(
    etcd: Any, etcdctl: Any, tmp_path: Path
) -> None:
    with Client(etcd.url) as client:
        for index in range(1500):
            client.put(f"admin/snap/{index:05d}", f"value-{index}" * 20)
        client.delete("admin/snap/00007")
    mine = tmp_path / "mine.db"
    out = ok(cli("snapshot", "save", str(mine), endpoints=etcd))
    assert out == f"Snapshot saved at {mine}\n"
    assert stat.S_IMODE(mine.stat().st_mode) == 0o600
    assert not Path(f"{mine}.part").exists()
    expected = etcdutl_status(mine)
    assert expected["totalKey"] > 1500 and expected["revision"] > 1500
    assert (
        json.loads(ok(cli("snapshot", "status", str(mine), "-w", "json", endpoints=etcd)))
        == expected
    )

    # a damaged copy is one clear error, never a traceback
    half = tmp_path / "half.db"
    half.write_bytes(mine.read_bytes()[: mine.stat().st_size // 2])
    broken = cli("snapshot", "status", str(half), endpoints=etcd)
    assert broken.rc == 1 and broken.stderr.startswith("Error: truncated: ")
    assert broken.stderr.count("\n") == 1

    # a snapshot etcdctl saved reads the same through etcdwire, in every format
    theirs = tmp_path / "theirs.db"
    etcdctl("snapshot", "save", str(theirs), check=True)
    their_status = etcdutl_status(theirs)
    assert (
        json.loads(ok(cli("snapshot", "status", str(theirs), "-w", "json", endpoints=etcd)))
        == their_status
    )
    for fmt in ("simple", "table", "fields"):
        done = subprocess.run(
            [find_etcd_binary("etcdutl"), "snapshot", "status", str(theirs), "-w", fmt],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert ok(cli("snapshot", "status", str(theirs), "-w", fmt, endpoints=etcd)) == done.stdout


@pytest.mark.etcd
@pytest.mark.cluster
def test_snapshot_save_needs_exactly_one_endpoint(etcd_cluster: Any, tmp_path: Path) -> None:
    result = cli("snapshot", "save", str(tmp_path / "x.db"), endpoints=etcd_cluster)
    assert result.rc == 5  # as etcdctl 3.5
    assert result.stderr.startswith("Error: snapshot must be requested to one selected node")
    assert not list(tmp_path.iterdir())
    nowhere = cli(
        "snapshot", "save", str(tmp_path / "no" / "dir.db"), endpoints=etcd_cluster.urls[0]
    )
    assert nowhere.rc == 1 and nowhere.stderr.count("\n") == 1
    assert nowhere.stderr.startswith(f"Error: could not write {tmp_path / 'no' / 'dir.db'}")
    missing = cli("snapshot", "status", str(tmp_path / "nothing.db"), endpoints=etcd_cluster)
    assert missing.rc == 1 and missing.stderr.startswith("Error: ")


# ============================================================================================
# auth, users and roles: what one tool makes the other sees
# ============================================================================================


@pytest.mark.etcd
def test_users_and_roles_cross_checked_with_etcdctl(etcd_factory: Any, etcdctl: Any) -> None:
    member = etcd_factory()

    def both(*args: str) -> tuple[str, str]:
        return (
            ok(cli(*args, endpoints=member)),
            etcdctl(*args, member=member, check=True).stdout,
        )

    assert ok(cli("user", "add", "alice:pw-a", endpoints=member)) == "User alice created\n"
    assert ok(cli("role", "add", "reader", endpoints=member)) == "Role reader created\n"
    for args in (
        ("reader", "read", "/a", "/b"),
        ("reader", "readwrite", "/p", "--prefix"),
        ("reader", "write", "/f", "--from-key"),
        ("reader", "write", "single"),
    ):
        assert (
            ok(cli("role", "grant-permission", *args, endpoints=member)) == "Role reader updated\n"
        )
    ok(cli("user", "grant-role", "alice", "reader", endpoints=member))
    # made by etcdwire, read by etcdctl: the same text
    mine, theirs = both("role", "get", "reader")
    assert mine == theirs and "\t[/p, /q) (prefix /p)" in mine
    mine, theirs = both("user", "get", "alice")
    assert mine == theirs == "User: alice\nRoles: reader\n"
    mine, theirs = both("user", "get", "alice", "--detail")
    assert mine == theirs

    # made by etcdctl, read by etcdwire
    etcdctl("user", "add", "bob", "--new-user-password=pw-b", member=member, check=True)
    etcdctl("role", "add", "writer", member=member, check=True)
    etcdctl("user", "grant-role", "bob", "writer", member=member, check=True)
    mine, theirs = both("user", "list")
    assert mine == theirs == "alice\nbob\n"
    mine, theirs = both("role", "list")
    assert mine == theirs == "reader\nwriter\n"
    queries: list[tuple[str, ...]] = [
        ("role", "list"),
        ("user", "list"),
        ("role", "get", "reader"),
        ("user", "get", "bob"),
    ]
    for query in queries:
        mine_json = json.loads(ok(cli(*query, "-w", "json", endpoints=member)))
        their_json = json.loads(etcdctl(*query, "-w", "json", member=member, check=True).stdout)
        mine_json.pop("header"), their_json.pop("header")
        assert mine_json == their_json, query
    mine, theirs = both("role", "list", "-w", "fields")
    assert without_member_id(mine) == without_member_id(theirs)
    mine, theirs = both("role", "get", "reader", "-w", "fields")
    assert without_member_id(mine) == without_member_id(theirs)

    # revocations by etcdwire, seen by etcdctl
    assert ok(cli("role", "revoke-permission", "reader", "/p", "--prefix", endpoints=member)) == (
        "Permission of range [/p, /q) is revoked from role reader\n"
    )
    ok(cli("role", "revoke-permission", "reader", "/a", "/b", endpoints=member))
    ok(cli("role", "revoke-permission", "reader", "/f", "--from-key", endpoints=member))
    ok(cli("role", "revoke-permission", "reader", "single", endpoints=member))
    assert etcdctl("role", "get", "reader", member=member, check=True).stdout == (
        "Role reader\nKV Read:\nKV Write:\n"
    )
    ok(cli("user", "revoke-role", "bob", "writer", endpoints=member))
    assert etcdctl("user", "get", "bob", member=member, check=True).stdout == "User: bob\nRoles:\n"
    ok(cli("user", "delete", "bob", endpoints=member))
    ok(cli("role", "delete", "writer", endpoints=member))
    assert etcdctl("user", "list", member=member, check=True).stdout == "alice\n"
    assert etcdctl("role", "list", member=member, check=True).stdout == "reader\n"
    missing = cli("user", "get", "nobody", endpoints=member)
    assert missing.rc == 1 and missing.stderr == "Error: etcdserver: user name not found\n"
    table = cli("role", "list", "-w", "table", endpoints=member)
    assert table.rc == 4

    # a user for certificate logins only; bad arguments are caught before anything is sent
    ok(cli("user", "add", "certonly", "--no-password", endpoints=member))
    assert etcdctl("user", "get", "certonly", member=member, check=True).stdout == (
        "User: certonly\nRoles:\n"
    )
    refusals: list[tuple[tuple[str, ...], str]] = [
        (("user", "add", "empty", "--interactive=false"), "empty password"),
        (("user", "add", ":pw"), "empty user name is not allowed"),
        (("role", "grant-permission", "reader", "bogus", "k"), "invalid permission type bogus"),
        (
            ("role", "grant-permission", "reader", "read", "k", "--prefix", "--from-key"),
            "exclusive",
        ),
        (("role", "grant-permission", "reader", "read", "k", "z", "--prefix"), "endkey"),
        (("member", "remove", "xyz"), "expecting ID in Hex"),
    ]
    for refused_args, message in refusals:
        refused = cli(*refused_args, input="\n", endpoints=member)
        assert refused.rc == 128 and message in refused.stderr, (refused_args, refused)
        assert refused.stderr.startswith("Error: ") and refused.stderr.count("\n") == 1
    assert etcdctl("user", "list", member=member, check=True).stdout == "alice\ncertonly\n"


@pytest.mark.etcd
def test_auth_enable_then_user_flag_works(etcd_factory: Any, etcdctl: Any) -> None:
    member = etcd_factory()
    ok(cli("user", "add", "root", "--new-user-password=rootpw", endpoints=member))
    ok(cli("user", "add", "carol", "--interactive=false", input="carolpw\n", endpoints=member))
    ok(cli("role", "add", "app", endpoints=member))
    ok(cli("role", "grant-permission", "app", "readwrite", "app/", "--prefix", endpoints=member))
    ok(cli("user", "grant-role", "carol", "app", endpoints=member))

    assert ok(cli("auth", "enable", endpoints=member)) == "Authentication Enabled\n"
    # etcdwire gave root the root role, as etcdctl does
    root = ("--user", "root:rootpw")
    assert ok(cli(*root, "user", "get", "root", endpoints=member)) == "User: root\nRoles: root\n"
    status = json.loads(ok(cli(*root, "auth", "status", "-w", "json", endpoints=member)))
    assert status["enabled"] is True
    their_status = etcdctl("--user=root:rootpw", "auth", "status", member=member, check=True).stdout
    assert their_status.startswith("Authentication Status: true\n")

    anonymous = cli("user", "list", endpoints=member)
    assert anonymous.rc == 1 and anonymous.stderr.count("\n") == 1
    assert "Traceback" not in anonymous.stderr
    # carol reads and writes under app/ only; etcdctl agrees
    ok(cli("--user=carol", "--password=carolpw", "put", "app/x", "1", endpoints=member))
    got = etcdctl(
        "--user=carol:carolpw", "get", "app/x", "--print-value-only", member=member, check=True
    )
    assert got.stdout == "1\n"
    denied = cli("--user=carol:carolpw", "put", "other", "1", endpoints=member)
    assert denied.rc == 1 and denied.stderr == "Error: etcdserver: permission denied\n"
    # a password changed through stdin by etcdwire is the one etcdctl must use
    ok(
        cli(
            *root,
            "user",
            "passwd",
            "carol",
            "--interactive=false",
            input="newpw\n",
            endpoints=member,
        )
    )
    assert etcdctl("--user=carol:newpw", "get", "app/x", member=member).returncode == 0
    assert etcdctl("--user=carol:carolpw", "get", "app/x", member=member).returncode != 0

    assert ok(cli(*root, "auth", "disable", endpoints=member)) == "Authentication Disabled\n"
    assert etcdctl("auth", "status", member=member, check=True).stdout.startswith(
        "Authentication Status: false"
    )


@pytest.mark.etcd
def test_auth_status_in_simple_and_json_like_etcdctl(etcd: Any, etcdctl: Any) -> None:
    mine = ok(cli("auth", "status", endpoints=etcd))
    theirs = etcdctl("auth", "status", check=True).stdout
    assert mine.splitlines()[0] == theirs.splitlines()[0] == "Authentication Status: false"
    assert mine.splitlines()[1].startswith("AuthRevision: ")
    mine_json = json.loads(ok(cli("auth", "status", "-w", "json", endpoints=etcd)))
    their_json = json.loads(etcdctl("auth", "status", "-w", "json", check=True).stdout)
    assert set(mine_json) == set(their_json)
    fields = cli("auth", "status", "-w", "fields", endpoints=etcd)
    assert fields.rc == 4

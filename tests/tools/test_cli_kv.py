"""The ``etcdwire`` command against real etcd, compared with the real ``etcdctl``: what one
writes the other reads (get, put, del, txn, lease, watch, lock, elect), and the JSON, fields and
simple outputs have etcdctl's shapes (issue 7, "CLI tests run the real etcdwire command against
real etcd and compare with etcdctl's view")."""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from etcdwire.tools.ctl import run
from etcdwire.tools.embedded import EtcdMember, run_etcdctl
from tests.etcdctl_process import EtcdctlProcess

from .conftest import CliResult, cli, wait_until

pytestmark = pytest.mark.etcd


def etcdctl(member: EtcdMember, *args: str, input: str | None = None) -> CliResult:
    done = run_etcdctl(*args, endpoints=member.url, input=input)
    return CliResult(done.returncode, done.stdout, done.stderr, 0.0)


def both(member: EtcdMember, *args: str, input: str | None = None) -> tuple[CliResult, CliResult]:
    """The same command line run by etcdwire and by etcdctl at the same time."""
    with ThreadPoolExecutor(2) as pool:
        ours = pool.submit(cli, *args, endpoint=member, input=input)
        theirs = pool.submit(etcdctl, member, *args, input=input)
        return ours.result(), theirs.result()


@pytest.fixture
def prefix() -> str:
    return f"cli-{uuid.uuid4().hex[:8]}/"


@pytest.fixture
def seeded(etcd: EtcdMember, prefix: str) -> str:
    """Three keys under ``prefix`` written by etcdctl; returns the prefix."""
    for name, value in (("a", "1"), ("b", "two words"), ("c", "ünïcode")):
        assert etcdctl(etcd, "put", prefix + name, value).rc == 0
    return prefix


def no_traceback(result: CliResult) -> None:
    assert "Traceback" not in result.stderr, result.stderr


# ---- get / put / del --------------------------------------------------------------------------


def test_what_etcdwire_puts_etcdctl_gets_and_back(etcd: EtcdMember, prefix: str) -> None:
    ours = cli("put", prefix + "mine", "hello world", endpoint=etcd)
    assert (ours.rc, ours.stdout) == (0, "OK\n")
    assert etcdctl(etcd, "get", prefix + "mine").stdout == f"{prefix}mine\nhello world\n"
    assert etcdctl(etcd, "put", prefix + "theirs", "ßtrange value").rc == 0
    got = cli("get", prefix + "theirs", endpoint=etcd)
    assert (got.rc, got.stdout) == (0, f"{prefix}theirs\nßtrange value\n")


def test_put_reads_the_value_from_stdin_when_omitted(etcd: EtcdMember, prefix: str) -> None:
    """etcdctl's argOrStdin: the whole of stdin, newline included, is the value."""
    assert cli("put", prefix + "in", endpoint=etcd, input="line one\nline two\n").rc == 0
    got = etcdctl(etcd, "get", prefix + "in", "--print-value-only")
    assert got.stdout == "line one\nline two\n\n"


@pytest.mark.parametrize(
    "query",
    [
        ["get", "{p}a"],
        ["get", "{p}", "--prefix"],
        ["get", "{p}", "--prefix", "--keys-only"],
        ["get", "{p}a", "{p}c"],
        ["get", "{p}b", "--from-key", "--limit", "1"],
        ["get", "{p}", "--prefix", "--sort-by=VALUE", "--order=DESCEND"],
        ["get", "{p}", "--prefix", "--sort-by=modify", "--order=ascend", "--limit=2"],
        ["get", "{p}", "--prefix", "--consistency=s"],
        ["get", "{p}nothing"],
    ],
    ids=lambda q: " ".join(q[1:]).replace("{p}", "").strip() or "-",
)
def test_get_output_is_etcdctls_in_json_fields_and_simple(
    etcd: EtcdMember, seeded: str, query: list[str]
) -> None:
    args = [part.replace("{p}", seeded) for part in query]
    formats = ("json", "fields", "simple")
    with ThreadPoolExecutor(6) as pool:
        runs = {
            fmt: (
                pool.submit(cli, "-w", fmt, *args, endpoint=etcd),
                pool.submit(etcdctl, etcd, "-w", fmt, *args),
            )
            for fmt in formats
        }
    for fmt, (ours_future, theirs_future) in runs.items():
        ours, theirs = ours_future.result(), theirs_future.result()
        assert ours.rc == theirs.rc == 0, (ours.stderr, theirs.stderr)
        if fmt == "json":
            assert json.loads(ours.stdout) == json.loads(theirs.stdout)
        else:
            assert ours.stdout == theirs.stdout, fmt


def test_get_json_is_parseable_as_etcdctl_scripts_expect(etcd: EtcdMember, seeded: str) -> None:
    result = cli("get", seeded, "--prefix", "-w", "json", endpoint=etcd)
    data = json.loads(result.stdout)
    assert set(data["header"]) == {"cluster_id", "member_id", "revision", "raft_term"}
    assert all(isinstance(value, int) for value in data["header"].values())
    keys = [base64.b64decode(kv["key"]).decode() for kv in data["kvs"]]
    values = [base64.b64decode(kv["value"]).decode() for kv in data["kvs"]]
    assert keys == [seeded + "a", seeded + "b", seeded + "c"]
    assert values == ["1", "two words", "ünïcode"]
    assert data["count"] == 3


def test_count_only_and_value_only(etcd: EtcdMember, seeded: str) -> None:
    ours, theirs = both(etcd, "get", seeded, "--prefix", "--count-only", "-w", "fields")
    assert ours.stdout == theirs.stdout
    assert '"Count" : 3' in ours.stdout
    ours, theirs = both(etcd, "get", seeded, "--prefix", "--print-value-only")
    assert ours.stdout == theirs.stdout == "1\ntwo words\nünïcode\n"
    ours = cli("get", seeded, "--prefix", "--count-only", endpoint=etcd)
    assert ours.rc == 128
    assert ours.stderr == "Error: --count-only is only for `--write-out=fields`\n"


def test_hex_output(etcd: EtcdMember, seeded: str) -> None:
    ours, theirs = both(etcd, "--hex", "get", seeded + "a")
    assert ours.stdout == theirs.stdout
    assert ours.stdout.endswith("\\x31\n")


@pytest.mark.parametrize("fmt", ["simple", "json", "fields"])
def test_put_prev_kv_output(etcd: EtcdMember, prefix: str, fmt: str) -> None:
    for key in ("ours", "theirs"):
        assert etcdctl(etcd, "put", prefix + key, "old").rc == 0
    ours = cli("-w", fmt, "put", prefix + "ours", "new", "--prev-kv", endpoint=etcd)
    theirs = etcdctl(etcd, "-w", fmt, "put", prefix + "theirs", "new", "--prev-kv")
    assert ours.rc == theirs.rc == 0
    if fmt == "json":
        mine, other = json.loads(ours.stdout), json.loads(theirs.stdout)
        assert mine.keys() == other.keys() == {"header", "prev_kv"}
        assert base64.b64decode(mine["prev_kv"]["value"]) == b"old"
        assert mine["prev_kv"].keys() == other["prev_kv"].keys()
    else:
        assert _mask_numbers(ours.stdout.replace("ours", "K")) == _mask_numbers(
            theirs.stdout.replace("theirs", "K")
        )


def _mask_numbers(text: str) -> str:
    return "".join("9" if ch.isdigit() else ch for ch in text)


def test_del_range_prefix_and_prev_kv(etcd: EtcdMember, prefix: str) -> None:
    for name in ("x1", "x2", "y1"):
        cli_ok = etcdctl(etcd, "put", prefix + name, name)
        assert cli_ok.rc == 0
    deleted = cli("del", prefix + "x", "--prefix", "--prev-kv", endpoint=etcd)
    assert deleted.rc == 0
    assert deleted.stdout == f"2\n{prefix}x1\nx1\n{prefix}x2\nx2\n"
    assert etcdctl(etcd, "get", prefix, "--prefix", "--keys-only").stdout == f"{prefix}y1\n\n"
    assert cli("del", prefix + "nothing", endpoint=etcd).stdout == "0\n"
    ours, theirs = both(etcd, "del", prefix + "y1", "-w", "json")
    assert {"header"} <= json.loads(ours.stdout).keys()
    assert (
        json.loads(ours.stdout).get("deleted", 0) + json.loads(theirs.stdout).get("deleted", 0) == 1
    )


# ---- txn --------------------------------------------------------------------------------------


def test_txn_from_stdin_in_etcdctl_grammar(etcd: EtcdMember, prefix: str) -> None:
    assert etcdctl(etcd, "put", prefix + "k1", "v1").rc == 0
    assert etcdctl(etcd, "put", prefix + "k2", "5").rc == 0
    script = (
        f'value("{prefix}k1") = "v1"\n'
        f'mod("{prefix}k2") > "0"\n'
        f'version("{prefix}k1") != "0"\n'
        "\n"
        f'put {prefix}k3 "hello world"\n'
        f"get {prefix}k1\n"
        f"del {prefix}k2\n"
        "\n"
        f"get {prefix}nope\n"
        "\n"
    )
    result = cli("txn", endpoint=etcd, input=script)
    assert (result.rc, result.stderr) == (0, "")
    assert result.stdout == f"SUCCESS\n\nOK\n\n{prefix}k1\nv1\n\n1\n"
    assert etcdctl(etcd, "get", prefix + "k3", "--print-value-only").stdout == "hello world\n"
    assert etcdctl(etcd, "get", prefix + "k2").stdout == ""


def test_txn_failure_branch_json_matches_etcdctl(etcd: EtcdMember, prefix: str) -> None:
    assert etcdctl(etcd, "put", prefix + "k", "v").rc == 0
    script = (
        f'value("{prefix}k") = "other"\n\nput {prefix}k x\n\n'
        f"get {prefix}k\nget {prefix} --prefix --keys-only\n\n"
    )
    ours, theirs = both(etcd, "txn", "-w", "json", input=script)
    assert ours.rc == theirs.rc == 0
    assert json.loads(ours.stdout) == json.loads(theirs.stdout)
    ours, theirs = both(etcd, "txn", "-w", "fields", input=script)
    assert ours.stdout == theirs.stdout


def test_txn_written_by_etcdctl_is_read_by_etcdwire(etcd: EtcdMember, prefix: str) -> None:
    script = f'create("{prefix}lock") = "0"\n\nput {prefix}lock owner\n\n\n'
    assert etcdctl(etcd, "txn", input=script).stdout.startswith("SUCCESS")
    again = cli("txn", endpoint=etcd, input=script)
    assert again.stdout == "FAILURE\n"
    assert cli("get", prefix + "lock", "--print-value-only", endpoint=etcd).stdout == "owner\n"


def test_txn_interactive_prompts_and_file(etcd: EtcdMember, prefix: str, tmp_path: Any) -> None:
    script = f'\nput {prefix}f "from a file"\n\n\n'
    prompted = cli("txn", "-i", endpoint=etcd, input=script)
    assert prompted.stdout.splitlines()[:3] == [
        "compares:",
        "success requests (get, put, del):",
        "failure requests (get, put, del):",
    ]
    path = tmp_path / "txn.txt"
    path.write_text(f'value("{prefix}f") = "from a file"\n\ndel {prefix}f\n\n')
    from_file = cli("txn", "--file", str(path), endpoint=etcd)
    assert from_file.stdout == "SUCCESS\n\n1\n"


def test_txn_bad_input_is_one_error_line(etcd: EtcdMember) -> None:
    ours, theirs = both(etcd, "txn", input="bogus\n\n")
    assert ours.rc == 3
    assert ours.stderr == "Error: malformed comparison: bogus\n"
    assert ours.stderr in theirs.stderr


# ---- lease ------------------------------------------------------------------------------------


def test_lease_grant_attach_timetolive_revoke_with_etcdctl(etcd: EtcdMember, prefix: str) -> None:
    granted = cli("lease", "grant", "100", endpoint=etcd)
    words = granted.stdout.split()
    assert words[0] == "lease" and words[2:] == ["granted", "with", "TTL(100s)"]
    lease = words[1]
    assert len(lease) == 16
    assert cli("put", prefix + "leased", "v", "--lease", lease, endpoint=etcd).rc == 0
    theirs = etcdctl(etcd, "lease", "timetolive", lease, "--keys")
    assert f"attached keys([{prefix}leased])" in theirs.stdout
    ours, theirs = both(etcd, "lease", "timetolive", lease, "--keys", "-w", "json")
    mine, other = json.loads(ours.stdout), json.loads(theirs.stdout)
    assert mine.keys() == other.keys()
    assert mine["keys"] == other["keys"] == [base64.b64encode(f"{prefix}leased".encode()).decode()]
    assert 90 <= mine["ttl"] <= 100 and 90 <= other["ttl"] <= 100
    assert lease in cli("lease", "list", endpoint=etcd).stdout
    once = cli("lease", "keep-alive", "--once", lease, endpoint=etcd)
    assert once.stdout == f"lease {lease} keepalived with TTL(100)\n", once.stderr
    assert cli("lease", "revoke", lease, endpoint=etcd).stdout == f"lease {lease} revoked\n"
    assert etcdctl(etcd, "get", prefix + "leased").stdout == ""
    expired = cli("lease", "timetolive", lease, endpoint=etcd)
    assert expired.stdout == f"lease {lease} already expired\n"
    again = cli("lease", "revoke", lease, endpoint=etcd)
    assert again.rc == 1
    assert again.stderr == "Error: failed to revoke lease (etcdserver: requested lease not found)\n"


def test_lease_granted_by_etcdctl_is_seen_by_etcdwire(etcd: EtcdMember) -> None:
    lease = etcdctl(etcd, "lease", "grant", "50").stdout.split()[1]
    ours, theirs = both(etcd, "lease", "timetolive", lease)
    assert ours.stdout.startswith(f"lease {lease} granted with TTL(50s), remaining(")
    assert _mask_numbers(ours.stdout) == _mask_numbers(theirs.stdout)
    ours, theirs = both(etcd, "lease", "keep-alive", "--once", lease, "-w", "fields")
    assert _mask_numbers(ours.stdout) == _mask_numbers(theirs.stdout)
    assert etcdctl(etcd, "lease", "revoke", lease).rc == 0


def test_lease_keep_alive_prints_each_refresh_until_revoked(
    etcd: EtcdMember, background: Any
) -> None:
    lease = etcdctl(etcd, "lease", "grant", "3").stdout.split()[1]
    keeper = background("lease", "keep-alive", lease, endpoint=etcd)
    lines = keeper.read_lines(3, timeout=8)
    assert lines == [f"lease {lease} keepalived with TTL(3)"] * 3
    assert etcdctl(etcd, "lease", "revoke", lease).rc == 0
    rc = keeper.wait(10)
    rest = keeper.rest()
    assert rc == 0, (keeper.stderr, rest)
    assert rest.splitlines()[-1] == f"lease {lease} expired or revoked."


def test_lease_keep_alive_rides_out_a_stalled_server(
    etcd_factory: Callable[..., EtcdMember], background: Any
) -> None:
    """A member that stops answering for less than the TTL: refreshes fail, are retried, and
    the keep-alive goes on once it answers again."""
    member = etcd_factory()
    lease = etcdctl(member, "lease", "grant", "8").stdout.split()[1]
    keeper = background("--command-timeout=1s", "lease", "keep-alive", lease, endpoint=member)
    assert keeper.read_line(10) == f"lease {lease} keepalived with TTL(8)"
    member.pause()
    try:
        time.sleep(3.5)
    finally:
        member.resume()
    assert keeper.proc.poll() is None
    assert keeper.read_line(10) == f"lease {lease} keepalived with TTL(8)"
    assert keeper.interrupt() == 130
    assert "Traceback" not in keeper.stderr


# ---- watch ------------------------------------------------------------------------------------


def test_watch_prints_etcdctls_lines_and_ends_cleanly_on_ctrl_c(
    etcd: EtcdMember, prefix: str, background: Any
) -> None:
    start = int(json.loads(etcdctl(etcd, "get", "x", "-w", "json").stdout)["header"]["revision"])
    # Both start at the next revision, so the writes below are seen however late they start.
    since = str(start + 1)
    watcher = background("watch", prefix, "--prefix", "--prev-kv", "--rev", since, endpoint=etcd)
    theirs = EtcdctlProcess(etcd, "watch", prefix, "--prefix", "--prev-kv", "--rev", since)
    try:
        assert cli("put", prefix + "w", "a", endpoint=etcd).rc == 0
        assert cli("put", prefix + "w", "b", endpoint=etcd).rc == 0
        assert cli("del", prefix + "w", endpoint=etcd).rc == 0
        expected = [
            "PUT",
            f"{prefix}w",
            "a",
            "PUT",
            f"{prefix}w",
            "a",
            f"{prefix}w",
            "b",
            "DELETE",
            f"{prefix}w",
            "b",
            f"{prefix}w",
            "",
        ]
        assert watcher.read_lines(len(expected)) == expected
        assert [theirs.read_line(10) for _ in expected] == expected
    finally:
        theirs.stop()
    assert watcher.interrupt() == 130  # as etcdctl, killed by the SIGINT
    assert watcher.stderr == ""
    # From a past revision, in JSON: the same documents etcdctl prints.
    replay = background("watch", prefix, "--prefix", "--rev", since, "-w", "json", endpoint=etcd)
    other = EtcdctlProcess(etcd, "watch", prefix, "--prefix", "--rev", since, "-w", "json")
    try:
        ours_docs = _watch_documents(replay.read_line, events=3)
        their_docs = _watch_documents(other.read_line, events=3)
    finally:
        other.stop()
    assert replay.interrupt() == 130
    assert _events(ours_docs) == _events(their_docs)
    assert ours_docs[0].keys() == their_docs[0].keys()


def _watch_documents(read_line: Callable[[float], str | None], events: int) -> list[Any]:
    """JSON watch responses until they hold ``events`` events (history may come batched)."""
    documents: list[Any] = []
    while sum(len(doc["Events"]) for doc in documents) < events:
        line = read_line(10)
        assert line is not None, documents
        documents.append(json.loads(line))
    return documents


def _events(documents: list[Any]) -> list[Any]:
    return [event for doc in documents for event in doc["Events"]]


def test_watch_runs_a_command_per_event_with_etcdctls_variables(
    etcd: EtcdMember, prefix: str, background: Any
) -> None:
    """``watch -- CMD``: CMD runs once per event with ETCD_WATCH_* set (Go-quoted); the key
    comes from ETCDCTL_WATCH_KEY when none is given."""
    key = prefix + "exec"
    start = json.loads(etcdctl(etcd, "get", "x", "-w", "json").stdout)["header"]["revision"]
    watcher = background(
        "watch",
        "--rev",
        str(start + 1),
        "--",
        "sh",
        "-c",
        'echo "ran $ETCD_WATCH_EVENT_TYPE $ETCD_WATCH_KEY $ETCD_WATCH_VALUE $ETCD_WATCH_REVISION"',
        endpoint=etcd,
        env={"ETCDCTL_WATCH_KEY": key},
    )
    assert etcdctl(etcd, "put", key, "v 1").rc == 0
    assert etcdctl(etcd, "del", key).rc == 0
    lines = watcher.read_lines(8)
    # As etcdctl: a response is printed, then the command runs for each of its events (with
    # the response's revision), so two events delivered together print before both runs.
    ran = [line.rsplit(" ", 1) for line in lines if line.startswith("ran ")]
    assert [line for line in lines if not line.startswith("ran ")] == [
        "PUT",
        key,
        "v 1",
        "DELETE",
        key,
        "",
    ]
    assert [text for text, _ in ran] == [f'ran "PUT" "{key}" "v 1"', f'ran "DELETE" "{key}" ""']
    assert all(int(revision) >= start + 1 for _, revision in ran)
    assert watcher.interrupt() == 130  # as etcdctl, killed by the SIGINT


def test_watch_interactive_reads_watch_lines_from_stdin_as_etcdctl_does(
    etcd: EtcdMember, prefix: str, background: Any
) -> None:
    """``watch -i`` (etcdctl's interactive mode): each ``watch ...`` line on stdin adds a
    watch printing to the same output, exactly as etcdctl prints it; a line that is not a
    valid command is reported on stderr and the watches go on; ``progress`` asks for a
    progress notification; the end of the input ends the command with exit 3, as etcdctl."""
    start = json.loads(etcdctl(etcd, "get", "x", "-w", "json").stdout)["header"]["revision"]
    since = str(start + 1)
    ours = background("watch", "-i", endpoint=etcd, stdin=True)
    theirs = EtcdctlProcess(etcd, "watch", "-i", stdin=True)
    try:
        for process in (ours, theirs):
            process.send_line(f"watch {prefix}a --rev {since}")
            process.send_line("get x")
            process.send_line("watch")
            process.send_line(f"watch --prefix --prev-kv {prefix}b --rev {since}")
        ours.send_line(f"watch --rev many {prefix}a")
        # (etcdctl 3.5 mangles single-quoted words, so only we are given one)
        ours.send_line(f"watch {prefix}c -- sh -c 'echo ran $ETCD_WATCH_KEY $ETCD_WATCH_VALUE'")
        # One watch's events print before the next put, so both outputs have one order.
        assert etcdctl(etcd, "put", prefix + "a", "1").rc == 0
        first = ["PUT", f"{prefix}a", "1"]
        assert ours.read_lines(3) == first
        assert [theirs.read_line(10) for _ in first] == first
        assert etcdctl(etcd, "put", prefix + "b/x", "2").rc == 0
        assert etcdctl(etcd, "put", prefix + "b/x", "3").rc == 0
        rest = ["PUT", f"{prefix}b/x", "2", "PUT", f"{prefix}b/x", "2", f"{prefix}b/x", "3"]
        assert ours.read_lines(len(rest)) == rest
        assert [theirs.read_line(10) for _ in rest] == rest
        # Our extras: the per-event command of an interactive watch, and progress.
        assert etcdctl(etcd, "put", prefix + "c", "4").rc == 0
        assert ours.read_lines(4) == ["PUT", f"{prefix}c", "4", f'ran "{prefix}c" "4"']
        ours.send_line("progress")
        progress = ours.read_line(10)
        assert progress is not None and progress.startswith("progress notify: ")
        assert int(progress.split(": ")[1]) >= start + 4
        ours.close_stdin()
        theirs.close_stdin()
        assert ours.wait() == 3
        assert theirs.proc.wait(10) == 3
    finally:
        theirs.stop()
    errors = ours.stderr.splitlines()
    assert errors == [
        "Invalid command get x (only watch and progress are supported)",
        "Invalid command watch (command type or key is not provided)",
        f"Invalid command watch --rev many {prefix}a (argument --rev: invalid int value: 'many')",
        "Error: error reading watch request line: EOF",
    ]
    # A key on the command line has no place beside -i.
    refused = cli("watch", "-i", prefix + "a", endpoint=etcd)
    assert refused.rc == 128 and "standard input" in refused.stderr


def test_watch_interactive_reports_a_compacted_start_and_keeps_reading(etcd_factory: Any) -> None:
    """``watch -i``: a watch line whose revision was compacted is reported on stderr as
    etcdctl reports a cancelled watch, and the next line still starts its watch."""
    member = etcd_factory()
    for value in ("1", "2", "3"):
        assert etcdctl(member, "put", "k", value).rc == 0
    assert etcdctl(member, "compaction", "4").rc == 0  # revisions 2-4 hold the puts
    reader, writer = os.pipe()
    stdin, feed = os.fdopen(reader, "r"), os.fdopen(writer, "w")
    out, err = io.StringIO(), io.StringIO()
    codes: list[int] = []
    argv = [f"--endpoints={member.url}", "watch", "-i"]
    runner = threading.Thread(
        target=lambda: codes.append(run(argv, stdin=stdin, stdout=out, stderr=err, environ={}))
    )
    runner.start()
    try:
        feed.write("watch k --rev 2\n")
        feed.flush()
        wait_until(lambda: "watch was canceled" in err.getvalue(), "the compacted watch")
        assert err.getvalue() == (
            "watch was canceled (etcdserver: mvcc: required revision has been compacted)\n"
        )
        feed.write("watch k --rev 5\n")  # the next revision: seen however late it starts
        feed.flush()
        assert etcdctl(member, "put", "k", "4").rc == 0
        wait_until(lambda: out.getvalue() == "PUT\nk\n4\n", "the event")
    finally:
        feed.close()
        runner.join(10)
        stdin.close()
    assert codes == [3]
    assert err.getvalue().endswith("Error: error reading watch request line: EOF\n")


# ---- lock and elect ---------------------------------------------------------------------------


def test_lock_held_by_etcdwire_blocks_etcdctl_until_ctrl_c(
    etcd: EtcdMember, prefix: str, background: Any
) -> None:
    holder = background("lock", prefix + "L", endpoint=etcd)
    key = holder.read_line(10)
    assert key is not None and key.startswith(prefix + "L/")
    assert holder.read_line(5) == ""  # etcdctl prints the key-value: the value is empty
    waiter = EtcdctlProcess(etcd, "lock", prefix + "L")
    try:
        assert waiter.read_line(1.5) is None  # still waiting
        assert holder.interrupt() == 0
        assert holder.stderr == ""
        their_key = waiter.read_line(10)
        assert their_key is not None and their_key.startswith(prefix + "L/")
        assert their_key != key
    finally:
        waiter.stop()


def test_sigterm_releases_a_held_lock_at_once(
    etcd: EtcdMember, prefix: str, background: Any
) -> None:
    """SIGTERM ends ``lock`` as Ctrl-C does (etcdctl handles both): the key is deleted now,
    not when the session's lease runs out."""
    holder = background("lock", prefix + "T", endpoint=etcd)
    key = holder.read_line(10)
    assert key is not None and key.startswith(prefix + "T/")
    holder.proc.send_signal(signal.SIGTERM)
    assert holder.wait(10) == 0
    assert holder.stderr == ""
    assert etcdctl(etcd, "get", prefix + "T", "--prefix").stdout == ""


def test_lock_runs_a_command_once_etcdctl_lets_go(
    etcd: EtcdMember, prefix: str, background: Any
) -> None:
    holder = EtcdctlProcess(etcd, "lock", prefix + "C")
    try:
        their_key = holder.read_line(10)
        assert their_key is not None
        runner = background(
            "lock", prefix + "C", "sh", "-c", 'echo "held $ETCD_LOCK_KEY"; exit 3', endpoint=etcd
        )
        assert runner.read_line(1.5) is None
        holder.stop()
        line = runner.read_line(10)
        assert line is not None and line.startswith(f"held {prefix}C/")
        assert runner.wait(10) == 3
    finally:
        holder.stop()
    assert etcdctl(etcd, "get", prefix + "C", "--prefix").stdout == ""  # released


def test_elect_etcdwire_leads_and_etcdctl_observes_then_the_reverse(
    etcd: EtcdMember, prefix: str, background: Any
) -> None:
    name = prefix + "E"
    leader = background("elect", name, "wire-proposal", endpoint=etcd)
    key = leader.read_line(10)
    assert key is not None and key.startswith(name + "/")
    assert leader.read_line(5) == "wire-proposal"
    observer = EtcdctlProcess(etcd, "elect", "-l", name)
    try:
        assert observer.read_line(10) == key
        assert observer.read_line(5) == "wire-proposal"
    finally:
        observer.stop()
    watcher = background("elect", "-l", name, endpoint=etcd)
    assert watcher.read_lines(2) == [key, "wire-proposal"]
    assert leader.interrupt() == 0
    rival = EtcdctlProcess(etcd, "elect", name, "ctl-proposal")
    try:
        their_key = rival.read_line(10)
        assert their_key is not None
        assert watcher.read_lines(2) == [their_key, "ctl-proposal"]
    finally:
        rival.stop()
    assert watcher.interrupt() == 0
    assert watcher.stderr == ""


# ---- compaction and info ----------------------------------------------------------------------


def test_compaction_then_old_revision_read_is_one_error_line(
    etcd_factory: Callable[..., EtcdMember],
) -> None:
    member = etcd_factory()
    for value in ("1", "2", "3"):
        assert cli("put", "k", value, endpoint=member).rc == 0
    done = cli("compaction", "3", "--physical", endpoint=member)
    assert (done.rc, done.stdout) == (0, "compacted revision 3\n")
    old = cli("get", "k", "--rev", "2", endpoint=member)
    assert old.rc == 1
    assert old.stderr == "Error: etcdserver: mvcc: required revision has been compacted\n"
    assert cli("get", "k", "--rev", "3", "--print-value-only", endpoint=member).stdout == "2\n"
    watch = cli("watch", "k", "--rev", "2", endpoint=member)
    assert watch.rc == 5  # etcdctl's ExitInterrupted, with etcdctl's two lines
    assert watch.stderr == (
        "watch was canceled (etcdserver: mvcc: required revision has been compacted)\n"
        "Error: watch is canceled by the server\n"
    )


def test_info_shows_the_endpoint_table(etcd: EtcdMember) -> None:
    dead = "127.0.0.1:1"
    result = cli("--endpoints", f"{dead},{etcd.url}", "info", "-w", "table")
    assert result.rc == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("+--") and lines[0] == lines[2] == lines[-1]
    assert "ENDPOINT" in lines[1] and "LAST ERROR" in lines[1]
    assert len({len(line) for line in lines}) == 1  # aligned
    rows = {line.split("|")[1].strip(): line for line in lines[3:-1]}
    assert "ready" in rows[etcd.url]
    assert "refused" in rows[f"http://{dead}"]
    data = json.loads(cli("--endpoints", etcd.url, "info", "-w", "json").stdout)
    assert data[0]["endpoint"] == etcd.url and data[0]["state"] == "ready"


def test_version_in_etcdctls_shape() -> None:
    result = cli("version")
    lines = result.lines
    assert result.rc == 0 and len(lines) == 2
    assert lines[0].startswith("etcdwire version: ")
    assert lines[1] == "API version: 3.5"

"""``etcdwire bench``: the statistics as pure code, then the real command against real etcd.

The command runs as a process (``python -m etcdwire.tools.bench``), as a person would run it;
its summary is parsed back from the text etcd's benchmark tool prints, and what it wrote is
checked in etcd with ``etcdwire.Client``.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import re
import shlex
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etcdwire import Client
from etcdwire.errors import UsageError
from etcdwire.tools.bench_flows import Config, key_digits, make_key
from etcdwire.tools.bench_plot import write_plot
from etcdwire.tools.bench_progress import RateLimiter, render_bar
from etcdwire.tools.bench_run import PhaseResult
from etcdwire.tools.bench_stats import (
    BAR_CHAR,
    PERCENTILES,
    Result,
    format_summary,
    histogram,
    percentiles,
    summarize,
    summary_json,
    write_csv,
)
from etcdwire.tools.embedded import EtcdMember, free_port

from .terminal import Terminal, needs_tmux

# ============================================================================================
# pure statistics
# ============================================================================================

latency_lists = st.lists(
    st.floats(min_value=0.0, max_value=10.0, allow_nan=False), min_size=1, max_size=300
)


def test_percentiles_nearest_rank_on_one_to_hundred() -> None:
    values = [float(v) for v in range(1, 101)]
    found = dict(percentiles(values))
    # rank ceil(p * (n + 1) / 100): 10% -> 11th value, 50% -> 51st, 99.9% -> the last
    assert found[10.0] == 11.0
    assert found[50.0] == 51.0
    assert found[99.0] == 100.0
    assert found[99.9] == 100.0
    assert [p for p, _ in percentiles(values)] == list(PERCENTILES)


def test_percentiles_of_nothing_and_of_one_sample() -> None:
    assert percentiles([]) == []
    assert {v for _, v in percentiles([0.25])} == {0.25}


@given(latency_lists)
def test_percentiles_are_monotonic_samples_within_range(values: list[float]) -> None:
    ordered = sorted(values)
    found = [v for _, v in percentiles(ordered)]
    assert found == sorted(found)
    assert all(v in ordered for v in found)
    assert ordered[0] <= found[0] and found[-1] <= ordered[-1]


@given(latency_lists)
def test_histogram_puts_each_sample_in_its_bucket(values: list[float]) -> None:
    ordered = sorted(values)
    marks = histogram(ordered)
    assert len(marks) == 11
    assert marks[0][0] == ordered[0] and marks[-1][0] == ordered[-1]
    bounds = [mark for mark, _ in marks]
    assert bounds == sorted(bounds)
    # each sample counts in the first mark at or above it
    expected = [0] * len(bounds)
    for value in ordered:
        expected[min(bisect.bisect_left(bounds, value), len(bounds) - 1)] += 1
    assert [count for _, count in marks] == expected


def test_histogram_of_equal_samples_is_one_bucket() -> None:
    marks = histogram([0.5] * 7)
    assert marks[0] == (0.5, 7)
    assert sum(count for _, count in marks) == 7


def test_summarize_figures_and_errors_by_type() -> None:
    latencies = [0.001, 0.002, 0.004, 0.003, 0.010]
    results = [Result(i * 0.1, v) for i, v in enumerate(latencies)]
    results += [
        Result(0.5, 0.2, "DeadlineExceeded", "took too long"),
        Result(0.6, 0.2, "DeadlineExceeded", "again"),
        Result(0.7, 0.0, "Unavailable", "no leader"),
    ]
    summary = summarize(results, 2.0)
    assert summary.count == 8 and summary.ok == 5
    assert summary.fastest == 0.001 and summary.slowest == 0.010
    assert summary.average == pytest.approx(statistics.fmean(latencies))
    assert summary.stddev == pytest.approx(statistics.pstdev(latencies))
    assert summary.rps == pytest.approx(5 / 2.0)
    assert summary.errors == {"DeadlineExceeded": 2, "Unavailable": 1}
    assert summary.error_samples["DeadlineExceeded"] == "took too long"
    text = format_summary(summary)
    assert "Error distribution:\n  [2]\tDeadlineExceeded: took too long\n" in text
    document = summary_json(summary)
    assert document["failed"] == 3 and document["requests"] == 8
    assert json.loads(json.dumps(document)) == document


def test_format_summary_layout_matches_etcds_report() -> None:
    summary = summarize([Result(0.0, v / 1000) for v in range(1, 201)], 1.0)
    text = format_summary(summary)
    parsed = parse_report(text)
    assert parsed["Total"] == 1.0 and parsed["Requests/sec"] == 200.0
    assert parsed["Fastest"] == 0.001 and parsed["Slowest"] == 0.2
    assert sum(parsed["histogram"]) == 200
    bars = [line.split("|", 1)[1] for line in text.splitlines() if "\t|" in line]
    assert max(len(bar) for bar in bars) == 40 and set("".join(bars)) == {BAR_CHAR}
    assert [p for p, _ in parsed["percentiles"]] == [f"{p:g}" for p in PERCENTILES]


def test_summary_of_only_failures_prints_the_errors() -> None:
    summary = summarize([Result(0.0, 0.1, "ConnectFailed", "refused")], 1.0)
    assert summary.ok == 0 and summary.rps == 0.0
    assert format_summary(summary).strip() == "Error distribution:\n  [1]\tConnectFailed: refused"


def test_csv_has_one_row_per_request() -> None:
    stream = io.StringIO()
    write_csv(stream, [("put", [Result(0.5, 0.002), Result(0.6, 0.1, "Unavailable")])])
    rows = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert [r["error"] for r in rows] == ["", "Unavailable"]
    assert float(rows[0]["latency"]) == 0.002 and rows[1]["phase"] == "put"


def test_rate_limiter_spaces_requests() -> None:
    limiter = RateLimiter(10.0)
    assert limiter.reserve(100.0) == 0.0
    assert limiter.reserve(100.0) == pytest.approx(0.1)
    assert limiter.reserve(100.05) == pytest.approx(0.15)
    assert limiter.reserve(101.0) == 0.0  # idle time is not saved up (a bucket of one)
    assert RateLimiter(0).reserve(5.0) == 0.0


def test_render_bar_fits_the_width() -> None:
    line = render_bar("put", 500, 2000, 1.0, 80)
    assert len(line) <= 80
    assert re.match(r"put \[#+\.+\] 500/2000  25%    500.0 req/s ETA 3s$", line)
    assert len(render_bar("lease-keepalive", 10, 10, 1.0, 30)) <= 30


def test_keys_are_prefix_and_padded_number() -> None:
    config = Config("put", key_size=12, key_prefix="bench/", key_space_size=1000)
    assert make_key(config, 42) == b"bench/000042"
    with pytest.raises(UsageError, match="--key-space-size 1000 needs 3"):
        key_digits(Config("put", key_size=8, key_prefix="longprefix", key_space_size=1000))


def test_plot_written_as_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    results = [Result(i / 100, 0.001 + (i % 7) / 1000) for i in range(300)]
    phase = PhaseResult("put", results, 3.0)
    target = tmp_path / "plot.png"
    write_plot(str(target), "title", [(phase, summarize(results, 3.0))])
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ============================================================================================
# the command against real etcd
# ============================================================================================

SUMMARY_FIELDS = ("Total", "Slowest", "Fastest", "Average", "Stddev", "Requests/sec")


def parse_report(text: str) -> dict[str, Any]:
    """The figures of one report in etcd's layout (the first one in ``text``)."""
    found: dict[str, Any] = {}
    for name in SUMMARY_FIELDS:
        match = re.search(rf"^  {re.escape(name)}:\t([0-9.]+)(?: secs\.)?$", text, re.M)
        assert match, f"{name} missing from:\n{text}"
        found[name] = float(match.group(1))
    block = text.split("Response time histogram:\n", 1)[1].split("\n\n", 1)[0]
    found["histogram"] = [
        int(m.group(2)) for m in re.finditer(r"^  ([0-9.]+) \[(\d+)\]\t\|∎*$", block, re.M)
    ]
    assert len(found["histogram"]) == 11, block
    block = text.split("Latency distribution:\n", 1)[1].split("\n\n", 1)[0]
    found["percentiles"] = [
        (m.group(1), float(m.group(2)))
        for m in re.finditer(r"^  ([0-9.]+)% in ([0-9.]+) secs\.$", block, re.M)
    ]
    return found


def bench(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "etcdwire.tools.bench", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def check_report(text: str, requests: int) -> dict[str, Any]:
    report = parse_report(text)
    assert sum(report["histogram"]) == requests
    values = [value for _, value in report["percentiles"]]
    assert len(values) == len(PERCENTILES) and values == sorted(values)
    assert report["Fastest"] <= report["Average"] <= report["Slowest"]
    assert report["Requests/sec"] > 0
    return report


def unique_prefix() -> str:
    return f"bench-{uuid.uuid4().hex[:8]}/"


@pytest.mark.etcd
@pytest.mark.parametrize("engine", ["sync", "async"])
def test_put_writes_every_key_and_reports(etcd: EtcdMember, tmp_path: Path, engine: str) -> None:
    prefix = unique_prefix()
    out_json, out_csv = tmp_path / "put.json", tmp_path / "put.csv"
    done = bench(
        "put",
        f"--endpoints={etcd.endpoint}",
        f"--engine={engine}",
        "--total=200",
        "--clients=4",
        "--conns=2",
        "--sequential-keys",
        "--key-space-size=200",
        f"--key-prefix={prefix}",
        "--key-size=20",
        "--val-size=16",
        f"--json={out_json}",
        f"--csv={out_csv}",
    )
    assert done.returncode == 0, done.stderr
    check_report(done.stdout, 200)
    assert "put: 200/200 requests in " in done.stderr  # not a terminal: one plain line
    assert "\r" not in done.stderr
    with Client(etcd.endpoint) as client:
        stored = client.get(prefix, prefix=True)
    assert stored.count == 200
    assert {kv.key for kv in stored.kvs} == {
        f"{prefix}{n:0{20 - len(prefix)}d}".encode() for n in range(200)
    }
    assert {len(kv.value) for kv in stored.kvs} == {16}
    document = json.loads(out_json.read_text())
    assert document["command"] == "put" and document["engine"] == engine
    (phase,) = document["phases"]
    assert phase["requests"] == phase["succeeded"] == 200 and phase["errors"] == {}
    pct = list(phase["percentiles"].values())
    assert pct == sorted(pct)
    with out_csv.open() as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 200 and {r["phase"] for r in rows} == {"put"}
    assert all(float(r["latency"]) > 0 and r["error"] == "" for r in rows)


@pytest.mark.etcd
@pytest.mark.parametrize("consistency", ["l", "s"])
def test_range_both_consistencies(etcd: EtcdMember, consistency: str) -> None:
    key = unique_prefix() + "k"
    with Client(etcd.endpoint) as client:
        client.put(key, "v")
    done = bench(
        "range",
        key,
        f"--endpoints={etcd.endpoint}",
        f"--consistency={consistency}",
        "--total=150",
        "--clients=3",
    )
    assert done.returncode == 0, done.stderr
    kind = {"l": "linearizable", "s": "serializable"}[consistency]
    assert f"bench with {kind} range" in done.stderr
    check_report(done.stdout, 150)


@pytest.mark.etcd
def test_txn_put_writes_its_key_space(etcd: EtcdMember) -> None:
    prefix = unique_prefix()
    done = bench(
        "txn-put",
        f"--endpoints={etcd.endpoint}",
        "--engine=async",
        "--total=60",
        "--clients=3",
        "--txn-ops=3",
        "--key-space-size=9",
        f"--key-prefix={prefix}",
        "--key-size=16",
    )
    assert done.returncode == 0, done.stderr
    check_report(done.stdout, 60)
    with Client(etcd.endpoint) as client:
        stored = client.get(prefix, prefix=True)
    assert stored.count == 9
    assert {kv.version for kv in stored.kvs} == {60 * 3 // 9}  # each key put equally often


@pytest.mark.etcd
@pytest.mark.parametrize("engine", ["sync", "async"])
def test_watch_creation_and_events(etcd: EtcdMember, engine: str) -> None:
    done = bench(
        "watch",
        f"--endpoints={etcd.endpoint}",
        f"--engine={engine}",
        "--streams=2",
        "--watch-per-stream=3",
        "--watched-key-total=2",
        "--sequential-keys",
        "--key-space-size=2",
        f"--key-prefix={unique_prefix()}",
        "--put-total=20",
        "--clients=2",
        "--json=-",
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # --json - : stdout is the JSON alone
    creation, events = document["phases"]
    assert creation["name"] == "watch creation" and creation["requests"] == 2 * 3
    # two keys, each watched 3 times; 20 puts alternate between them: 20 x 3 events
    assert events["name"] == "watch events" and events["succeeded"] == 60
    assert events["errors"] == {}
    assert 0 < events["fastest"] <= events["percentiles"]["50%"] <= events["slowest"]


@pytest.mark.etcd
def test_watch_latency_one_event_per_watcher_and_put(etcd: EtcdMember) -> None:
    done = bench(
        "watch-latency",
        f"--endpoints={etcd.endpoint}",
        "--total=30",
        "--put-rate=300",
        "--clients=3",
        "--conns=2",
        f"--key-prefix={unique_prefix()}",
    )
    assert done.returncode == 0, done.stderr
    check_report(done.stdout, 30 * 3)


@pytest.mark.etcd
def test_lease_keepalive_and_the_leases_are_revoked(etcd: EtcdMember) -> None:
    with Client(etcd.endpoint) as client:
        before = {lease.id for lease in client.lease.leases().leases}
        done = bench(
            "lease-keepalive", f"--endpoints={etcd.endpoint}", "--total=120", "--clients=3"
        )
        after = {lease.id for lease in client.lease.leases().leases}
    assert done.returncode == 0, done.stderr
    check_report(done.stdout, 120)
    assert after <= before  # the three leases it granted were revoked at the end


@pytest.mark.etcd
def test_rate_is_a_ceiling(etcd: EtcdMember) -> None:
    started = time.monotonic()
    done = bench(
        "put",
        f"--endpoints={etcd.endpoint}",
        "--total=21",
        "--rate=20",
        "--clients=4",
        f"--key-prefix={unique_prefix()}",
        "--key-size=20",
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    report = check_report(done.stdout, 21)
    # 21 requests spaced 1/20 s apart take at least a second, however many workers
    assert report["Total"] >= 0.95 and elapsed >= 0.95
    assert report["Requests/sec"] <= 21.5


@pytest.mark.etcd
def test_tls_flags(etcd_tls: EtcdMember) -> None:
    tls = etcd_tls.client_tls
    assert tls is not None and tls.ca_file
    done = bench(
        "put",
        f"--endpoints={etcd_tls.url}",
        f"--cacert={tls.ca_file}",
        "--total=30",
        f"--key-prefix={unique_prefix()}",
        "--key-size=20",
    )
    assert done.returncode == 0, done.stderr
    check_report(done.stdout, 30)


@pytest.mark.etcd
def test_auth_flags(etcd_factory: Any) -> None:
    member = etcd_factory()
    with Client(member.endpoint) as client:
        client.auth.role_add("root")
        client.auth.user_add("root", "rootpw")
        client.auth.user_grant_role("root", "root")
        client.auth.auth_enable()
    common = [f"--endpoints={member.endpoint}", "--total=20", "--key-size=20"]
    done = bench("put", *common, "--user=root", "--password=rootpw")
    assert done.returncode == 0, done.stderr
    check_report(done.stdout, 20)
    done = bench("put", *common, "--user=root:rootpw", "--engine=async")
    assert done.returncode == 0, done.stderr
    done = bench("put", *common, "--user=root:wrong")
    assert done.returncode == 1
    assert done.stderr.startswith("etcdwire bench: error: AuthFailed")
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.etcd
def test_server_lost_mid_run_counts_errors_by_type(etcd_factory: Any) -> None:
    member = etcd_factory()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "etcdwire.tools.bench",
            "put",
            f"--endpoints={member.endpoint}",
            "--total=150",
            "--rate=100",
            "--clients=2",
            "--command-timeout=0.5",
            "--dial-timeout=0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)  # the first requests succeed, the rest find no server
    member.kill()
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1, err  # some requests failed
    report = parse_report(out)
    errors = out.split("Error distribution:\n", 1)[1].strip().splitlines()
    failed = {
        line.split("\t")[1].split(":")[0]: int(line.split("]")[0].strip(" [")) for line in errors
    }
    assert failed and set(failed) <= {
        "ConnectFailed",
        "ConnectionLost",
        "NoEndpointAvailable",
        "DeadlineExceeded",
        "Unavailable",
    }
    assert sum(report["histogram"]) + sum(failed.values()) == 150
    assert sum(report["histogram"]) >= 10


def test_embedded_etcd_started_and_removed() -> None:
    done = bench("put", "--embedded", "--total=100", "--clients=2", timeout=90)
    assert done.returncode == 0, done.stderr
    check_report(done.stdout, 100)
    match = re.search(
        r"started a throwaway etcd [0-9.]+ at 127\.0\.0\.1:(\d+) \((.+)\)", done.stderr
    )
    assert match, done.stderr
    with pytest.raises(OSError):  # the server is gone with the command
        socket.create_connection(("127.0.0.1", int(match.group(1))), timeout=1).close()
    assert not Path(match.group(2)).exists()


def test_unreachable_endpoint_is_one_clear_line() -> None:
    done = bench("put", f"--endpoints=127.0.0.1:{free_port()}", "--total=10", "--dial-timeout=1")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("etcdwire bench: error: ") and "refused" in lines[0]
    assert done.stdout == ""


def test_bad_flags_are_usage_errors() -> None:
    done = bench("txn-put", "--txn-ops=3", "--key-space-size=2", "--embedded")
    assert done.returncode == 2 and "started a throwaway" not in done.stderr
    assert "--txn-ops 3 is larger than --key-space-size 2" in done.stderr
    assert "Traceback" not in done.stderr
    done = bench("put", "--key-size=4", "--key-prefix=abcd", "--key-space-size=10")
    assert done.returncode == 2 and "needs 1" in done.stderr


def test_plot_without_matplotlib_is_one_line() -> None:
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from etcdwire.tools.bench import main\n"
        "sys.exit(main(['put', '--plot', 'x.png', '--endpoints', '127.0.0.1:1']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].startswith("etcdwire bench: error: --plot needs matplotlib")
    assert "Traceback" not in done.stderr


@pytest.mark.etcd
def test_plot_file_from_a_run(etcd: EtcdMember, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "run.png"
    done = bench(
        "put",
        f"--endpoints={etcd.endpoint}",
        "--total=100",
        f"--key-prefix={unique_prefix()}",
        "--key-size=20",
        f"--plot={target}",
    )
    assert done.returncode == 0, done.stderr
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_tmux
@pytest.mark.etcd
def test_progress_bar_draws_in_a_terminal(etcd: EtcdMember) -> None:
    command = shlex.join(
        [
            sys.executable,
            "-m",
            "etcdwire.tools.bench",
            "put",
            f"--endpoints={etcd.endpoint}",
            "--total=300",
            "--rate=150",
            f"--key-prefix={unique_prefix()}",
            "--key-size=20",
        ]
    )
    # A shell around the command reports its exit status on screen.
    with Terminal(["sh", "-c", f"{command}; echo bench-exit=$?"], width=100) as term:
        screen = term.wait_for(re.compile(r"put \[#+\.+\] +\d+/300 +\d+%"), timeout=15)
        bar = next(line for line in screen.splitlines() if line.startswith("put ["))
        assert len(bar) <= 100 and "req/s ETA" in bar
        final = term.wait_for("bench-exit=", timeout=20)
    assert "bench-exit=0" in final
    lines = final.splitlines()
    # the bar was redrawn in place: one line, ending full, then the summary below it
    bars = [line for line in lines if line.startswith("put [")]
    assert len(bars) == 1 and "300/300 100%" in bars[0] and "." not in bars[0].split("]")[0]
    assert "Summary:" in final and "Latency distribution:" in final


@needs_tmux
@pytest.mark.etcd
@pytest.mark.parametrize("engine", ["sync", "async"])
def test_ctrl_c_stops_the_run_cleanly(etcd: EtcdMember, engine: str) -> None:
    command = shlex.join(
        [
            sys.executable,
            "-m",
            "etcdwire.tools.bench",
            "put",
            f"--endpoints={etcd.endpoint}",
            "--total=1000000",
            "--clients=8",
            f"--engine={engine}",
            f"--key-prefix={unique_prefix()}",
            "--key-size=20",
        ]
    )
    # the shell survives the Ctrl-C (a handler, not an ignore, so the command gets it)
    with Terminal(["sh", "-c", f"trap : INT; {command}; echo bench-exit=$?"]) as term:
        term.wait_for(re.compile(r"put \[#*\.+\] +[1-9]\d*/1000000"), timeout=15)
        term.send_keys("C-c")
        screen = term.wait_for("bench-exit=", timeout=10)
    assert "bench-exit=130" in screen
    assert "etcdwire bench: interrupted" in screen and "Traceback" not in screen

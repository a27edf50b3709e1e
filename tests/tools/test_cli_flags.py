"""Global flags, ETCDCTL_* environment, errors and exit codes, ``--trace`` of the ``etcdwire``
command (issue 7: "Global flags like etcdctl's ... the matching ETCDCTL_* environment variables
are honoured too"; "Errors print one clear line and a non-zero exit status, never a
traceback"; "--trace on any command prints the frame and message trace")."""

from __future__ import annotations

import io
import json
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from etcdwire.tools import cli as cli_module
from etcdwire.tools.ctl import build_parser, run
from etcdwire.tools.ctl.common import (
    CommandError,
    normalize_bool_flags,
    parse_duration,
    resolve_options,
)
from etcdwire.tools.ctl.kv import argify, go_unquote, parse_compare
from etcdwire.tools.ctl.output import Output, go_quote, render_table
from etcdwire.tools.embedded import EtcdMember, run_etcdctl

from .conftest import CliResult, cli

ROOT_PASSWORD = "r00t-Pa55word"


def options(argv: list[str], env: dict[str, str] | None = None) -> Any:
    args = build_parser().parse_args(normalize_bool_flags(argv))
    return resolve_options(args, env or {})


# ---- flags and environment, parsed in-process -------------------------------------------------


def test_global_flags_before_or_after_the_command_word() -> None:
    before = options(["-w", "json", "--endpoints=a:1,b:2", "--hex", "get", "k"])
    after = options(["get", "k", "-w", "json", "--endpoints=a:1,b:2", "--hex"])
    assert before == after
    assert after.write_out == "json" and after.hex
    assert after.endpoints == ["a:1", "b:2"]
    nested = options(["lease", "grant", "10", "--command-timeout=1m30s", "--dial-timeout=250ms"])
    assert (nested.command_timeout, nested.dial_timeout) == (90.0, 0.25)


def test_a_command_argument_named_like_a_global_flag_stays_apart() -> None:
    """``get key --key FILE``: the positional ``key`` and the TLS ``--key`` do not collide."""
    args = build_parser().parse_args(["get", "mykey", "--key", "client.key"])
    assert args.key == "mykey"
    assert resolve_options(args, {}).key == "client.key"


def test_every_etcdctl_variable_is_read_and_flags_win() -> None:
    env = {
        "ETCDCTL_ENDPOINTS": "env:1,env:2",
        "ETCDCTL_USER": "alice:pw",
        "ETCDCTL_CACERT": "ca.pem",
        "ETCDCTL_CERT": "c.pem",
        "ETCDCTL_KEY": "k.pem",
        "ETCDCTL_DIAL_TIMEOUT": "3s",
        "ETCDCTL_COMMAND_TIMEOUT": "7s",
        "ETCDCTL_WRITE_OUT": "fields",
        "ETCDCTL_INSECURE_SKIP_TLS_VERIFY": "true",
    }
    from_env = options(["get", "k"], env)
    assert from_env.endpoints == ["env:1", "env:2"]
    assert (from_env.user, from_env.password) == ("alice", "pw")
    assert (from_env.cacert, from_env.cert, from_env.key) == ("ca.pem", "c.pem", "k.pem")
    assert (from_env.dial_timeout, from_env.command_timeout) == (3.0, 7.0)
    assert from_env.write_out == "fields"
    assert from_env.insecure_skip_tls_verify is True
    flags = options(
        [
            "--endpoints=flag:1",
            "--user=bob",
            "--password=secret",
            "--cacert=f-ca.pem",
            "--dial-timeout=1s",
            "-w",
            "json",
            "--insecure-skip-tls-verify=false",
            "get",
            "k",
        ],
        env,
    )
    assert flags.endpoints == ["flag:1"]
    assert (flags.user, flags.password) == ("bob", "secret")
    assert flags.cacert == "f-ca.pem" and flags.cert == "c.pem"
    assert (flags.dial_timeout, flags.command_timeout) == (1.0, 7.0)
    assert flags.write_out == "json"
    assert flags.insecure_skip_tls_verify is False
    password_env = options(["get", "k"], {"ETCDCTL_USER": "carol", "ETCDCTL_PASSWORD": "pw2"})
    assert (password_env.user, password_env.password) == ("carol", "pw2")


def test_defaults_are_etcdctls() -> None:
    defaults = options(["get", "k"])
    assert defaults.endpoints == ["127.0.0.1:2379"]
    assert (defaults.dial_timeout, defaults.command_timeout) == (2.0, 5.0)
    assert defaults.write_out == "simple" and defaults.insecure_transport is True


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--bogus", "get", "k"], "unrecognized arguments: --bogus"),
        (["get", "k", "-w", "yaml"], "invalid choice: 'yaml'"),
        (["--dial-timeout=soon", "get", "k"], "invalid duration"),
        (["--password=x", "get", "k"], "--password needs --user"),
        (["--hex=maybe", "get", "k"], "invalid argument 'maybe' for --hex"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_flags_are_one_error_line_and_exit_128(argv: list[str], message: str) -> None:
    err = io.StringIO()
    assert run(argv, environ={}, stdout=io.StringIO(), stderr=err) == 128
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert message in lines[0]


def test_parse_duration_go_forms() -> None:
    assert parse_duration("2s") == 2.0
    assert parse_duration("1m30s") == 90.0
    assert parse_duration("1.5h") == 5400.0
    assert parse_duration("0.25") == 0.25
    assert abs(parse_duration("300us") - 0.0003) < 1e-12
    with pytest.raises(Exception, match="invalid duration"):
        parse_duration("2 seconds")


# ---- output functions --------------------------------------------------------------------------


def test_table_has_tablewriter_borders_and_alignment() -> None:
    """As etcdctl 3.5 prints ``member list -w table``: cells right-aligned, headers centred
    with the odd space on the right."""
    rows = [["8e9e05c52164694d", "started", "exp", "false"]]
    text = render_table(["ID", "Status", "Name", "Is Learner"], rows)
    assert text == (
        "+------------------+---------+------+------------+\n"
        "|        ID        | STATUS  | NAME | IS LEARNER |\n"
        "+------------------+---------+------+------------+\n"
        "| 8e9e05c52164694d | started |  exp |      false |\n"
        "+------------------+---------+------+------------+\n"
    )


def test_go_quote_matches_go_percent_q() -> None:
    assert go_quote('a\tb"c\\') == '"a\\tb\\"c\\\\"'
    assert go_quote(b"\xff\x00ok") == '"\\xff\\x00ok"'
    assert go_quote("ünï") == '"ünï"'


def test_fields_output_lines() -> None:
    out = io.StringIO()
    writer = Output(out, "fields")
    writer.field("Key", b"k\n")
    writer.field("More", False)
    writer.field("Count", 3)
    assert out.getvalue() == '"Key" : "k\\n"\n"More" : false\n"Count" : 3\n'


def test_txn_grammar_is_etcdctls() -> None:
    """etcdctl txn_command.go: target("key") op "operand" with the short target names too,
    numbers decimal and leases hex; request lines split like etcdctl's Argify."""
    assert argify('put k "hello world" --prev-kv') == ["put", "k", "hello world", "--prev-kv"]
    assert argify("put k 'single quoted'") == ["put", "k", "single quoted"]
    assert go_unquote('"a\\x41\\u00e9\\n"') == b"aA\xc3\xa9\n"
    value = parse_compare('value("k") = "v"').to_pb()
    assert (value.key, value.value, value.result, value.target) == (b"k", b"v", 0, 3)
    assert parse_compare('mod("k") > "5"').to_pb().mod_revision == 5
    assert parse_compare('c("k") < "9"').to_pb().create_revision == 9
    assert parse_compare('ver("k") != "1"').to_pb().version == 1
    assert parse_compare('lease("k") = "1f"').to_pb().lease == 31
    with pytest.raises(CommandError, match="malformed comparison"):
        parse_compare("value(k) = v")
    with pytest.raises(CommandError, match="unknown target"):
        parse_compare('size("k") = "1"')


# ---- the real command ---------------------------------------------------------------------------


def test_demo_spy_and_bench_words_reach_their_tools() -> None:
    for word in ("demo", "spy", "bench"):
        result = cli(word, "--help", timeout=60)
        assert result.rc == 0, result.stderr
        assert f"etcdwire {word}" in result.stdout


def test_a_missing_tool_is_one_error_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(cli_module.TOOLS, "nothere", "nothere_tool_module")
    assert cli_module.main(["nothere"]) == 1
    assert capsys.readouterr().err == "Error: `etcdwire nothere` is not available in this build\n"


def test_unreachable_endpoint_fails_within_the_dial_timeout() -> None:
    """Connection refused: exit 2 with one line, soon after the dial timeout (not the 5 s
    command timeout)."""
    result = cli("--endpoints=127.0.0.1:1", "--dial-timeout=500ms", "get", "k")
    assert result.rc == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot connect to http://127.0.0.1:1")
    assert "refused" in lines[0]
    assert result.duration < 0.5 + 4.0  # the interpreter's start-up is the margin


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A loopback port that accepts TCP connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    server.close()


def test_silent_endpoint_fails_within_the_dial_timeout(black_hole: str) -> None:
    result = cli(f"--endpoints={black_hole}", "--dial-timeout=1s", "put", "k", "v")
    assert result.rc == 2
    assert result.stderr.startswith(f"Error: cannot connect to http://{black_hole}")
    assert result.stderr.count("\n") == 1
    assert 1.0 <= result.duration < 1.0 + 4.0


@pytest.mark.etcd
def test_endpoints_from_the_environment_and_the_flag_wins(etcd: EtcdMember) -> None:
    key = f"cli-env-{uuid.uuid4().hex[:8]}"
    put = cli("put", key, "v", env={"ETCDCTL_ENDPOINTS": etcd.url})
    assert (put.rc, put.stdout) == (0, "OK\n")
    env = {"ETCDCTL_ENDPOINTS": "127.0.0.1:1", "ETCDCTL_WRITE_OUT": "json"}
    got = cli("--endpoints", etcd.url, "get", key, env=env)
    assert got.rc == 0, got.stderr
    assert json.loads(got.stdout)["count"] == 1  # JSON from ETCDCTL_WRITE_OUT
    simple = cli("get", key, "-w", "simple", endpoint=etcd, env=env)
    assert simple.stdout == f"{key}\nv\n"


@pytest.mark.etcd
def test_command_errors_are_one_line_without_traceback(etcd: EtcdMember) -> None:
    checks: list[tuple[tuple[str, ...], int, str]] = [
        (("get",), 128, "get command needs one argument as key"),
        (("get", "a", "--prefix", "--from-key"), 128, "cannot be set at the same time"),
        (("put", "k", "v", "--lease", "xyz"), 128, "bad lease ID"),
        (("get", "k", "-w", "table"), 4, "table not supported as output format"),
        (("get", "k", "--order", "SIDEWAYS", "--prefix"), 4, "bad sort order SIDEWAYS"),
        (("lease", "timetolive", "123abc"), 0, ""),
    ]
    for args, code, message in checks:
        result = cli(*args, endpoint=etcd)
        assert result.rc == code, (args, result.stderr)
        assert "Traceback" not in result.stderr
        if message:
            assert result.stderr.startswith("Error: ") and message in result.stderr
            assert result.stderr.count("\n") == 1


@pytest.mark.etcd
def test_ctrl_c_is_quiet(etcd: EtcdMember, background: Any) -> None:
    """A command stopped by Ctrl-C while it waits exits without a traceback, with 130 as
    etcdctl (killed by the SIGINT): a lease keep-alive and a watch."""
    lease = run_etcdctl("lease", "grant", "30", endpoints=etcd.url).stdout.split()[1]
    keeper = background("lease", "keep-alive", lease, endpoint=etcd)
    assert keeper.read_line(10) == f"lease {lease} keepalived with TTL(30)"
    assert keeper.interrupt() == 130
    assert keeper.stderr == ""
    key = f"cli-ctrl-c-{uuid.uuid4().hex[:8]}"
    written = run_etcdctl("put", key, "v", "-w", "json", endpoints=etcd.url).stdout
    revision = json.loads(written)["header"]["revision"]
    watcher = background("watch", key, "--rev", str(revision), endpoint=etcd)
    assert watcher.read_lines(3) == ["PUT", key, "v"]  # in its loop, waiting for more
    assert watcher.interrupt() == 130  # as etcdctl, killed by the SIGINT
    assert watcher.stderr == ""


# ---- auth and --trace ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def auth_member() -> Iterator[EtcdMember]:
    """A member with auth enabled: root / ROOT_PASSWORD."""
    member = EtcdMember(f"cliauth-{uuid.uuid4().hex[:6]}", unsafe_no_fsync=True).start()
    try:
        for args in (
            ("user", "add", "root", f"--new-user-password={ROOT_PASSWORD}"),
            ("auth", "enable"),
        ):
            done = run_etcdctl(*args, endpoints=member.url)
            assert done.returncode == 0, done.stderr
        yield member
    finally:
        member.close()


@pytest.mark.etcd
def test_auth_with_user_flag_password_flag_and_environment(auth_member: EtcdMember) -> None:
    with_colon = cli("--user", f"root:{ROOT_PASSWORD}", "put", "a", "1", endpoint=auth_member)
    assert (with_colon.rc, with_colon.stdout) == (0, "OK\n"), with_colon.stderr
    separate = cli("--user=root", f"--password={ROOT_PASSWORD}", "get", "a", endpoint=auth_member)
    assert separate.stdout == "a\n1\n"
    env = {"ETCDCTL_USER": "root", "ETCDCTL_PASSWORD": ROOT_PASSWORD}
    assert cli("get", "a", "--print-value-only", endpoint=auth_member, env=env).stdout == "1\n"
    ctl = run_etcdctl("--user", f"root:{ROOT_PASSWORD}", "get", "a", endpoints=auth_member.url)
    assert ctl.stdout == "a\n1\n"


@pytest.mark.etcd
def test_auth_failures_are_one_error_line(auth_member: EtcdMember) -> None:
    wrong = cli("--user", "root:wrong", "get", "a", endpoint=auth_member)
    anonymous = cli("get", "a", endpoint=auth_member)
    for result in (wrong, anonymous):
        assert result.rc == 1
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr
    assert "authentication failed" in wrong.stderr
    assert "wrong" not in wrong.stderr.replace("authentication failed", "")
    assert "user name is empty" in anonymous.stderr or "permission" in anonymous.stderr.lower()


def _trace(result: CliResult) -> str:
    assert result.rc == 0, result.stderr
    return result.stderr


@pytest.mark.etcd
def test_trace_shows_frames_headers_windows_and_decoded_messages_with_secrets_redacted(
    auth_member: EtcdMember,
) -> None:
    result = cli(
        "--trace",
        "--user",
        f"root:{ROOT_PASSWORD}",
        "put",
        "traced-key",
        "traced-value",
        endpoint=auth_member,
    )
    assert result.stdout == "OK\n"
    trace = _trace(result)
    for frame in (
        ">> SETTINGS",
        "<< SETTINGS",
        ">> HEADERS",
        "<< HEADERS",
        ">> DATA",
        "WINDOW_UPDATE",
    ):
        assert frame in trace, frame
    assert ":path: /etcdserverpb.Auth/Authenticate" in trace
    assert ":path: /etcdserverpb.KV/Put" in trace
    assert "PutRequest" in trace and 'key: "traced-key"' in trace
    assert 'value: "traced-value"' in trace
    assert "PutResponse" in trace and "revision:" in trace
    assert "window" in trace.lower()
    # Neither the password nor the token the server issued is shown.
    assert ROOT_PASSWORD not in trace
    token_lines = [line.strip() for line in trace.splitlines() if "token:" in line]
    # the AuthenticateResponse field, then the token header of the Put
    assert len(token_lines) >= 2, token_lines
    assert all(line.startswith(("token: <redacted", 'token: "<redacted')) for line in token_lines)
    assert not re.search(r"[A-Za-z]{16}\.\d+", trace)  # etcd's simple token: 16 letters.index
    assert "\x1b[" not in trace  # not a terminal: no colour


@pytest.mark.etcd
def test_trace_file_writes_json_lines_and_colour_always(
    auth_member: EtcdMember, tmp_path: Any
) -> None:
    path = tmp_path / "trace.jsonl"
    result = cli(
        "--trace",
        "--color=always",
        "--trace-file",
        str(path),
        "--user",
        f"root:{ROOT_PASSWORD}",
        "get",
        "a",
        endpoint=auth_member,
    )
    assert "\x1b[" in _trace(result)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    kinds = {record["type"] for record in records}
    assert {"frame", "message"} <= kinds
    assert ROOT_PASSWORD not in path.read_text()
    frames = [record for record in records if record["type"] == "frame"]
    assert {"send", "recv"} <= {record["direction"] for record in frames}


# ---- TLS ---------------------------------------------------------------------------------------


@pytest.mark.etcd
def test_tls_flags_and_environment_against_a_client_cert_member(
    etcd_mtls: EtcdMember, tls_certs: Any
) -> None:
    """--cacert/--cert/--key (or ETCDCTL_CACERT/CERT/KEY) reach an mTLS member; a bare
    host:port becomes https when TLS files are given; a missing client cert or an untrusted
    server is one error line."""
    hostport = etcd_mtls.url.split("://", 1)[1]
    files = [
        f"--cacert={tls_certs.ca_file}",
        f"--cert={tls_certs.client_cert_file}",
        f"--key={tls_certs.client_key_file}",
    ]
    key = f"cli-tls-{uuid.uuid4().hex[:8]}"
    put = cli(f"--endpoints={hostport}", *files, "put", key, "secure")
    assert (put.rc, put.stdout) == (0, "OK\n"), put.stderr
    env = {
        "ETCDCTL_ENDPOINTS": etcd_mtls.url,
        "ETCDCTL_CACERT": tls_certs.ca_file,
        "ETCDCTL_CERT": tls_certs.client_cert_file,
        "ETCDCTL_KEY": tls_certs.client_key_file,
    }
    assert cli("get", key, "--print-value-only", env=env).stdout == "secure\n"
    skip_verify = cli(
        "--insecure-skip-tls-verify",
        f"--cert={tls_certs.client_cert_file}",
        f"--key={tls_certs.client_key_file}",
        "get",
        key,
        "--print-value-only",
        endpoint=etcd_mtls,
    )
    assert skip_verify.stdout == "secure\n", skip_verify.stderr
    for args in (
        [f"--cacert={tls_certs.ca_file}"],  # no client certificate
        [
            f"--cacert={tls_certs.other_ca_file}",  # the server's CA is not trusted
            f"--cert={tls_certs.client_cert_file}",
            f"--key={tls_certs.client_key_file}",
        ],
    ):
        failed = cli(*args, "--dial-timeout=2s", "get", key, endpoint=etcd_mtls)
        assert failed.rc != 0
        assert failed.stderr.startswith("Error: ") and failed.stderr.count("\n") == 1
        assert "Traceback" not in failed.stderr

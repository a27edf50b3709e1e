"""The ``etcdwire`` command as a person sees it in a terminal (issue 7, "What it must show"
point 4): each test runs the real command in a pseudo-terminal (tmux, ``TERM=xterm-256color``)
and reads the screen: tables line up, colours show on a terminal and never in a pipe, the
snapshot progress bar draws and finishes, and Ctrl-C ends a watch cleanly.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import time
from pathlib import Path
from typing import Any

import pytest

from etcdwire import Client
from etcdwire.tools.embedded import EtcdMember

from .conftest import CliResult, cli, cli_command
from .terminal import PROMPT, Terminal, needs_tmux, sgr_codes, strip_ansi

pytestmark = [needs_tmux, pytest.mark.etcd]

ROOT = Path(__file__).resolve().parents[2]
#: the colour env must not be inherited from whoever runs the tests
ENV = {"NO_COLOR": "", "COLUMNS": "", "LINES": ""}


etcdwire = cli_command


def urls(target: Any) -> str:
    return target.url if isinstance(target, EtcdMember) else ",".join(target.urls)


def piped(*args: str) -> CliResult:
    """The same command with its output in pipes, as a script would run it."""
    return cli(*args, env=ENV, timeout=60)


def run_on_terminal(*args: str, width: int = 200, height: int = 30) -> tuple[int, Terminal]:
    term = Terminal(etcdwire(*args), width=width, height=height, env=ENV, cwd=ROOT)
    try:
        return term.wait_exit(60), term
    except BaseException:
        term.close()
        raise


def colour_codes(screen: str) -> set[str]:
    """The SGR sequences on ``screen`` that set a foreground or background colour."""
    colour = re.compile(r"(?:^|;)(3[0-7]|9[0-7]|4[0-7]|10[0-7]|38;5;\d+|38;2;[\d;]+)(?:;|$)")
    return {code for code in sgr_codes(screen) if colour.search(code)}


def assert_box_aligned(lines: list[str]) -> list[int]:
    """Every line of a box table is as wide as the border and has its column separators at
    the same positions as the border's corners; returns those positions."""
    border = lines[0]
    corners = [i for i, char in enumerate(border) if char == "+"]
    assert border.startswith("+") and border.endswith("+") and len(corners) >= 2
    for line in lines:
        assert len(line) == len(border), f"ragged line:\n{line}\n{border}"
        marks = "+" if line.startswith("+") else "|"
        assert [i for i, char in enumerate(line) if char == marks] == corners, line
    return corners


# ============================================================================================
# tables
# ============================================================================================


@pytest.mark.cluster
def test_member_list_table_lines_up_on_screen(etcd_cluster: Any, etcdctl: Any) -> None:
    status, term = run_on_terminal(
        "--endpoints=" + urls(etcd_cluster), "member", "list", "-w", "table"
    )
    with term:
        assert status == 0
        lines = term.lines()
    assert len(lines) == 3 + 3 + 1  # border, header, border, one row per member, border
    corners = assert_box_aligned(lines)
    assert len(corners) == 7  # six columns
    header = [cell.strip() for cell in lines[1].split("|")[1:-1]]
    assert header == ["ID", "STATUS", "NAME", "PEER ADDRS", "CLIENT ADDRS", "IS LEARNER"]
    for left, right, cell in zip(corners, corners[1:], lines[1].split("|")[1:-1], strict=False):
        width = right - left - 1
        text = cell.strip()
        pad_left = (width - len(text)) // 2
        assert cell == " " * pad_left + text + " " * (width - len(text) - pad_left)
    for row in lines[3:-1]:  # every cell right-aligned with one space of padding
        for cell in row.split("|")[1:-1]:
            assert cell.endswith(" ") and (cell.strip() == "" or cell[-2] != " ")
    # what the person sees is exactly what etcdctl prints
    theirs = etcdctl("member", "list", "-w", "table", endpoint=etcd_cluster, check=True).stdout
    assert lines == theirs.splitlines()


@pytest.mark.cluster
def test_endpoint_status_table_columns_on_screen(etcd_cluster: Any) -> None:
    status, term = run_on_terminal(
        "--endpoints=" + urls(etcd_cluster), "endpoint", "status", "-w", "table"
    )
    with term:
        assert status == 0
        lines = term.lines()
        screen = term.capture()
    corners = assert_box_aligned(lines)
    assert len(corners) == 11 and len(lines) == 3 + 3 + 1
    widths = [b - a - 1 for a, b in itertools.pairwise(corners)]
    # each column as wide as its widest cell plus one space each side
    for index, width in enumerate(widths):
        cells = [line.split("|")[index + 1].strip() for line in lines[1:] if line.startswith("|")]
        assert width == max(len(cell) for cell in cells) + 2
    leaders = [line.split("|")[5].strip() for line in lines[3:-1]]
    assert sorted(leaders) == ["false", "false", "true"]
    assert not colour_codes(screen)  # etcdctl's tables carry no colour


# ============================================================================================
# colour: on a terminal, never in a pipe
# ============================================================================================


def test_trace_in_colour_on_a_terminal_and_plain_in_a_pipe(etcd: Any) -> None:
    args = ("--endpoints=" + etcd.url, "--trace", "endpoint", "status")
    status, term = run_on_terminal(*args, height=200)
    with term:
        assert status == 0
        screen = term.capture(history=True)
    colours = colour_codes(screen)
    assert colours, f"no colour on the terminal:\n{screen[:2000]!r}"
    plain_screen = strip_ansi(screen)
    assert "HEADERS" in plain_screen and etcd.url in plain_screen

    result = piped(*args)
    assert result.rc == 0
    assert "HEADERS" in result.stderr and "\x1b[" not in result.stderr + result.stdout
    # the words are the same; only the colour differs
    assert strip_ansi(screen).count("HEADERS") >= 1

    status, term = run_on_terminal(*args, "--color=never", height=200)
    with term:
        assert status == 0
        assert not colour_codes(term.capture(history=True))


# ============================================================================================
# the snapshot progress bar
# ============================================================================================


def test_snapshot_progress_bar_draws_and_finishes(etcd_factory: Any, tmp_path: Path) -> None:
    member = etcd_factory()
    with Client(member.url) as client:
        for index in range(24):
            client.put(f"blob/{index}", os.urandom(1024 * 1024))
    target = tmp_path / "snap.db"
    raw = tmp_path / "raw.out"
    with Terminal.shell(width=100, height=20, env=ENV, cwd=ROOT) as term:
        term.record(raw)
        term.send_line(
            shlex.join(etcdwire("--endpoints=" + member.url, "snapshot", "save", str(target)))
        )
        term.wait_for_prompt(count=2, timeout=60)
        lines = term.lines()
    drawn = raw.read_bytes().decode("utf-8", errors="replace")
    frames = [strip_ansi(frame) for frame in drawn.split("\r\x1b[K")[1:]]
    assert len(frames) >= 2, drawn[-500:]
    percents = [int(m.group(1)) for f in frames if (m := re.search(r"(\d+)%", f))]
    assert percents == sorted(percents) and percents[0] < 100 and percents[-1] == 100
    assert "\x1b[32m" in drawn  # the filled part is green on a terminal
    # on screen: the finished bar on its own line, then the result line, then the prompt
    bar = next(line for line in lines if line.startswith("Downloading snapshot ["))
    assert len(bar) < 100 and "] 100% " in bar and "." not in bar[: bar.index("]")]
    assert lines[lines.index(bar) + 1] == f"Snapshot saved at {target}"
    assert lines[-1] == PROMPT.rstrip()

    quiet = piped("--endpoints=" + member.url, "snapshot", "save", str(tmp_path / "piped.db"))
    assert quiet.rc == 0 and quiet.stderr == ""
    assert quiet.stdout == f"Snapshot saved at {tmp_path / 'piped.db'}\n"


# ============================================================================================
# Ctrl-C
# ============================================================================================


def test_ctrl_c_ends_a_watch_cleanly(etcd: Any) -> None:
    key = f"term/watch/{time.monotonic_ns()}"
    with Terminal.shell(width=120, height=30, env=ENV, cwd=ROOT) as term:
        term.send_line(shlex.join(etcdwire("--endpoints=" + etcd.url, "watch", key)))
        deadline = time.monotonic() + 20
        with Client(etcd.url) as client:
            while True:  # the watch may take a moment to start: put until it shows
                client.put(key, "seen")
                try:
                    term.wait_for("seen", timeout=0.5)
                    break
                except AssertionError:
                    assert time.monotonic() < deadline, term.text(history=True)
        term.send_keys("C-c")
        term.wait_for_prompt(count=2, timeout=10)
        term.send_line("echo status=$?")
        screen = term.wait_for(re.compile(r"status=\d+"))
    assert "Traceback" not in screen and "KeyboardInterrupt" not in screen
    assert re.search(r"status=(130|0)\b", screen), screen
    assert "PUT" in screen and key in screen


# ============================================================================================
# passwords asked on the terminal
# ============================================================================================


def test_user_add_asks_the_password_twice_without_echo(etcd: Any, etcdctl: Any) -> None:
    name = f"tty{time.monotonic_ns()}"
    secret = "s3cret-not-shown"
    add = shlex.join(etcdwire("--endpoints=" + etcd.url, "user", "add", name))
    try:
        with Terminal.shell(width=120, height=20, env=ENV, cwd=ROOT) as term:
            term.send_line(add)
            term.wait_for(f"Password of {name}:")
            term.send_line(secret)
            term.wait_for(f"Type password of {name} again for confirmation:")
            term.send_line(secret)
            term.wait_for(f"User {name} created")
            term.wait_for_prompt(count=2)
            term.send_line(add)  # again, with two different answers
            term.wait_for(re.compile(rf"(?s)User {name} created.*Password of {name}:"))
            term.send_line("one")
            term.wait_for(re.compile(r"(?s)created.*again for confirmation:"))
            term.send_line("two")
            term.wait_for_prompt(count=3)
            term.send_line("echo status=$?")
            screen = term.wait_for(re.compile(r"status=\d+"))
        assert secret not in screen and "one" not in screen.split("created", 1)[1]
        assert "Error: given passwords are different" in screen and "status=128" in screen
        listed = etcdctl("user", "get", name, check=True).stdout
        assert listed == f"User: {name}\nRoles:\n"
    finally:
        etcdctl("user", "delete", name)

"""Fixtures for tests of the ``etcdwire`` command: run it as a real process.

* :func:`cli` runs one command line to completion (with a timeout) and returns a
  :class:`CliResult` (``rc``, ``stdout``, ``stderr``, ``duration``).
* The ``run_cli`` fixture is the same bound to the shared ``etcd`` member by default
  (``run_cli("get", "k", member=other)``; ``endpoint=None`` passes no ``--endpoints``).
* :class:`CliProcess` runs one in the background (``watch``, ``lock``, ``elect``), reads its
  output line by line with a deadline, and stops it with SIGINT as Ctrl-C would.

The child's environment has no ETCDCTL_* variables unless a test passes them in ``env``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from tests.etcdctl_process import StdinLines, read_line

__all__ = ["CliProcess", "CliResult", "cli", "cli_command", "cli_env", "wait_until"]


def cli_command(*args: str) -> list[str]:
    """The command line that runs ``etcdwire`` with ``args`` in a fresh interpreter."""
    return [sys.executable, "-m", "etcdwire.tools.cli", *args]


def cli_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Our environment without ETCD_/ETCDCTL_ variables, plus ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ETCD_", "ETCDCTL_"))}
    clean.update(env or {})
    return clean


def _endpoint_flags(endpoint: Any) -> list[str]:
    if endpoint is None:
        return []
    if isinstance(endpoint, str):
        return [f"--endpoints={endpoint}"]
    urls = getattr(endpoint, "urls", None)  # an EmbeddedCluster
    if urls is not None:
        return [f"--endpoints={','.join(urls)}"]
    return [f"--endpoints={endpoint.url}"]


@dataclass
class CliResult:
    rc: int
    stdout: str
    stderr: str
    duration: float

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def cli(
    *args: str,
    endpoint: Any = None,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> CliResult:
    """Run ``etcdwire [--endpoints=...] args...`` to completion."""
    started = time.monotonic()
    done = subprocess.run(
        cli_command(*_endpoint_flags(endpoint), *args),
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(env),
        check=False,
    )
    return CliResult(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


RunCli = Callable[..., CliResult]


@pytest.fixture
def run_cli(request: pytest.FixtureRequest) -> RunCli:
    """``run_cli(*args, member=<shared etcd>, input=None, env=None, timeout=30)``."""
    default = object()

    def run(
        *args: str,
        member: Any = default,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> CliResult:
        target = request.getfixturevalue("etcd") if member is default else member
        return cli(*args, endpoint=target, input=input, env=env, timeout=timeout)

    return run


class CliProcess(StdinLines):
    """``etcdwire`` running in the background; stdout read line by line with a deadline,
    stderr collected at the end."""

    def __init__(
        self,
        *args: str,
        endpoint: Any = None,
        env: Mapping[str, str] | None = None,
        command: Sequence[str] | None = None,
        stdin: bool = False,
    ) -> None:
        argv = (
            list(command) if command is not None else cli_command(*_endpoint_flags(endpoint), *args)
        )
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cli_env(env),
        )
        self._buffer = b""
        self.stderr = ""

    def read_line(self, timeout: float = 10.0) -> str | None:
        """The next line printed, or None if none came within ``timeout`` seconds."""
        assert self.proc.stdout is not None
        line, self._buffer = read_line(self.proc.stdout, self._buffer, timeout)
        return line

    def read_lines(self, count: int, timeout: float = 10.0) -> list[str]:
        end = time.monotonic() + timeout
        lines: list[str] = []
        while len(lines) < count:
            line = self.read_line(max(end - time.monotonic(), 0.0))
            if line is None:
                break
            lines.append(line)
        return lines

    def interrupt(self, timeout: float = 10.0) -> int:
        """Ctrl-C (SIGINT); returns the exit status. The rest of the output stays readable."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.wait(timeout)

    def wait(self, timeout: float = 10.0) -> int:
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._buffer += self.proc.stdout.read()
        self.stderr = self.proc.stderr.read().decode("utf-8", errors="replace")
        return rc

    def rest(self) -> str:
        """What is left of stdout (after :meth:`wait` or :meth:`interrupt`)."""
        text, self._buffer = self._buffer.decode("utf-8", errors="replace"), b""
        return text

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def background() -> Any:
    """``background(*args, endpoint=..., env=...)`` starts a :class:`CliProcess`, killed at
    teardown if still running; ``background(command=[...])`` runs any command line."""
    started: list[CliProcess] = []

    def start(*args: str, **kwargs: Any) -> CliProcess:
        process = CliProcess(*args, **kwargs)
        started.append(process)
        return process

    yield start
    for process in started:
        process.close()

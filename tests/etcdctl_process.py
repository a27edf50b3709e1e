"""etcdctl running in the background for interop tests (``lock``, ``elect``, ``elect -l``),
shared by the lock, election and recipe tests."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from typing import Any

from etcdwire.tools.embedded import find_etcd_binary

__all__ = ["EtcdctlProcess", "StdinLines", "read_line"]


def read_line(pipe: Any, buffer: bytes, timeout: float) -> tuple[str | None, bytes]:
    """The next line a child process prints on ``pipe`` (None if none came within ``timeout``
    seconds or the pipe closed), and what is left buffered after it."""
    end = time.monotonic() + timeout
    while b"\n" not in buffer:
        remaining = end - time.monotonic()
        if remaining <= 0:
            return None, buffer
        ready, _, _ = select.select([pipe], [], [], remaining)
        if not ready:
            return None, buffer
        chunk = os.read(pipe.fileno(), 65536)
        if not chunk:
            return None, buffer
        buffer += chunk
    line, rest = buffer.split(b"\n", 1)
    return line.decode("utf-8", errors="replace"), rest


class StdinLines:
    """Line input to a child process started with a stdin pipe (``self.proc``)."""

    proc: subprocess.Popen[bytes]

    def send_line(self, text: str) -> None:
        """Write one line to its stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()


class EtcdctlProcess(StdinLines):
    """etcdctl running in the background (``lock``, ``elect``), its output read line by line
    with a deadline. Started without a preexec_fn, so no at-fork handler runs in the child."""

    def __init__(self, member: Any, *args: str, stdin: bool = False) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ETCD_", "ETCDCTL_"))}
        env["ETCDCTL_API"] = "3"
        self.proc = subprocess.Popen(
            [find_etcd_binary("etcdctl"), f"--endpoints={member.url}", *args],
            stdin=subprocess.PIPE if stdin else None,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self._buffer = b""

    def read_line(self, timeout: float) -> str | None:
        """The next line printed, or None if nothing came within ``timeout`` seconds."""
        assert self.proc.stdout is not None
        line, self._buffer = read_line(self.proc.stdout, self._buffer, timeout)
        return line

    def stop(self) -> None:
        """SIGTERM: etcdctl closes its session (revoking its lease), then exits."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()

"""Ctrl-C interrupts a blocked blocking call (issue 8, deadlines and Ctrl-C).

Each scenario runs in a process of its own (tests/reliability/interrupt_worker.py) that blocks
in a ``Client`` call without a timeout: a black-holed endpoint (connected, never answered), a
watch with nothing to deliver, a server-side lock and a client-side mutex held by someone
else, an election led by someone else. SIGINT must raise KeyboardInterrupt in the call within
a second, the client must serve the next call, ``client.close()`` must not hang, and the
process must exit.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import IO, Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROMPT = 1.0  # seconds from SIGINT to KeyboardInterrupt
SETTLE = 0.5  # let the call reach its wait before interrupting it


def read_line(stream: IO[str], deadline: float) -> str | None:
    """One line from the worker's stdout, or None when the deadline passes first."""
    remaining = deadline - time.monotonic()
    if remaining <= 0 or not select.select([stream], [], [], remaining)[0]:
        return None
    return stream.readline().strip()


def interrupt(scenario: str, *args: str) -> dict[str, Any]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.interrupt_worker", scenario, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        line = read_line(process.stdout, time.monotonic() + 30)
        assert line == "BLOCKING", f"worker did not start: {line!r} {process.stderr.read()}"
        time.sleep(SETTLE)
        assert process.poll() is None, "the call returned before it was interrupted"
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        line = read_line(process.stdout, sent + 5)
        interrupted_after = time.monotonic() - sent
        assert line == "INTERRUPTED KeyboardInterrupt", f"got {line!r}"
        line = read_line(process.stdout, time.monotonic() + 10)
        if args:  # talking to etcd: the client serves the next call
            assert line == "REUSED ok", f"the client broke after the interrupt: {line!r}"
            line = read_line(process.stdout, time.monotonic() + 5)
        assert line is not None and line.startswith("CLOSED "), f"close hung: {line!r}"
        close_seconds = float(line.split()[1])
        returncode = process.wait(timeout=5)
        stderr = process.stderr.read()
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        process.stdout.close()
        process.stderr.close()
    return {
        "interrupted_after": interrupted_after,
        "close_seconds": close_seconds,
        "returncode": returncode,
        "stderr": stderr,
    }


def check_prompt(result: dict[str, Any]) -> None:
    assert result["interrupted_after"] < PROMPT, result
    assert result["close_seconds"] < 2.0, result
    assert result["returncode"] == 0, result["stderr"]
    assert "Traceback" not in result["stderr"], result["stderr"]


@pytest.mark.parametrize("scenario", ["black_hole_get", "black_hole_put"])
def test_ctrl_c_interrupts_a_call_to_a_black_holed_endpoint(scenario: str) -> None:
    check_prompt(interrupt(scenario))


@pytest.mark.etcd
@pytest.mark.parametrize("scenario", ["watch", "server_lock", "mutex", "campaign"])
def test_ctrl_c_interrupts_a_call_waiting_on_etcd(scenario: str, etcd: Any) -> None:
    check_prompt(interrupt(scenario, etcd.url, f"intr-{uuid.uuid4().hex[:8]}"))

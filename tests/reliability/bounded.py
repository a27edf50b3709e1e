"""Run a call on a thread with a time limit, for tests that must tell a hang from an outcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["run_bounded", "run_bounded_or_running"]


def _run(work: Callable[[], Any], limit: float) -> tuple[Any, BaseException | None, bool]:
    outcome: list[Any] = [None, None]

    def target() -> None:
        try:
            outcome[0] = work()
        except BaseException as exc:  # judged by the caller
            outcome[1] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(limit)
    return outcome[0], outcome[1], thread.is_alive()


def run_bounded(work: Callable[[], Any], limit: float) -> tuple[Any, BaseException | None]:
    """``work``'s (result, exception); a call still running after ``limit`` seconds fails the
    test as a hang."""
    started = time.monotonic()
    result, error, alive = _run(work, limit)
    assert not alive, f"hang: still running after {time.monotonic() - started:.1f} s"
    return result, error


def run_bounded_or_running(
    work: Callable[[], Any], limit: float
) -> tuple[Any, BaseException | None]:
    """Like :func:`run_bounded`, but a call still running after ``limit`` is fine (it is left
    to end by itself, and (None, None) is returned)."""
    result, error, _alive = _run(work, limit)
    return result, error

"""The rate limiter and the progress bar of ``etcdwire bench``.

:class:`RateLimiter` is pure (it is handed ``now``); the engines sleep for the delay it gives.
:class:`Progress` draws a bar on a terminal from a background thread that polls a counter, or
writes one plain line at the end when the stream is not a terminal.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress", "RateLimiter", "render_bar"]


class RateLimiter:
    """Spaces requests ``1 / rate`` seconds apart across all workers (a token bucket holding
    one token, as Go's ``rate.NewLimiter(r, 1)``): ``n`` requests take at least
    ``(n - 1) / rate`` seconds. ``rate <= 0`` means no limit."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next: float | None = None

    def reserve(self, now: float) -> float:
        """Take the next slot; return how long to wait for it (0: go now)."""
        if self.interval == 0.0:
            return 0.0
        slot = now if self._next is None or self._next < now else self._next
        self._next = slot + self.interval
        return slot - now


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def render_bar(label: str, done: int, total: int, elapsed: float, width: int) -> str:
    """One line of the bar, at most ``width`` characters: label, bar, count, percentage,
    rate and the time left."""
    fraction = min(1.0, done / total) if total > 0 else 1.0
    rate = done / elapsed if elapsed > 0 else 0.0
    left = (total - done) / rate if rate > 0 and done < total else 0.0
    tail = f" {done}/{total} {fraction * 100:3.0f}% {rate:8.1f} req/s ETA {_duration(left)}"
    head = f"{label} "
    room = width - len(head) - len(tail) - 2
    if room < 10:
        return (head + tail.strip())[:width]
    filled = int(room * fraction)
    return f"{head}[{'#' * filled}{'.' * (room - filled)}]{tail}"


class Progress:
    """A progress bar for one phase.

    ``count`` is polled (it may be read from any thread). On a terminal the bar is redrawn
    in place every ``interval`` seconds and finished with a newline; elsewhere one line
    ``label: done/total requests in N.NNs`` is written when the phase ends.
    """

    def __init__(
        self,
        stream: TextIO,
        label: str,
        total: int,
        count: Callable[[], int],
        *,
        tty: bool | None = None,
        interval: float = 0.1,
    ) -> None:
        self.stream = stream
        self.label = label
        self.total = total
        self.count = count
        self.tty = stream.isatty() if tty is None else tty
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0

    def start(self) -> Progress:
        self._started = time.monotonic()
        if self.tty:
            self._thread = threading.Thread(
                target=self._run, name="etcdwire-bench-progress", daemon=True
            )
            self._thread.start()
        return self

    def _draw(self) -> None:
        width = shutil.get_terminal_size((80, 24)).columns - 1
        line = render_bar(
            self.label, self.count(), self.total, time.monotonic() - self._started, width
        )
        self.stream.write("\r" + line + "\x1b[K")
        self.stream.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._draw()

    def finish(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.tty:
            self._draw()
            self.stream.write("\n")
        else:
            elapsed = time.monotonic() - self._started
            self.stream.write(
                f"{self.label}: {self.count()}/{self.total} requests in {elapsed:.2f}s\n"
            )
        self.stream.flush()

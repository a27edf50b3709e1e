"""Output for ``etcdwire spy`` written from its own thread, so a slow or paused terminal never
holds up the bytes the proxy forwards.

Events wait in a bounded queue; when the writer falls that far behind, further events are
dropped and counted, and a line saying how many were lost is written before the next one.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from ..trace import ConnectionTrace, TraceEvent

__all__ = ["BackgroundEmitter"]


class BackgroundEmitter:
    """A trace hook that hands each event to ``emit`` on a writer thread.

    ``lost`` becomes True when ``emit`` raised OSError (stdout closed); ``on_lost`` (set by
    the owner, called on the writer thread) is then called once and later events are ignored.
    """

    def __init__(self, emit: Callable[[TraceEvent], None], *, limit: int = 100_000) -> None:
        self._emit = emit
        self._queue: queue.Queue[TraceEvent | None] = queue.Queue(limit)
        self.dropped = 0
        self.lost = False
        self.on_lost: Callable[[], object] | None = None
        self._thread = threading.Thread(target=self._run, name="etcdwire-spy-output", daemon=True)
        self._thread.start()

    def __call__(self, event: TraceEvent) -> None:
        if self.lost:
            return
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (for up to ``timeout`` seconds), then stop the thread."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _run(self) -> None:
        reported = 0
        while True:
            event = self._queue.get()
            if event is None:
                return
            if self.lost:
                continue
            try:
                dropped = self.dropped
                if dropped != reported:
                    self._emit(
                        ConnectionTrace(
                            event.connection_id,
                            "spy",
                            "overrun",
                            f"{dropped - reported} events not shown: the output was too slow",
                        )
                    )
                    reported = dropped
                self._emit(event)
            except OSError:
                self.lost = True
                if self.on_lost is not None:
                    self.on_lost()

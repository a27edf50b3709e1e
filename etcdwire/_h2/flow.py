"""Flow-control windows (RFC 9113 §5.2, §6.9) and the receive-side credit policy.

Send side: a plain ``int`` per stream and one for the connection, kept by the connection. They
may go negative after a SETTINGS change lowers INITIAL_WINDOW_SIZE (§6.9.2); nothing may be sent
until they are positive again.

Receive side: :class:`ReceiveWindow` tracks what the peer may still send (``available``) and the
credit we owe it (``pending``: consumed bytes not yet returned by WINDOW_UPDATE). Credit goes back
in batches, once ``pending`` reaches a quarter of the window (as grpc-go's ``trInFlow`` does), so a
steady stream of small messages costs one WINDOW_UPDATE per quarter window rather than one per
frame. The connection window is credited as soon as DATA is parsed; a stream window only when the
application says it consumed the bytes, so one slow reader stalls only its own stream (§5.2.2).

Invariant, for every window: ``available + pending + buffered == size``, where ``buffered`` is
what was received and not yet acknowledged; hence the sum of all DATA lengths received equals
the credit returned plus ``pending + buffered``.
"""

from __future__ import annotations

from etcdwire._h2.settings import MAX_WINDOW_SIZE

__all__ = ["MAX_WINDOW_SIZE", "ReceiveWindow"]


class ReceiveWindow:
    """One receive window: the connection's or a stream's."""

    __slots__ = ("available", "pending", "size", "threshold")

    def __init__(self, size: int, available: int | None = None) -> None:
        #: The window we aim to keep open; grows through :meth:`ensure`.
        self.size = size
        #: Octets the peer may still send before it runs out of credit.
        self.available = size if available is None else available
        #: Consumed octets not yet returned to the peer.
        self.pending = 0
        self.threshold = max(1, size // 4)

    @property
    def buffered(self) -> int:
        """Octets received and not yet acknowledged by the consumer."""
        return self.size - self.available - self.pending

    def consume(self, length: int) -> bool:
        """Charge a received DATA frame (its whole length, padding included, §6.1).
        False when it exceeds the credit the peer had: a FLOW_CONTROL_ERROR."""
        if length > self.available:
            return False
        self.available -= length
        return True

    def acknowledge(self, length: int) -> int:
        """The consumer is done with ``length`` octets. Returns the WINDOW_UPDATE increment to
        send now, 0 while the credit is still being batched. Raises ValueError when more is
        acknowledged than was buffered."""
        if length > self.size - self.available - self.pending:
            raise ValueError(f"acknowledged {length} octets but only {self.buffered} are buffered")
        pending = self.pending + length
        if pending < self.threshold:
            self.pending = pending
            return 0
        self.pending = 0
        self.available += pending
        return pending

    def ensure(self, needed: int) -> int:
        """Make sure the peer may send ``needed`` more octets, growing the window when it is
        too small for what the consumer waits for (e.g. one large message; Gun's
        ``ensure_window``, grpc-go's ``maybeAdjust``). Returns the increment to send now."""
        needed = min(needed, MAX_WINDOW_SIZE)
        if needed <= self.available:
            return 0
        extra = needed - self.available - self.pending
        if extra > 0:
            # The window itself must never exceed 2**31-1, or returning credit later would
            # overflow the peer's send window (§6.9.1).
            extra = min(extra, MAX_WINDOW_SIZE - self.size)
            self.size += extra
            self.threshold = max(1, self.size // 4)
        else:
            extra = 0
        increment = self.pending + extra
        self.pending = 0
        self.available += increment
        return increment

    def take_pending(self) -> int:
        """Return all pending credit at once (used when a batch must be flushed)."""
        pending = self.pending
        self.pending = 0
        self.available += pending
        return pending

    def __repr__(self) -> str:
        return (
            f"ReceiveWindow(size={self.size}, available={self.available}, "
            f"pending={self.pending}, buffered={self.buffered})"
        )

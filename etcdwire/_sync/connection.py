# Generated from etcdwire/_async/connection.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""One HTTP/2 connection: a byte stream plus the sans-IO ``H2Connection``.

Received bytes are fed to ``H2Connection`` and its events filed into per-stream slots in one
of two ways, chosen by the stream. An asyncio stream pushes: the event loop hands each chunk
to :meth:`Connection._on_pushed` as it arrives, and callers only wait for their slot.
A blocking stream is read by the callers themselves (leader/follower): whoever is waiting for
something (a message, send credit, a free stream slot) either becomes the one reader, reads
once and files what came, or waits until the current reader has done so; a lone caller
therefore never switches threads. Either way there is no background thread or task, and
every blocking point takes an absolute deadline.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from .._backends.sync import SocketStream
from .._backends.base import Address
from .._compat import Event, Lock, Signal, StateLock, monotonic
from .._etcd.keepalive import PingPolicy
from .._grpc.call import CallState
from .._grpc.status import Status
from .._h2.connection import H2Connection
from .._h2.events import (
    DataReceived,
    GoAwayReceived,
    PingAckReceived,
    RemoteSettingsChanged,
    ResponseReceived,
    StreamReset,
    TrailersReceived,
)
from .._options import ChannelOptions
from ..errors import (
    ConnectionLost,
    DeadlineExceeded,
    EtcdError,
    ProtocolError,
    RemoteProtocolError,
)

__all__ = ["Connection", "StreamSlot"]

logger = logging.getLogger("etcdwire.transport")

_READ_SIZE = 65536
_SERVER_DATA = (ResponseReceived, DataReceived, TrailersReceived)
_ENHANCE_YOUR_CALM = 0xB


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - monotonic()


class StreamSlot:
    """What the connection keeps for one call: its gRPC state and received messages."""

    __slots__ = ("call", "error", "inbox", "stream_id", "unacked", "waiter", "whole")

    def __init__(self, stream_id: int, call: CallState) -> None:
        self.stream_id = stream_id
        self.call = call
        self.inbox: deque[bytes] = deque()
        self.unacked = 0
        self.error: EtcdError | None = None
        #: The call's own waiter while it waits for its stream on a pushing connection, and
        #: whether it waits for the call's end (else for its next message).
        self.waiter: Signal | None = None
        self.whole = False

    @property
    def finished(self) -> bool:
        """No more messages will arrive (final status known or the connection failed)."""
        return self.error is not None or self.call.status is not None

    @property
    def status(self) -> Status | None:
        return self.call.status


class Connection:
    """A client HTTP/2 connection shared by many concurrent calls."""

    def __init__(
        self,
        stream: SocketStream,
        address: Address,
        options: ChannelOptions,
        *,
        connection_id: int,
        trace: Callable[[Any], None] | None = None,
        keepalive: PingPolicy | None = None,
    ) -> None:
        self.address = address
        self.endpoint = str(address)
        self.connection_id = connection_id
        self._stream = stream
        self._options = options
        self._h2 = H2Connection(
            max_concurrent_streams_cap=options.max_concurrent_streams,
            initial_window_size=options.stream_window_size,
            connection_window=options.connection_window_size,
            max_header_list_size=options.max_header_list_size,
            max_stream_id=options.max_stream_id,
            trace=trace,
        )
        # Guards the H2Connection, the slots and the waiters; never held across a wait.
        self._cond = StateLock()
        # Each waiter with the stream it waits on (None: anything) and whether it waits for
        # the call's end rather than its next message.
        self._waiters: dict[Event, tuple[StreamSlot | None, bool]] = {}
        self._write_lock = Lock()
        self._reading = False
        #: The stream hands received bytes to :meth:`_on_pushed` as they arrive (asyncio):
        #: callers then only wait; without it one of them reads for all (leader/follower).
        self._push = False
        self._slots: dict[int, StreamSlot] = {}
        self._error: EtcdError | None = None
        self._ready = False
        self._closed = False
        self._retiring = False
        self.goaway: GoAwayReceived | None = None
        self.pings_acked: deque[bytes] = deque(maxlen=16)
        self.last_read_time = monotonic()
        self.keepalive = keepalive
        if keepalive is not None:
            keepalive.connection_started(self.last_read_time)

    # --- life cycle ---------------------------------------------------------------------

    def start(self, deadline: float | None) -> None:
        """Send the preface and wait for the server's SETTINGS (RFC 9113 §3.4)."""
        with self._cond:
            self._h2.initiate_connection()
        # Anything the server sent already is handed over here, after our preface is queued.
        set_receiver = getattr(self._stream, "set_receiver", None)
        if set_receiver is not None:
            self._push = True
            set_receiver(self._on_pushed)
        self.flush()
        self.wait_until(lambda: self._ready, deadline)

    @property
    def _taking_calls(self) -> bool:
        """Not failed, closed or retiring: this side still starts calls here."""
        return self._error is None and not self._closed and not self._retiring

    @property
    def usable(self) -> bool:
        """True while new calls may be started here."""
        h2 = self._h2
        if not self._taking_calls or self.goaway is not None or h2.closed:
            return False
        # With no stream open, the only other reason not to open one is that stream ids are
        # exhausted (RFC 9113 §5.1.1): then a new connection is needed.
        return h2.can_open_stream or h2.open_outbound_streams > 0

    @property
    def open_streams(self) -> int:
        return len(self._slots)

    @property
    def h2(self) -> H2Connection:
        return self._h2

    def close(self) -> None:
        """Say GOAWAY, close the socket and fail every call still open."""
        if self._closed:
            return
        with self._cond:
            self._closed = True
            if not self._h2.closed:
                self._h2.close_connection()
            self._fail_locked(ConnectionLost("connection closed", endpoint=self.endpoint))
            self._wake_all_locked()
        with contextlib.suppress(EtcdError):
            self.flush()
        self._stream.close()

    # --- calls ------------------------------------------------------------------------------

    def open_stream(
        self,
        call: CallState,
        make_headers: Callable[[], list[tuple[bytes, bytes]]],
        deadline: float | None,
        *,
        last_message: bytes | None = None,
    ) -> tuple[StreamSlot, bool]:
        """Queue HEADERS for a new call, waiting for a free stream (MAX_CONCURRENT_STREAMS).
        Nothing is written yet: the caller's first message (or :meth:`flush`) goes with them.

        ``last_message`` (a framed message ending the request stream, as a unary call has) is
        queued right behind the HEADERS, with END_STREAM, when the send windows take it whole
        in one frame; the second value says whether it was (otherwise the caller sends it as
        usual).

        Raises ConnectionLost(maybe_sent=False) if this connection can take no new stream;
        the caller then moves to a new connection."""
        h2 = self._h2
        while True:
            opened = self.open_stream_now(call, make_headers, last_message)
            if opened is not None:
                return opened
            self.wait_until(
                lambda: h2.can_open_stream or not self.usable, deadline, for_slot=True
            )

    def open_stream_now(
        self,
        call: CallState,
        make_headers: Callable[[], list[tuple[bytes, bytes]]],
        last_message: bytes | None = None,
    ) -> tuple[StreamSlot, bool] | None:
        """:meth:`open_stream` without waiting: None, with nothing done, when no stream is
        free now."""
        h2 = self._h2
        with self._cond:
            # can_open_stream covers HTTP/2's own state (closed, GOAWAY, limits); the rest of
            # `usable` is checked here, and all of it only when no stream can be opened.
            if not (h2.can_open_stream and self._taking_calls):
                self._raise_if_unusable()
                return None
            # The headers are built now: grpc-timeout is the time left at this moment.
            stream_id, sent = h2.open_request(make_headers(), last_message)
            slot = StreamSlot(stream_id, call)
            self._slots[stream_id] = slot
            if sent:
                call.end_request()
            return slot, sent

    def _raise_if_unusable(self) -> None:
        if not self.usable:
            raise ConnectionLost(
                "connection can take no new streams", endpoint=self.endpoint, maybe_sent=False
            )

    def send_message(
        self, slot: StreamSlot, data: bytes, end_stream: bool, deadline: float | None
    ) -> None:
        """Send one framed message (or just END_STREAM when ``data`` is empty)."""
        view = memoryview(data)
        stream_id = slot.stream_id
        while True:
            with self._cond:
                if slot.finished:
                    return
                self._raise_if_failed()
                if not view:
                    if end_stream:
                        self._h2.end_stream(stream_id)
                    break
                window = self._h2.local_flow_control_window(stream_id)
                if window > 0:
                    # send_data splits at the peer's MAX_FRAME_SIZE; each chunk is written
                    # before the next is queued, so at most one window is ever buffered.
                    size = min(window, len(view))
                    last = size == len(view)
                    self._h2.send_data(stream_id, view[:size], end_stream=end_stream and last)
                    view = view[size:]
                    if last:
                        break
                    blocked = False
                else:
                    blocked = True
            if blocked:
                self.wait_until(
                    lambda: slot.finished or self._h2.local_flow_control_window(stream_id) > 0,
                    deadline,
                )
            else:
                self.flush()
        self.flush()

    def receive_message(
        self, slot: StreamSlot, deadline: float | None, *, last: bool = False
    ) -> bytes | None:
        """The next message of a call, or None when its final status is known. ``last``: the
        call sends at most one more message (unary), so wait for its end: the caller is woken
        once, not for the message and again for the trailers when they come apart."""
        if self._push and self.keepalive is None:
            # Bytes are pushed and no PING is to be timed (every call's wait, usually): the
            # caller waits on its slot's own signal, with no reader to elect or hand off.
            # Pushed bytes are filed between tasks, never during this step, so the check
            # and the registration below cannot miss a wake-up.
            while not (slot.finished or (not last and slot.inbox)):
                timeout = None if deadline is None else deadline - monotonic()
                if timeout is not None and timeout <= 0:
                    raise DeadlineExceeded("deadline exceeded", endpoint=self.endpoint)
                waiter = slot.waiter = Signal()
                slot.whole = last
                if self._h2.has_data_to_send:
                    self.flush()  # what this caller queued goes out before it waits
                try:
                    waiter.wait(timeout)
                finally:
                    slot.waiter = None
        elif last:
            if not slot.finished:
                self.wait_until(lambda: slot.finished, deadline, slot=slot, whole=True)
        elif not slot.inbox and not slot.finished:
            self.wait_until(lambda: bool(slot.inbox) or slot.finished, deadline, slot=slot)
        if slot.call.status is not None:
            # The call is over: its slot is no longer filed into, and no credit is owed.
            return slot.inbox.popleft() if slot.inbox else None
        with self._cond:
            message = slot.inbox.popleft() if slot.inbox else None
            ack = self._ack_if_drained_locked(slot)
        if ack:
            self.flush()
        if message is None and slot.error is not None and slot.call.status is None:
            raise slot.error
        return message

    def reset_stream(self, slot: StreamSlot, error_code: int) -> None:
        with self._cond:
            self._slots.pop(slot.stream_id, None)
            self._wake_locked({slot})
            if self._error is None and not self._h2.closed:
                self._h2.reset_stream(slot.stream_id, error_code)
            drained = self._retiring and not self._slots
        with contextlib.suppress(EtcdError):
            self.flush()
        if drained:
            self.close()

    def retire(self) -> None:
        """Take no new calls; close once the calls in progress have finished."""
        with self._cond:
            self._retiring = True
            idle = not self._slots
        if idle:
            self.close()

    def keepalive_tick(self) -> None:
        """Apply the keepalive policy now: send a PING when one is due, and close the
        connection (failing its calls) when the last one went unanswered too long. Called
        by the long-lived streams' loops, which read the answer."""
        policy = self.keepalive
        if policy is None or self._error is not None:
            return
        now = monotonic()
        with self._cond:
            if policy.timed_out(now):
                lost = ConnectionLost(
                    f"no answer to a keepalive PING within {policy.timeout}s",
                    endpoint=self.endpoint,
                )
                self._fail_locked(lost)
                self._wake_all_locked()
                dead = True
            else:
                dead = False
                if policy.should_ping(now, self.last_read_time, len(self._slots)):
                    self._h2.ping(b"keepaliv")
                    policy.ping_sent(now)
        if dead:
            self._close_socket()
        else:
            self.flush()

    def ping(self, payload: bytes) -> None:
        with self._cond:
            self._raise_if_failed()
            self._h2.ping(payload)
        self.flush()

    # --- the read loop ----------------------------------------------------------------------

    def wait_until(
        self,
        ready: Callable[[], bool],
        deadline: float | None,
        *,
        for_slot: bool = False,
        slot: StreamSlot | None = None,
        whole: bool = False,
    ) -> None:
        """Read and dispatch until ``ready()`` holds (checked under the lock) or the deadline.

        When the stream pushes received bytes (:meth:`_on_pushed`), callers only wait on an
        event of their own. Otherwise one caller at a time is the reader and the others wait.
        Whoever dispatches wakes only the callers whose stream got something (``slot``) and
        every caller waiting for something else (send credit, a free stream); a reader that
        leaves wakes one waiter to take over reading, so a busy connection never wakes every
        caller per read."""
        while True:
            with self._cond:
                if ready():
                    self._hand_off_locked()
                    return
                if not for_slot:
                    self._raise_if_failed()
                elif self._error is not None:
                    return
                if not self._push and not self._reading:
                    self._reading = True
                    waiter = None
                else:
                    timeout = _remaining(deadline)
                    if timeout is not None and timeout <= 0:
                        self._hand_off_locked()
                        raise DeadlineExceeded("deadline exceeded", endpoint=self.endpoint)
                    waiter = Event()
                    self._waiters[waiter] = (slot, whole)
            if waiter is None:
                self._read_once(deadline)
                continue
            wait, for_keepalive = _remaining(deadline), False
            if self._push:
                # What this caller queued goes out before it waits (a reader would flush
                # before reading), and nobody reads with a timeout, so the waiters keep the
                # keepalive going.
                if self._h2.has_data_to_send:
                    self.flush()
                if self.keepalive is not None:
                    check = self._keepalive_wait()
                    if check is not None and (wait is None or check < wait):
                        wait, for_keepalive = check, True
            try:
                woken = waiter.wait(wait)
            finally:
                with self._cond:
                    self._waiters.pop(waiter, None)
                    if waiter.is_set():
                        # Woken (perhaps to take over reading) but leaving: pass it on.
                        self._hand_off_locked()
            if for_keepalive and not woken:
                self.keepalive_tick()

    def _hand_off_locked(self) -> None:
        """Nobody is reading but callers wait: wake the oldest so it reads."""
        if not self._push and not self._reading and self._waiters:
            waiter = next(iter(self._waiters))
            del self._waiters[waiter]
            waiter.set()

    def _wake_locked(self, touched: set[StreamSlot]) -> None:
        for slot in touched:
            own = slot.waiter
            if own is not None and (not slot.whole or slot.finished):
                slot.waiter = None
                own.set()
        if not self._waiters:
            return
        woken = [
            waiter
            for waiter, (slot, whole) in self._waiters.items()
            if slot is None or (slot in touched and (not whole or slot.finished))
        ]
        for waiter in woken:
            del self._waiters[waiter]
            waiter.set()
        self._hand_off_locked()

    def _wake_all_locked(self) -> None:
        waiters, self._waiters = self._waiters, {}
        for waiter in waiters:
            waiter.set()

    def _keepalive_wait(self) -> float | None:
        """Seconds until the keepalive policy must look at the connection (a PING due, or the
        last one's answer overdue); None when keepalive is off or has nothing to do."""
        policy = self.keepalive
        if policy is None or not (self._slots or policy.permit_without_calls):
            return None
        wait = policy.next_check(monotonic(), self.last_read_time)
        return None if wait is None else max(wait, 0.001)

    def _read_once(self, deadline: float | None) -> None:
        # Control frames queued by the last read (PING and SETTINGS ACKs, WINDOW_UPDATEs) go
        # out here, before blocking, or with the next write: a PING ACK does not cost a
        # write of its own when the response it came with completes the call.
        data = b""
        failure: EtcdError | None = None
        # With keepalive on, the reader also wakes when a PING is due or the last one's answer
        # is overdue, so a silent connection is found by any waiting call (not only by the
        # watch and lease loops) and its calls move elsewhere.
        read_deadline, for_keepalive = deadline, False
        wait = self._keepalive_wait()
        if wait is not None:
            due = monotonic() + wait
            if deadline is None or due < deadline:
                read_deadline, for_keepalive = due, True
        try:
            self.flush()
            data = self._stream.read(_READ_SIZE, _remaining(read_deadline))
        except DeadlineExceeded:
            with self._cond:
                self._reading = False
                self._hand_off_locked()
            if for_keepalive:
                self.keepalive_tick()
                return
            raise
        except EtcdError as exc:
            failure = exc
        except BaseException:
            with self._cond:
                self._reading = False
                self._hand_off_locked()
            raise
        if self._on_received(data, failure):
            with contextlib.suppress(EtcdError):
                self.flush()  # our GOAWAY, if the connection says one
            self._close_socket()

    def _on_pushed(self, data: bytes, error: BaseException | None) -> None:
        """Bytes pushed by the stream as they arrive (``b""``: it ended, maybe with ``error``).
        Runs in the event loop between tasks, never inside a locked section."""
        failure: EtcdError | None = None
        if not data and error is not None:
            failure = ConnectionLost(f"connection lost: {error}", endpoint=self.endpoint)
            failure.__cause__ = error
        close = self._on_received(data, failure)
        self._flush_nowait()  # ACKs and WINDOW_UPDATEs from this read; our GOAWAY
        if close and not self._closed:
            self._closed = True
            self._stream.close_nowait()

    def _on_received(self, data: bytes, failure: EtcdError | None) -> bool:
        """File what one read brought (``b""``: the server closed) or the read's failure;
        True when the socket is to be closed (failed, or drained after GOAWAY/retire)."""
        with self._cond:
            self._reading = False
            touched: set[StreamSlot] = set()
            if failure is None and not data:
                failure = ConnectionLost("connection closed by the server", endpoint=self.endpoint)
            if failure is None:
                self.last_read_time = monotonic()
                if self.keepalive is not None:
                    self.keepalive.bytes_received(self.last_read_time)
                try:
                    touched = self._dispatch_locked(data)
                except RemoteProtocolError as exc:
                    exc.endpoint = self.endpoint
                    failure = exc
            if failure is not None:
                self._fail_locked(failure)
                self._wake_all_locked()
            else:
                self._wake_locked(touched)
            drained = (self.goaway is not None or self._retiring) and not self._slots
        return failure is not None or drained

    def _dispatch_locked(self, data: bytes) -> set[StreamSlot]:
        """Feed bytes to HTTP/2 and file the events; returns the slots that got any."""
        now = monotonic()
        slots = self._slots
        keepalive = self.keepalive
        touched: set[StreamSlot] = set()
        for event in self._h2.receive_data(data):
            stream_id = getattr(event, "stream_id", 0)
            if stream_id:
                if keepalive is not None and type(event) in _SERVER_DATA:
                    keepalive.data_received(now)
                slot = slots.get(stream_id)
                if slot is None:
                    continue
                if type(event) is StreamReset and not event.remote:
                    logger.debug("stream %d reset locally: code %d", stream_id, event.error_code)
                touched.add(slot)
                call = slot.call
                messages = call.handle_event(event, now=now)
                if messages:
                    slot.inbox.extend(messages)
                if type(event) is DataReceived:
                    slot.unacked += event.flow_controlled_length
                    self._ack_if_drained_locked(slot)
                reset_code = call.take_reset()
                if reset_code is not None and not self._h2.closed:
                    self._h2.reset_stream(stream_id, reset_code)
                if call.status is not None:
                    del slots[stream_id]
                elif not slot.inbox and call.needed_bytes:
                    # A message larger than the window gets the credit it lacks, but only
                    # once the consumer has taken what came before it: messages waiting to
                    # be read must hold the sender back, or nothing bounds the buffering.
                    self._h2.ensure_stream_window(stream_id, call.needed_bytes)
            elif type(event) is RemoteSettingsChanged:
                self._ready = True
            elif type(event) is GoAwayReceived:
                self._on_goaway_locked(event)
            elif type(event) is PingAckReceived:
                self.pings_acked.append(event.data)
                if self.keepalive is not None:
                    self.keepalive.ack_received(now)
        return touched

    def _on_goaway_locked(self, event: GoAwayReceived) -> None:
        self.goaway = event
        debug = event.additional_data.decode("utf-8", "replace")
        if self.keepalive is not None and self.keepalive.on_goaway(
            event.error_code, event.additional_data
        ):
            logger.warning(
                "%s: server sent GOAWAY too_many_pings; keepalive time doubled to %ss",
                self.endpoint,
                self.keepalive.time,
            )
        elif event.error_code == _ENHANCE_YOUR_CALM and debug == "too_many_pings":
            logger.warning("%s: server sent GOAWAY too_many_pings", self.endpoint)
        else:
            logger.info(
                "%s: GOAWAY last_stream_id=%d code=%d %s",
                self.endpoint,
                event.last_stream_id,
                event.error_code,
                debug,
            )

    def _ack_if_drained_locked(self, slot: StreamSlot) -> bool:
        """Give stream credit back once the consumer has taken every complete message.

        Acking when the inbox is empty (not per message) keeps buffering bounded by the window
        and still lets a message larger than the window arrive."""
        if slot.unacked and not slot.inbox and slot.call.status is None and self._error is None:
            self._h2.acknowledge_received_data(slot.stream_id, slot.unacked)
            slot.unacked = 0
            if slot.call.needed_bytes:
                self._h2.ensure_stream_window(slot.stream_id, slot.call.needed_bytes)
            return True
        return False

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _fail_locked(self, error: EtcdError) -> None:
        if self._error is None:
            self._error = error
            logger.info("%s: connection failed: %s", self.endpoint, error)
        for slot in self._slots.values():
            if slot.error is None:
                slot.error = self._call_error(error)
            own = slot.waiter
            if own is not None:
                slot.waiter = None
                own.set()
        self._slots.clear()

    def _call_error(self, error: EtcdError) -> EtcdError:
        """What a call open on this connection fails with when the connection fails."""
        if isinstance(error, ProtocolError):
            return error  # the peer (or we) broke HTTP/2: say so, rather than "connection lost"
        lost = ConnectionLost(
            f"connection lost during the call: {error.message}",
            endpoint=self.endpoint,
            maybe_sent=True,
        )
        lost.__cause__ = error
        return lost

    def _close_socket(self) -> None:
        if not self._closed:
            self._closed = True
            self._stream.close()

    def flush_soon(self) -> bool:
        """Queue what HTTP/2 has to send, to be written at the end of this event loop
        iteration (with what other calls queue meanwhile), without waiting; False, with
        nothing done, when the stream cannot take it so (the caller awaits :meth:`flush`)."""
        if not self._stream.can_write_nowait:
            return False
        self._flush_nowait()
        return True

    def _flush_nowait(self) -> None:
        """Queue what HTTP/2 has to send without waiting (control frames after a pushed read).
        Taking the bytes and queueing them is one step, so writes never reorder."""
        if self._h2.has_data_to_send:
            with self._cond:
                data = self._h2.data_to_send()
            if data:
                self._stream.write_nowait(data)

    def flush(self) -> None:
        """Write whatever HTTP/2 frames are queued."""
        if not self._h2.has_data_to_send:
            return  # the common case before a read: nothing queued, no locks taken
        if self._push:
            # A pushing (asyncio) stream queues what it is given before it waits for room, so
            # bytes taken from HTTP/2 go out in the order taken without a write lock.
            self._write_queued()
            return
        with self._write_lock:
            self._write_queued()

    def _write_queued(self) -> None:
        with self._cond:
            data = self._h2.data_to_send()
        if not data:
            return
        try:
            self._stream.write(data, self._options.write_timeout)
        except EtcdError as exc:
            with self._cond:
                self._fail_locked(exc)
                self._wake_all_locked()
            raise

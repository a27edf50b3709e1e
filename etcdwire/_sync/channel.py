# Generated from etcdwire/_async/channel.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""A gRPC channel to one endpoint, and the calls made on it.

The channel is generic: it takes a :class:`~etcdwire._grpc.method.Method` (path, message types,
cardinality) and knows nothing of etcd. It keeps one connection and opens a new one when the
current connection fails or can take no new stream (GOAWAY, stream ids exhausted), so the next
call after a GOAWAY goes to a new connection while the old one drains.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from .._backends.sync import open_stream
from .._backends.base import Address, TLSConfig, parse_address
from .._compat import Lock, monotonic
from .._etcd.keepalive import PingPolicy
from .._grpc.call import CallState
from .._grpc.metadata import USER_AGENT
from .._grpc.method import Method
from .._h2.frames import ErrorCode
from .._options import ChannelOptions
from ..errors import (
    CallCancelled,
    ConnectionLost,
    DeadlineExceeded,
    EtcdError,
    StatusCode,
    UsageError,
)
from ..trace import CallTrace, ConnectionTrace, FrameTrace, MessageTrace, TraceHook
from .connection import Connection, StreamSlot

__all__ = ["Call", "Channel", "ReceiveTimeout", "call_deadline"]

logger = logging.getLogger("etcdwire.channel")

ReqT = TypeVar("ReqT", bound=Message)
RespT = TypeVar("RespT", bound=Message)

_connection_ids = itertools.count(1)

Metadata = Sequence[tuple[str, str | bytes]]


def call_deadline(timeout: float | None, default: float | None = None) -> float | None:
    """The absolute deadline of a call made now: now + ``timeout``, or + ``default`` when
    ``timeout`` is None; None for no deadline. A timeout that is not positive is bad input."""
    if timeout is None:
        timeout = default
    if timeout is None:
        return None
    _check_timeout(timeout)
    if not timeout > 0:
        raise UsageError(f"timeout must be positive, got {timeout!r}")
    return None if timeout == math.inf else monotonic() + timeout


def deadline_after(timeout: float | None) -> float | None:
    """The deadline of a wait of ``timeout`` seconds from now (None or infinity: no
    deadline; zero or less: already due). Anything but a number is bad input."""
    if timeout is None:
        return None
    _check_timeout(timeout)
    return None if timeout == math.inf else monotonic() + timeout


def _check_timeout(timeout: object) -> None:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise UsageError(f"timeout must be a number of seconds or None, not {timeout!r}")
    if math.isnan(timeout):
        raise UsageError("timeout must be a number of seconds, not NaN")


def _deadline(timeout: float | None, deadline: float | None = None) -> float | None:
    """The absolute deadline of a call: ``deadline`` if given, else now + ``timeout``."""
    return deadline if deadline is not None else call_deadline(timeout)


class ReceiveTimeout(DeadlineExceeded):
    """``receive(timeout=...)`` waited that long with nothing to return; the call goes on."""


class Channel:
    """Calls to one gRPC server over one (replaceable) HTTP/2 connection."""

    def __init__(
        self,
        target: str | Address,
        *,
        tls: TLSConfig | None = None,
        options: ChannelOptions | None = None,
        trace: TraceHook | None = None,
    ) -> None:
        self.address = target if isinstance(target, Address) else parse_address(target)
        if self.address.tls and tls is None:
            tls = TLSConfig()
        self._tls = tls
        self._ssl_context = tls.make_context() if (tls is not None and self.address.tls) else None
        self.options = options or ChannelOptions()
        self._trace = trace
        self._lock = Lock()
        self._connection: Connection | None = None
        self._closed = False
        self.connections_opened = 0
        self._scheme = "https" if self.address.tls else "http"
        self._authority = (
            tls.server_hostname if tls and tls.server_hostname else self.address.authority
        )
        options = self.options
        #: One keepalive policy per channel: a doubled time (too_many_pings) outlives the
        #: connection that earned it.
        self.keepalive: PingPolicy | None = (
            PingPolicy(
                time=options.keepalive_time,
                timeout=options.keepalive_timeout,
                permit_without_calls=options.keepalive_without_calls,
                min_time=options.keepalive_min_time,
            )
            if options.keepalive_time is not None
            else None
        )

    @property
    def endpoint(self) -> str:
        return str(self.address)

    @property
    def connection(self) -> Connection | None:
        return self._connection

    def get_connection(self, deadline: float | None) -> Connection:
        """The current connection, or a new one if there is none that can take a stream."""
        current = self._connection
        if current is not None and current.usable:
            return current
        with self._lock:
            if self._closed:
                raise UsageError("channel is closed")
            current = self._connection
            if current is not None and current.usable:
                return current
            if current is not None:
                logger.debug("%s: replacing connection %d", self.endpoint, current.connection_id)
                current.retire()
            self._connection = self._connect(deadline)
            return self._connection

    def _connect(self, deadline: float | None) -> Connection:
        options = self.options
        remaining = None if deadline is None else max(deadline - monotonic(), 0.001)
        connect_timeout = options.connect_timeout
        dns_timeout = options.dns_timeout
        tls_timeout = options.tls_handshake_timeout
        if remaining is not None:
            connect_timeout = min(connect_timeout, remaining)
            dns_timeout = min(dns_timeout, remaining)
            tls_timeout = min(tls_timeout, remaining)
        connection_id = next(_connection_ids)
        trace = self._trace
        if trace is not None:
            trace(ConnectionTrace(connection_id, self.endpoint, "connecting", ""))
        stream = open_stream(
            self.address,
            ssl_context=self._ssl_context,
            server_hostname=self._tls.server_hostname if self._tls else None,
            connect_timeout=connect_timeout,
            tls_timeout=tls_timeout,
            dns_timeout=dns_timeout,
            spin=options.read_spin_time,
        )
        frame_hook: Callable[[Any], None] | None = None
        if trace is not None:
            hook = trace

            def frame_hook(record: Any) -> None:
                hook(FrameTrace(connection_id, record))

        connection = Connection(
            stream,
            self.address,
            options,
            connection_id=connection_id,
            trace=frame_hook,
            keepalive=self.keepalive,
        )
        try:
            start_deadline = monotonic() + connect_timeout
            connection.start(start_deadline)
        except BaseException:
            connection.close()
            raise
        self.connections_opened += 1
        if trace is not None:
            trace(ConnectionTrace(connection_id, self.endpoint, "ready", ""))
        return connection

    def new_call(
        self,
        method: Method[ReqT, RespT],
        *,
        timeout: float | None = None,
        metadata: Metadata = (),
        deadline: float | None = None,
    ) -> Call[ReqT, RespT]:
        return Call(self, method, deadline=_deadline(timeout, deadline), metadata=metadata)

    def unary_unary(
        self,
        method: Method[ReqT, RespT],
        request: ReqT,
        *,
        timeout: float | None = None,
        metadata: Metadata = (),
        deadline: float | None = None,
    ) -> RespT:
        """One request, one response. A request the server provably did not process (GOAWAY
        above its id, REFUSED_STREAM, or never sent) is retried once on a new connection."""
        deadline = _deadline(timeout, deadline)
        for attempt in range(2):
            call: Call[ReqT, RespT] = Call(
                self, method, deadline=deadline, metadata=metadata
            )
            try:
                return call.unary_response(request)
            except ConnectionLost as exc:
                if exc.maybe_sent or attempt:
                    raise
                logger.debug("%s: %s not processed, retrying once", self.endpoint, method.path)
        raise AssertionError("unreachable")  # pragma: no cover

    def unary_stream(
        self,
        method: Method[ReqT, RespT],
        request: ReqT,
        *,
        timeout: float | None = None,
        metadata: Metadata = (),
        deadline: float | None = None,
    ) -> Call[ReqT, RespT]:
        call = self.new_call(method, timeout=timeout, metadata=metadata, deadline=deadline)
        call.queue_request(request)
        return call

    def stream_unary(
        self,
        method: Method[ReqT, RespT],
        *,
        timeout: float | None = None,
        metadata: Metadata = (),
        deadline: float | None = None,
    ) -> Call[ReqT, RespT]:
        return self.new_call(method, timeout=timeout, metadata=metadata, deadline=deadline)

    def stream_stream(
        self,
        method: Method[ReqT, RespT],
        *,
        timeout: float | None = None,
        metadata: Metadata = (),
        deadline: float | None = None,
    ) -> Call[ReqT, RespT]:
        return self.new_call(method, timeout=timeout, metadata=metadata, deadline=deadline)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def __enter__(self) -> Channel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Call(Generic[ReqT, RespT]):
    """One gRPC call of any cardinality: send messages, receive messages, get the status.

    Iterating yields response messages until the call ends; a non-OK status raises the mapped
    exception. Leaving the ``with`` block cancels a call that has not ended."""

    def __init__(
        self,
        channel: Channel,
        method: Method[ReqT, RespT],
        *,
        deadline: float | None,
        metadata: Metadata,
    ) -> None:
        self._channel = channel
        self.method = method
        self.deadline = deadline
        self._metadata = metadata
        self._connection: Connection | None = None
        self._slot: StreamSlot | None = None
        self._pending: bytes | None = None
        self._state: CallState | None = None
        self._half_closed = False
        self._started_at = 0.0

    @property
    def stream_id(self) -> int | None:
        return self._slot.stream_id if self._slot else None

    @property
    def connection(self) -> Connection | None:
        return self._connection

    @property
    def initial_metadata(self) -> list[tuple[str, str]] | None:
        return self._slot.call.initial_metadata if self._slot else None

    @property
    def trailing_metadata(self) -> list[tuple[str, str]] | None:
        return self._slot.call.trailing_metadata if self._slot else None

    @property
    def done(self) -> bool:
        return self._slot is not None and self._slot.finished and not self._slot.inbox

    def queue_request(self, request: ReqT) -> None:
        """Send ``request`` and half-close as soon as the call starts. Bad input raises here,
        before anything is sent."""
        self._pending = self._call_state().encode_request(request)

    def _call_state(self) -> CallState:
        if self._state is None:
            options = self._channel.options
            self._state = CallState(
                self.method,
                max_receive_message_length=options.max_receive_message_length,
                max_send_message_length=options.max_send_message_length,
                deadline=self.deadline,
            )
        return self._state

    def _make_headers(self) -> list[tuple[bytes, bytes]]:
        """The request HEADERS, built as they are queued (grpc-timeout is the time left)."""
        channel = self._channel
        state = self._state
        assert state is not None
        return state.request_headers(
            monotonic(),
            authority=channel._authority,
            scheme=channel._scheme,
            metadata=self._metadata,
            user_agent=channel.options.user_agent or USER_AGENT,
        )

    def _open_now(self, pending: bytes | None) -> tuple[Connection, StreamSlot, bool] | None:
        """Open the stream on the channel's current connection when that takes no wait (the
        usual case: connected, a stream free); None, with nothing done, otherwise."""
        connection = self._channel._connection
        if connection is None:
            return None
        try:
            opened = connection.open_stream_now(
                self._call_state(), self._make_headers, last_message=pending
            )
        except ConnectionLost:
            return None  # it takes no new streams: _open_waiting moves to a new connection
        return None if opened is None else (connection, *opened)

    def _open_waiting(
        self, pending: bytes | None
    ) -> tuple[Connection, StreamSlot, bool]:
        """Open the stream, connecting and waiting for a free stream as needed."""
        channel = self._channel
        state = self._call_state()
        while True:
            connection = channel.get_connection(self.deadline)
            try:
                slot, sent = connection.open_stream(
                    state, self._make_headers, self.deadline, last_message=pending
                )
            except ConnectionLost as exc:
                if exc.maybe_sent:
                    raise
                continue  # that connection can take no new streams: the channel opens another
            return connection, slot, sent

    def _start(self, *, flush: bool = True) -> StreamSlot:
        """Open the stream. Its HEADERS are written with the first message; ``flush`` writes
        them at once when no message follows (a receive before any send)."""
        if self._slot is not None:
            return self._slot
        pending, self._pending = self._pending, None
        opened = self._open_now(pending)
        if opened is None:
            opened = self._open_waiting(pending)
        connection, slot, sent = opened
        self._connection, self._slot = connection, slot
        self._started_at = monotonic()
        trace = self._channel._trace
        if trace is not None:
            trace(CallTrace(connection.connection_id, slot.stream_id, self.method.path, "start"))
        if sent:
            # The whole request went with the HEADERS (a unary or server-streaming call).
            assert pending is not None
            self._half_closed = True
            if trace is not None:
                self._trace_sent(pending)
            if connection.flush_soon():
                return slot  # written at the end of this loop iteration, with other calls'
            try:
                connection.flush()
            except BaseException:
                if not slot.finished:
                    self._abort(ErrorCode.CANCEL)
                raise
        elif pending is not None:
            self._send(pending, end=True)
        elif flush:
            connection.flush()
        return slot

    def send_message(self, message: ReqT, *, end: bool = False) -> None:
        """Send one request message; ``end=True`` also half-closes the request stream. Bad
        input raises before anything is sent."""
        if self._half_closed:
            raise UsageError(f"{self.method.path}: the request stream has already ended")
        payload = self._call_state().encode_request(message)
        self._start(flush=False)
        self._send(payload, end=end)

    def _send(self, payload: bytes, *, end: bool) -> None:
        slot, connection = self._slot, self._connection
        assert slot is not None and connection is not None
        if self._channel._trace is not None and payload:
            self._trace_sent(payload)
        if end:
            self._half_closed = True
            slot.call.end_request()
        try:
            connection.send_message(slot, payload, end, self.deadline)
        except DeadlineExceeded:
            self._abort(ErrorCode.CANCEL)
            raise

    def _trace_sent(self, payload: bytes) -> None:
        slot, connection, trace = self._slot, self._connection, self._channel._trace
        assert slot is not None and connection is not None and trace is not None
        trace(
            MessageTrace(
                connection.connection_id,
                slot.stream_id,
                self.method.path,
                "send",
                payload[5:],
                self.method.request_type,
            )
        )

    def done_writing(self) -> None:
        """Half-close: tell the server no more requests follow."""
        if self._half_closed:
            return
        self._start(flush=False)
        self._send(b"", end=True)

    def receive(self, *, timeout: float | None = None, last: bool = False) -> RespT | None:
        """The next response message, or None when the call ended with OK.

        ``timeout`` bounds this one wait: when it passes first, :class:`ReceiveTimeout` is
        raised and the call goes on (the call's own deadline still ends it). ``last``: no
        other message can follow (a unary response), so wait for the call's end too."""
        slot = self._start()
        connection = self._connection
        assert connection is not None
        wait_deadline = self.deadline
        mine = deadline_after(timeout)
        if mine is not None and (wait_deadline is None or mine < wait_deadline):
            wait_deadline = mine
        raw = self._receive_raw(slot, connection, wait_deadline, last)
        if raw is None:
            self._raise_for_status(slot, connection)
            return None
        return self._response(raw, slot, connection)

    def _receive_raw(
        self, slot: StreamSlot, connection: Connection, wait_deadline: float | None, last: bool
    ) -> bytes | None:
        """The next message as received; a deadline or an interruption cancels the call
        (except a wait shorter than the call's: that raises ReceiveTimeout)."""
        try:
            return connection.receive_message(slot, wait_deadline, last=last)
        except DeadlineExceeded:
            if wait_deadline != self.deadline and (
                self.deadline is None or monotonic() < self.deadline
            ):
                raise ReceiveTimeout("nothing received yet", endpoint=connection.endpoint) from None
            self._abort(ErrorCode.CANCEL)
            raise
        except BaseException:
            if not slot.finished:
                self._abort(ErrorCode.CANCEL)
            raise

    def unary_response(self, request: ReqT) -> RespT:
        """Send ``request`` as the whole request stream and return the one response: a
        unary call, in one wait for the call's end (no second receive for the status)."""
        self._pending = self._call_state().encode_request(request)
        slot = self._start()
        connection = self._connection
        assert connection is not None
        raw = self._receive_raw(slot, connection, self.deadline, True)
        status = slot.status
        if raw is None or status is None or slot.inbox:
            # No message, a failure after it, or more than one: the general path says which.
            response = self._response(raw, slot, connection) if raw is not None else None
            if self.receive() is not None or response is None:  # pragma: no cover
                raise EtcdError("unary call ended without exactly one response")
            return response
        self._raise_for_status(slot, connection)
        return self._response(raw, slot, connection)

    def _raise_for_status(self, slot: StreamSlot, connection: Connection) -> None:
        """The call has ended: trace its end and raise its status unless it is OK."""
        status = slot.status
        assert status is not None
        trace = self._channel._trace
        if trace is not None:
            trace(
                CallTrace(
                    connection.connection_id,
                    slot.stream_id,
                    self.method.path,
                    "end",
                    code=int(status.code),
                    message=status.message,
                    duration=monotonic() - self._started_at,
                )
            )
        if status.code != StatusCode.OK:
            if status.not_processed:
                raise ConnectionLost(
                    f"the server did not process the call: {status.message}",
                    endpoint=connection.endpoint,
                    maybe_sent=False,
                )
            raise status.to_exception(connection.endpoint)

    def _response(self, raw: bytes, slot: StreamSlot, connection: Connection) -> RespT:
        trace = self._channel._trace
        if trace is not None:
            trace(
                MessageTrace(
                    connection.connection_id,
                    slot.stream_id,
                    self.method.path,
                    "recv",
                    raw,
                    self.method.response_type,
                )
            )
        return self.method.deserialize_response(raw)

    def _abort(self, code: int) -> None:
        slot, connection = self._slot, self._connection
        if slot is not None and connection is not None and not slot.finished:
            slot.error = CallCancelled("call cancelled", endpoint=connection.endpoint)
            connection.reset_stream(slot, code)

    def cancel(self) -> None:
        """Cancel the call (RST_STREAM CANCEL); further receives raise CallCancelled."""
        self._abort(ErrorCode.CANCEL)

    def __iter__(self) -> Call[ReqT, RespT]:
        return self

    def __next__(self) -> RespT:
        message = self.receive()
        if message is None:
            raise StopIteration
        return message

    def __enter__(self) -> Call[ReqT, RespT]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()

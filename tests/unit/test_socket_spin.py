"""The blocking driver's adaptive spin before a blocking wait (``ChannelOptions.read_spin_time``):
it finds data without sleeping when answers come fast, and backs off when they do not."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from etcdwire._backends import sync as sync_backend
from etcdwire._backends.sync import SocketStream


class CountingPoller:
    """Wraps the stream's poll object and counts the zero-timeout polls of each read."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.zero_polls = 0

    def poll(self, timeout: float | None = None) -> Any:
        if timeout == 0:
            self.zero_polls += 1
        return self.real.poll(timeout)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def test_data_already_there_is_read_without_a_blocking_wait(
    pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, peer = pair
    stream = SocketStream(ours, "test", spin=0.01)

    def no_blocking_wait(*args: Any, **kwargs: Any) -> bool:
        raise AssertionError("the spin should have found the data")

    monkeypatch.setattr(sync_backend, "_wait_fd", no_blocking_wait)
    peer.sendall(b"answer")
    assert stream.read(100, timeout=1.0) == b"answer"


def test_spinning_backs_off_while_answers_are_slow_and_resumes_when_fast(
    pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    ours, peer = pair
    stream = SocketStream(ours, "test", spin=0.001)
    counter = CountingPoller(stream._poller)
    stream._poller = counter
    real_wait = sync_backend._wait_fd

    def slow_answer(sock: socket.socket, *, write: bool, timeout: float | None) -> bool:
        peer.sendall(b"x")  # the answer arrives only once the reader has gone to sleep
        return real_wait(sock, write=write, timeout=timeout)

    monkeypatch.setattr(sync_backend, "_wait_fd", slow_answer)
    spun = []
    for _ in range(20):
        before = counter.zero_polls
        assert stream.read(100, timeout=1.0) == b"x"
        spun.append(counter.zero_polls > before)
    # Spins at reads 1, 3, 7 and 15 (skipping 1, 3, 7 reads after each miss), not at every read.
    assert [i + 1 for i, did in enumerate(spun) if did] == [1, 3, 7, 15]

    monkeypatch.setattr(sync_backend, "_wait_fd", real_wait)
    for _ in range(40):  # fast answers: the next spin succeeds and spinning is back to every read
        peer.sendall(b"y")
        before = counter.zero_polls
        assert stream.read(100, timeout=1.0) == b"y"
    assert counter.zero_polls > before


def test_spin_off_by_option_and_for_green_sockets(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, _ = pair
    assert SocketStream(ours, "test", spin=0.0)._poller is None

    class GreenSocket(socket.socket):
        pass

    GreenSocket.__module__ = "gevent._socket3"
    green = GreenSocket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        assert SocketStream(green, "test", spin=0.001)._poller is None
    finally:
        green.close()

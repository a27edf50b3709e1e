# Generated from etcdwire/_async/receiver.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""``Receiver``: the iteration and context-manager protocol shared by what hands out a
stream of items with ``receive()``: a watch, a watch inside a namespace, a mirror."""

from __future__ import annotations

from types import TracebackType
from typing import Generic, Self, TypeVar

__all__ = ["Receiver"]

T = TypeVar("T")


class Receiver(Generic[T]):
    """Iterating yields :meth:`receive`'s items until it returns None (the end); entering
    calls :meth:`start`, leaving calls :meth:`_leave`."""

    __slots__ = ()

    def start(self) -> Self:
        raise NotImplementedError

    def receive(self, timeout: float | None = None) -> T | None:
        raise NotImplementedError

    def _leave(self) -> None:
        raise NotImplementedError

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> T:
        item = self.receive()
        if item is None:
            raise StopIteration
        return item

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._leave()

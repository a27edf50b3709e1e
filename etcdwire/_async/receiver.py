"""``AsyncReceiver``: the iteration and context-manager protocol shared by what hands out a
stream of items with ``receive()``: a watch, a watch inside a namespace, a mirror."""

from __future__ import annotations

from types import TracebackType
from typing import Generic, Self, TypeVar

__all__ = ["AsyncReceiver"]

T = TypeVar("T")


class AsyncReceiver(Generic[T]):
    """Iterating yields :meth:`receive`'s items until it returns None (the end); entering
    calls :meth:`start`, leaving calls :meth:`_leave`."""

    __slots__ = ()

    async def start(self) -> Self:
        raise NotImplementedError

    async def receive(self, timeout: float | None = None) -> T | None:
        raise NotImplementedError

    async def _leave(self) -> None:
        raise NotImplementedError

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        item = await self.receive()
        if item is None:
            raise StopAsyncIteration
        return item

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._leave()

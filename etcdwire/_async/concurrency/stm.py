"""Software transactional memory over etcd (after Go's concurrency/stm.go): run a function
that reads and writes keys, commit its writes in one txn guarded by what it read, and run it
again on a conflict.

The isolation levels are Go's (:class:`~etcdwire._etcd.recipes.Isolation`):
``SERIALIZABLE_SNAPSHOT`` (default) and ``SERIALIZABLE`` read everything at the revision of
the first read, and on a conflict the failed commit fetches the keys read for the next
attempt; ``REPEATABLE_READS`` and ``READ_COMMITTED`` read with serializable (local) reads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..._etcd.ops import AnyOp, Compare, Op, utf8
from ..._etcd.recipes import Isolation, ReadSet, WriteSet
from ...errors import TxnRetriesExhausted, UsageError
from ...types import GetResponse, TxnResponse

if TYPE_CHECKING:
    from ..client import AsyncClient

__all__ = ["AsyncSTM"]

_INT64_MAX = 2**63 - 1


def _key(key: bytes | str) -> bytes:
    if isinstance(key, str):
        return utf8(key, "key")
    if isinstance(key, bytes) and key:
        return key
    raise UsageError(f"an STM key must be non-empty bytes or str, not {key!r}")


def _value(response: GetResponse | None) -> bytes:
    return response.kvs[0].value if response is not None and response.kvs else b""


class AsyncSTM:
    """One transaction's view of etcd, handed to the function :meth:`run` runs.

    ``await get(key, ...)`` reads (the value of the first key given, b"" if absent; a key
    written in this attempt reads as written), ``put`` and ``delete`` buffer writes, and
    ``await rev(key)`` is the mod revision a key was read at. ``attempt`` counts runs."""

    def __init__(
        self, client: AsyncClient, isolation: Isolation = Isolation.SERIALIZABLE_SNAPSHOT
    ) -> None:
        if not isinstance(isolation, Isolation):
            raise UsageError(f"isolation must be an Isolation, not {isolation!r}")
        self.client = client
        self.isolation = isolation
        self.attempt = 0
        self._snapshot = isolation in (Isolation.SERIALIZABLE_SNAPSHOT, Isolation.SERIALIZABLE)
        self._rset = ReadSet()
        self._wset = WriteSet()
        self._prefetched = ReadSet()
        # Go's getOpts: a fixed read revision (0: latest) and serializable reads.
        self._read_revision = 0
        self._serializable = not self._snapshot

    @classmethod
    async def run(
        cls,
        client: AsyncClient,
        apply: Callable[[AsyncSTM], Any],
        *,
        isolation: Isolation = Isolation.SERIALIZABLE_SNAPSHOT,
        prefetch: Sequence[bytes | str] = (),
        max_retries: int | None = None,
    ) -> TxnResponse:
        """Run ``apply(stm)`` (awaited) and commit its writes, again and again until a commit
        finds no conflict; the successful commit's response is returned. ``prefetch``: keys
        read in one request before each run. ``max_retries``: give up with
        TxnRetriesExhausted after that many conflicts (None: retry for ever, as Go does). An
        exception from ``apply`` or from etcd ends the transaction with nothing written."""
        if max_retries is not None and (isinstance(max_retries, bool) or max_retries < 0):
            raise UsageError(f"max_retries must be None or >= 0, not {max_retries!r}")
        keys = tuple(_key(key) for key in prefetch)
        stm = cls(client, isolation)
        while True:
            stm._reset()
            stm.attempt += 1
            if keys:
                await stm.get(*keys)
            await apply(stm)
            response = await stm._commit()
            if response is not None:
                return response
            if max_retries is not None and stm.attempt > max_retries:
                raise TxnRetriesExhausted(
                    f"the transaction met a conflict on each of its {stm.attempt} attempts"
                )

    # --- what the function uses -------------------------------------------------------------

    async def get(self, key: bytes | str, *keys: bytes | str) -> bytes:
        """The value of ``key`` (b"" if absent); further keys are fetched in the same request
        and join the read set."""
        wanted = tuple(_key(k) for k in (key, *keys))
        written = self._wset.lookup(wanted)
        if written is not None:
            return written.value
        if not self._snapshot:
            return _value(await self._fetch(wanted))
        first_read = not self._rset
        for k in wanted:
            if k in self._prefetched:
                self._rset[k] = self._prefetched.pop(k)
        response = await self._fetch(wanted)
        if first_read:  # the attempt's base revision is that of its first read
            self._read_revision = response.header.revision
            self._serializable = True
        return _value(response)

    def put(self, key: bytes | str, value: bytes | str, *, lease: int = 0) -> None:
        """Write ``value`` at ``key`` when the transaction commits."""
        raw = utf8(value, "value") if isinstance(value, str) else value
        self._wset.put(_key(key), raw, lease)

    def delete(self, key: bytes | str) -> None:
        """Delete ``key`` when the transaction commits."""
        self._wset.delete(_key(key))

    async def rev(self, key: bytes | str) -> int:
        """The mod revision ``key`` was read at (0 if absent); reads it if not yet read."""
        raw = _key(key)
        if self._snapshot:
            await self.get(raw)
        response = await self._fetch((raw,))
        return response.kvs[0].mod_revision if response.kvs else 0

    # --- the machinery ----------------------------------------------------------------------

    def _reset(self) -> None:
        self._rset = ReadSet()
        self._wset = WriteSet()

    async def _fetch(self, keys: tuple[bytes, ...]) -> GetResponse:
        for key in keys:  # as Go: a key already read answers for the whole request
            if key in self._rset:
                return self._rset[key]
        reads: list[AnyOp] = [
            Op.get(key, revision=self._read_revision, serializable=self._serializable)
            for key in keys
        ]
        response = await self.client.kv.do(Op.txn((), reads))
        self._rset.add(list(keys), _ranges(response))
        return self._rset[keys[0]]

    def _conflicts(self) -> list[Compare]:
        if self.isolation is Isolation.SERIALIZABLE_SNAPSHOT:
            return self._rset.cmps() + self._wset.cmps(self._rset.first() + 1)
        if self.isolation is Isolation.READ_COMMITTED:
            return []
        return self._rset.cmps()

    async def _commit(self) -> TxnResponse | None:
        """Commit the writes if nothing conflicts; None on a conflict."""
        if not self._snapshot:
            response = await self.client.kv.do(Op.txn(self._conflicts(), self._wset.ops()))
            return response if response.succeeded else None
        keys = list(self._rset)
        rereads: list[AnyOp] = [Op.get(key) for key in keys]
        # On a conflict the failure branch reads the keys again for the next attempt.
        response = await self.client.kv.do(Op.txn(self._conflicts(), self._wset.ops(), rereads))
        if response.succeeded:
            return response
        self._rset.add(keys, _ranges(response))
        self._prefetched = self._rset
        self._read_revision, self._serializable = 0, False
        return None


def _ranges(response: TxnResponse) -> tuple[GetResponse, ...]:
    """The range responses of a txn; one with no header of its own gets the txn's."""
    ranges = []
    for item in response.responses:
        assert isinstance(item, GetResponse)
        if item.header.revision:
            ranges.append(item)
        else:
            ranges.append(GetResponse(response.header, item.kvs, item.more, item.count))
    return tuple(ranges)

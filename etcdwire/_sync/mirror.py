# Generated from etcdwire/_async/mirror.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""``Mirror``: a local copy of a key range kept in step with etcd (see
:mod:`etcdwire._etcd.mirror` for what the copy promises). Made by :meth:`Client.mirror`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from .._compat import monotonic
from .._etcd import ops
from .._etcd.mirror import MirrorState, MirrorUpdate
from .._etcd.ops import GetOp, Op
from ..errors import Compacted, UsageError
from ..types import KeyValue
from .channel import deadline_after
from .receiver import Receiver
from .watch import Watch

if TYPE_CHECKING:
    from .client import Client

__all__ = ["Mirror"]


class Mirror(Receiver[MirrorUpdate]):
    """A local copy of a key, a range or a prefix, kept in step with etcd::

        with client.mirror("config/", prefix=True) as mirror:
            # the whole range, at mirror.revision
            settings = dict(mirror.data)
            # then each change, already applied to mirror.data
            for update in mirror:
                if update.reset:  # rebuilt after a compaction: start again from the copy
                    settings = dict(mirror.data)
                else:
                    for event in update.events: ...

    Starting reads the range in pages of ``page_size`` keys, all at one revision, then
    watches it from the next revision; the watch resumes by itself after a reconnect or a
    failover. If the revision it needs next was compacted meanwhile, the mirror reads the
    range again and watches from there: that update has ``reset`` set. ``data`` is a
    read-only view of the copy, current at all times; ``rebuilds`` counts the re-reads after
    a compaction. ``timeout`` bounds each read and the watch's creation (default: the
    client's timeout).
    """

    def __init__(
        self,
        client: Client,
        key: bytes | str,
        *,
        range_end: bytes | str | None = None,
        prefix: bool = False,
        from_key: bool = False,
        page_size: int = 1000,
        timeout: float | None = None,
    ) -> None:
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise UsageError(f"mirror: page_size must be a positive int, got {page_size!r}")
        self._read: GetOp = Op.get(
            key, range_end=range_end, prefix=prefix, from_key=from_key, limit=page_size
        )
        self._client = client
        self._timeout = client.timeout if timeout is None else timeout
        self._state = MirrorState()
        self._view = MappingProxyType(self._state.data)
        self._watch: Watch | None = None
        self.rebuilds = 0
        self.closed = False

    @property
    def data(self) -> Mapping[bytes, KeyValue]:
        """The copy: key -> :class:`~etcdwire.types.KeyValue`, as of :attr:`revision`."""
        return self._view

    @property
    def revision(self) -> int:
        """The store revision the copy reflects (0 before the first read)."""
        return self._state.revision

    def start(self) -> Mirror:
        """Read the range and start watching it (once; later calls return at once)."""
        if self.closed:
            raise UsageError("mirror: closed")
        if self._watch is None:
            self._rebuild()
        return self

    def receive(self, timeout: float | None = None) -> MirrorUpdate | None:
        """The next change, applied to the copy before it is returned; None when ``timeout``
        passes first or once the mirror is closed. Starts the mirror if needed."""
        if self._watch is None:
            if self.closed:
                return None
            self.start()
        deadline = deadline_after(timeout)
        while True:
            watch = self._watch
            if watch is None:  # closed meanwhile
                return None
            remaining = None if deadline is None else deadline - monotonic()
            if remaining is not None and remaining <= 0:
                return None
            try:
                response = watch.receive(remaining)
            except Compacted:
                if self.closed:
                    return None
                self.rebuilds += 1
                return self._rebuild()
            if response is None:
                return None
            update = self._state.apply(response)
            if update is not None:
                return update

    def _rebuild(self) -> MirrorUpdate:
        """Read the whole range at one revision, then watch it from the next one. A revision
        compacted while this happens makes it start over at a newer one."""
        while True:
            if self._watch is not None:
                self._watch.cancel()
                self._watch = None
            try:
                kvs, revision = self._read_range()
                watch = self._client.watch(
                    self._read.key,
                    range_end=self._read.range_end or None,
                    start_revision=revision + 1,
                )
                watch.start(self._timeout)
            except Compacted:
                continue
            self._watch = watch
            return self._state.reset(kvs, revision)

    def _read_range(self) -> tuple[list[KeyValue], int]:
        op: GetOp | None = self._read
        kvs: list[KeyValue] = []
        revision = 0
        while op is not None:
            page = self._client.kv.do(op, timeout=self._timeout)
            revision = revision or page.header.revision
            kvs.extend(page.kvs)
            op = ops.next_page(op, page)
        return kvs, revision

    def close(self) -> None:
        """Stop following the range; the copy stays as it is."""
        self.closed = True
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()

    _leave = close

    def __repr__(self) -> str:
        return (
            f"<Mirror {self._read.key!r}..{self._read.range_end!r} "
            f"{len(self._state.data)} keys at revision {self._state.revision}>"
        )

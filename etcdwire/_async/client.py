"""``AsyncClient``: configuration, the connection manager, and one attribute per service."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from .._backends.base import TLSConfig
from .._etcd import ops
from .._etcd.endpoints import EndpointStatus, Policy
from .._etcd.retry import RetryPolicy
from .._etcd.watching import WatchResponse, watch_spec
from .._options import ChannelOptions
from ..trace import TraceHook
from .auth import AsyncAuth
from .channel import deadline_after
from .cluster import AsyncCluster
from .election import AsyncElectionService
from .kv import AsyncKV
from .lease import AsyncLease
from .lock import AsyncLockService
from .maintenance import AsyncMaintenance
from .manager import AsyncConnectionManager
from .mirror import AsyncMirror
from .watch import AsyncWatch, AsyncWatcher, Overflow

__all__ = ["AsyncClient"]


class AsyncClient:
    """An etcd v3 client.

    ``endpoints``: ``host:port``, ``http://``, ``https://`` or ``unix://`` addresses; one
    connection is pinned and calls fail over to the next healthy endpoint (or spread over all
    of them with ``policy="round_robin"``). ``timeout`` is the default per-call timeout in
    seconds (None: no deadline). TLS: pass ``tls=TLSConfig(...)`` or the ``ca_file`` /
    ``cert_file`` / ``key_file`` shortcuts; verification is on unless
    ``insecure_skip_verify``. Auth: ``username`` and ``password`` (the token is fetched and
    refreshed as needed) or a static ``token``. ``auto_sync_interval`` (seconds) refreshes the
    endpoint list from the cluster's members periodically, as Go's ``AutoSyncInterval``; a
    one-off :meth:`sync_endpoints` does it on demand.

    Services: ``kv`` (also reachable as ``get``/``put``/``delete``/``txn`` on the client),
    ``lease``, :meth:`watch` (and :meth:`mirror`, a local copy of a range kept in step),
    ``cluster``, ``maintenance``, ``auth``, ``lock`` and ``election`` (etcd's server-side
    v3lock and v3election). The client-side recipes (Session, Mutex, Election, STM...) are in
    ``etcdwire`` and take a client. Use as a context manager, or call :meth:`aclose`.
    """

    def __init__(
        self,
        endpoints: str | Sequence[str] = "127.0.0.1:2379",
        *,
        timeout: float | None = 30.0,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        tls: TLSConfig | None = None,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        server_hostname: str | None = None,
        insecure_skip_verify: bool = False,
        policy: Policy = "pinned",
        connect_timeout: float = 20.0,
        keepalive_time: float | None = None,
        keepalive_timeout: float = 20.0,
        max_txn_ops: int = ops.DEFAULT_MAX_TXN_OPS,
        max_request_bytes: int = ops.DEFAULT_MAX_REQUEST_BYTES,
        retry_idempotent_writes: bool = False,
        options: ChannelOptions | None = None,
        trace: TraceHook | None = None,
        auto_sync_interval: float | None = None,
    ) -> None:
        if tls is None and (ca_file or cert_file or key_file or server_hostname):
            tls = TLSConfig(
                ca_file=ca_file,
                cert_file=cert_file,
                key_file=key_file,
                server_hostname=server_hostname,
                insecure_skip_verify=insecure_skip_verify,
            )
        elif tls is None and insecure_skip_verify:
            tls = TLSConfig(insecure_skip_verify=True)
        if options is None:
            options = ChannelOptions(
                connect_timeout=connect_timeout,
                keepalive_time=keepalive_time,
                keepalive_timeout=keepalive_timeout,
            )
        self.manager = AsyncConnectionManager(
            [endpoints] if isinstance(endpoints, str) else list(endpoints),
            tls=tls,
            options=options,
            policy=policy,
            retry=RetryPolicy(
                credentials=username is not None,
                retry_idempotent_writes=retry_idempotent_writes,
            ),
            username=username,
            password=password,
            token=token,
            trace=trace,
            auto_sync_interval=auto_sync_interval,
        )
        self.kv = AsyncKV(
            self.manager,
            timeout=timeout,
            max_txn_ops=max_txn_ops,
            max_request_bytes=max_request_bytes,
        )
        self.lease = AsyncLease(self.manager, timeout=timeout)
        self.cluster = AsyncCluster(self.manager, timeout=timeout)
        self.maintenance = AsyncMaintenance(self.manager, timeout=timeout)
        self.auth = AsyncAuth(self.manager, timeout=timeout)
        self.lock = AsyncLockService(self.manager, timeout=timeout)
        self.election = AsyncElectionService(self.manager, timeout=timeout)
        self.watcher = AsyncWatcher(self.manager)
        #: The default per-call timeout in seconds (None: no deadline).
        self.timeout = timeout
        self.get = self.kv.get
        self.put = self.kv.put
        self.delete = self.kv.delete
        self.txn = self.kv.txn

    @property
    def endpoints(self) -> tuple[str, ...]:
        return self.manager.endpoints

    async def sync_endpoints(self, *, timeout: float | None = None) -> list[str]:
        """Use the cluster's current members (from MemberList) as the endpoint list."""
        deadline = deadline_after(timeout)
        return await self.manager.sync_endpoints(deadline)

    def info(self) -> list[EndpointStatus]:
        """One row per endpoint: state, pinned, backoff, last error, streams, leases."""
        return self.manager.info()

    def watch(
        self,
        key: bytes | str,
        *,
        range_end: bytes | str | None = None,
        prefix: bool = False,
        from_key: bool = False,
        start_revision: int = 0,
        prev_kv: bool = False,
        no_put: bool = False,
        no_delete: bool = False,
        progress_notify: bool = False,
        fragment: bool = False,
        require_leader: bool = True,
        max_buffered: int = 1024,
        overflow: Overflow = "block",
        callback: Callable[[WatchResponse], Any] | None = None,
    ) -> AsyncWatch:
        """A watch on a key, a range or a prefix, from ``start_revision`` (0: now). It starts
        when entered as a context manager, iterated, or by ``start()``. All watches of the
        client share one stream; they resume by themselves after a reconnect or failover,
        without losing or repeating an event. ``require_leader`` makes a member that lost its
        leader end the stream, so the watch moves to another member instead of stalling.
        ``callback`` receives each response instead of the iterator. See
        :mod:`etcdwire._async.watch` for the slow-consumer policy (``overflow``)."""
        spec = watch_spec(
            key,
            range_end=range_end,
            prefix=prefix,
            from_key=from_key,
            start_revision=start_revision,
            prev_kv=prev_kv,
            no_put=no_put,
            no_delete=no_delete,
            progress_notify=progress_notify,
            fragment=fragment,
        )
        return AsyncWatch(
            self.watcher,
            spec,
            require_leader=require_leader,
            max_buffered=max_buffered,
            overflow=overflow,
            callback=callback,
        )

    def mirror(
        self,
        key: bytes | str,
        *,
        range_end: bytes | str | None = None,
        prefix: bool = False,
        from_key: bool = False,
        page_size: int = 1000,
        timeout: float | None = None,
    ) -> AsyncMirror:
        """A local copy of a key, a range or a prefix, kept in step with etcd: read in pages
        at one revision, then watched from the next; rebuilt from a new read if the revision
        it needs was compacted. Starts when entered as a context manager, iterated, or by
        ``start()``; see :class:`AsyncMirror`."""
        return AsyncMirror(
            self,
            key,
            range_end=range_end,
            prefix=prefix,
            from_key=from_key,
            page_size=page_size,
            timeout=timeout,
        )

    async def aclose(self) -> None:
        """Stop background work and close every connection. Kept leases are not revoked:
        they expire on the server after their TTL, and each is signalled lost."""
        await self.watcher.aclose()
        await self.lease.keeper.stop()
        await self.manager.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

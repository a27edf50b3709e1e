"""etcdwire: a pure-Python etcd v3 client with its own HTTP/2 and gRPC transport.

``Client`` (blocking) and ``AsyncClient`` (asyncio) have the same API; errors derive from
:class:`EtcdError`; responses are the frozen types of :mod:`etcdwire.types`.
"""

from __future__ import annotations

from . import errors, types
from ._async.client import AsyncClient
from ._async.concurrency import (
    AsyncDistributedQueue,
    AsyncDoubleBarrier,
    AsyncElection,
    AsyncMutex,
    AsyncNamespace,
    AsyncRWMutex,
    AsyncSession,
    AsyncSTM,
)
from ._async.lease import AsyncKeptLease
from ._async.mirror import AsyncMirror
from ._async.watch import AsyncWatch
from ._backends.base import TLSConfig
from ._etcd.endpoints import EndpointState, EndpointStatus
from ._etcd.mirror import MirrorUpdate
from ._etcd.ops import (
    Compare,
    Op,
    compare_and_delete,
    compare_and_swap,
    key_exists,
    key_missing,
    prefix_range_end,
    put_if_absent,
)
from ._etcd.recipes import Isolation
from ._etcd.watching import EventSequence, WatchResponse
from ._options import ChannelOptions
from ._sync.client import Client
from ._sync.concurrency import (
    STM,
    DistributedQueue,
    DoubleBarrier,
    Election,
    Mutex,
    Namespace,
    RWMutex,
    Session,
)
from ._sync.lease import KeptLease
from ._sync.mirror import Mirror
from ._sync.watch import Watch
from .errors import *  # noqa: F403
from .types import *  # noqa: F403

__version__ = "0.1.0"

__all__ = [
    "STM",
    "AsyncClient",
    "AsyncDistributedQueue",
    "AsyncDoubleBarrier",
    "AsyncElection",
    "AsyncKeptLease",
    "AsyncMirror",
    "AsyncMutex",
    "AsyncNamespace",
    "AsyncRWMutex",
    "AsyncSTM",
    "AsyncSession",
    "AsyncWatch",
    "ChannelOptions",
    "Client",
    "Compare",
    "DistributedQueue",
    "DoubleBarrier",
    "Election",
    "EndpointState",
    "EndpointStatus",
    "EventSequence",
    "Isolation",
    "KeptLease",
    "Mirror",
    "MirrorUpdate",
    "Mutex",
    "Namespace",
    "Op",
    "RWMutex",
    "Session",
    "TLSConfig",
    "Watch",
    "WatchResponse",
    "compare_and_delete",
    "compare_and_swap",
    "key_exists",
    "key_missing",
    "prefix_range_end",
    "put_if_absent",
]
__all__ += errors.__all__
__all__ += types.__all__

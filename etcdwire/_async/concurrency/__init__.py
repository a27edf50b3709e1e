"""Concurrency recipes on the public client API, after Go's ``client/v3/concurrency`` and
with its key layout: sessions, mutexes, elections, software transactional memory,
key namespaces, and the read-write mutex, double barrier and queue of Go's recipes."""

from __future__ import annotations

from .barrier import AsyncDoubleBarrier
from .election import AsyncElection
from .mutex import AsyncMutex
from .namespace import AsyncNamespace, AsyncNamespaceWatch
from .queue import AsyncDistributedQueue
from .rwmutex import AsyncRWMutex
from .session import DEFAULT_SESSION_TTL, AsyncSession
from .stm import AsyncSTM

__all__ = [
    "DEFAULT_SESSION_TTL",
    "AsyncDistributedQueue",
    "AsyncDoubleBarrier",
    "AsyncElection",
    "AsyncMutex",
    "AsyncNamespace",
    "AsyncNamespaceWatch",
    "AsyncRWMutex",
    "AsyncSTM",
    "AsyncSession",
]

# Generated from etcdwire/_async/concurrency/__init__.py by scripts/unasync.py.
# DO NOT EDIT: change the source and run `python scripts/unasync.py`.
"""Concurrency recipes on the public client API, after Go's ``client/v3/concurrency`` and
with its key layout: sessions, mutexes, elections, software transactional memory,
key namespaces, and the read-write mutex, double barrier and queue of Go's recipes."""

from __future__ import annotations

from .barrier import DoubleBarrier
from .election import Election
from .mutex import Mutex
from .namespace import Namespace, NamespaceWatch
from .queue import DistributedQueue
from .rwmutex import RWMutex
from .session import DEFAULT_SESSION_TTL, Session
from .stm import STM

__all__ = [
    "DEFAULT_SESSION_TTL",
    "DistributedQueue",
    "DoubleBarrier",
    "Election",
    "Mutex",
    "Namespace",
    "NamespaceWatch",
    "RWMutex",
    "STM",
    "Session",
]

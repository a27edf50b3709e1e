"""etcdwire: a pure-Python etcd v3 client with its own HTTP/2 and gRPC transport."""

from __future__ import annotations

__version__ = "0.1.0"

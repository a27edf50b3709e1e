"""Layer 1: a sans-IO HTTP/2 client connection (RFC 9113), bytes in, events out.

See :mod:`etcdwire._h2.connection` for the interface of :class:`H2Connection`.
"""

from etcdwire._h2.connection import H2Connection
from etcdwire._h2.frames import ErrorCode, FrameType, SettingCode
from etcdwire._h2.stream import StreamState
from etcdwire._h2.trace import FrameRecord, format_frame

__all__ = [
    "ErrorCode",
    "FrameRecord",
    "FrameType",
    "H2Connection",
    "SettingCode",
    "StreamState",
    "format_frame",
]

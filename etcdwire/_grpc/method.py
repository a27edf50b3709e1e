"""RPC method descriptors: path, message types, cardinality, idempotency.

Generic over the request and response message classes, so ``Method[RangeRequest,
RangeResponse]`` types the calls built on it. etcd is one user of this module; nothing here is
etcd-specific.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Generic, TypeVar

from google.protobuf.message import DecodeError
from google.protobuf.message import Message as ProtoMessage

from etcdwire.errors import Internal, UsageError

__all__ = ["Cardinality", "Method"]

ReqT = TypeVar("ReqT", bound=ProtoMessage)
RespT = TypeVar("RespT", bound=ProtoMessage)


class Cardinality(enum.Enum):
    """How many messages flow each way: (client streams, server streams)."""

    UNARY_UNARY = (False, False)
    UNARY_STREAM = (False, True)
    STREAM_UNARY = (True, False)
    STREAM_STREAM = (True, True)

    def __init__(self, client_streaming: bool, server_streaming: bool) -> None:
        # Plain attributes, not properties over ``value``: a call reads them per message.
        self.client_streaming = client_streaming
        self.server_streaming = server_streaming


@dataclass(frozen=True, slots=True)
class Method(Generic[ReqT, RespT]):
    """One RPC. ``idempotent`` is the retry classification (etcd's "repeatable" policy):
    True when sending the request twice is safe, so a call that may have reached the server can
    still be retried."""

    path: str
    request_type: type[ReqT]
    response_type: type[RespT]
    cardinality: Cardinality
    idempotent: bool = False

    def __post_init__(self) -> None:
        service, _, name = self.path[1:].partition("/")
        if not self.path.startswith("/") or not service or not name or "/" in name:
            raise UsageError(f"method path {self.path!r} is not of the form /Service/Method")

    @property
    def service(self) -> str:
        """The fully qualified service name, e.g. ``etcdserverpb.KV``."""
        return self.path[1:].partition("/")[0]

    @property
    def name(self) -> str:
        """The method name, e.g. ``Range``."""
        return self.path.rpartition("/")[2]

    def serialize_request(self, message: ReqT) -> bytes:
        if not isinstance(message, self.request_type):
            raise UsageError(
                f"{self.path} takes {self.request_type.__name__}, not {type(message).__name__}"
            )
        return message.SerializeToString()

    def deserialize_response(self, data: bytes) -> RespT:
        """Parse one response message; a parse failure is INTERNAL (statuscodes.md)."""
        try:
            return self.response_type.FromString(data)
        except DecodeError as exc:
            raise Internal(
                f"failed to parse response of {self.path} as {self.response_type.__name__}: {exc}"
            ) from exc

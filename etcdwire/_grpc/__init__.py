"""Sans-IO gRPC over the HTTP/2 events of :mod:`etcdwire._h2` (layer 2): message framing,
status mapping, request headers and metadata, method descriptors and the per-call state."""

from .call import CallPhase, CallState
from .framing import MessageReader, encode_message
from .metadata import SENSITIVE_HEADERS, USER_AGENT, Metadata, build_request_headers
from .method import Cardinality, Method
from .status import H2ErrorCode, Status, status_from_reset, status_from_trailers

__all__ = [
    "SENSITIVE_HEADERS",
    "USER_AGENT",
    "CallPhase",
    "CallState",
    "Cardinality",
    "H2ErrorCode",
    "MessageReader",
    "Metadata",
    "Method",
    "Status",
    "build_request_headers",
    "encode_message",
    "status_from_reset",
    "status_from_trailers",
]

"""Method descriptors: path, cardinality, (de)serialization."""

from __future__ import annotations

import pytest
from google.protobuf.wrappers_pb2 import Int64Value, StringValue

from etcdwire._grpc.method import Cardinality, Method
from etcdwire.errors import Internal, UsageError


def test_grpc_method_cardinality_flags() -> None:
    assert not Cardinality.UNARY_UNARY.client_streaming
    assert not Cardinality.UNARY_UNARY.server_streaming
    assert Cardinality.UNARY_STREAM.server_streaming
    assert not Cardinality.UNARY_STREAM.client_streaming
    assert Cardinality.STREAM_UNARY.client_streaming
    assert not Cardinality.STREAM_UNARY.server_streaming
    assert Cardinality.STREAM_STREAM.client_streaming
    assert Cardinality.STREAM_STREAM.server_streaming


def test_grpc_method_path_parts() -> None:
    method = Method("/etcdserverpb.KV/Range", StringValue, Int64Value, Cardinality.UNARY_UNARY)
    assert method.service == "etcdserverpb.KV"
    assert method.name == "Range"
    assert method.idempotent is False


@pytest.mark.parametrize("path", ["", "/", "KV/Range", "/KV", "/KV/", "//Range", "/a/b/c"])
def test_grpc_method_path_must_be_service_slash_method(path: str) -> None:
    """PROTOCOL-HTTP2.md: Path = "/" Service-Name "/" method name."""
    with pytest.raises(UsageError):
        Method(path, StringValue, StringValue, Cardinality.UNARY_UNARY)


def test_grpc_method_is_frozen_and_hashable() -> None:
    method = Method("/s/m", StringValue, StringValue, Cardinality.UNARY_UNARY, idempotent=True)
    assert hash(method) == hash(
        Method("/s/m", StringValue, StringValue, Cardinality.UNARY_UNARY, idempotent=True)
    )
    with pytest.raises(AttributeError):
        method.path = "/x/y"  # type: ignore[misc]


def test_grpc_method_round_trip() -> None:
    method = Method("/s/m", StringValue, StringValue, Cardinality.UNARY_UNARY)
    data = method.serialize_request(StringValue(value="héllo"))
    assert method.deserialize_response(data) == StringValue(value="héllo")


def test_grpc_method_rejects_wrong_request_type() -> None:
    method = Method("/s/m", StringValue, StringValue, Cardinality.UNARY_UNARY)
    with pytest.raises(UsageError, match="takes StringValue, not Int64Value"):
        method.serialize_request(Int64Value(value=1))  # type: ignore[arg-type]


def test_grpc_method_unparsable_response_is_internal() -> None:
    """statuscodes.md: a response that fails to parse is INTERNAL, generated locally."""
    method = Method("/s/m", StringValue, StringValue, Cardinality.UNARY_UNARY)
    with pytest.raises(Internal, match="failed to parse response"):
        method.deserialize_response(b"\x0a\x05ab")  # length 5, 2 bytes follow

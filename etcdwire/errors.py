"""The one exception tree of etcdwire.

Every error the package raises derives from :class:`EtcdError`. gRPC statuses and etcd's own
error messages are resolved to named classes by :func:`error_from_status`: first by etcd's
message (as etcd's ``rpctypes.errStringToError`` does), then by gRPC code.

::

    EtcdError                                   .endpoint
    ├── UsageError(EtcdError, ValueError)       bad input caught before anything is sent
    ├── TransportError
    │   ├── ConnectFailed                       DNS / TCP / TLS / ALPN failure for one endpoint
    │   ├── ConnectionLost                      EOF, reset or GOAWAY mid-call; .maybe_sent
    │   ├── NoEndpointAvailable                 all endpoints failed; .attempts
    │   └── ProtocolError                       .h2_error_code
    │       ├── LocalProtocolError              we tried to send something illegal
    │       └── RemoteProtocolError             the peer sent something illegal
    ├── DeadlineExceeded(EtcdError, TimeoutError)
    ├── CallCancelled
    ├── RpcError                                .code .message .details .trailers
    │   ├── one subclass per gRPC code (InvalidArgument, NotFound, Unavailable, ...)
    │   └── etcd errors under the code etcd sends (Compacted(OutOfRange), NoLeader(Unavailable)...)
    ├── WatchCanceled                           .reason
    └── RecipeError → LockNotHeld, SessionExpired, NotLeaderOfElection, TxnRetriesExhausted
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

__all__ = [
    "AlreadyExists",
    "AuthFailed",
    "AuthNotEnabled",
    "AuthOldRevision",
    "BadLeaderTransferee",
    "CallCancelled",
    "ClusterVersionUnavailable",
    "Compacted",
    "ConnectFailed",
    "ConnectionLost",
    "CorruptCluster",
    "DataLoss",
    "DeadlineExceeded",
    "DowngradeInProcess",
    "DuplicateKey",
    "ElectionNoLeader",
    "ElectionNotLeader",
    "EmptyKey",
    "EtcdError",
    "FailedPrecondition",
    "FutureRevision",
    "GrpcAborted",
    "Internal",
    "InvalidArgument",
    "InvalidAuthMgmt",
    "InvalidAuthToken",
    "InvalidDowngradeTargetVersion",
    "KeyNotFound",
    "LeaderChanged",
    "LearnerNotReady",
    "LeaseExists",
    "LeaseNotFound",
    "LeaseProvided",
    "LeaseTTLTooLarge",
    "LocalProtocolError",
    "LockNotHeld",
    "MemberBadURLs",
    "MemberExists",
    "MemberNotEnoughStarted",
    "MemberNotFound",
    "MemberNotLearner",
    "NoEndpointAvailable",
    "NoInflightDowngrade",
    "NoLeader",
    "NoSpace",
    "NotCapable",
    "NotFound",
    "NotLeader",
    "NotLeaderOfElection",
    "NotSupportedForLearner",
    "OutOfRange",
    "PeerURLExists",
    "PermissionDenied",
    "PermissionNotGranted",
    "ProtocolError",
    "RecipeError",
    "RemoteProtocolError",
    "RequestTooLarge",
    "ResourceExhausted",
    "RoleAlreadyExists",
    "RoleEmpty",
    "RoleNotFound",
    "RoleNotGranted",
    "RootRoleNotExist",
    "RootUserNotExist",
    "RpcError",
    "ServerStopped",
    "ServerTimeout",
    "SessionExpired",
    "SnapshotChecksumMismatch",
    "StatusCode",
    "TooManyLearners",
    "TooManyOps",
    "TooManyRequests",
    "TransportError",
    "TxnRetriesExhausted",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unknown",
    "UsageError",
    "UserAlreadyExists",
    "UserEmpty",
    "UserNotFound",
    "ValueProvided",
    "WatchCanceled",
    "WatchOverflow",
    "WrongDowngradeVersionFormat",
    "error_from_status",
]


class StatusCode(enum.IntEnum):
    """gRPC status codes (grpc/grpc doc/statuscodes.md)."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class EtcdError(Exception):
    """Root of every error etcdwire raises. ``endpoint`` names the server involved, if any."""

    def __init__(self, message: str = "", *, endpoint: str | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        text = self.message
        if self.endpoint:
            return f"{text} (endpoint {self.endpoint})"
        return text


class UsageError(EtcdError, ValueError):
    """Bad input, rejected before anything was sent."""


# --- transport ---------------------------------------------------------------------------


class TransportError(EtcdError):
    """The connection to a server failed."""


class ConnectFailed(TransportError):
    """Could not connect to one endpoint (DNS, TCP, TLS or ALPN)."""


class ConnectionLost(TransportError):
    """The connection broke during a call.

    ``maybe_sent`` is False only when the request provably never reached the server (it was never
    written, or a GOAWAY/REFUSED_STREAM says the server did not process it); the retry policy
    reads it.
    """

    def __init__(
        self, message: str = "", *, endpoint: str | None = None, maybe_sent: bool = True
    ) -> None:
        super().__init__(message, endpoint=endpoint)
        self.maybe_sent = maybe_sent


class NoEndpointAvailable(TransportError):
    """Every endpoint failed; ``attempts`` lists (endpoint, error) pairs."""

    def __init__(
        self,
        message: str = "",
        *,
        attempts: Sequence[tuple[str, BaseException]] = (),
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint)
        self.attempts = list(attempts)


class ProtocolError(TransportError):
    """An HTTP/2 protocol violation; ``h2_error_code`` is the RFC 9113 §7 code."""

    def __init__(
        self, message: str = "", *, h2_error_code: int = 1, endpoint: str | None = None
    ) -> None:
        super().__init__(message, endpoint=endpoint)
        self.h2_error_code = h2_error_code


class LocalProtocolError(ProtocolError):
    """We tried to send something illegal: a bug in etcdwire or a misuse of its internals."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something illegal."""


# --- call outcome --------------------------------------------------------------------------


class DeadlineExceeded(EtcdError, TimeoutError):
    """The call's deadline passed, locally or as reported by the server."""


class CallCancelled(EtcdError):
    """The call was cancelled, locally or by the server."""


class RpcError(EtcdError):
    """A call ended with a non-OK gRPC status."""

    code: StatusCode = StatusCode.UNKNOWN

    def __init__(
        self,
        message: str = "",
        *,
        code: StatusCode | None = None,
        details: bytes | None = None,
        trailers: Sequence[tuple[str, str]] = (),
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint)
        if code is not None:
            self.code = code
        self.details = details
        self.trailers = list(trailers)

    def __str__(self) -> str:
        return f"{self.code.name}: {super().__str__()}"


class Unknown(RpcError):
    code = StatusCode.UNKNOWN


class InvalidArgument(RpcError):
    code = StatusCode.INVALID_ARGUMENT


class NotFound(RpcError):
    code = StatusCode.NOT_FOUND


class AlreadyExists(RpcError):
    code = StatusCode.ALREADY_EXISTS


class PermissionDenied(RpcError):
    code = StatusCode.PERMISSION_DENIED


class ResourceExhausted(RpcError):
    code = StatusCode.RESOURCE_EXHAUSTED


class FailedPrecondition(RpcError):
    code = StatusCode.FAILED_PRECONDITION


class GrpcAborted(RpcError):
    code = StatusCode.ABORTED


class OutOfRange(RpcError):
    code = StatusCode.OUT_OF_RANGE


class Unimplemented(RpcError):
    code = StatusCode.UNIMPLEMENTED


class Internal(RpcError):
    code = StatusCode.INTERNAL


class Unavailable(RpcError):
    code = StatusCode.UNAVAILABLE


class DataLoss(RpcError):
    code = StatusCode.DATA_LOSS


class Unauthenticated(RpcError):
    code = StatusCode.UNAUTHENTICATED


# --- etcd's own errors (api/v3rpc/rpctypes/error.go), under the code etcd sends --------------


class EmptyKey(InvalidArgument):
    pass


class KeyNotFound(InvalidArgument):
    pass


class TooManyOps(InvalidArgument):
    pass


class DuplicateKey(InvalidArgument):
    pass


class RequestTooLarge(InvalidArgument):
    pass


class AuthFailed(InvalidArgument):
    pass


class AuthOldRevision(InvalidArgument):
    pass


class UserEmpty(InvalidArgument):
    pass


class RoleEmpty(InvalidArgument):
    pass


class ValueProvided(InvalidArgument):
    pass


class LeaseProvided(InvalidArgument):
    pass


class MemberBadURLs(InvalidArgument):
    pass


class InvalidAuthMgmt(InvalidArgument):
    pass


class WrongDowngradeVersionFormat(InvalidArgument):
    pass


class InvalidDowngradeTargetVersion(InvalidArgument):
    pass


class Compacted(OutOfRange):
    """The requested revision was compacted; ``compact_revision`` is set when known."""

    def __init__(
        self,
        message: str = "",
        *,
        compact_revision: int | None = None,
        code: StatusCode | None = None,
        details: bytes | None = None,
        trailers: Sequence[tuple[str, str]] = (),
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message, code=code, details=details, trailers=trailers, endpoint=endpoint)
        self.compact_revision = compact_revision


class FutureRevision(OutOfRange):
    pass


class LeaseTTLTooLarge(OutOfRange):
    pass


class NoSpace(ResourceExhausted):
    pass


class TooManyRequests(ResourceExhausted):
    pass


class LeaseNotFound(NotFound):
    pass


class MemberNotFound(NotFound):
    pass


class UserNotFound(FailedPrecondition):
    pass


class RoleNotFound(FailedPrecondition):
    pass


class UserAlreadyExists(FailedPrecondition):
    pass


class RoleAlreadyExists(FailedPrecondition):
    pass


class AuthNotEnabled(FailedPrecondition):
    pass


class LeaseExists(FailedPrecondition):
    pass


class MemberExists(FailedPrecondition):
    pass


class PeerURLExists(FailedPrecondition):
    pass


class LearnerNotReady(FailedPrecondition):
    pass


class MemberNotLearner(FailedPrecondition):
    pass


class MemberNotEnoughStarted(FailedPrecondition):
    pass


class TooManyLearners(FailedPrecondition):
    pass


class RootUserNotExist(FailedPrecondition):
    pass


class RootRoleNotExist(FailedPrecondition):
    pass


class RoleNotGranted(FailedPrecondition):
    pass


class PermissionNotGranted(FailedPrecondition):
    pass


class BadLeaderTransferee(FailedPrecondition):
    pass


class DowngradeInProcess(FailedPrecondition):
    pass


class NoInflightDowngrade(FailedPrecondition):
    pass


class NotLeader(FailedPrecondition):
    """The member asked is not the raft leader (e.g. MoveLeader sent to a follower)."""


class InvalidAuthToken(Unauthenticated):
    pass


class NoLeader(Unavailable):
    pass


class LeaderChanged(Unavailable):
    pass


class ServerStopped(Unavailable):
    pass


class ServerTimeout(Unavailable):
    pass


class NotCapable(Unavailable):
    pass


class NotSupportedForLearner(Unavailable):
    pass


class ClusterVersionUnavailable(Unavailable):
    pass


class ElectionNoLeader(Unknown):
    """The election has no leader (v3election Leader; etcd sends it with code UNKNOWN)."""


class ElectionNotLeader(Unknown):
    """The leader key given to Proclaim no longer leads its election (code UNKNOWN)."""


class CorruptCluster(DataLoss):
    pass


class SnapshotChecksumMismatch(DataLoss):
    """A snapshot's data does not match the SHA-256 digest etcd sent after it (or the digest
    is missing): the copy is corrupt. ``expected`` and ``actual`` are hex digests."""

    def __init__(
        self,
        message: str = "",
        *,
        expected: str = "",
        actual: str = "",
        size: int = 0,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint)
        self.expected = expected
        self.actual = actual
        self.size = size


# --- watch and recipes -------------------------------------------------------------------------


class WatchCanceled(EtcdError):
    """The server cancelled a watch; ``reason`` is its cancel_reason."""

    def __init__(self, message: str = "", *, reason: str = "", endpoint: str | None = None) -> None:
        super().__init__(message, endpoint=endpoint)
        self.reason = reason


class WatchOverflow(EtcdError):
    """A watch with ``overflow="fail"`` fell ``max_buffered`` responses behind its consumer;
    it was cancelled rather than drop events."""


class RecipeError(EtcdError):
    """A concurrency recipe could not keep its promise."""


class LockNotHeld(RecipeError):
    pass


class SessionExpired(RecipeError):
    pass


class NotLeaderOfElection(RecipeError):
    pass


class TxnRetriesExhausted(RecipeError):
    pass


_CODE_CLASSES: dict[StatusCode, type[RpcError]] = {
    StatusCode.UNKNOWN: Unknown,
    StatusCode.INVALID_ARGUMENT: InvalidArgument,
    StatusCode.NOT_FOUND: NotFound,
    StatusCode.ALREADY_EXISTS: AlreadyExists,
    StatusCode.PERMISSION_DENIED: PermissionDenied,
    StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    StatusCode.ABORTED: GrpcAborted,
    StatusCode.OUT_OF_RANGE: OutOfRange,
    StatusCode.UNIMPLEMENTED: Unimplemented,
    StatusCode.INTERNAL: Internal,
    StatusCode.UNAVAILABLE: Unavailable,
    StatusCode.DATA_LOSS: DataLoss,
    StatusCode.UNAUTHENTICATED: Unauthenticated,
}

# etcd's message (after the "etcdserver: " prefix) -> class. Messages that carry a suffix are
# matched by prefix (see _ETCD_PREFIXES).
_ETCD_MESSAGES: dict[str, type[RpcError]] = {
    "key is not provided": EmptyKey,
    "key not found": KeyNotFound,
    "too many operations in txn request": TooManyOps,
    "duplicate key given in txn request": DuplicateKey,
    "value is provided": ValueProvided,
    "lease is provided": LeaseProvided,
    "request is too large": RequestTooLarge,
    "mvcc: required revision has been compacted": Compacted,
    "mvcc: required revision is a future revision": FutureRevision,
    "mvcc: database space exceeded": NoSpace,
    "requested lease not found": LeaseNotFound,
    "lease already exists": LeaseExists,
    "too large lease TTL": LeaseTTLTooLarge,
    "too many requests": TooManyRequests,
    "member ID already exist": MemberExists,
    "Peer URLs already exists": PeerURLExists,
    "member not found": MemberNotFound,
    "re-configuration failed due to not enough started members": MemberNotEnoughStarted,
    "given member URLs are invalid": MemberBadURLs,
    "can only promote a learner member": MemberNotLearner,
    "too many learner members in cluster": TooManyLearners,
    "can only promote a learner member which is in sync with leader": LearnerNotReady,
    "authentication failed, invalid user ID or password": AuthFailed,
    "invalid auth token": InvalidAuthToken,
    "revision of auth store is old": AuthOldRevision,
    "user name is empty": UserEmpty,
    "role name is empty": RoleEmpty,
    "root user does not exist": RootUserNotExist,
    "root user does not have root role": RootRoleNotExist,
    "permission denied": PermissionDenied,
    "role is not granted to the user": RoleNotGranted,
    "permission is not granted to the role": PermissionNotGranted,
    "invalid auth management": InvalidAuthMgmt,
    "user name already exists": UserAlreadyExists,
    "user name not found": UserNotFound,
    "role name already exists": RoleAlreadyExists,
    "role name not found": RoleNotFound,
    "authentication is not enabled": AuthNotEnabled,
    "no leader": NoLeader,
    "not leader": NotLeader,
    "leader changed": LeaderChanged,
    "server stopped": ServerStopped,
    "unhealthy cluster": Unavailable,
    "corrupt cluster": CorruptCluster,
    "not capable": NotCapable,
    "rpc not supported for learner": NotSupportedForLearner,
    "bad leader transferee": BadLeaderTransferee,
    "cluster version not found during downgrade": ClusterVersionUnavailable,
    "wrong downgrade target version format": WrongDowngradeVersionFormat,
    "invalid downgrade target version": InvalidDowngradeTargetVersion,
    "cluster has a downgrade job in progress": DowngradeInProcess,
    "no inflight downgrade job": NoInflightDowngrade,
}
_ETCD_PREFIXES: tuple[tuple[str, type[RpcError]], ...] = (("request timed out", ServerTimeout),)
_ETCD_PREFIX = "etcdserver: "
# Messages etcd relays as-is, with code UNKNOWN: its concurrency package's (through the
# v3election service) and the auth store's refusal of a password for a no-password user.
_UNPREFIXED_MESSAGES: dict[str, type[RpcError]] = {
    "election: no leader": ElectionNoLeader,
    "election: not leader": ElectionNotLeader,
    "auth: authentication failed, password was given for no password user": AuthFailed,
}


def error_from_status(
    code: int,
    message: str,
    *,
    details: bytes | None = None,
    trailers: Sequence[tuple[str, str]] = (),
    endpoint: str | None = None,
) -> EtcdError:
    """Build the named exception for a non-OK gRPC status (etcd message first, then code)."""
    try:
        status = StatusCode(code)
    except ValueError:
        status = StatusCode.UNKNOWN
    if status is StatusCode.DEADLINE_EXCEEDED:
        return DeadlineExceeded(message or "deadline exceeded", endpoint=endpoint)
    if status is StatusCode.CANCELLED:
        return CallCancelled(message or "call cancelled", endpoint=endpoint)
    cls: type[RpcError] | None = None
    if message.startswith(_ETCD_PREFIX):
        text = message[len(_ETCD_PREFIX) :]
        cls = _ETCD_MESSAGES.get(text)
        if cls is None:
            for prefix, candidate in _ETCD_PREFIXES:
                if text.startswith(prefix):
                    cls = candidate
                    break
    else:
        cls = _UNPREFIXED_MESSAGES.get(message)
    if cls is not None and status is StatusCode.UNKNOWN:
        # Some errors reach the wire without their code (gRPC sends UNKNOWN): v3lock and
        # v3election pass on their internal client's errors, the auth store one of its own.
        # The message names the error; the instance keeps the code received.
        pass
    elif cls is None or not issubclass(cls, _CODE_CLASSES.get(status, RpcError)):
        # An etcd message arriving with an unexpected code keeps the code's class: the code is
        # what the server committed to; the message only refines it.
        if cls is not None and cls.code is not status:
            cls = None
        cls = cls or _CODE_CLASSES.get(status, Unknown)
    return cls(message, code=status, details=details, trailers=trailers, endpoint=endpoint)

"""Retry policy and connection backoff (etcdwire._etcd.retry).

Rules checked: grpc/grpc doc/connection-backoff.md; etcd client/v3/retry.go (repeatable vs
non-repeatable RPCs, Appendix B of the client survey), client/v3/retry_interceptor.go
(isSafeRetry, shouldRefreshToken), client/v3/client.go roundRobinQuorumBackoff; gRPC A6
(committed calls, transparent retry of unprocessed requests).
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from etcdwire._etcd import methods as m
from etcdwire._etcd.retry import (
    IDEMPOTENT_WRITE_PATHS,
    ConnectBackoff,
    RetryDecision,
    RetryPolicy,
    never_sent,
)
from etcdwire._grpc.method import Method
from etcdwire.errors import (
    AuthFailed,
    AuthNotEnabled,
    AuthOldRevision,
    CallCancelled,
    Compacted,
    ConnectFailed,
    ConnectionLost,
    DeadlineExceeded,
    FutureRevision,
    Internal,
    InvalidArgument,
    InvalidAuthToken,
    LeaderChanged,
    LeaseNotFound,
    LocalProtocolError,
    NoEndpointAvailable,
    NoLeader,
    NoSpace,
    NotCapable,
    NotSupportedForLearner,
    PermissionDenied,
    RemoteProtocolError,
    RequestTooLarge,
    ServerStopped,
    ServerTimeout,
    TooManyRequests,
    Unavailable,
    Unknown,
    UsageError,
    UserEmpty,
)

# --- connection backoff (grpc doc/connection-backoff.md) ---------------------------------------


def test_connection_backoff_md_sequence_without_jitter() -> None:
    """INITIAL_BACKOFF 1 s, MULTIPLIER 1.6, MAX_BACKOFF 120 s."""
    backoff = ConnectBackoff(jitter=0.0)
    delays = [backoff.next_delay() for _ in range(14)]
    expected = [min(1.6**i, 120.0) for i in range(14)]
    assert delays == pytest.approx(expected)
    assert delays[-1] == 120.0
    assert delays[10] == pytest.approx(109.95116)  # 1.6**10
    assert delays[11] == 120.0  # 1.6**11 > 120: capped from the 12th delay on


def test_connection_backoff_md_jitter_is_plus_minus_20_percent_of_the_base() -> None:
    """current_deadline = now + backoff + UniformRandom(-JITTER*backoff, JITTER*backoff); the
    first delay is INITIAL_BACKOFF itself."""
    backoff = ConnectBackoff(rng=random.Random(7))
    assert backoff.next_delay() == 1.0
    base = 1.0
    seen_below = seen_above = False
    for _ in range(40):
        base = min(base * 1.6, 120.0)
        delay = backoff.next_delay()
        assert 0.8 * base <= delay <= 1.2 * base
        seen_below |= delay < base
        seen_above |= delay > base
    assert seen_below and seen_above


def test_connection_backoff_is_deterministic_for_a_seeded_rng() -> None:
    a = ConnectBackoff(rng=random.Random(42))
    b = ConnectBackoff(rng=random.Random(42))
    assert [a.next_delay() for _ in range(10)] == [b.next_delay() for _ in range(10)]
    assert repr(ConnectBackoff()) == "ConnectBackoff(base=None, initial=1.0, max=120.0)"


def test_connection_backoff_md_reset_after_ready_starts_from_initial() -> None:
    backoff = ConnectBackoff(rng=random.Random(1))
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == 1.0
    assert 1.28 <= backoff.next_delay() <= 1.92


def test_connection_backoff_md_connect_timeout_is_max_of_backoff_and_20s() -> None:
    """TryConnect(Max(current_deadline, now + MIN_CONNECT_TIMEOUT))."""
    backoff = ConnectBackoff(jitter=0.0)
    assert backoff.connect_timeout(now=100.0) == 20.0  # backoff 1 s < 20 s
    assert backoff.next_delay() == 1.0  # connect_timeout did not advance the sequence
    for _ in range(12):
        backoff.next_delay()
    # The next delay is 120 s: the attempt may take that long.
    assert backoff.connect_timeout(now=0.0) == 120.0
    assert backoff.next_delay() == 120.0


def test_connect_timeout_uses_the_same_jittered_delay_that_next_delay_returns() -> None:
    backoff = ConnectBackoff(rng=random.Random(3), min_connect_timeout=0.5)
    backoff.next_delay()
    peeked = backoff.connect_timeout(now=0.0)
    assert backoff.peek_delay() == peeked
    assert backoff.next_delay() == peeked
    assert backoff.next_delay() != peeked


def test_connect_timeout_is_cut_by_the_callers_deadline_and_never_negative() -> None:
    backoff = ConnectBackoff()
    assert backoff.connect_timeout(now=10.0, deadline=15.0) == 5.0
    assert backoff.connect_timeout(now=10.0, deadline=9.0) == 0.0
    assert backoff.connect_timeout(now=10.0, deadline=100.0) == 20.0


def test_connection_backoff_all_parameters_configurable() -> None:
    backoff = ConnectBackoff(
        initial=0.1, multiplier=2.0, max_delay=0.5, jitter=0.0, min_connect_timeout=1.0
    )
    assert [backoff.next_delay() for _ in range(5)] == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])
    assert backoff.connect_timeout(0.0) == 1.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial": 0},
        {"max_delay": -1},
        {"multiplier": 0.5},
        {"jitter": 1.0},
        {"jitter": -0.1},
        {"min_connect_timeout": 0},
    ],
)
def test_connection_backoff_rejects_bad_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(UsageError):
        ConnectBackoff(**kwargs)  # type: ignore[arg-type]


# --- Appendix B: Go clientv3 retry classification ----------------------------------------------

R, N = "repeatable", "nonRepeatable"

# client/v3/retry.go: withRepeatablePolicy() on exactly these; everything else is the
# interceptor's default, nonRepeatable (the lock/election services and Watch included).
GO_CLASSIFICATION: dict[str, str] = {
    "/etcdserverpb.KV/Range": R,
    "/etcdserverpb.KV/Put": N,
    "/etcdserverpb.KV/DeleteRange": N,
    "/etcdserverpb.KV/Txn": N,
    "/etcdserverpb.KV/Compact": N,
    "/etcdserverpb.Watch/Watch": N,
    "/etcdserverpb.Lease/LeaseGrant": R,
    "/etcdserverpb.Lease/LeaseRevoke": R,
    "/etcdserverpb.Lease/LeaseKeepAlive": R,
    "/etcdserverpb.Lease/LeaseTimeToLive": R,
    "/etcdserverpb.Lease/LeaseLeases": R,
    "/etcdserverpb.Cluster/MemberAdd": N,
    "/etcdserverpb.Cluster/MemberRemove": N,
    "/etcdserverpb.Cluster/MemberUpdate": N,
    "/etcdserverpb.Cluster/MemberList": R,
    "/etcdserverpb.Cluster/MemberPromote": N,
    "/etcdserverpb.Maintenance/Alarm": R,
    "/etcdserverpb.Maintenance/Status": R,
    "/etcdserverpb.Maintenance/Defragment": N,
    "/etcdserverpb.Maintenance/Hash": R,
    "/etcdserverpb.Maintenance/HashKV": R,
    "/etcdserverpb.Maintenance/Snapshot": R,
    "/etcdserverpb.Maintenance/MoveLeader": R,
    "/etcdserverpb.Maintenance/Downgrade": N,
    "/etcdserverpb.Auth/AuthEnable": N,
    "/etcdserverpb.Auth/AuthDisable": N,
    "/etcdserverpb.Auth/AuthStatus": N,
    "/etcdserverpb.Auth/Authenticate": N,
    "/etcdserverpb.Auth/UserAdd": N,
    "/etcdserverpb.Auth/UserGet": R,
    "/etcdserverpb.Auth/UserList": R,
    "/etcdserverpb.Auth/UserDelete": N,
    "/etcdserverpb.Auth/UserChangePassword": N,
    "/etcdserverpb.Auth/UserGrantRole": N,
    "/etcdserverpb.Auth/UserRevokeRole": N,
    "/etcdserverpb.Auth/RoleAdd": N,
    "/etcdserverpb.Auth/RoleGet": R,
    "/etcdserverpb.Auth/RoleList": R,
    "/etcdserverpb.Auth/RoleDelete": N,
    "/etcdserverpb.Auth/RoleGrantPermission": N,
    "/etcdserverpb.Auth/RoleRevokePermission": N,
    "/v3lockpb.Lock/Lock": N,
    "/v3lockpb.Lock/Unlock": N,
    "/v3electionpb.Election/Campaign": N,
    "/v3electionpb.Election/Proclaim": N,
    "/v3electionpb.Election/Leader": N,
    "/v3electionpb.Election/Observe": N,
    "/v3electionpb.Election/Resign": N,
}

# Read-only RPCs etcdwire marks repeatable although Go leaves them at the default: sending them
# twice cannot change anything (methods.py documents the choice).
READ_ONLY_BEYOND_GO = {
    "/etcdserverpb.Auth/AuthStatus",
    "/v3electionpb.Election/Leader",
    "/v3electionpb.Election/Observe",
}


def test_appendix_b_table_covers_every_method() -> None:
    assert {meth.path for meth in m.ALL_METHODS} == set(GO_CLASSIFICATION)
    assert len(m.ALL_METHODS) == len(GO_CLASSIFICATION)


@pytest.mark.parametrize("method", m.ALL_METHODS, ids=lambda meth: meth.path)
def test_appendix_b_retry_go_classification(method: Method[Any, Any]) -> None:
    """client/v3/retry.go: every RPC gets Go's repeatable/nonRepeatable policy (read-only
    additions listed in READ_ONLY_BEYOND_GO)."""
    policy = RetryPolicy()
    go_repeatable = GO_CLASSIFICATION[method.path] == R
    expected = go_repeatable or method.path in READ_ONLY_BEYOND_GO
    assert policy.is_repeatable(method) is expected
    # ...and the classification drives decide(): UNAVAILABLE after a possible send.
    decision = policy.decide(method, Unavailable("x"), attempt=1, endpoints=3)
    assert decision.retry is expected


def test_read_only_additions_are_really_read_only() -> None:
    """The three additions are queries; no write RPC is marked repeatable beyond Go."""
    beyond = {
        meth.path for meth in m.ALL_METHODS if meth.idempotent and GO_CLASSIFICATION[meth.path] != R
    }
    assert beyond == READ_ONLY_BEYOND_GO


# --- decide(): the error table -----------------------------------------------------------------

RETRY, STOP = True, False

# (error, retry for repeatable Range, retry for non-repeatable Put) with 3 endpoints.
ERROR_TABLE = [
    # retry_interceptor.go isSafeRetryImmutableRPC: UNAVAILABLE and etcd errors sent with it.
    (Unavailable("transport is closing"), RETRY, STOP),
    (NoLeader("etcdserver: no leader"), RETRY, STOP),
    (LeaderChanged("etcdserver: leader changed"), RETRY, STOP),
    (ServerStopped("etcdserver: server stopped"), RETRY, STOP),
    (ServerTimeout("etcdserver: request timed out"), RETRY, STOP),
    (NotCapable("etcdserver: not capable"), RETRY, STOP),
    # isSafeRetry: a learner refused it unprocessed; another member may serve any method.
    (NotSupportedForLearner("etcdserver: rpc not supported for learner"), RETRY, RETRY),
    # The request may have been processed: only repeatable RPCs go again.
    (ConnectionLost("EOF", maybe_sent=True), RETRY, STOP),
    (RemoteProtocolError("bad frame"), RETRY, STOP),
    # isSafeRetryMutableRPC / gRPC A6 transparent retry: provably never processed.
    (ConnectionLost("GOAWAY above our stream", maybe_sent=False), RETRY, RETRY),
    (ConnectFailed("connection refused"), RETRY, RETRY),
    (NoEndpointAvailable("all endpoints failed"), RETRY, RETRY),
    # The caller's own deadline/cancellation ends the call (isContextError).
    (DeadlineExceeded("deadline"), STOP, STOP),
    (CallCancelled("cancelled"), STOP, STOP),
    # Non-transient server errors: the client cannot fix them by retrying.
    (Compacted("etcdserver: mvcc: required revision has been compacted"), STOP, STOP),
    (FutureRevision("etcdserver: mvcc: required revision is a future revision"), STOP, STOP),
    (NoSpace("etcdserver: mvcc: database space exceeded"), STOP, STOP),
    (TooManyRequests("etcdserver: too many requests"), STOP, STOP),
    (InvalidArgument("bad"), STOP, STOP),
    (RequestTooLarge("etcdserver: request is too large"), STOP, STOP),
    (PermissionDenied("etcdserver: permission denied"), STOP, STOP),
    (LeaseNotFound("etcdserver: requested lease not found"), STOP, STOP),
    (AuthFailed("etcdserver: authentication failed"), STOP, STOP),
    (AuthNotEnabled("etcdserver: authentication is not enabled"), STOP, STOP),
    (Internal("boom"), STOP, STOP),
    (Unknown("?"), STOP, STOP),
    (LocalProtocolError("our bug"), STOP, STOP),
    (ValueError("not an etcd error"), STOP, STOP),
]


@pytest.mark.parametrize(
    ("error", "range_retry", "put_retry"),
    ERROR_TABLE,
    ids=[f"{i:02d}-{type(row[0]).__name__}" for i, row in enumerate(ERROR_TABLE)],
)
def test_retry_interceptor_is_safe_retry_table(
    error: BaseException, range_retry: bool, put_retry: bool
) -> None:
    """retry.go isSafeRetryImmutableRPC / isSafeRetryMutableRPC, retry_interceptor.go
    isSafeRetry, gRPC A6 transparent retry."""
    policy = RetryPolicy(rng=random.Random(0))
    for method, expected in ((m.KV_RANGE, range_retry), (m.KV_PUT, put_retry)):
        decision = policy.decide(method, error, attempt=1, endpoints=3)
        assert decision.retry is expected, (method.name, decision.reason)
        assert decision.reason
        assert not decision.refresh_token
        if decision.retry:
            assert decision.switch_endpoint
    # Txn is never repeatable, whatever the options.
    writes = RetryPolicy(retry_idempotent_writes=True)
    assert writes.decide(m.KV_TXN, error, attempt=1, endpoints=3).retry is put_retry


def test_learner_refusal_is_not_retried_with_a_single_endpoint() -> None:
    """isSafeRetry retries NotSupportedForLearner only when len(Endpoints()) > 1; with one
    endpoint the same learner would refuse again."""
    decision = RetryPolicy().decide(m.KV_RANGE, NotSupportedForLearner("x"), attempt=1, endpoints=1)
    assert decision == RetryDecision(
        False, reason="a learner refused it and there is no other member"
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ConnectFailed(), True),
        (NoEndpointAvailable(), True),
        (ConnectionLost(maybe_sent=False), True),
        (ConnectionLost(maybe_sent=True), False),
        (ConnectionLost(), False),  # maybe_sent defaults to True: the safe assumption
        (Unavailable(), False),
        (RemoteProtocolError(), False),
    ],
)
def test_never_sent(error: BaseException, expected: bool) -> None:
    assert never_sent(error) is expected


def test_committed_call_is_never_retried_grpc_a6() -> None:
    """A6: once response headers/messages reached the caller the call is committed."""
    decision = RetryPolicy().decide(
        m.MAINTENANCE_SNAPSHOT, Unavailable(), attempt=1, endpoints=3, response_started=True
    )
    assert not decision.retry
    assert "committed" in decision.reason
    before = RetryPolicy().decide(m.MAINTENANCE_SNAPSHOT, Unavailable(), attempt=1, endpoints=3)
    assert before.retry


# --- backoff between attempts (client.go roundRobinQuorumBackoff) ------------------------------


@pytest.mark.parametrize(
    ("endpoints", "waits_after"),
    [
        (1, {1, 2, 3, 4, 5, 6}),  # quorum 1: every retry waits
        (2, {2, 4, 6}),  # quorum 2
        (3, {2, 4, 6}),  # quorum 2
        (4, {3, 6}),  # quorum 3
        (5, {3, 6}),  # quorum 3
        (7, {4}),  # quorum 4
    ],
)
def test_round_robin_quorum_backoff_waits_only_after_each_quorum_round(
    endpoints: int, waits_after: set[int]
) -> None:
    """client.go roundRobinQuorumBackoff: wait when attempt % (n/2+1) == 0, else retry at once;
    the wait is 25 ms +-10 % (BackoffWaitBetween, BackoffJitterFraction)."""
    policy = RetryPolicy(rng=random.Random(5))
    for attempt in range(1, 7):
        decision = policy.decide(m.KV_RANGE, Unavailable(), attempt=attempt, endpoints=endpoints)
        assert decision.retry
        if attempt in waits_after:
            assert 0.0225 <= decision.delay <= 0.0275
        else:
            assert decision.delay == 0.0


def test_quorum_backoff_first_attempt_never_waits_and_jitter_is_seeded() -> None:
    policy = RetryPolicy(rng=random.Random(9))
    assert policy.quorum_backoff(0, 3) == 0.0
    again = RetryPolicy(rng=random.Random(9))
    delays = [policy.quorum_backoff(2 * i, 3) for i in range(1, 20)]
    assert delays == [again.quorum_backoff(2 * i, 3) for i in range(1, 20)]
    assert len(set(delays)) > 1
    custom = RetryPolicy(backoff=0.5, jitter=0.0)
    assert custom.quorum_backoff(1, 1) == 0.5
    assert custom.quorum_backoff(1, 0) == 0.5  # no endpoints known: quorum 1


def test_max_attempts_bounds_the_call_like_go_max_unary_retries() -> None:
    """retry_interceptor.go: for attempt := 0; attempt < max; attempt++ (default 100)."""
    policy = RetryPolicy()
    assert policy.decide(m.KV_RANGE, Unavailable(), attempt=99, endpoints=3).retry
    last = policy.decide(m.KV_RANGE, Unavailable(), attempt=100, endpoints=3)
    assert not last.retry
    assert "100 attempts" in last.reason
    single = RetryPolicy(max_attempts=1)
    assert not single.decide(m.KV_PUT, ConnectFailed(), attempt=1, endpoints=3).retry


def test_the_calls_deadline_bounds_retries() -> None:
    policy = RetryPolicy(backoff=0.025, jitter=0.0)
    # attempt 2 of 3 endpoints waits 25 ms: not when only 10 ms are left.
    late = policy.decide(
        m.KV_RANGE, Unavailable(), attempt=2, endpoints=3, now=10.0, deadline=10.01
    )
    assert not late.retry
    assert "deadline" in late.reason
    ok = policy.decide(m.KV_RANGE, Unavailable(), attempt=2, endpoints=3, now=10.0, deadline=11)
    assert ok.retry and ok.delay == 0.025
    # attempt 1 does not wait, but the deadline has passed already.
    passed = policy.decide(m.KV_RANGE, Unavailable(), attempt=1, endpoints=3, now=5, deadline=5)
    assert not passed.retry


def test_retry_idempotent_writes_widens_to_put_and_delete_only() -> None:
    """jetcd withAutoRetry: Put and Delete retried on UNAVAILABLE when asked; Txn, Compact and
    all other writes stay at-most-once."""
    assert {m.KV_PUT.path, m.KV_DELETE_RANGE.path} == IDEMPOTENT_WRITE_PATHS
    default, widened = RetryPolicy(), RetryPolicy(retry_idempotent_writes=True)
    for method in m.ALL_METHODS:
        expected = method.idempotent or method in (m.KV_PUT, m.KV_DELETE_RANGE)
        assert widened.is_repeatable(method) is expected, method.path
        assert default.is_repeatable(method) is method.idempotent
    for error in (Unavailable(), ConnectionLost(maybe_sent=True), NoLeader()):
        assert widened.decide(m.KV_PUT, error, attempt=1, endpoints=1).retry
        assert widened.decide(m.KV_DELETE_RANGE, error, attempt=1, endpoints=1).retry
        assert not widened.decide(m.KV_COMPACT, error, attempt=1, endpoints=1).retry


# --- auth (retry_interceptor.go shouldRefreshToken / refreshToken) -----------------------------


@pytest.mark.parametrize("method", [m.KV_RANGE, m.KV_PUT, m.KV_TXN], ids=lambda x: x.name)
@pytest.mark.parametrize(
    "error",
    [InvalidAuthToken("etcdserver: invalid auth token"), AuthOldRevision("old"), UserEmpty("")],
    ids=lambda e: type(e).__name__,
)
def test_should_refresh_token_with_credentials_refreshes_and_retries_once(
    method: Method[Any, Any],
    error: BaseException,
) -> None:
    """shouldRefreshToken: InvalidAuthToken, AuthOldRevision, and UserEmpty when credentials
    exist; the server rejected the request before applying it, so any method goes again. The
    retry uses up an attempt, and a second auth error ends the call."""
    policy = RetryPolicy(credentials=True)
    first = policy.decide(method, error, attempt=1, endpoints=3)
    assert first.retry and first.refresh_token
    assert not first.switch_endpoint  # the token is cluster-wide
    second = policy.decide(method, error, attempt=2, endpoints=3, auth_retries=1)
    assert not second.retry and not second.refresh_token


def test_invalid_token_without_credentials_is_not_retried() -> None:
    """A static token (or none) is never refreshed, so the same request would fail again."""
    policy = RetryPolicy(credentials=False)
    decision = policy.decide(m.KV_RANGE, InvalidAuthToken("x"), attempt=1, endpoints=3)
    assert decision == RetryDecision(False, reason="invalid token and no credentials to refresh it")


def test_user_empty_without_credentials_is_an_invalid_argument() -> None:
    """shouldRefreshToken: ErrUserEmpty refreshes only when authTokenBundle != nil."""
    decision = RetryPolicy().decide(m.KV_RANGE, UserEmpty("x"), attempt=1, endpoints=3)
    assert not decision.retry and not decision.refresh_token


def test_auth_old_revision_without_credentials_is_sent_again_once() -> None:
    """refreshToken: with no token bundle (TLS common-name auth) nothing is refreshed, the
    operation is simply retried."""
    policy = RetryPolicy()
    first = policy.decide(m.KV_PUT, AuthOldRevision("x"), attempt=1, endpoints=3)
    assert first.retry and not first.refresh_token
    again = policy.decide(m.KV_PUT, AuthOldRevision("x"), attempt=2, endpoints=3, auth_retries=1)
    assert not again.retry


def test_auth_retry_is_also_bounded_by_budget_and_deadline() -> None:
    policy = RetryPolicy(credentials=True, max_attempts=2)
    assert not policy.decide(m.KV_RANGE, InvalidAuthToken(), attempt=2, endpoints=1).retry
    late = policy.decide(
        m.KV_RANGE, InvalidAuthToken(), attempt=1, endpoints=1, now=3.0, deadline=3.0
    )
    assert not late.retry


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": 0}, {"backoff": -0.1}, {"jitter": 1.0}, {"jitter": -1}]
)
def test_retry_policy_rejects_bad_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(UsageError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_simulated_call_reaches_a_healthy_member_within_one_quorum_round() -> None:
    """The point of roundRobinQuorumBackoff: with one of three members down, the retry goes to
    the next member at once, without waiting."""
    policy = RetryPolicy(rng=random.Random(11))
    members = ["a", "b", "c"]
    down = {"a"}
    now, attempt, used = 0.0, 0, []
    while True:
        endpoint = members[attempt % 3]
        used.append(endpoint)
        attempt += 1
        if endpoint not in down:
            break
        decision = policy.decide(
            m.KV_PUT, ConnectFailed(endpoint=endpoint), attempt=attempt, endpoints=3
        )
        assert decision.retry
        now += decision.delay
    assert used == ["a", "b"]
    assert now == 0.0

"""Auth token policy (etcdwire._etcd.auth).

Rules: etcd client/v3/retry_interceptor.go shouldRefreshToken/refreshToken (which errors ask
for a new token; ErrUserEmpty only with credentials; a static token is never refreshed),
client.go getToken before streams (etcd-io/etcd#11954), ErrAuthNotEnabled clears the token.
"""

from __future__ import annotations

import pytest

from etcdwire._etcd import methods as m
from etcdwire._etcd.auth import AuthMode, TokenState, token_refresh_wanted
from etcdwire._etcd.retry import RetryPolicy
from etcdwire._pb import rpc_pb2
from etcdwire.errors import (
    AuthFailed,
    AuthNotEnabled,
    AuthOldRevision,
    InvalidArgument,
    InvalidAuthToken,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
    UsageError,
    UserEmpty,
)

PASSWORD = "s3cr3t-Passw0rd"
TOKEN = "ZXlKaGJHY2lPaUpTVXpJMU5pSjkuc2VjcmV0LnRva2Vu.42"


def creds() -> TokenState:
    return TokenState(username="root", password=PASSWORD)


@pytest.mark.parametrize(
    ("error", "with_credentials", "without"),
    [
        (InvalidAuthToken("etcdserver: invalid auth token"), True, False),
        (AuthOldRevision("etcdserver: revision of auth store is old"), True, False),
        (UserEmpty("etcdserver: user name is empty"), True, False),
        (Unauthenticated("other"), False, False),
        (AuthFailed("etcdserver: authentication failed"), False, False),
        (PermissionDenied("etcdserver: permission denied"), False, False),
        (AuthNotEnabled("etcdserver: authentication is not enabled"), False, False),
        (InvalidArgument("x"), False, False),
        (Unavailable("x"), False, False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_should_refresh_token_table(
    error: Exception, with_credentials: bool, without: bool
) -> None:
    """retry_interceptor.go shouldRefreshToken."""
    assert token_refresh_wanted(error, credentials=True) is with_credentials
    assert token_refresh_wanted(error, credentials=False) is without


def test_modes() -> None:
    assert TokenState().mode is AuthMode.NONE
    assert creds().mode is AuthMode.CREDENTIALS and creds().has_credentials
    static = TokenState(token=TOKEN)
    assert static.mode is AuthMode.STATIC and not static.has_credentials
    assert creds().username == "root" and static.username is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"username": "root", "password": PASSWORD, "token": TOKEN},
        {"username": "root"},
        {"password": PASSWORD},
        {"username": "", "password": PASSWORD},
        {"token": ""},
        {"username": "root", "password": "x", "stream_token_max_age": -1},
    ],
)
def test_bad_configuration_is_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        TokenState(**kwargs)  # type: ignore[arg-type]


def test_credentials_fetch_before_the_first_request() -> None:
    tokens = creds()
    assert tokens.needs_token(0.0)
    assert tokens.token_for_request() is None
    request = tokens.authenticate_request()
    assert request == rpc_pb2.AuthenticateRequest(name="root", password=PASSWORD)
    tokens.on_token(TOKEN, now=1.0)
    assert not tokens.needs_token(1.0)
    assert not tokens.needs_token(10_000.0)  # unary calls: refreshed on error, not by age
    assert tokens.token_for_request() == TOKEN
    assert tokens.fetched_at == 1.0


def test_client_go_get_token_before_opening_a_stream_when_stale() -> None:
    """etcd-io/etcd#11954: a watch reopened with an expired token failed; a stream keeps the
    token it was opened with, so a stale one is replaced first."""
    tokens = TokenState(username="root", password=PASSWORD, stream_token_max_age=60.0)
    tokens.on_token(TOKEN, now=100.0)
    assert not tokens.needs_token(159.0, for_stream=True)
    assert tokens.needs_token(160.0, for_stream=True)
    assert not tokens.needs_token(160.0)


def test_static_token_is_sent_and_never_refreshed() -> None:
    tokens = TokenState(token=TOKEN)
    assert not tokens.needs_token(0.0)
    assert not tokens.needs_token(1e9, for_stream=True)
    assert tokens.token_for_request() == TOKEN
    for error in (InvalidAuthToken(), AuthOldRevision(), UserEmpty()):
        assert tokens.on_error(error, token=TOKEN) is False
    tokens.invalidate()
    assert tokens.token_for_request() == TOKEN
    with pytest.raises(UsageError):
        tokens.on_token("other", 0.0)
    with pytest.raises(UsageError):
        tokens.authenticate_request()


def test_no_auth_sends_no_token() -> None:
    tokens = TokenState()
    assert not tokens.needs_token(0.0, for_stream=True)
    assert tokens.token_for_request() is None
    assert tokens.on_error(InvalidAuthToken()) is False
    assert tokens.on_error(UserEmpty()) is False


@pytest.mark.parametrize("error", [InvalidAuthToken(), AuthOldRevision(), UserEmpty()])
def test_refresh_errors_drop_the_token(error: Exception) -> None:
    tokens = creds()
    tokens.on_token(TOKEN, 0.0)
    assert tokens.on_error(error, token=TOKEN) is True
    assert tokens.token_for_request() is None
    assert tokens.needs_token(0.0)


def test_a_token_already_replaced_by_another_call_is_not_fetched_again() -> None:
    """Many calls fail with the same expired token: one fetch serves them all."""
    tokens = creds()
    tokens.on_token("old", 0.0)
    assert tokens.on_error(InvalidAuthToken(), token="old") is True
    tokens.on_token("new", 1.0)
    assert tokens.on_error(InvalidAuthToken(), token="old") is False
    assert tokens.token_for_request() == "new"
    assert tokens.on_error(InvalidAuthToken()) is True  # unknown sender token: refresh


def test_other_errors_leave_the_token_alone() -> None:
    tokens = creds()
    tokens.on_token(TOKEN, 0.0)
    for error in (PermissionDenied(), Unavailable(), AuthFailed(), ValueError()):
        assert tokens.on_error(error, token=TOKEN) is False
    assert tokens.token_for_request() == TOKEN


def test_auth_not_enabled_clears_the_token_until_the_server_asks_again() -> None:
    """client.go: ErrAuthNotEnabled from Authenticate means calls go out without a token."""
    tokens = creds()
    tokens.on_token(TOKEN, 0.0)
    assert tokens.on_error(AuthNotEnabled()) is False
    assert tokens.token_for_request() is None
    assert not tokens.needs_token(5.0)
    assert not tokens.needs_token(500.0, for_stream=True)
    # Auth turned on again: the server rejects token-less requests with UserEmpty.
    assert tokens.on_error(UserEmpty()) is True
    assert tokens.needs_token(501.0)
    tokens.on_token(TOKEN, 502.0)
    assert tokens.token_for_request() == TOKEN


def test_empty_token_from_authenticate_means_auth_is_off() -> None:
    tokens = creds()
    tokens.on_token("", 3.0)
    assert tokens.token_for_request() is None
    assert not tokens.needs_token(4.0)
    tokens.invalidate()
    assert tokens.needs_token(4.0)


def test_invalidate_drops_a_fetched_token() -> None:
    tokens = creds()
    tokens.on_token(TOKEN, 0.0)
    tokens.invalidate()
    assert tokens.token_for_request() is None and tokens.needs_token(0.0)
    TokenState().invalidate()  # nothing to drop


def test_secrets_never_in_repr_or_str() -> None:
    states = [creds(), TokenState(token=TOKEN), TokenState()]
    fetched = creds()
    fetched.on_token(TOKEN, 0.0)
    disabled = creds()
    disabled.on_error(AuthNotEnabled())
    states += [fetched, disabled]
    for state in states:
        for text in (repr(state), str(state), f"{state}", f"{state!r}", repr([state])):
            assert PASSWORD not in text
            assert TOKEN not in text
    assert repr(fetched) == "TokenState(mode=credentials, username='root', token=set)"
    assert repr(creds()) == "TokenState(mode=credentials, username='root', token=none)"
    assert repr(TokenState(token=TOKEN)) == "TokenState(mode=static, token=set)"
    assert repr(disabled) == (
        "TokenState(mode=credentials, username='root', token=disabled-on-server)"
    )
    assert repr(TokenState()) == "TokenState(mode=none)"


def test_secrets_not_exposed_as_public_attributes() -> None:
    tokens = creds()
    tokens.on_token(TOKEN, 0.0)
    public = {name: getattr(tokens, name) for name in dir(tokens) if not name.startswith("_")}
    for value in public.values():
        if isinstance(value, str):
            assert value not in (PASSWORD, TOKEN)
    assert not hasattr(tokens, "__dict__")  # __slots__: no stray attribute dumps


def test_unary_call_loop_refreshes_once_with_retry_policy() -> None:
    """The shell's loop: InvalidAuthToken -> RetryPolicy says refresh -> TokenState drops the
    token -> Authenticate -> the retry carries the new token; a second auth failure ends it."""
    tokens = creds()
    policy = RetryPolicy(credentials=tokens.has_credentials)
    tokens.on_token("expired", 0.0)
    auth_retries, sent_with = 0, []
    outcomes = [InvalidAuthToken("etcdserver: invalid auth token"), None]
    for attempt, outcome in enumerate(outcomes, start=1):
        if tokens.needs_token(10.0):
            tokens.on_token("fresh", 10.0)
        token = tokens.token_for_request()
        sent_with.append(token)
        if outcome is None:
            break
        decision = policy.decide(
            m.KV_PUT, outcome, attempt=attempt, endpoints=1, auth_retries=auth_retries
        )
        assert decision.retry and decision.refresh_token
        assert tokens.on_error(outcome, token=token)
        auth_retries = 1
    assert sent_with == ["expired", "fresh"]
    again = policy.decide(m.KV_PUT, InvalidAuthToken(), attempt=2, endpoints=1, auth_retries=1)
    assert not again.retry

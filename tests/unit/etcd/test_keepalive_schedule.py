"""Lease keepalive schedule and HTTP/2 keepalive ping policy (etcdwire._etcd.keepalive).

Rules: etcd client/v3/lease.go (send every TTL/3, TTL <= 0 means the lease is gone,
deadlineLoop drops leases without a response before their deadline); grpc/proposal
A8-client-side-keepalive.md and grpc-go (10 s minimum time, measured from the last read,
20 s timeout, no pings without calls by default, adjustParams doubling on too_many_pings);
grpc-go http2_server.go handlePing as configured by etcd (MinTime 5 s, PermitWithoutStream false,
maxPingStrikes 2, 2 h without streams).
"""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etcdwire._etcd.keepalive import (
    ENHANCE_YOUR_CALM,
    LeaseInfo,
    LeaseKeepAliveSchedule,
    LeaseLost,
    LeaseState,
    PingPolicy,
)
from etcdwire.errors import UsageError

# --- lease keepalive (client/v3/lease.go) ------------------------------------------------------


def test_lease_go_keepalive_sent_at_once_then_every_ttl_third() -> None:
    s = LeaseKeepAliveSchedule()
    s.add(7, 9.0, now=0.0)
    assert s.due(0.0) == [7]
    assert s.due(0.0) == []
    s.on_response(7, 9, now=0.1)
    assert s.due(3.0) == []
    assert s.due(3.1) == [7]  # response time + TTL/3 (Go nextKeepAlive)
    s.on_response(7, 9, now=3.2)
    assert s.next_wakeup(3.2) == pytest.approx(3.0)
    assert s.due(6.2) == [7]


def test_lease_go_ttl_zero_response_means_expired_or_revoked() -> None:
    s = LeaseKeepAliveSchedule()
    s.add(1, 10, 0.0)
    s.add(2, 10, 0.0)
    s.due(0.0)
    assert s.on_response(1, 0, 0.1) == LeaseLost(1, "expired or revoked")
    assert s.on_response(2, -1, 0.1) == LeaseLost(2, "expired or revoked")
    assert len(s) == 0 and 1 not in s


def test_lease_go_deadline_loop_drops_a_lease_without_response_before_its_deadline() -> None:
    s = LeaseKeepAliveSchedule()
    s.add(5, 9.0, 0.0)
    sent = [t for t in (0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0) if s.due(t)]
    assert sent == [0.0, 3.0, 6.0]  # no response: re-sent every TTL/3, never faster
    assert s.expired(8.99) == []
    assert s.expired(9.0) == [5]
    assert 5 not in s
    assert s.next_wakeup(9.0) is None


def test_lease_deadline_counts_from_the_send_the_response_answers() -> None:
    """The server renewed the lease no earlier than our send, so send time + TTL is a safe
    bound; receipt time + TTL (Go) would overestimate by the round trip."""
    s = LeaseKeepAliveSchedule()
    s.add(3, 9.0, 0.0)
    s.due(0.0)
    s.on_response(3, 9, 0.5)
    s.due(3.5)
    s.on_response(3, 9, 4.5)  # slow response to the 3.5 send
    info = s.get(3)
    assert info == LeaseInfo(3, 9, next_send_at=7.5, deadline=12.5, state=LeaseState.ALIVE)


def test_lease_state_waiting_until_the_first_response() -> None:
    s = LeaseKeepAliveSchedule()
    s.add(4, 30, 100.0)
    info = s.get(4)
    assert info is not None and info.state is LeaseState.WAITING
    assert info.deadline == 130.0 and info.next_send_at == 100.0
    assert s.get(99) is None


def test_lease_stream_reset_makes_every_lease_due_at_once() -> None:
    s = LeaseKeepAliveSchedule()
    s.add(1, 30, 0.0)
    s.add(2, 60, 0.0)
    s.due(0.0)
    s.on_response(1, 30, 0.1)
    s.on_response(2, 60, 0.1)
    assert s.due(5.0) == []
    s.on_stream_reset(5.0)
    assert sorted(s.due(5.0)) == [1, 2]
    # The answer to the re-send counts from the re-send, not from a request lost with the stream.
    s.on_response(1, 30, 5.2)
    assert s.get(1) == LeaseInfo(1, 30, 15.2, 35.0, LeaseState.ALIVE)


def test_lease_short_ttl_is_not_refreshed_faster_than_min_interval() -> None:
    s = LeaseKeepAliveSchedule(min_interval=0.5)
    s.add(1, 1, 0.0)
    assert s.due(0.0) == [1]
    assert s.due(0.4) == []
    assert s.due(0.5) == [1]


def test_lease_next_wakeup_is_the_earliest_send_or_deadline() -> None:
    s = LeaseKeepAliveSchedule()
    assert s.next_wakeup(0.0) is None
    s.add(1, 9, 0.0)
    assert s.next_wakeup(0.0) == 0.0
    s.due(0.0)
    assert s.next_wakeup(1.0) == pytest.approx(2.0)
    s.add(2, 60, 1.0)
    assert s.next_wakeup(1.0) == 0.0
    assert s.next_wakeup(50.0) == 0.0  # overdue: never negative


def test_lease_response_for_an_untracked_lease_is_ignored() -> None:
    s = LeaseKeepAliveSchedule()
    assert s.on_response(42, 10, 0.0) is None
    assert s.on_response(42, 0, 0.0) is None


def test_lease_add_again_and_remove() -> None:
    s = LeaseKeepAliveSchedule()
    s.add(1, 10, 0.0)
    s.add(1, 5, 1.0)  # a shorter ttl never pulls the known deadline in
    info = s.get(1)
    assert info is not None and info.deadline == 10.0 and info.ttl == 5
    s.add(1, 20, 2.0)
    info = s.get(1)
    assert info is not None and info.deadline == 22.0
    assert s.lease_ids == [1]
    assert s.remove(1) is True
    assert s.remove(1) is False


@pytest.mark.parametrize("ttl", [0, -5])
def test_lease_add_rejects_a_lease_without_time_left(ttl: float) -> None:
    with pytest.raises(UsageError):
        LeaseKeepAliveSchedule().add(1, ttl, 0.0)
    with pytest.raises(UsageError):
        LeaseKeepAliveSchedule(min_interval=0)


def test_lease_survives_an_hour_with_a_responsive_server() -> None:
    """Event-driven LeaseKeepAlive stream: 3 leases, responses after 80 ms, one stream reset
    at 30 min that loses the requests in flight."""
    s = LeaseKeepAliveSchedule()
    ttls = {1: 5, 2: 10, 3: 60}
    for lid, ttl in ttls.items():
        s.add(lid, ttl, 0.0)
    sends = dict.fromkeys(ttls, 0)
    inflight: list[tuple[float, int]] = []
    now, reset_at = 0.0, 1800.0
    while now < 3600.0:
        if reset_at <= now:
            inflight.clear()
            s.on_stream_reset(now)
            reset_at = float("inf")
        for lid in s.due(now):
            sends[lid] += 1
            inflight.append((now + 0.08, lid))
        for item in [x for x in inflight if x[0] <= now]:
            inflight.remove(item)
            assert s.on_response(item[1], ttls[item[1]], now) is None
        assert s.expired(now) == []
        wake = s.next_wakeup(now)
        assert wake is not None
        now = min(now + wake, reset_at, *(at for at, _ in inflight))
    assert sorted(s.lease_ids) == [1, 2, 3]
    # One send per TTL/3 after each response (Go's cadence: the period is TTL/3 plus the
    # round trip), plus the reset's extra send; never a flood.
    for lid, ttl in ttls.items():
        expected = 3600.0 / (ttl / 3 + 0.08)
        assert expected - 1 <= sends[lid] <= expected + 2, (lid, sends[lid])


# --- HTTP/2 keepalive pings (gRPC A8) ----------------------------------------------------------


class EtcdPingEnforcer:
    """grpc-go http2_server.go handlePing with etcd's settings (embed/etcd.go): MinTime 5 s,
    PermitWithoutStream false, maxPingStrikes 2, defaultPingTimeout 2 h."""

    def __init__(self, min_time: float = 5.0, permit_without_stream: bool = False) -> None:
        self.min_time = min_time
        self.permit_without_stream = permit_without_stream
        self.last_ping_at: float | None = None
        self.strikes = 0
        self.max_strikes_seen = 0
        self.reset_pending = False
        self.goaway = False
        self.pings = 0

    def server_wrote_headers_or_data(self) -> None:
        self.reset_pending = True

    def on_ping(self, now: float, active_streams: int) -> None:
        self.pings += 1
        if self.reset_pending:
            self.reset_pending = False
            self.strikes = 0
            self.last_ping_at = now
            return
        if self.last_ping_at is not None:
            if active_streams < 1 and not self.permit_without_stream:
                if self.last_ping_at + 7200.0 > now:
                    self.strikes += 1
            elif self.last_ping_at + self.min_time > now:
                self.strikes += 1
        self.last_ping_at = now
        self.max_strikes_seen = max(self.max_strikes_seen, self.strikes)
        if self.strikes > 2:
            self.goaway = True


def run_connection(
    policy: PingPolicy,
    *,
    seconds: float,
    active_streams: int,
    data_times: set[float] = frozenset(),  # type: ignore[assignment]
    user_ping_every: float | None = None,
    step: float = 0.1,
) -> tuple[EtcdPingEnforcer, list[float]]:
    """Drive the policy against the enforcer on a zero-latency link, ``step`` ticks."""
    server = EtcdPingEnforcer()
    policy.connection_started(0.0)
    last_read = 0.0
    pings: list[float] = []
    ticks = round(seconds / step)
    for i in range(ticks + 1):
        now = round(i * step, 6)
        if now in data_times:
            server.server_wrote_headers_or_data()
            policy.data_received(now)
            last_read = now
        wants_user_ping = user_ping_every is not None and i % round(user_ping_every / step) == 0
        if policy.should_ping(now, last_read, active_streams) or (
            wants_user_ping and policy.may_ping(now)
        ):
            policy.ping_sent(now)
            pings.append(now)
            server.on_ping(now, active_streams)
            policy.ack_received(now)  # the ACK arrives at once on this link
            policy.bytes_received(now)
            last_read = now
        assert not policy.timed_out(now)
        if server.goaway:
            break
    return server, pings


def test_a8_keepalive_is_off_by_default() -> None:
    policy = PingPolicy()
    assert not policy.enabled
    _, pings = run_connection(policy, seconds=600, active_streams=3)
    assert pings == []
    assert policy.next_check(0.0, 0.0) is None


def test_a8_keepalive_time_is_clamped_to_10s() -> None:
    """grpc-go KeepaliveMinPingTime: etcdctl's --keepalive-time 2s becomes 10 s."""
    assert PingPolicy(time=2.0).time == 10.0
    assert PingPolicy(time=30.0).time == 30.0


def test_etcd_defaults_idle_client_held_two_minutes_sends_zero_pings() -> None:
    """No active stream and permit_without_calls False: never ping (etcd counts any ping
    within 2 h as a strike when no stream is open)."""
    policy = PingPolicy(time=10.0)
    server, pings = run_connection(policy, seconds=120, active_streams=0)
    assert pings == []
    assert server.pings == 0 and not server.goaway


def test_etcd_defaults_with_streams_time_10s_never_two_pings_within_5s() -> None:
    policy = PingPolicy(time=10.0)
    server, pings = run_connection(policy, seconds=600, active_streams=2)
    assert pings[:3] == [10.0, 20.0, 30.0]  # after 10 s without a read, then every 10 s
    assert len(pings) == 60
    assert all(b - a >= 5.0 for a, b in itertools.pairwise(pings))
    assert server.max_strikes_seen == 0 and not server.goaway


def test_a8_keepalive_measured_from_the_last_read() -> None:
    """Traffic keeps the connection proven alive: no pings while data flows."""
    policy = PingPolicy(time=10.0)
    data = {round(t * 0.1, 6) for t in range(0, 6001, 50)}  # a watch event every 5 s
    _, pings = run_connection(policy, seconds=600, active_streams=1, data_times=data)
    assert pings == []


def test_rate_limit_holds_eager_user_pings_to_the_clamp_without_server_data() -> None:
    """Every PING the shell sends goes through may_ping: 1 s user pings are spaced 10 s."""
    policy = PingPolicy()  # keepalive off; user pings only
    server, pings = run_connection(policy, seconds=300, active_streams=1, user_ping_every=1.0)
    assert len(pings) == 31
    assert all(b - a >= 10.0 for a, b in itertools.pairwise(pings))
    assert server.max_strikes_seen == 0


@settings(derandomize=True, max_examples=200, deadline=None)
@given(
    data_ticks=st.sets(st.integers(min_value=0, max_value=1200), max_size=200),
    streams=st.integers(min_value=1, max_value=3),
    time=st.sampled_from([None, 10.0, 15.0]),
    user_every=st.sampled_from([None, 0.1, 0.5, 3.0]),
)
def test_pings_never_reach_etcds_third_strike(
    data_ticks: set[int], streams: int, time: float | None, user_every: float | None
) -> None:
    """However the server's HEADERS/DATA and the shell's ping wishes interleave, the client's
    pings never earn etcd's third strike (grpc-go handlePing, maxPingStrikes 2)."""
    policy = PingPolicy(time=time)
    data = {round(t * 0.1, 6) for t in data_ticks}
    server, _ = run_connection(
        policy, seconds=120, active_streams=streams, data_times=data, user_ping_every=user_every
    )
    assert not server.goaway
    assert server.max_strikes_seen == 0


def test_data_after_the_ack_lets_the_next_ping_go_early() -> None:
    """grpc-go resets the strike counter when it writes HEADERS/DATA."""
    policy = PingPolicy(time=10.0)
    policy.ping_sent(0.0)
    policy.data_received(0.5)  # before the ACK: may predate the server's handling of the ping
    policy.ack_received(1.0)
    assert not policy.may_ping(2.0)
    policy.data_received(2.0)
    assert policy.may_ping(2.0)
    policy.ping_sent(2.5)
    policy.ack_received(2.6)
    assert not policy.may_ping(3.0)  # one free ping per reset
    assert policy.may_ping(12.5)


def test_permit_without_calls_pings_an_idle_connection_and_etcd_would_close_it() -> None:
    """Why the default is False: reference §4.1, at 10 s keepalive with no stream the 4th ping
    earns GOAWAY too_many_pings ~30 s after going idle."""
    policy = PingPolicy(time=10.0, permit_without_calls=True)
    server, pings = run_connection(policy, seconds=120, active_streams=0)
    assert server.goaway
    assert pings == [10.0, 20.0, 30.0, 40.0]


def test_a8_timeout_20s_without_any_read_after_a_ping() -> None:
    policy = PingPolicy(time=10.0)
    assert policy.timeout == 20.0
    policy.ping_sent(100.0)
    assert not policy.should_ping(115.0, 90.0, 1)  # one outstanding ping at a time
    assert policy.next_check(105.0, 90.0) == pytest.approx(15.0)
    assert not policy.timed_out(119.9)
    assert policy.timed_out(120.0)
    policy.bytes_received(120.5)  # any frame proves the peer alive
    assert not policy.timed_out(200.0)
    policy.ping_sent(300.0)
    policy.ack_received(300.1)
    assert not policy.timed_out(400.0)


def test_next_check_tracks_last_read_and_rate_limit() -> None:
    policy = PingPolicy(time=10.0)
    assert policy.next_check(3.0, 0.0) == pytest.approx(7.0)
    policy.ping_sent(10.0)
    policy.ack_received(10.0)
    # Read at 10 s: next keepalive at 20 s; the 10 s rate limit agrees.
    assert policy.next_check(12.0, 10.0) == pytest.approx(8.0)
    assert policy.next_check(30.0, 10.0) == 0.0


def test_grpc_go_adjust_params_doubles_time_on_too_many_pings() -> None:
    policy = PingPolicy(time=10.0)
    assert policy.on_goaway(ENHANCE_YOUR_CALM, b"too_many_pings")
    assert policy.time == 20.0
    assert policy.on_goaway(ENHANCE_YOUR_CALM, b"too_many_pings")
    assert policy.time == 40.0
    assert not policy.on_goaway(0x0, b"too_many_pings")  # NO_ERROR: graceful, not a penalty
    assert not policy.on_goaway(ENHANCE_YOUR_CALM, b"")
    assert policy.time == 40.0
    off = PingPolicy()
    assert not off.on_goaway(ENHANCE_YOUR_CALM, b"too_many_pings")
    assert off.time is None


def test_connection_started_forgets_the_previous_connection_but_keeps_time() -> None:
    policy = PingPolicy(time=10.0)
    policy.ping_sent(0.0)
    policy.on_goaway(ENHANCE_YOUR_CALM, b"too_many_pings")
    policy.connection_started(1.0)
    assert policy.may_ping(1.0)
    assert not policy.timed_out(100.0)
    assert policy.time == 20.0


@pytest.mark.parametrize("kwargs", [{"timeout": 0}, {"min_time": 0}, {"time": 0}, {"time": -1.0}])
def test_ping_policy_rejects_bad_parameters(kwargs: dict[str, float]) -> None:
    with pytest.raises(UsageError):
        PingPolicy(**kwargs)  # type: ignore[arg-type]


def test_random_is_not_needed_for_pings() -> None:
    """The ping policy is fully deterministic: same inputs, same pings."""
    rng = random.Random(1)
    data = {round(rng.randrange(0, 3000) * 0.1, 6) for _ in range(50)}
    first = run_connection(PingPolicy(time=10.0), seconds=300, active_streams=1, data_times=data)
    again = run_connection(PingPolicy(time=10.0), seconds=300, active_streams=1, data_times=data)
    assert first[1] == again[1]

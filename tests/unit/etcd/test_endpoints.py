"""Endpoint table (etcdwire._etcd.endpoints): state, backoff, choice, counters, auto-sync.

Rules: grpc doc/connection-backoff.md (pace of reconnects, reset on READY); etcd
client/v3 Sync/autoSync and eetcd auto_sync (skip learners and members without client URLs,
keep the transport's scheme); pinned (eetcd ``random``) and round_robin (Go clientv3, eetcd
``connect_all``) balancing.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etcdwire._etcd.endpoints import (
    EndpointState,
    EndpointStatus,
    EndpointTable,
    Pick,
    endpoints_from_members,
)
from etcdwire._etcd.retry import ConnectBackoff
from etcdwire._pb import rpc_pb2
from etcdwire.errors import ConnectFailed, ConnectionLost, UsageError

A, B, C = "http://127.0.0.1:2379", "http://127.0.0.2:2379", "http://127.0.0.3:2379"


def no_jitter() -> ConnectBackoff:
    return ConnectBackoff(jitter=0.0)


def table(policy: str = "pinned", eps: tuple[str, ...] = (A, B, C)) -> EndpointTable:
    return EndpointTable(list(eps), policy=policy, backoff_factory=no_jitter)  # type: ignore[arg-type]


def fail(t: EndpointTable, ep: str, at: float, *, started: float | None = None) -> None:
    t.connecting(ep, at if started is None else started)
    t.failed(ep, at, ConnectFailed("connection refused", endpoint=ep))


# --- pinned ------------------------------------------------------------------------------------


def test_pinned_keeps_the_first_endpoint_while_it_is_healthy() -> None:
    t = table()
    assert t.pick(0.0) == Pick(A, 0.0, EndpointState.IDLE)
    t.connecting(A, 0.0)
    assert t.pick(0.0) == Pick(A, 0.0, EndpointState.CONNECTING)
    t.ready(A, 0.1)
    for now in (1.0, 2.0, 50.0):
        assert t.pick(now) == Pick(A, 0.0, EndpointState.READY)
    assert t.pinned == A


def test_pinned_moves_to_the_next_endpoint_in_order_on_failure_and_stays() -> None:
    t = table()
    t.pick(0.0)
    fail(t, A, 0.0)
    assert t.pick(0.0).endpoint == B
    t.connecting(B, 0.0)
    t.ready(B, 0.01)
    # A's backoff ends at 1.0; the pin does not go back: no churn of streams.
    assert t.pick(5.0).endpoint == B
    fail(t, B, 6.0)
    assert t.pick(6.0).endpoint == C
    fail(t, C, 6.0)
    # A is usable again (its backoff ended): the rotation wraps around.
    assert t.pick(6.0) == Pick(A, 0.0, EndpointState.IDLE)


def test_pinned_prefers_a_ready_endpoint_over_an_idle_one() -> None:
    t = table()
    t.pick(0.0)
    t.connecting(C, 0.0)
    t.ready(C, 0.0)  # e.g. a maintenance call against C made a connection
    fail(t, A, 1.0)
    assert t.pick(1.0) == Pick(C, 0.0, EndpointState.READY)


def test_pinned_exclude_moves_the_pin_and_falls_back_to_the_excluded_one() -> None:
    """RetryDecision.switch_endpoint: the next attempt avoids the endpoint that failed."""
    t = table()
    t.pick(0.0)
    t.ready(A, 0.0)
    assert t.pick(0.0, exclude={A}).endpoint == B
    assert t.pinned == B
    single = table(eps=(A,))
    assert single.pick(0.0, exclude={A}).endpoint == A


def test_pinned_prefers_an_excluded_usable_endpoint_over_waiting_for_backoff() -> None:
    t = table()
    t.pick(0.0)
    t.ready(A, 0.0)
    fail(t, B, 0.0)
    fail(t, C, 0.0)
    assert t.pick(0.5, exclude={A}) == Pick(A, 0.0, EndpointState.READY)


# --- round robin -------------------------------------------------------------------------------


def test_round_robin_rotates_over_ready_and_idle_endpoints() -> None:
    t = table("round_robin")
    t.ready(B, 0.0)
    assert [t.pick(0.0).endpoint for _ in range(7)] == [A, B, C, A, B, C, A]
    assert t.pinned is None


def test_round_robin_skips_endpoints_backing_off_until_their_time() -> None:
    t = table("round_robin")
    fail(t, B, 0.0)  # backing off until 1.0
    assert [t.pick(0.5).endpoint for _ in range(4)] == [A, C, A, C]
    assert [t.pick(1.0).endpoint for _ in range(3)] == [A, B, C]


def test_round_robin_exclude() -> None:
    t = table("round_robin")
    assert [t.pick(0.0, exclude={A, B}).endpoint for _ in range(3)] == [C, C, C]
    assert t.pick(0.0, exclude={A, B, C}).endpoint in {A, B, C}


# --- everything backing off --------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["pinned", "round_robin"])
def test_all_backing_off_returns_the_earliest_with_its_wait(policy: str) -> None:
    t = table(policy)
    fail(t, A, 0.0)  # until 1.0
    fail(t, A, 1.0)  # until 1.0 + 1.6 = 2.6
    fail(t, B, 0.5)  # until 1.5
    fail(t, C, 0.2)  # until 1.2
    pick = t.pick(1.0)
    assert pick.endpoint == C
    assert pick.wait == pytest.approx(0.2)
    assert pick.state is EndpointState.BACKING_OFF
    # Once C's time has come it is simply usable.
    assert t.pick(1.2) == Pick(C, 0.0, EndpointState.IDLE)


def test_all_backing_off_ties_go_to_list_order() -> None:
    t = table()
    for ep in (C, B, A):
        fail(t, ep, 0.0)
    assert t.pick(0.0) == Pick(A, 1.0, EndpointState.BACKING_OFF)


# --- backoff timing (connection-backoff.md) ----------------------------------------------------


def test_connection_backoff_md_next_attempt_is_measured_from_attempt_start() -> None:
    """SleepUntil(current_deadline) where current_deadline = attempt start + backoff."""
    t = table()
    t.connecting(A, 10.0)
    t.failed(A, 10.2, ConnectFailed("refused"))
    assert t.state(A, 10.5) is EndpointState.BACKING_OFF
    assert t.rows(10.5)[0].backing_off_until == pytest.approx(0.5)  # 10 + 1 s - 10.5
    assert t.state(A, 11.0) is EndpointState.IDLE
    t.connecting(A, 11.0)
    t.failed(A, 11.1, ConnectFailed("refused"))
    assert t.rows(11.1)[0].backing_off_until == pytest.approx(1.5)  # 11 + 1.6 - 11.1


def test_connection_backoff_md_slow_failure_retries_at_once() -> None:
    """An attempt that used its whole 20 s connect timeout is past its deadline already."""
    t = table()
    t.connecting(A, 0.0)
    assert t.connect_timeout(A, 0.0) == 20.0
    t.failed(A, 20.0, ConnectFailed("timed out"))
    assert t.state(A, 20.0) is EndpointState.IDLE
    assert t.pick(20.0) == Pick(A, 0.0, EndpointState.IDLE)


def test_connection_backoff_md_ready_resets_and_a_flapping_server_is_still_paced() -> None:
    """Backoff resets on READY; a server that accepts then drops at once waits >= 1 s."""
    t = table(eps=(A,))
    for _ in range(5):
        fail(t, A, 0.0)
    t.connecting(A, 100.0)
    t.ready(A, 100.01)
    t.failed(A, 100.02, ConnectionLost("EOF"))
    assert t.pick(100.02) == Pick(A, pytest.approx(0.98), EndpointState.BACKING_OFF)  # type: ignore[arg-type]


def test_a_long_lived_connection_that_breaks_may_reconnect_at_once() -> None:
    t = table(eps=(A,))
    t.connecting(A, 0.0)
    t.ready(A, 0.01)
    t.failed(A, 3600.0, ConnectionLost("connection reset"))
    assert t.pick(3600.0) == Pick(A, 0.0, EndpointState.IDLE)


def test_a_failure_reported_twice_counts_once_and_does_not_lengthen_the_backoff() -> None:
    t = table(eps=(A,))
    t.connecting(A, 0.0)
    t.failed(A, 0.1, ConnectFailed("refused"))
    t.failed(A, 0.2, ConnectionLost("EOF"))
    row = t.rows(0.5)[0]
    assert row.failures == 1
    assert row.backing_off_until == pytest.approx(0.5)  # still 0 + 1 s
    assert row.last_error == "ConnectionLost: EOF"
    assert row.last_error_ago == pytest.approx(0.3)


def test_fatal_failure_waits_the_maximum_backoff() -> None:
    t = table()
    t.connecting(A, 0.0)
    t.failed(A, 0.0, ConnectFailed("certificate verify failed"), fatal=True)
    assert t.state(A, 1.0) is EndpointState.FAILED
    assert t.rows(1.0)[0].backing_off_until == pytest.approx(119.0)
    assert t.pick(1.0).endpoint == B
    assert t.state(A, 120.0) is EndpointState.IDLE


def test_idle_after_graceful_close_keeps_backoff_and_reconnects_at_once() -> None:
    t = table(eps=(A,))
    t.connecting(A, 0.0)
    t.ready(A, 0.0)
    t.count(A, streams=3)
    t.idle(A, 5.0)  # drained after GOAWAY NO_ERROR
    row = t.rows(5.0)[0]
    assert row.state is EndpointState.IDLE and row.streams_open == 0 and row.failures == 0
    assert t.pick(5.0) == Pick(A, 0.0, EndpointState.IDLE)


def test_default_backoff_factory_uses_the_tables_rng() -> None:
    def run(seed: int) -> float:
        t = EndpointTable([A], rng=random.Random(seed))
        for i in range(4):
            fail(t, A, float(i * 1000))
        row = t.rows(3000.0)[0]
        assert row.backing_off_until is not None
        return row.backing_off_until

    assert run(1) == run(1)
    assert run(1) != run(2)


# --- set_endpoints (auto-sync) -----------------------------------------------------------------


def test_set_endpoints_keeps_state_of_kept_ones_and_returns_removed() -> None:
    t = table()
    t.pick(0.0)
    t.ready(A, 0.0)
    t.count(A, streams=2, leases=1, watches=4)
    fail(t, B, 0.0)
    D = "http://127.0.0.4:2379"
    removed = t.set_endpoints([B, A, D, D])
    assert removed == [C]
    assert t.endpoints == (B, A, D)
    assert t.pinned == A
    rows = {row.endpoint: row for row in t.rows(0.5)}
    assert rows[A].state is EndpointState.READY and rows[A].watches == 4 and rows[A].connects == 1
    assert rows[B].state is EndpointState.BACKING_OFF and rows[B].failures == 1
    assert rows[D].state is EndpointState.IDLE and rows[D].connects == 0
    assert C not in t and D in t and len(t) == 3 and list(t) == [B, A, D]


def test_set_endpoints_unpins_a_removed_endpoint() -> None:
    t = table()
    t.pick(0.0)
    t.ready(A, 0.0)
    t.set_endpoints([B, C])
    assert t.pinned is None
    assert t.pick(0.0).endpoint == B


@pytest.mark.parametrize("bad", [[], [""], [None]])
def test_set_endpoints_rejects_empty_lists_and_entries(bad: list[str]) -> None:
    with pytest.raises(UsageError):
        EndpointTable(bad)


def test_events_for_endpoints_no_longer_in_the_table_are_ignored() -> None:
    """A connect attempt may finish after auto-sync removed its endpoint."""
    t = table()
    t.set_endpoints([A])
    t.connecting(B, 0.0)
    t.ready(B, 0.0)
    t.failed(B, 0.0, ConnectFailed())
    t.idle(B, 0.0)
    t.count(B, streams=1)
    assert t.endpoints == (A,)
    with pytest.raises(UsageError):
        t.state(B, 0.0)


def test_unknown_policy_is_rejected() -> None:
    with pytest.raises(UsageError):
        EndpointTable([A], policy="random")  # type: ignore[arg-type]


# --- counters and rows -------------------------------------------------------------------------


def test_rows_report_every_counter_for_client_info() -> None:
    t = table()
    t.pick(0.0)
    t.connecting(A, 0.0)
    t.ready(A, 0.05)
    t.count(A, streams=2, leases=3, watches=5)
    t.count(A, streams=-1)
    t.count(A, leases=-10)  # never below zero
    t.connecting(B, 1.0)
    t.failed(B, 1.5, ConnectFailed("connection refused"))
    t.connecting(C, 2.0)
    t.failed(C, 2.0, ConnectFailed())
    rows = t.rows(2.5)
    assert rows[0] == EndpointStatus(
        endpoint=A,
        state=EndpointState.READY,
        active=True,
        backing_off_until=None,
        last_error=None,
        last_error_ago=None,
        connects=1,
        failures=0,
        streams_open=1,
        leases=0,
        watches=5,
    )
    assert rows[1].state is EndpointState.IDLE  # 1.0 + 1 s backoff ended at 2.0
    assert rows[1].last_error == "ConnectFailed: connection refused"
    assert rows[1].last_error_ago == pytest.approx(1.0)
    assert rows[1].failures == 1 and not rows[1].active
    assert rows[2].state is EndpointState.BACKING_OFF
    assert rows[2].backing_off_until == pytest.approx(0.5)
    assert rows[2].last_error == "ConnectFailed"


def test_failure_closes_the_streams_of_that_connection() -> None:
    t = table()
    t.ready(A, 0.0)
    t.count(A, streams=4, leases=1, watches=2)
    t.failed(A, 1.0, ConnectionLost("EOF"))
    row = t.rows(1.0)[0]
    assert row.streams_open == 0
    assert (row.leases, row.watches) == (1, 2)  # re-homed by the shell, which updates these


def test_active_flag_per_policy() -> None:
    rr = table("round_robin")
    rr.ready(A, 0.0)
    rr.ready(C, 0.0)
    assert [row.active for row in rr.rows(0.0)] == [True, False, True]
    pinned = table()
    pinned.ready(A, 0.0)
    pinned.ready(C, 0.0)
    assert [row.active for row in pinned.rows(0.0)] == [True, False, False]  # ready() pins A


# --- invariant under random event sequences ----------------------------------------------------

EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["connecting", "ready", "failed", "fatal", "idle", "pick", "exclude"]),
        st.sampled_from([A, B, C]),
        st.floats(min_value=0.0, max_value=5.0),
    ),
    max_size=60,
)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(policy=st.sampled_from(["pinned", "round_robin"]), events=EVENTS)
def test_pick_never_returns_an_endpoint_backing_off_while_another_is_usable(
    policy: str, events: list[tuple[str, str, float]]
) -> None:
    t = EndpointTable([A, B, C], policy=policy, rng=random.Random(0))  # type: ignore[arg-type]
    now = 0.0
    for kind, ep, step in events:
        now += step
        if kind == "connecting":
            t.connecting(ep, now)
        elif kind == "ready":
            t.ready(ep, now)
        elif kind in ("failed", "fatal"):
            t.failed(ep, now, ConnectFailed(), fatal=kind == "fatal")
        elif kind == "idle":
            t.idle(ep, now)
        else:
            exclude = {ep} if kind == "exclude" else set()
            pick = t.pick(now, exclude=exclude)
            states = {e: t.state(e, now) for e in (A, B, C)}
            usable = {e for e, s in states.items() if s not in _WAITING}
            if usable:
                assert pick.wait == 0.0 and pick.endpoint in usable
                if usable - exclude:
                    assert pick.endpoint not in exclude
            else:
                assert pick.wait > 0.0
                waits = [r.backing_off_until for r in t.rows(now)]
                assert pick.wait == pytest.approx(min(w for w in waits if w is not None))
            if policy == "pinned":
                assert t.pinned == pick.endpoint


_WAITING = {EndpointState.BACKING_OFF, EndpointState.FAILED}


# --- endpoints_from_members (Go Client.Sync, eetcd auto_sync) ----------------------------------


def member(urls: list[str], *, learner: bool = False, name: str = "m") -> rpc_pb2.Member:
    return rpc_pb2.Member(name=name, clientURLs=urls, isLearner=learner, peerURLs=["http://p"])


def test_endpoints_from_members_skips_learners_and_members_without_client_urls() -> None:
    members = [
        member(["http://10.0.0.1:2379"]),
        member(["http://10.0.0.2:2379"], learner=True),
        member([]),  # added but not started: no client URLs yet
        member(["http://10.0.0.3:2379", "http://10.0.0.3:22379"]),
    ]
    assert endpoints_from_members(members, tls=False) == [
        "http://10.0.0.1:2379",
        "http://10.0.0.3:2379",
        "http://10.0.0.3:22379",
    ]


@pytest.mark.parametrize(
    ("tls", "expected"),
    [
        (False, ["http://a:2379", "unix://sock"]),
        (True, ["https://b:2379", "unixs://sock"]),
    ],
)
def test_endpoints_from_members_keeps_the_transports_scheme(tls: bool, expected: list[str]) -> None:
    members = [
        member(["http://a:2379", "https://b:2379"]),
        member(["unix://sock", "unixs://sock", "ftp://c", "no-scheme:2379", "http://"]),
    ]
    assert endpoints_from_members(members, tls=tls) == expected


def test_endpoints_from_members_normalises_and_dedupes() -> None:
    members = [member(["HTTP://a:2379/", " http://a:2379"]), member(["http://b:2379"])]
    assert endpoints_from_members(members, tls=False) == ["http://a:2379", "http://b:2379"]


def test_endpoints_from_members_feeds_set_endpoints() -> None:
    t = EndpointTable(["http://a:2379"])
    t.ready("http://a:2379", 0.0)
    response = rpc_pb2.MemberListResponse(
        members=[member(["http://a:2379"]), member(["http://b:2379"])]
    )
    assert t.set_endpoints(endpoints_from_members(response.members, tls=False)) == []
    assert t.endpoints == ("http://a:2379", "http://b:2379")
    assert t.state("http://a:2379", 0.0) is EndpointState.READY

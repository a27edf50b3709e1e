"""The chaos test's checks catch what they claim to: a check that cannot fail proves nothing.
Pure data, no servers."""

from __future__ import annotations

from etcdwire import NoEndpointAvailable
from etcdwire.types import EventType

from .checks import check_counters, check_lock_owners, check_puts, check_sections, check_watches
from .workload import ACKED, AMBIGUOUS, Ledger, Section, WatchLog

PUT, DELETE = EventType.PUT, EventType.DELETE
HISTORY = [(10, b"a", PUT), (11, b"b", PUT), (11, b"c", PUT), (12, b"d", PUT)]


def log_of(events: list[tuple[int, bytes, EventType]]) -> WatchLog:
    log = WatchLog()
    for event in events:
        log.add(*event)
    return log


def test_a_watch_with_the_exact_history_passes() -> None:
    assert check_watches([log_of(HISTORY), log_of(HISTORY)], HISTORY) == ([], 0, 0)


def test_a_missed_event_is_reported() -> None:
    problems, missed, repeated = check_watches([log_of(HISTORY[:2] + HISTORY[3:])], HISTORY)
    assert (missed, repeated) == (1, 0)
    assert "3 events, the store has 4" in problems[0]


def test_a_repeated_revision_is_reported_even_when_the_rest_matches() -> None:
    log = log_of([*HISTORY[:3], HISTORY[1], HISTORY[3]])  # 11/b again after 11/c
    problems, missed, repeated = check_watches([log], HISTORY)
    assert (missed, repeated) == (0, 1)
    assert problems == ["watch 0 repeated [(11, b'b')]"]


def test_an_older_revision_after_a_newer_one_is_a_repeat() -> None:
    log = log_of([*HISTORY, (10, b"a", PUT)])
    assert log.repeated == [(10, b"a")]


def test_a_changed_event_fails_the_digest() -> None:
    changed = [*HISTORY[:3], (12, b"x", PUT)]
    problems, missed, _ = check_watches([log_of(changed)], HISTORY)
    assert missed == 0 and len(problems) == 1


def test_puts_missing_rewritten_foreign_or_unsent_are_reported() -> None:
    ledger = Ledger()
    log = ledger.put_log("w")
    for seq, (revision, error) in enumerate(
        [(5, None), (6, None), (None, None), (None, NoEndpointAvailable("down"))], start=1
    ):
        assert log.begin(pair=False) == seq
        log.record(seq, revision, error)
    key = log.keys
    store = {
        key(1)[0]: (5, 1),  # acked and stored: fine
        key(3)[0]: (9, 2),  # ambiguous may be stored, but only once
        key(4)[0]: (10, 1),  # reported as never sent, yet stored
        b"chaos/w/w/0000009": (11, 1),  # no such put
    }
    problems = check_puts(ledger, store)
    assert any("0000002" in p and "missing" in p for p in problems)
    assert any("0000003" in p and "2 times" in p for p in problems)
    assert any("0000004" in p and "unsent" in p for p in problems)
    assert any("0000009" in p and "never written" in p for p in problems)
    assert len(problems) == 4
    assert (ledger.keys_with(ACKED), ledger.keys_with(AMBIGUOUS)) == (2, 1)


def test_pair_puts_are_two_keys_at_one_revision() -> None:
    ledger = Ledger()
    log = ledger.put_log("w")
    seq = log.begin(pair=True)
    log.record(seq, 7, None)
    a, b = log.keys(seq)
    assert check_puts(ledger, {a: (7, 1), b: (7, 1)}) == []
    assert check_puts(ledger, {a: (7, 1)}) == [f"acknowledged put of {b!r} (revision 7) is missing"]
    assert ledger.keys_with(ACKED) == 2


def test_counter_outside_acked_plus_ambiguous_is_reported() -> None:
    ledger = Ledger()
    ledger.cas_acked[b"c"] = 10
    ledger.cas_ambiguous[b"c"] = 2
    assert check_counters(ledger, {b"c": 12}) == []
    assert check_counters(ledger, {b"c": 9}) != []
    assert check_counters(ledger, {b"c": 13}) != []


def test_overlapping_sections_are_reported() -> None:
    fine = [Section("a", b"k1", 1.0, 2.0), Section("b", b"k2", 2.0, 3.0)]
    assert check_sections(fine, "mutex") == []
    overlap = [Section("a", b"k1", 1.0, 2.5), Section("b", b"k2", 2.0, 3.0)]
    assert len(check_sections(overlap, "mutex")) == 1


def test_lock_owner_replay_follows_create_revisions() -> None:
    history = [
        (5, b"lock/a", PUT),
        (6, b"lock/b", PUT),  # b waits behind a
        (8, b"lock/a", DELETE),  # a releases: b owns from 8
    ]
    good = [Section("a", b"lock/a", 0, 0, guard_revision=7), Section("b", b"lock/b", 0, 0, 9)]
    assert check_lock_owners(good, history) == []
    # b acting as owner at revision 7, while a still held the lock
    bad = [Section("b", b"lock/b", 0, 0, guard_revision=7)]
    assert check_lock_owners(bad, history) == [
        "at revision 7 b held b'lock/b' but the owner was b'lock/a'"
    ]

"""End-of-run checks for the chaos test: each returns a list of problems (empty: all good), so
one run reports every kind of loss at once."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import itertools
import os
import sys
import threading
import time
from dataclasses import dataclass

from etcdwire import Client
from etcdwire.types import EventType

from .workload import ACKED, NEVER_SENT, Ledger, Section, WatchLog, parse_put_key

History = list[tuple[int, bytes, EventType]]


def store_history(client: Client, prefix: str, start_revision: int, until: int) -> History:
    """Every event under ``prefix`` from ``start_revision`` to ``until``, from a fresh watch."""
    events: History = []
    if until < start_revision:
        return events
    with client.watch(prefix, prefix=True, start_revision=start_revision) as watch:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            response = watch.receive(timeout=1.0)
            if response is None:  # caught up with the events: ask where the store is
                watch.request_progress()
                continue
            events += [(e.kv.mod_revision, e.kv.key, e.type) for e in response.events]
            if response.revision >= until:
                return [event for event in events if event[0] <= until]
    raise TimeoutError(f"history of {prefix!r} stopped at {events[-1:]}, want {until}")


def wait_watches(logs: list[WatchLog], last: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while any(log.last_revision < last for log in logs):
        if time.monotonic() > deadline:
            return  # the comparison reports what is missing
        time.sleep(0.1)


def check_watches(logs: list[WatchLog], history: History) -> tuple[list[str], int, int]:
    """Each watch saw exactly the store's history, once and in order:
    (problems, events missed, events repeated)."""
    reference = WatchLog()
    for revision, key, kind in history:
        reference.add(revision, key, kind)
    problems: list[str] = []
    missed = repeated = 0
    for index, log in enumerate(logs):
        repeated += len(log.repeated)
        if log.count == reference.count and log.digest.digest() == reference.digest.digest():
            if log.repeated:
                problems.append(f"watch {index} repeated {log.repeated[:5]}")
            continue
        missed += max(0, reference.count - log.count)
        problems.append(
            f"watch {index}: {log.count} events, the store has {reference.count}; "
            f"repeated {log.repeated[:5]}; last seen {list(log.tail)}, "
            f"store ends with {list(reference.tail)}"
        )
    return problems, missed, repeated


def check_puts(ledger: Ledger, store: dict[bytes, tuple[int, int]]) -> list[str]:
    """``store``: key -> (mod_revision, version) of every key under the watched prefix."""
    problems: list[str] = []
    for log in ledger.puts.values():
        for seq in range(1, len(log) + 1):
            if log.status[seq - 1] != ACKED:
                continue
            revision = log.revisions[seq - 1]
            for key in log.keys(seq):
                if key not in store:
                    problems.append(f"acknowledged put of {key!r} (revision {revision}) is missing")
                elif store[key][0] != revision:
                    problems.append(
                        f"{key!r} has revision {store[key][0]}, the ack said {revision}"
                    )
    for key, (revision, version) in store.items():
        if version != 1:
            problems.append(f"{key!r} was written {version} times (revision {revision})")
        parsed = parse_put_key(key)
        writer = ledger.puts.get(parsed[0]) if parsed else None
        if parsed is None or writer is None or not 1 <= parsed[1] <= len(writer):
            problems.append(f"{key!r} is in the store but was never written")
            continue
        _, seq, suffix = parsed
        if suffix not in (("a", "b") if writer.pairs[seq - 1] else ("",)):
            problems.append(f"{key!r} is in the store but was never written")
        elif writer.status[seq - 1] == NEVER_SENT:
            problems.append(f"{key!r} is in the store though its put was reported unsent")
    return problems


def check_counters(ledger: Ledger, values: dict[bytes, int]) -> list[str]:
    problems = []
    for key, value in values.items():
        low = ledger.cas_acked[key]
        high = low + ledger.cas_ambiguous[key]
        if not low <= value <= high:
            problems.append(f"counter {key!r} = {value}, acked {low}, ambiguous up to {high}")
    return problems


def check_sections(sections: list[Section], what: str) -> list[str]:
    """Critical sections (or terms) never overlap in time (one process, one clock)."""
    problems = []
    ordered = sorted(sections, key=lambda s: s.enter)
    for before, after in itertools.pairwise(ordered):
        if after.enter < before.exit:
            problems.append(
                f"{what}: {after.worker} entered {before.exit - after.enter:.4f}s before "
                f"{before.worker} left"
            )
    return problems


def check_lock_owners(
    sections: list[Section], lock_history: History, final_keys: set[bytes] | None = None
) -> list[str]:
    """Replays the lock keys' history: at the revision of each owner-guarded txn made inside a
    critical section, the key with the lowest create revision (the owner) was that worker's.
    With ``final_keys`` (the keys under the prefix now), the replay must end in that state."""
    problems = []
    guarded = sorted((s for s in sections if s.guard_revision), key=lambda s: s.guard_revision)
    present: dict[bytes, int] = {}
    position = 0
    for section in guarded:
        while position < len(lock_history) and lock_history[position][0] <= section.guard_revision:
            revision, key, kind = lock_history[position]
            if kind == EventType.PUT:
                present.setdefault(key, revision)
            else:
                present.pop(key, None)
            position += 1
        owner = min(present, key=present.__getitem__) if present else None
        if owner != section.key:
            problems.append(
                f"at revision {section.guard_revision} {section.worker} held {section.key!r} "
                f"but the owner was {owner!r}"
            )
    if final_keys is not None:
        for revision, key, kind in lock_history[position:]:
            if kind == EventType.PUT:
                present.setdefault(key, revision)
            else:
                present.pop(key, None)
        if set(present) != final_keys:
            problems.append(
                f"the lock history replays to {sorted(present)}, the store holds "
                f"{sorted(final_keys)}"
            )
    return problems


# --------------------------------------------------------------------------------------------
# process resources
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resources:
    threads: int
    sockets: int
    rss_kib: int
    blocks: int  # memory blocks allocated by Python's allocator (sys.getallocatedblocks)
    client_objects: int  # live instances of the client's machinery (see _LIVE_MODULES)

    def __str__(self) -> str:
        return (
            f"threads={self.threads} sockets={self.sockets} rss={self.rss_kib / 1024:.1f}MiB "
            f"blocks={self.blocks} etcdwire_objects={self.client_objects}"
        )


def socket_fds() -> set[int]:
    fds = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                fds.add(int(name))
        except OSError:
            continue
    return fds


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# Where the client's live machinery is defined (clients, managers, channels, connections,
# streams, watches, kept leases, recipes, tasks): none may outlive the clients. Value types
# and per-method header templates are shared caches and are not counted.
_LIVE_MODULES = ("etcdwire._async", "etcdwire._sync", "etcdwire._backends", "etcdwire._compat")


def _malloc_trim() -> None:
    """Hand free heap pages back to the OS (glibc), so RSS shows what is really in use."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def measure(exclude_fds: set[int]) -> Resources:
    gc.collect()
    _malloc_trim()
    return Resources(
        threading.active_count(),
        len(socket_fds() - exclude_fds),
        rss_kib(),
        sys.getallocatedblocks(),
        sum(1 for obj in gc.get_objects() if type(obj).__module__.startswith(_LIVE_MODULES)),
    )

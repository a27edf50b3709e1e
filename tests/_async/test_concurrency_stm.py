"""The STM recipe (issue 6, point 4) against real etcd: bank transfers between 10 accounts
keep the total under the isolation levels that promise it, and forced interleavings show what
each weaker level gives up (Go's concurrency/stm.go semantics)."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from etcdwire import AsyncClient, AsyncSTM, Isolation, TxnRetriesExhausted, UsageError
from etcdwire._compat import aspawn

pytestmark = pytest.mark.etcd

IS_ASYNC = True
WORKERS = 10 if IS_ASYNC else 4
TRANSFERS = 15
ACCOUNTS = 10
OPENING = 100

PROMISING = [Isolation.SERIALIZABLE_SNAPSHOT, Isolation.SERIALIZABLE, Isolation.REPEATABLE_READS]


def bank() -> list[str]:
    prefix = f"stm-{uuid.uuid4().hex[:8]}"
    return [f"{prefix}/acct{i}" for i in range(ACCOUNTS)]


async def open_accounts(client: AsyncClient, accounts: list[str]) -> None:
    for account in accounts:
        await client.put(account, str(OPENING))


async def balances(client: AsyncClient, accounts: list[str]) -> list[int]:
    return [int((await client.get(a)).kvs[0].value) for a in accounts]


def transfer(source: str, target: str, amount: int, hook: Any = None) -> Any:
    """An STM function moving ``amount`` from ``source`` to ``target`` if it is covered;
    ``hook`` runs between the reads and the writes (to force an interleaving)."""

    async def apply(stm: AsyncSTM) -> None:
        have = int(await stm.get(source))
        other = int(await stm.get(target))
        if hook is not None:
            await hook(stm)
        if have >= amount:
            stm.put(source, str(have - amount))
            stm.put(target, str(other + amount))

    return apply


@pytest.mark.parametrize("isolation", PROMISING, ids=lambda i: i.name)
async def test_stm_concurrent_transfers_keep_the_total(etcd: Any, isolation: Isolation) -> None:
    """Issue 6 point 4: under the levels that check what was read, concurrent transfers
    neither create nor destroy money and no account goes negative."""
    accounts = bank()
    attempts: list[int] = []
    async with AsyncClient(etcd.url) as client:
        await open_accounts(client, accounts)

        async def worker(seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(TRANSFERS):
                source, target = rng.sample(accounts, 2)
                amount = rng.randint(1, 60)
                apply = transfer(source, target, amount)

                async def counted(stm: AsyncSTM, apply: Any = apply) -> None:
                    await apply(stm)
                    if stm.attempt > 1:
                        attempts.append(stm.attempt)

                await AsyncSTM.run(client, counted, isolation=isolation)

        tasks = [aspawn(worker, seed) for seed in range(WORKERS)]
        for task in tasks:
            await task.join(120)
        final = await balances(client, accounts)
        assert sum(final) == OPENING * ACCOUNTS
        assert min(final) >= 0
        assert attempts, "the workers never met a conflict: the test proves nothing"


async def interleaved_transfer(client: AsyncClient, isolation: Isolation) -> tuple[list[int], int]:
    """Transfer 50 from a to b; between its reads and its writes (first attempt only),
    another transaction moves 30 from a to c. Returns the balances and the attempts."""
    accounts = bank()[:3]
    a, b, c = accounts
    await open_accounts(client, accounts)
    tries: list[int] = []

    async def interfere(stm: AsyncSTM) -> None:
        tries.append(stm.attempt)
        if stm.attempt == 1:
            await AsyncSTM.run(client, transfer(a, c, 30))

    await AsyncSTM.run(client, transfer(a, b, 50, interfere), isolation=isolation)
    return await balances(client, accounts), len(tries)


@pytest.mark.parametrize("isolation", PROMISING, ids=lambda i: i.name)
async def test_stm_conflicting_transfer_retries_and_keeps_the_total(
    etcd: Any, isolation: Isolation
) -> None:
    async with AsyncClient(etcd.url) as client:
        final, runs = await interleaved_transfer(client, isolation)
    assert runs == 2  # the first commit met the conflict; the second run saw a = 70
    assert final == [20, 150, 130] and sum(final) == 3 * OPENING


async def test_stm_read_committed_loses_an_update(etcd: Any) -> None:
    """Issue 6 point 4, the weaker level: READ_COMMITTED checks nothing at commit, so the
    same interleaving overwrites the other transfer (a lost update) and money appears."""
    async with AsyncClient(etcd.url) as client:
        final, runs = await interleaved_transfer(client, Isolation.READ_COMMITTED)
    assert runs == 1
    assert final == [50, 150, 130] and sum(final) == 3 * OPENING + 30


async def test_stm_serializable_allows_a_blind_write_over_a_newer_one(etcd: Any) -> None:
    """SERIALIZABLE only guards keys it read: a key written without being read may have
    changed since the first read and is overwritten. SERIALIZABLE_SNAPSHOT also checks that
    written keys did not change after the first read, and retries."""
    outcomes = {}
    async with AsyncClient(etcd.url) as client:
        for isolation in (Isolation.SERIALIZABLE, Isolation.SERIALIZABLE_SNAPSHOT):
            base = f"stm-{uuid.uuid4().hex[:8]}"
            await client.put(f"{base}/read", "r")
            await client.put(f"{base}/blind", "old")
            runs: list[int] = []

            async def apply(stm: AsyncSTM, base: str = base, runs: list[int] = runs) -> None:
                runs.append(stm.attempt)
                await stm.get(f"{base}/read")
                if stm.attempt == 1:
                    await client.put(f"{base}/blind", "newer")  # after our first read
                stm.put(f"{base}/blind", f"ours-{stm.attempt}")

            await AsyncSTM.run(client, apply, isolation=isolation)
            outcomes[isolation] = (len(runs), (await client.get(f"{base}/blind")).kvs[0].value)
    assert outcomes[Isolation.SERIALIZABLE] == (1, b"ours-1")
    assert outcomes[Isolation.SERIALIZABLE_SNAPSHOT] == (2, b"ours-2")


async def test_stm_reads_at_one_revision_prefetch_rev_delete_and_limits(etcd: Any) -> None:
    base = f"stm-{uuid.uuid4().hex[:8]}"
    async with AsyncClient(etcd.url) as client:
        await client.put(f"{base}/x", "1")
        await client.put(f"{base}/y", "1")
        seen: list[tuple[bytes, bytes, int]] = []

        async def apply(stm: AsyncSTM) -> None:
            x = await stm.get(f"{base}/x")
            if stm.attempt == 1:
                await client.put(f"{base}/y", "2")  # after the first read
            y = await stm.get(f"{base}/y")  # read at the first read's revision: still 1
            seen.append((x, y, await stm.rev(f"{base}/x")))
            assert await stm.get(f"{base}/missing") == b""
            stm.delete(f"{base}/x")
            assert await stm.get(f"{base}/x") == b""  # reads its own writes

        response = await AsyncSTM.run(client, apply, prefetch=[f"{base}/x", f"{base}/y"])
        assert response.succeeded
        assert seen[0][:2] == (b"1", b"1")  # prefetched together, before the put
        assert (await client.get(f"{base}/x")).kvs == ()
        x_rev = seen[0][2]
        assert x_rev > 0

        async def always_conflicts(stm: AsyncSTM) -> None:
            await stm.get(f"{base}/y")
            await client.put(f"{base}/y", str(stm.attempt))
            stm.put(f"{base}/z", "never")

        with pytest.raises(TxnRetriesExhausted):
            await AsyncSTM.run(client, always_conflicts, max_retries=2)
        assert (await client.get(f"{base}/z")).kvs == ()
        with pytest.raises(UsageError):
            await AsyncSTM.run(client, always_conflicts, max_retries=-1)

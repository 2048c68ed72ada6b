"""Servers boot a few at a time, first come first served (paved.spawner.start_slots), so in a burst of spawns
the first users get their servers early instead of everyone at the end (issue 13)."""

from __future__ import annotations

import asyncio

import pytest

from paved.spawner.local import LocalProjectSpawner
from paved.spawner.start_slots import StartSlots


async def _burst(slots: StartSlots, spawns: int) -> tuple[list[int], int, dict[int, int]]:
    """``spawns`` spawns arriving in order at once; each boots until the test lets it finish. Returns the order
    they started booting, the most booting at once, and how many each was told were ahead of it."""
    order: list[int] = []
    booting = most = 0
    ahead: dict[int, int] = {}
    finish = {i: asyncio.Event() for i in range(spawns)}

    async def spawn(i: int) -> None:
        nonlocal booting, most
        async with slots.slot(on_wait=lambda n: ahead.__setitem__(i, n)):
            order.append(i)
            booting += 1
            most = max(most, booting)
            await finish[i].wait()
            booting -= 1

    tasks = [asyncio.create_task(spawn(i)) for i in range(spawns)]
    for i in range(spawns):  # servers answer in the order they booted
        while i not in order:
            await asyncio.sleep(0)
        finish[i].set()
    await asyncio.gather(*tasks)
    return order, most, ahead


@pytest.mark.parametrize(("limit", "spawns"), [(1, 5), (4, 50), (4, 3), (8, 50)])
def test_at_most_limit_boot_at_once_in_arrival_order(limit, spawns):
    slots = StartSlots(limit)
    order, most, ahead = asyncio.run(_burst(slots, spawns))
    assert order == list(range(spawns))
    assert most == min(limit, spawns)
    # who had to queue was told how many were ahead: those booting and those queued before it
    assert ahead == {i: i for i in range(limit, spawns)}
    assert (slots.holding, slots.waiting) == (0, 0)


def test_a_failed_boot_gives_its_slot_back():
    slots = StartSlots(1)

    async def fail() -> None:
        async with slots.slot():
            raise RuntimeError("the server died while booting")

    async def run() -> None:
        with pytest.raises(RuntimeError):
            await fail()
        await asyncio.wait_for(_burst(slots, 2), timeout=5)

    asyncio.run(run())


def test_a_spawn_cancelled_while_queued_leaves_no_slot_taken():
    slots = StartSlots(1)

    async def run() -> None:
        release = asyncio.Event()

        async def hold() -> None:
            async with slots.slot():
                await release.wait()

        holder = asyncio.create_task(hold())
        await asyncio.sleep(0)
        queued = asyncio.create_task(hold())  # JupyterHub cancels start() at its start_timeout
        await asyncio.sleep(0)
        assert slots.waiting == 1
        queued.cancel()
        await asyncio.gather(queued, return_exceptions=True)
        release.set()
        await holder
        assert (slots.holding, slots.waiting) == (0, 0)
        await asyncio.wait_for(_burst(slots, 2), timeout=5)

    asyncio.run(run())


def test_the_default_is_twice_the_machines_cpus(monkeypatch):
    monkeypatch.setattr("paved.scoping.limits.machine_cpus", lambda: 3)
    spawner = LocalProjectSpawner.__new__(LocalProjectSpawner)  # no hub: only the trait and the slots
    assert StartSlots(1).limit == 1
    with pytest.raises(ValueError, match="at least 1"):
        StartSlots(0)

    async def limit_of(configured: int) -> int:
        spawner.concurrent_starts = configured
        LocalProjectSpawner._start_slots.clear()
        return spawner.start_slots().limit

    assert asyncio.run(limit_of(0)) == 6
    assert asyncio.run(limit_of(2)) == 2

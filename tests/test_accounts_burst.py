"""A burst of spawns making accounts (issue 13): ``useradd``/``groupadd`` run one at a time in one thread of their
own (paved.scoping.accounts.ensure_identity), so the hub's event loop keeps running and the shared thread pool
stays free for the spawns' other blocking steps.

``useradd`` and ``groupadd`` are replaced by a stand-in that takes 0.3 s and records where it ran (this test makes
no account): a real one would take the same path.
"""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

import pytest

from paved.scoping import accounts

MAKE_S = 0.3


@pytest.fixture
def fake_useradd(monkeypatch):
    """useradd/groupadd that take MAKE_S each, with /etc/passwd and /etc/group as dicts; the calls' threads."""
    users: dict[str, SimpleNamespace] = {}
    groups: dict[str, SimpleNamespace] = {}
    calls: list[dict] = []
    running = [0]

    def run(cmd):
        running[0] += 1
        calls.append({"cmd": cmd[0], "name": cmd[-1], "thread": threading.current_thread().name, "at_once": running[0]})
        time.sleep(MAKE_S)
        if cmd[0] == "useradd":
            users[cmd[-1]] = SimpleNamespace(pw_name=cmd[-1], pw_uid=1000 + len(users), pw_gid=1000 + len(users))
        else:
            groups[cmd[-1]] = SimpleNamespace(gr_name=cmd[-1], gr_gid=2000 + len(groups))
        running[0] -= 1

    def lookup(table):
        def get(name):
            if name not in table:
                raise KeyError(name)
            return table[name]

        return get

    monkeypatch.setattr(accounts, "_run", run)
    monkeypatch.setattr(accounts, "pwd", SimpleNamespace(getpwnam=lookup(users)))
    monkeypatch.setattr(accounts, "grp", SimpleNamespace(getgrnam=lookup(groups)))
    return calls, users


def test_a_burst_of_spawns_makes_its_accounts_one_at_a_time_off_the_loop(fake_useradd):
    calls, users = fake_useradd
    spawns = 8

    async def burst():
        loop_thread = threading.current_thread().name
        made = [accounts.ensure_identity(f"pvz-u{i}--bench-dev", "pvz-bench-dev", "Paved user") for i in range(spawns)]
        tasks = [asyncio.ensure_future(m) for m in made]
        ticks = 0
        pool_free_after = None
        t0 = time.monotonic()
        while not all(t.done() for t in tasks):
            if pool_free_after is None:  # the shared pool answers at once, also mid-burst
                start = time.monotonic()
                await asyncio.to_thread(lambda: None)
                pool_free_after = time.monotonic() - start
            await asyncio.sleep(0.01)
            ticks += 1
        known = await asyncio.gather(*tasks)
        return loop_thread, known, ticks, pool_free_after, time.monotonic() - t0

    loop_thread, known, ticks, pool_free_after, took = asyncio.run(burst())
    assert known == [False] * spawns  # none existed when its spawn asked
    assert sorted(users) == sorted(f"pvz-u{i}--bench-dev" for i in range(spawns))
    assert [c["cmd"] for c in calls].count("groupadd") == 1  # the project group once
    assert {c["thread"] for c in calls} == {"paved-accounts_0"}, "made in the one account thread"
    assert loop_thread not in {c["thread"] for c in calls}
    assert max(c["at_once"] for c in calls) == 1, "useradd never runs twice at once"
    # the loop kept turning through (spawns + 1) x 0.3 s of useradd: a tick every 10 ms give or take a slow machine
    assert took >= (spawns + 1) * MAKE_S * 0.9
    assert ticks >= took / 0.01 / 4
    # with the accounts made in the shared pool, a step queued behind them would wait for useradds to end
    assert pool_free_after is not None and pool_free_after < MAKE_S


def test_an_existing_account_is_not_queued_behind_new_ones(fake_useradd):
    calls, _ = fake_useradd

    async def run():
        await accounts.ensure_identity("pvz-old--bench-dev", "pvz-bench-dev")
        calls.clear()
        new = [
            asyncio.ensure_future(accounts.ensure_identity(f"pvz-n{i}--bench-dev", "pvz-bench-dev")) for i in range(3)
        ]
        await asyncio.sleep(0)
        start = time.monotonic()
        known = await accounts.ensure_identity("pvz-old--bench-dev", "pvz-bench-dev")
        waited = time.monotonic() - start
        await asyncio.gather(*new)
        return known, waited

    known, waited = asyncio.run(run())
    assert known is True
    assert waited < MAKE_S  # looked up, not made: no queue behind three useradds (0.9 s)

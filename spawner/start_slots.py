"""A first-come, first-served limit on how many notebook servers boot at once on this machine.

Booting a server (jupyter_server's configuration, extensions and JupyterLab's settings, from the fork or a cold
interpreter until it listens) is CPU work. Fifty boots started together share the CPU evenly, so all fifty finish
together at the end of the burst: every user waits as long as the last one (measured with benchmarks/spawn.py,
issue 13: p50 = wall). Booting a few at a time, in the order the spawns came, takes the same CPU in all, but the
first users get their server after a fraction of it: the median user waits about half the burst, and the last
no longer than before for the same CPU.
A slot is held from the server's start (its AWS credentials, the hand-over to the fork server or a cold start)
until it accepts connections, not while the hub prepares its account, folders and cgroup before, nor while the
hub reports it ready after.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable


class StartSlots:
    """At most ``limit`` holders at once; the others wait in arrival order (asyncio.Semaphore wakes its waiters
    first-in, first-out). Bound to the event loop it is first used on (the hub's only one)."""

    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError(f"a start limit must be at least 1, got {limit}")
        self.limit = limit
        self.holding = 0  # servers booting now
        self.waiting = 0  # spawns queued for a slot
        self._semaphore = asyncio.Semaphore(limit)

    @asynccontextmanager
    async def slot(self, on_wait: Callable[[int], None] | None = None) -> AsyncIterator[None]:
        """Hold a slot for the body; ``on_wait(ahead)`` is called first when the caller has to queue, with how
        many spawns are ahead of it (booting or queued)."""
        if self._semaphore.locked() and on_wait is not None:
            on_wait(self.holding + self.waiting)
        self.waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self.waiting -= 1
        self.holding += 1
        try:
            yield
        finally:
            self.holding -= 1
            self._semaphore.release()

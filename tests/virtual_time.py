"""A monotonic clock and sleep that move only when a test says so (for the rate limiter)."""

from __future__ import annotations

import asyncio
import heapq
import itertools


class VirtualTime:
    """``monotonic`` and ``sleep`` for code under test; :meth:`advance` moves both."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        wake = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(seconds, 0.0), next(self._order), wake))
        await wake

    async def advance(self, seconds: float) -> None:
        """Move time on by ``seconds``, waking each sleeper at its moment, in order."""
        target = self.now + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            when, _, wake = heapq.heappop(self._sleepers)
            self.now = max(self.now, when)
            if not wake.done():
                wake.set_result(None)
                await settle()
        self.now = target
        await settle()


async def settle() -> None:
    """Let every task that can run do so, until all wait again."""
    for _ in range(50):
        await asyncio.sleep(0)

"""The sender's pacing: a channel's send limits, and backoff for failed deliveries."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.sending.delivery import TELEGRAM_LIMITS, ChannelLimits
from storage.outbox import Priority

# The longest a 429 stops all sending in-line; the message that met it waits in full.
MAX_PAUSE = 2.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for failed deliveries, and when to give up."""

    max_attempts: int = 12
    base_delay: float = 5.0
    max_delay: float = 1800.0  # with the defaults, retries span about 1.7 hours
    max_retry_after: float = 86_400.0  # a 429's wait is obeyed up to a day

    def backoff(self, attempt: int) -> float:
        """Seconds before attempt ``attempt + 1``, jittered so failed chats spread out."""
        delay = min(self.base_delay * 2.0 ** (attempt - 1), self.max_delay)
        return delay * random.uniform(0.8, 1.2)


Monotonic = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]


class RateLimiter:
    """A sliding one-second window overall plus a minimum interval per chat, by priority.

    Within the window, sends are spaced evenly (``1/per_second`` apart) rather than let out in
    a burst: the requests' own jitter on the way then cannot crowd more than ``per_second``
    into one of Telegram's seconds, and a reply waits a fraction of that gap, not a second.

    When the window is full, the waiters are served in :class:`Priority` order and, within
    a priority, first come first served: a direct reply waiting for its turn goes before
    the broadcast parts already waiting. A reply (``Priority.REPLY``) is not held by its
    chat's interval (someone who just wrote is answered at once) but counts in the window
    and starts the interval for whatever is queued for that chat. One limiter serves all of
    a channel's sending, the replies as well as the outbox.
    """

    def __init__(
        self,
        per_second: int,
        per_chat: float,
        *,
        monotonic: Monotonic = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.per_second, self.per_chat = per_second, per_chat
        self._monotonic, self._sleep = monotonic, sleep
        self._recent: deque[float] = deque()
        self._by_chat: deque[tuple[float, str]] = deque()
        self._last_by_chat: dict[str, float] = {}
        self._paused_until = 0.0
        self._spacing = 1.0 / per_second
        self._next_slot = -1e9  # the earliest moment of the next send, by the spacing
        self._waiting: dict[tuple[int, int], str] = {}  # (priority, arrival) -> chat
        self._arrivals = itertools.count()
        self._changed = asyncio.Event()

    async def acquire(self, chat_id: str, priority: Priority = Priority.NOTICE) -> None:
        """Wait until one more message to ``chat_id`` keeps within both limits, and it is
        the turn of ``priority``."""
        ticket = (int(priority), next(self._arrivals))
        self._waiting[ticket] = chat_id
        try:
            while True:
                now = self._monotonic()
                self._prune(now)
                held = max(self._chat_wait(chat_id, ticket[0], now), self._paused_until - now)
                if held > 0:
                    await self._until_changed(held)
                    continue
                window = self._window_wait(now)
                if window <= 0 and self._first_ready(now) == ticket:
                    self._recent.append(now)
                    # A stream keeps its beat: a send let out a little late (the event loop
                    # was busy) does not push every later one back; after a pause, the beat
                    # starts again from now.
                    late = now - self._next_slot
                    self._next_slot = now if late >= self._spacing else self._next_slot
                    self._next_slot += self._spacing
                    self._by_chat.append((now, chat_id))
                    self._last_by_chat[chat_id] = now
                    return
                # The window's turn, or another waiter's (who then takes it or leaves).
                await self._until_changed(window if window > 0 else None)
        finally:
            del self._waiting[ticket]
            self._notify()

    def busy_chats(self) -> dict[str, float]:
        """Chats that must still wait before their next message, with the seconds left."""
        now = self._monotonic()
        self._prune(now)
        return {chat: last + self.per_chat - now for chat, last in self._last_by_chat.items()}

    def pause(self, seconds: float) -> None:
        """Hold every send for ``seconds`` (Telegram's flood control may be bot-wide)."""
        self._paused_until = max(self._paused_until, self._monotonic() + seconds)
        self._notify()

    def _chat_wait(self, chat_id: str, priority: int, now: float) -> float:
        if priority == Priority.REPLY:
            return 0.0
        return self._last_by_chat.get(chat_id, -1e9) + self.per_chat - now

    def _window_wait(self, now: float) -> float:
        spaced = self._next_slot - now
        if len(self._recent) < self.per_second:
            return spaced
        return max(spaced, self._recent[-self.per_second] + 1.0 - now)

    def _first_ready(self, now: float) -> tuple[int, int] | None:
        """The waiter to serve next: the first, in priority order, whose chat may be sent to."""
        ready = [
            ticket
            for ticket, chat in self._waiting.items()
            if self._chat_wait(chat, ticket[0], now) <= 0
        ]
        return min(ready, default=None)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _until_changed(self, seconds: float | None) -> None:
        """Until another waiter takes its turn or leaves, or ``seconds`` pass."""
        waiters: set[asyncio.Future[object]] = {asyncio.ensure_future(self._changed.wait())}
        if seconds is not None:
            waiters.add(asyncio.ensure_future(self._sleep(seconds)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _prune(self, now: float) -> None:
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        while self._by_chat and now - self._by_chat[0][0] >= self.per_chat:
            sent, chat = self._by_chat.popleft()
            if self._last_by_chat.get(chat) == sent:
                del self._last_by_chat[chat]


def limiter_for(
    limits: ChannelLimits = TELEGRAM_LIMITS, per_second: int | None = None
) -> RateLimiter:
    """A rate limiter that keeps within ``limits``, or ``per_second`` overall (the
    configured ``OUTBOUND_RATE``) with the channel's interval per chat."""
    return RateLimiter(per_second or limits.per_second, limits.per_chat_interval)

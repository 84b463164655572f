"""The sender's pacing: a channel's send limits, and backoff for failed deliveries."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from dataclasses import dataclass

from bot.sending.delivery import TELEGRAM_LIMITS, ChannelLimits


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


class RateLimiter:
    """A sliding one-second window overall plus a minimum interval per chat."""

    def __init__(self, per_second: int, per_chat: float) -> None:
        self.per_second, self.per_chat = per_second, per_chat
        self._recent: deque[float] = deque()
        self._by_chat: deque[tuple[float, str]] = deque()
        self._last_by_chat: dict[str, float] = {}
        self._paused_until = 0.0

    async def acquire(self, chat_id: str) -> None:
        """Wait until one more message to ``chat_id`` keeps within both limits."""
        while True:
            now = time.monotonic()
            self._prune(now)
            wait_chat = self._last_by_chat.get(chat_id, -1e9) + self.per_chat - now
            wait_all = (
                (self._recent[0] + 1.0 - now) if len(self._recent) >= self.per_second else 0.0
            )
            wait = max(wait_chat, wait_all, self._paused_until - now)
            if wait <= 0:
                self._recent.append(now)
                self._by_chat.append((now, chat_id))
                self._last_by_chat[chat_id] = now
                return
            await asyncio.sleep(wait)

    def busy_chats(self) -> dict[str, float]:
        """Chats that must still wait before their next message, with the seconds left."""
        now = time.monotonic()
        self._prune(now)
        return {chat: last + self.per_chat - now for chat, last in self._last_by_chat.items()}

    def pause(self, seconds: float) -> None:
        """Hold every send for ``seconds`` (Telegram's flood control may be bot-wide)."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def _prune(self, now: float) -> None:
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        while self._by_chat and now - self._by_chat[0][0] >= self.per_chat:
            sent, chat = self._by_chat.popleft()
            if self._last_by_chat.get(chat) == sent:
                del self._last_by_chat[chat]


def limiter_for(limits: ChannelLimits = TELEGRAM_LIMITS) -> RateLimiter:
    """A rate limiter that keeps within ``limits``."""
    return RateLimiter(limits.per_second, limits.per_chat_interval)

"""Telegram's flood control: too many messages overall, or to one chat, answer 429.

Telegram documents about 30 messages a second in bulk (1,000 with paid broadcasts) and, in
one chat, about one a second with short bursts allowed; beyond either it answers 429
``Too Many Requests: retry after N`` with ``parameters.retry_after`` (whole seconds). Off by
default: a test turns it on with ``FakeBotApi.enforce_limits``.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import ApiError, too_many_requests

# Calls that put a new message in a chat (edits, callback answers and chat actions do not).
SENDING_METHODS = frozenset(
    {"sendmessage", "senddocument", "sendphoto", "sendaudio", "sendvideo", "sendvoice",
     "sendanimation", "sendsticker", "sendlocation", "sendcontact", "sendpoll",
     "sendmediagroup", "copymessage", "forwardmessage"}
)  # fmt: skip


@dataclass
class FloodControl:
    """A sliding one-second window over all chats, and a token bucket per chat."""

    per_second: int = 30
    chat_burst: int = 3
    """Messages one chat may receive at once before the interval applies."""
    chat_interval: float = 1.0
    """Seconds for one chat's bucket to regain a message."""
    monotonic: Callable[[], float] = time.monotonic
    refused: list[tuple[str, str]] = field(default_factory=list)
    """(method, chat_id) of every call answered 429, oldest first."""
    _recent: deque[float] = field(default_factory=deque)
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # tokens, at

    def check(self, method: str, chat_id: object) -> ApiError | None:
        """Count one call; the 429 Telegram would answer if it goes over a limit."""
        if method.lower() not in SENDING_METHODS:
            return None
        now = self.monotonic()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        chat = str(chat_id)
        tokens, at = self._buckets.get(chat, (float(self.chat_burst), now))
        tokens = min(float(self.chat_burst), tokens + (now - at) / self.chat_interval)
        wait = 0.0
        if len(self._recent) >= self.per_second:
            wait = self._recent[-self.per_second] + 1.0 - now
        if tokens < 1.0:
            wait = max(wait, (1.0 - tokens) * self.chat_interval)
        if wait > 0:
            self._buckets[chat] = (tokens, now)
            self.refused.append((method, chat))
            return too_many_requests(max(1, math.ceil(wait)))
        self._recent.append(now)
        self._buckets[chat] = (tokens - 1.0, now)
        return None

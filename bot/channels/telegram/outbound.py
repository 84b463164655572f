"""Delivery of the outbox on Telegram, within Telegram's send limits.

Everything Ponte sends that is not a direct answer (invitations, confirmations to the other
side, lapsed requests, after-meeting questions) goes through here: at most ~25 messages a
second overall and one a second per chat, 429s waited out, blocked users marked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from datetime import timedelta

from bot.channels.telegram.bridge import TelegramBridge
from bot.channels.telegram.transport import Blocked, RetryLater, TelegramError, Transient
from bot.channels.telegram.updates import CHANNEL
from handlers.events import ReachabilityChanged, Sender
from handlers.notify import payload_to_reply
from handlers.router import Core
from storage.models import utcnow
from storage.outbox import OutboxRepository

log = logging.getLogger(__name__)

GLOBAL_PER_SECOND = 25  # Telegram allows about 30 a second for bulk sends; keep a margin
PER_CHAT_INTERVAL = 1.0  # and about one a second in one chat
BATCH = 50
IDLE_WAIT = 5.0  # seconds between looks at the outbox when nothing wakes the sender


class RateLimiter:
    """A sliding one-second window overall plus a minimum interval per chat."""

    def __init__(
        self, per_second: int = GLOBAL_PER_SECOND, per_chat: float = PER_CHAT_INTERVAL
    ) -> None:
        self.per_second, self.per_chat = per_second, per_chat
        self._recent: deque[float] = deque()
        self._last_by_chat: dict[str, float] = {}

    async def acquire(self, chat_id: str) -> None:
        """Wait until one more message to ``chat_id`` keeps within both limits."""
        while True:
            now = time.monotonic()
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            wait_chat = self._last_by_chat.get(chat_id, -1e9) + self.per_chat - now
            wait_all = (
                (self._recent[0] + 1.0 - now) if len(self._recent) >= self.per_second else 0.0
            )
            wait = max(wait_chat, wait_all)
            if wait <= 0:
                self._recent.append(now)
                self._last_by_chat[chat_id] = now
                if len(self._last_by_chat) > 10_000:
                    self._forget(now)
                return
            await asyncio.sleep(wait)

    def _forget(self, now: float) -> None:
        self._last_by_chat = {
            k: v for k, v in self._last_by_chat.items() if now - v < self.per_chat
        }


class OutboundSender:
    """Takes due outbox messages for Telegram and sends them through the bridge."""

    def __init__(
        self, core: Core, bridge: TelegramBridge, limiter: RateLimiter | None = None
    ) -> None:
        self.core, self.bridge = core, bridge
        self.limiter = limiter or RateLimiter()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set."""
        while not stop.is_set():
            try:
                sent = await self.deliver_due()
            except Exception:
                log.exception("outbox delivery failed; trying again shortly")
                sent = 0
            if sent == 0:
                await self._sleep(stop)

    async def _sleep(self, stop: asyncio.Event) -> None:
        self.core.outbox_ready.clear()
        waiters = [
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self.core.outbox_ready.wait()),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait(waiters, timeout=IDLE_WAIT, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()

    async def deliver_due(self) -> int:
        """Send one batch of due messages; returns how many were taken."""
        async with self.core.sessions() as session, session.begin():
            due = await OutboxRepository(session).claim_due(CHANNEL, utcnow(), BATCH)
            batch = [(m.id, m.chat_id, m.payload) for m in due]
        for message_id, chat_id, payload in batch:
            await self.limiter.acquire(chat_id)
            await self._deliver_one(message_id, chat_id, payload)
        return len(batch)

    async def _deliver_one(self, message_id: int, chat_id: str, payload: dict[str, object]) -> None:
        try:
            await self.bridge.deliver(int(chat_id), payload_to_reply(payload))
        except Blocked as exc:
            await self._settle(message_id, give_up=f"blocked: {exc}")
            sender = Sender(channel=CHANNEL, user_id=chat_id, chat_id=chat_id)
            await self.core.handle(ReachabilityChanged(sender, reachable=False))
        except (RetryLater, Transient) as exc:
            await self._settle(message_id, retry=str(exc))
        except TelegramError as exc:
            log.error("outbox message %s rejected by Telegram: %s", message_id, exc)
            await self._settle(message_id, give_up=str(exc))

    async def _settle(
        self, message_id: int, *, retry: str | None = None, give_up: str | None = None
    ) -> None:
        async with self.core.sessions() as session, session.begin():
            outbox = OutboxRepository(session)
            if retry is not None:
                await outbox.retry_later(message_id, retry, timedelta(seconds=30))
            elif give_up is not None:
                await outbox.give_up(message_id, give_up)

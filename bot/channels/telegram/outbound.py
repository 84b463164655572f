"""Delivery of the outbox on Telegram, within Telegram's send limits, losing nothing.

Everything Ponte sends that is not a direct answer (invitations, confirmations to the other
side, lapsed requests, after-meeting questions) goes through here: at most ~25 messages a
second overall and one a second per chat, a few chats at a time so one slow chat holds up
nobody else. Every message taken ends sent, retried later (with exponential backoff, or
after the wait a 429 asked for) or given up with the reason logged; one whose sender died
comes back when its lease runs out. Delivery is therefore at least once: a message whose
request timed out may have arrived, and is sent again after the backoff rather than risk
losing a meeting notice.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.channels.telegram.bridge import TelegramBridge
from bot.channels.telegram.transport import (
    Blocked,
    Call,
    RetryLater,
    TelegramError,
    Transient,
    reply_calls,
)
from bot.channels.telegram.updates import CHANNEL
from handlers.core import Core
from handlers.kernel.incoming import ReachabilityChanged, Sender
from handlers.kernel.notify import payload_to_reply
from storage.db import transaction_gate
from storage.outbox import OutboxRepository

log = logging.getLogger(__name__)

GLOBAL_PER_SECOND = 25  # Telegram allows about 30 a second for bulk sends; keep a margin
PER_CHAT_INTERVAL = 1.0  # and about one a second in one chat
CONCURRENCY = 4  # messages in hand at once, each to a different chat
IDLE_WAIT = 5.0  # seconds between looks at the outbox when nothing wakes the sender
# A message in hand is hidden from other senders this long; far more than sending takes.
LEASE = timedelta(minutes=10)
PART_TIMEOUT = 90.0  # beyond both frameworks' own time-outs: only a hung call reaches it
MAX_PAUSE = 2.0  # the longest a 429 stops all sending in-line; its message waits in full
STOP_GRACE = 10.0  # at shutdown, how long the messages in hand may take to finish
PROGRESS = "_parts_sent"  # payload key: parts of a several-message reply already delivered


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

    def __init__(
        self, per_second: int = GLOBAL_PER_SECOND, per_chat: float = PER_CHAT_INTERVAL
    ) -> None:
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


@dataclass(frozen=True)
class InHand:
    """A leased outbox message, detached from its session."""

    id: int
    chat_id: str
    payload: dict[str, Any]
    attempts: int


class OutboundSender:
    """Takes due outbox messages for Telegram and sends them through the bridge's transport."""

    def __init__(
        self,
        core: Core,
        bridge: TelegramBridge,
        limiter: RateLimiter | None = None,
        *,
        policy: RetryPolicy | None = None,
        concurrency: int = CONCURRENCY,
        part_timeout: float = PART_TIMEOUT,
    ) -> None:
        self.core, self.bridge = core, bridge
        self.part_timeout = part_timeout
        self.limiter = limiter or RateLimiter()
        self.policy = policy or RetryPolicy()
        self._slots = asyncio.Semaphore(concurrency)
        self._in_hand: dict[str, asyncio.Task[None]] = {}
        self._settled = asyncio.Event()
        self._gate = transaction_gate(core.sessions)

    async def run(self, stop: asyncio.Event, grace: float = STOP_GRACE) -> None:
        """Deliver until ``stop`` is set, then let the messages in hand finish.

        Those still going after ``grace`` seconds (or at once, if this task is cancelled)
        are interrupted and put back in the queue.
        """
        try:
            while not stop.is_set():
                # Cleared before looking, so a wake-up that comes after the look is kept.
                self.core.outbox_ready.clear()
                self._settled.clear()
                if not await self._start_next(stop):
                    await self._wait(stop)
        except asyncio.CancelledError:
            await self._finish(0.0)
            raise
        await self._finish(grace)

    async def _start_next(self, stop: asyncio.Event) -> bool:
        await self._slots.acquire()
        row: InHand | None = None
        try:
            if not stop.is_set():
                row = await self._lease()
        except Exception:
            log.exception("could not read the outbox; trying again shortly")
        finally:
            if row is None:
                self._slots.release()
        if row is None:
            return False
        task = asyncio.create_task(self._deliver(row), name=f"outbox-{row.id}")
        self._in_hand[row.chat_id] = task
        task.add_done_callback(functools.partial(self._done, row.chat_id))
        return True

    def _done(self, chat_id: str, _task: asyncio.Task[None]) -> None:
        self._in_hand.pop(chat_id, None)
        self._slots.release()
        self._settled.set()

    async def _lease(self) -> InHand | None:
        busy = set(self._in_hand) | set(self.limiter.busy_chats())
        async with self._gate, self.core.sessions() as session, session.begin():
            row = await OutboxRepository(session).lease_next(
                CHANNEL, self.core.clock(), LEASE, busy
            )
            if row is None:
                return None
            return InHand(row.id, row.chat_id, dict(row.payload), row.attempts)

    async def _wait(self, stop: asyncio.Event) -> None:
        # Until the next message falls due (a retry, a scheduled question) or a busy chat
        # may have its next one; anything queued or settled meanwhile wakes the sender.
        cooling = self.limiter.busy_chats()
        timeout = min([IDLE_WAIT, *cooling.values()])
        try:
            async with self._gate, self.core.sessions() as session, session.begin():
                due = await OutboxRepository(session).next_due(
                    CHANNEL, set(self._in_hand) | set(cooling)
                )
            if due is not None:
                timeout = min(timeout, (due - self.core.clock()).total_seconds())
        except Exception:
            log.exception("could not read the outbox; trying again shortly")
        events = (stop, self.core.outbox_ready, self._settled)
        waiters = [asyncio.ensure_future(event.wait()) for event in events]
        try:
            await asyncio.wait(
                waiters, timeout=max(timeout, 0.01), return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _finish(self, grace: float) -> None:
        tasks = list(self._in_hand.values())
        if not tasks:
            return
        # Even with no grace this lets new tasks start: a task cancelled before its first
        # step would never reach the code that puts its message back.
        _, late = await asyncio.wait(tasks, timeout=grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    async def _deliver(self, row: InHand) -> None:
        """Send one message and settle it: sent, retried later or given up."""
        sent = int(row.payload.get(PROGRESS, 0))
        try:
            for part in self._parts(row)[sent:]:
                await self.limiter.acquire(row.chat_id)
                async with asyncio.timeout(self.part_timeout):
                    await part()
                sent += 1
        except asyncio.CancelledError:
            # Stopping: the part in hand may have arrived, but sending it again beats losing it.
            await self._settle(row, sent, retry=("interrupted at shutdown", 0.0))
            raise
        except Exception as exc:
            await self._failed(row, sent, exc)
            return
        await self._settle(row, sent)

    def _parts(self, row: InHand) -> list[Call]:
        """The Bot API calls that show the message, in order (as the bridge sends replies)."""
        return reply_calls(self.bridge.transport, int(row.chat_id), payload_to_reply(row.payload))

    async def _failed(self, row: InHand, sent: int, exc: Exception) -> None:
        if isinstance(exc, Blocked):
            log.info(
                "outbox message %s not delivered: chat %s blocked the bot", row.id, row.chat_id
            )
            await self._settle(row, sent, give_up=f"blocked: {exc}")
            sender = Sender(channel=CHANNEL, user_id=row.chat_id, chat_id=row.chat_id)
            await self.core.handle(ReachabilityChanged(sender, reachable=False))
        elif isinstance(exc, RetryLater):
            self.limiter.pause(min(exc.retry_after, MAX_PAUSE))
            wait = min(max(exc.retry_after, 1.0), self.policy.max_retry_after)
            await self._retry(row, sent, f"flood control: {exc}", wait)
        elif isinstance(exc, Transient | TimeoutError):
            # Possibly delivered (a time-out): sent again, but only after the backoff.
            reason = str(exc) or f"no answer in {self.part_timeout:g} s"
            await self._retry(row, sent, reason, self.policy.backoff(row.attempts))
        elif isinstance(exc, TelegramError):
            log.error("outbox message %s rejected by Telegram: %s", row.id, exc)
            await self._settle(row, sent, give_up=f"rejected: {exc}")
        else:
            log.error("outbox message %s could not be sent", row.id, exc_info=exc)
            await self._retry(
                row, sent, f"{type(exc).__name__}: {exc}", self.policy.backoff(row.attempts)
            )

    async def _retry(self, row: InHand, sent: int, reason: str, delay: float) -> None:
        if row.attempts >= self.policy.max_attempts:
            log.error(
                "outbox message %s to chat %s given up after %d attempts: %s",
                row.id, row.chat_id, row.attempts, reason,
            )  # fmt: skip
            await self._settle(row, sent, give_up=f"{row.attempts} attempts; last: {reason}")
            return
        log.warning(
            "outbox message %s to chat %s failed (attempt %d of %d: %s); retrying in %.1f s",
            row.id, row.chat_id, row.attempts, self.policy.max_attempts, reason, delay,
        )  # fmt: skip
        await self._settle(row, sent, retry=(reason, delay))

    async def _settle(
        self,
        row: InHand,
        sent: int,
        *,
        retry: tuple[str, float] | None = None,
        give_up: str | None = None,
    ) -> None:
        """Record the outcome; if even that fails, the lease brings the message back later."""
        progress = None
        if sent != row.payload.get(PROGRESS, 0):
            progress = {**row.payload, PROGRESS: sent}
        try:
            async with self._gate, self.core.sessions() as session, session.begin():
                outbox = OutboxRepository(session)
                now = self.core.clock()
                if retry is not None:
                    reason, delay = retry
                    due = now + timedelta(seconds=delay)
                    await outbox.retry_later(row.id, reason, due, progress)
                elif give_up is not None:
                    await outbox.give_up(row.id, give_up, now)
                else:
                    await outbox.mark_sent(row.id, now)
        except Exception:
            log.exception("could not record outbox message %s; it returns in %s", row.id, LEASE)

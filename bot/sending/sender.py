"""Delivery of the outbox on any channel, within the channel's send limits, losing nothing.

Everything Ponte sends that is not a direct answer (invitations, confirmations to the other
side, lapsed requests, after-meeting questions) goes through here: within the channel's
limits overall and per chat (``bot.sending.delivery.ChannelLimits``), a few chats at a time
so one slow chat holds up nobody else. Every message taken ends sent, retried later (with
exponential backoff, or after the wait a 429 asked for) or given up with the reason logged;
one whose sender died comes back when its lease runs out. Delivery is therefore at least
once: a message whose request timed out may have arrived, and is sent again after the
backoff rather than risk losing a meeting notice. Messages queued ``once`` (reminders,
broadcasts) are sent at most once instead: one that may have arrived (no answer, or its
sender died holding it) is given up as uncertain, and only a failure that shows nothing
arrived (a 429, a server's error answer) is retried.

Due messages are taken by priority, then deadline (``storage.outbox.Priority``), and wait
for the rate limiter in their priority's turn: the limiter is shared with the channel's
direct replies, which go first.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.sending.delivery import (
    Blocked,
    Channel,
    DeliveryError,
    MaybeDelivered,
    RetryLater,
    Step,
    Transient,
)
from bot.sending.limits import MAX_PAUSE, RateLimiter, RetryPolicy, limiter_for
from handlers.core import Core
from handlers.kernel.incoming import ReachabilityChanged, Sender
from handlers.kernel.notify import payload_to_reply
from storage.db import transaction_gate
from storage.outbox import UNCERTAIN, Leased, OutboxRepository

log = logging.getLogger(__name__)

CONCURRENCY = 8  # messages in hand at once, each to a different chat (at least)
IDLE_WAIT = 5.0  # seconds between looks at the outbox when nothing wakes the sender
# A message in hand is hidden from other senders this long; far more than sending takes.
LEASE = timedelta(minutes=10)
PART_TIMEOUT = 90.0  # beyond both frameworks' own time-outs: only a hung call reaches it
STOP_GRACE = 10.0  # at shutdown, how long the messages in hand may take to finish
ABANDONED_EVERY = timedelta(seconds=5)  # between two looks for messages whose sender died
RECORD_EVERY = 0.05  # while sending, outcomes are recorded together this often
PROGRESS = "_parts_sent"  # payload key: parts of a several-message reply already delivered


@dataclass(frozen=True)
class Outcome:
    """How a message in hand ended, waiting to be recorded with others in one transaction."""

    row: Leased
    sent: int
    retry: tuple[str, float] | None
    give_up: str | None


class OutboundSender:
    """Takes due outbox messages for one channel and shows them through that channel."""

    def __init__(
        self,
        core: Core,
        channel: Channel,
        limiter: RateLimiter | None = None,
        *,
        policy: RetryPolicy | None = None,
        concurrency: int | None = None,
        part_timeout: float = PART_TIMEOUT,
    ) -> None:
        self.core, self.channel = core, channel
        self.part_timeout = part_timeout
        self.limiter = limiter or limiter_for(channel.limits)
        self.policy = policy or RetryPolicy()
        # A twentieth of a second's sending in hand (at least 8): leases then go by the
        # batch, a transaction for a dozen messages or more, so the rate, not the database,
        # sets the pace (bench/broadcast_apart). More in hand would leave more rows uncertain
        # after a crash.
        self.concurrency = concurrency or max(CONCURRENCY, self.limiter.per_second // 20)
        # Lease again once half the hands are free (or none is busy), not for every one.
        self._refill_at = max(1, self.concurrency // 2)
        self._in_hand: dict[str, asyncio.Task[None]] = {}
        self._settled = asyncio.Event()
        self._gate = transaction_gate(core.sessions)
        self._outcomes: list[Outcome] = []
        self._recorder: asyncio.Task[None] | None = None
        self._abandoned_at: datetime | None = None  # when the abandoned were last given up
        self._hurry = False  # record what is handed over at once (stopping, or the console)

    async def run(self, stop: asyncio.Event, grace: float = STOP_GRACE) -> None:
        """Deliver until ``stop`` is set, then let the messages in hand finish.

        Those still going after ``grace`` seconds (or at once, if this task is cancelled)
        are interrupted and put back in the queue.
        """
        fresh = True  # something may have been queued since the last lease
        try:
            while not stop.is_set():
                fresh = fresh or self.core.outbox_ready.is_set()
                # Cleared before looking, so a wake-up that comes after the look is kept.
                self.core.outbox_ready.clear()
                self._settled.clear()
                free = self.concurrency - len(self._in_hand)
                # With most hands busy, lease again only for something newly queued (a
                # reminder must not wait behind the broadcast parts in hand) or in a batch.
                if free <= 0 or (self._in_hand and free < self._refill_at and not fresh):
                    await self._until_changed(stop)
                    continue
                fresh = False
                if not await self._start_batch(stop, free):
                    await self._wait(stop)
        except asyncio.CancelledError:
            await self._finish(0.0)
            raise
        await self._finish(grace)

    async def _start_batch(self, stop: asyncio.Event, free: int) -> bool:
        """Lease up to ``free`` messages and start delivering each; whether any was due."""
        rows: list[Leased] = []
        try:
            if not stop.is_set():
                rows = await self._lease_or_put_back(free)
        except Exception:
            log.exception("could not read the outbox; trying again shortly")
        for row in rows:
            task = asyncio.create_task(self._deliver(row), name=f"outbox-{row.id}")
            self._in_hand[row.chat_id] = task
            task.add_done_callback(functools.partial(self._done, row.chat_id))
        return bool(rows)

    async def _lease_or_put_back(self, limit: int) -> list[Leased]:
        """Lease the next messages; stopped meanwhile, put what was leased straight back.

        A stop can come after the lease is committed and before a task holds the message:
        without this, nobody would send it until its lease ran out.
        """
        leasing = asyncio.ensure_future(self._lease(limit))
        try:
            return await asyncio.shield(leasing)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                for row in await leasing:
                    self._settle(row, 0, retry=("interrupted at shutdown", 0.0))
            raise

    def _done(self, chat_id: str, _task: asyncio.Task[None]) -> None:
        self._in_hand.pop(chat_id, None)
        self._settled.set()

    async def _until_changed(self, stop: asyncio.Event, seconds: float | None = None) -> None:
        """Until a message in hand is settled, another is queued, the sender stops, or
        ``seconds`` pass."""
        events = (stop, self._settled, self.core.outbox_ready)
        waiters = [asyncio.ensure_future(event.wait()) for event in events]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def deliver_due(self, chat_id: str) -> int:
        """Deliver, one after another, what is due now for ``chat_id``; returns how many.

        For channels that show messages only at moments of their own (the console, between
        two lines the user types) rather than as they come, as :meth:`run` does.
        """
        delivered = 0
        while rows := await self._lease(1, chat_id):
            await self._deliver(rows[0])
            await self._recorded()  # the chat's next message waits until this one is settled
            delivered += 1
        return delivered

    async def _lease(self, limit: int, chat_id: str | None = None) -> list[Leased]:
        busy = self.limiter.busy_chat_ids().union(self._in_hand)
        async with self._gate, self.core.sessions() as session, session.begin():
            # Messages whose sender died are given up now and then, not at every lease: they
            # are never taken again meanwhile, and are rare.
            now = self.core.clock()
            abandoned = self._abandoned_at is None or now >= self._abandoned_at + ABANDONED_EVERY
            rows = await OutboxRepository(session).lease_batch(
                self.channel.name, now, LEASE, busy,
                limit=limit, chat_id=chat_id, abandoned=abandoned,
            )  # fmt: skip
        if abandoned:
            self._abandoned_at = now
        return rows

    async def _wait(self, stop: asyncio.Event) -> None:
        # Until the next message falls due (a retry, a scheduled question) or a busy chat
        # may have its next one; anything queued or settled meanwhile wakes the sender.
        cooling = self.limiter.busy_chats()
        timeout = min([IDLE_WAIT, *cooling.values()])
        try:
            async with self._gate, self.core.sessions() as session, session.begin():
                due = await OutboxRepository(session).next_due(
                    self.channel.name, set(self._in_hand) | set(cooling)
                )
            if due is not None:
                timeout = min(timeout, (due - self.core.clock()).total_seconds())
        except Exception:
            log.exception("could not read the outbox; trying again shortly")
        await self._until_changed(stop, max(timeout, 0.01))

    async def _finish(self, grace: float) -> None:
        tasks = list(self._in_hand.values())
        if tasks:
            # Even with no grace this lets new tasks start: a task cancelled before its
            # first step would never reach the code that puts its message back.
            _, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._recorded()

    async def _deliver(self, row: Leased) -> None:
        """Send one message and settle it: sent, retried later or given up."""
        sent = int(row.payload.get(PROGRESS, 0))
        calling = False  # a part is on its way: if no answer comes, it may have arrived
        try:
            for part in self._parts(row)[sent:]:
                await self.limiter.acquire(row.chat_id, row.priority)
                calling = True
                async with asyncio.timeout(self.part_timeout):
                    await part()
                calling = False
                sent += 1
        except asyncio.CancelledError:
            # Stopping: the part in hand may have arrived. Sending it again beats losing a
            # notice; a message sent at most once is given up as uncertain instead.
            if row.once and calling:
                self._settle(row, sent, give_up=f"{UNCERTAIN} interrupted at shutdown")
            else:
                self._settle(row, sent, retry=("interrupted at shutdown", 0.0))
            raise
        except Exception as exc:
            if row.once and calling and _may_have_arrived(exc):
                log.warning(
                    "outbox message %s to chat %s may or may not have arrived (%s): "
                    "not sent again",
                    row.id, row.chat_id, exc or type(exc).__name__,
                )  # fmt: skip
                reason = str(exc) or f"no answer in {self.part_timeout:g} s"
                self._settle(row, sent, give_up=f"{UNCERTAIN} {reason}")
                return
            await self._failed(row, sent, exc)
            return
        self._settle(row, sent)

    def _parts(self, row: Leased) -> list[Step]:
        """The channel's calls that show the message, in order."""
        return self.channel.steps(row.chat_id, payload_to_reply(row.payload))

    async def _failed(self, row: Leased, sent: int, exc: Exception) -> None:
        if isinstance(exc, Blocked):
            log.info(
                "outbox message %s not delivered: chat %s blocked the bot", row.id, row.chat_id
            )
            self._settle(row, sent, give_up=f"blocked: {exc}")
            # Ponte talks to people in private chats, where the chat is the person.
            sender = Sender(channel=self.channel.name, user_id=row.chat_id, chat_id=row.chat_id)
            await self.core.handle(ReachabilityChanged(sender, reachable=False))
        elif isinstance(exc, RetryLater):
            self.limiter.pause(min(exc.retry_after, MAX_PAUSE))
            wait = min(max(exc.retry_after, 1.0), self.policy.max_retry_after)
            await self._retry(row, sent, f"flood control: {exc}", wait)
        elif isinstance(exc, Transient | TimeoutError):
            # Possibly delivered (a time-out): sent again, but only after the backoff.
            reason = str(exc) or f"no answer in {self.part_timeout:g} s"
            await self._retry(row, sent, reason, self.policy.backoff(row.attempts))
        elif isinstance(exc, DeliveryError):
            log.error("outbox message %s rejected by %s: %s", row.id, self.channel.name, exc)
            self._settle(row, sent, give_up=f"rejected: {exc}")
        else:
            log.error("outbox message %s could not be sent", row.id, exc_info=exc)
            await self._retry(
                row, sent, f"{type(exc).__name__}: {exc}", self.policy.backoff(row.attempts)
            )

    async def _retry(self, row: Leased, sent: int, reason: str, delay: float) -> None:
        if row.attempts >= self.policy.max_attempts:
            log.error(
                "outbox message %s to chat %s given up after %d attempts: %s",
                row.id, row.chat_id, row.attempts, reason,
            )  # fmt: skip
            self._settle(row, sent, give_up=f"{row.attempts} attempts; last: {reason}")
            return
        log.warning(
            "outbox message %s to chat %s failed (attempt %d of %d: %s); retrying in %.1f s",
            row.id, row.chat_id, row.attempts, self.policy.max_attempts, reason, delay,
        )  # fmt: skip
        self._settle(row, sent, retry=(reason, delay))

    def _settle(
        self,
        row: Leased,
        sent: int,
        *,
        retry: tuple[str, float] | None = None,
        give_up: str | None = None,
    ) -> None:
        """Hand the outcome to the recorder; if recording fails, the lease brings the message
        back later.

        Outcomes are recorded by one task, together with those that came meanwhile, in one
        transaction (a group commit): at full speed a commit per message would cost more
        than sending it. The message's hand is free at once: its row stays leased until
        recorded, so neither it nor anything later for its chat is taken again meanwhile.
        """
        self._outcomes.append(Outcome(row, sent, retry, give_up))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record(), name="outbox-outcomes")

    async def _recorded(self) -> None:
        """Until every outcome handed over so far is recorded."""
        self._hurry = True
        try:
            while self._recorder is not None and not self._recorder.done():
                await asyncio.shield(self._recorder)
        finally:
            self._hurry = False

    async def _record(self) -> None:
        while self._outcomes:
            if self._in_hand and not self._hurry:
                # Sending goes on: a moment's outcomes make one transaction, not one each.
                await asyncio.sleep(RECORD_EVERY)
            batch, self._outcomes = self._outcomes, []
            try:
                async with self._gate, self.core.sessions() as session, session.begin():
                    await self._write(OutboxRepository(session), batch)
            except Exception:
                ids = [outcome.row.id for outcome in batch]
                log.exception("could not record outbox messages %s; they return in %s", ids, LEASE)
            # A retry recorded now may fall due before the sender's next look: it looks again.
            self._settled.set()

    async def _write(self, outbox: OutboxRepository, batch: list[Outcome]) -> None:
        now = self.core.clock()
        delivered = []
        for outcome in batch:
            row = outcome.row
            if outcome.retry is not None:
                reason, delay = outcome.retry
                progress = None
                if outcome.sent != row.payload.get(PROGRESS, 0):
                    progress = {**row.payload, PROGRESS: outcome.sent}
                due = now + timedelta(seconds=delay)
                await outbox.retry_later(row.id, reason, due, progress, leased=True)
            elif outcome.give_up is not None:
                await outbox.give_up(row.id, outcome.give_up, now, leased=True)
            else:
                delivered.append(row.id)
        if delivered:
            await outbox.mark_sent(delivered, now, leased=True)


def _may_have_arrived(exc: Exception) -> bool:
    """Whether a part whose call failed with ``exc`` may have been shown all the same.

    Telegram's answers (429, 403, 400, a server error) say it was not; no answer at all (a
    time-out, a connection lost on the way) or a failure of Ponte's own says nothing.
    """
    if isinstance(exc, MaybeDelivered | TimeoutError):
        return True
    return not isinstance(exc, DeliveryError)

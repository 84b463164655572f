"""The outbox: messages for people other than the one who acted, delivered by a sender.

Due messages go out by :class:`Priority` first, then by deadline, then first queued first,
so a broadcast of ten thousand parts never holds up a reminder or a partner's notice. A
message is leased before it is sent and settled afterwards (sent, retried later, given up);
one whose sender died before settling it comes back when its lease runs out (at least once),
unless it was queued ``once``: then it may already have arrived, and it is given up as
*uncertain* instead of sent again (at most once).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

from sqlalchemy import Row, case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox_queries as queries
from storage.event_models import OutboxMessage
from storage.models import Participant

log = logging.getLogger(__name__)

# Channels with nobody behind them (seeded demo participants): nothing is queued for them.
SILENT_CHANNELS = frozenset({"demo"})
# The PostgreSQL advisory lock that serialises leases (any constant unique to this purpose).
_LEASE_LOCK_KEY = 0x504F4E5445  # "PONTE"
# How a given-up message's ``last_error`` begins, by why it was given up.
BLOCKED = "blocked:"
UNCERTAIN = "uncertain:"
STOPPED = "stopped:"
ABANDONED = f"{UNCERTAIN} its sender stopped before recording the outcome; it may have arrived"


class Priority(IntEnum):
    """What goes first when several messages are due: the lowest value."""

    REPLY = 0
    """An answer to someone who just wrote."""
    REMINDER = 1
    """A reminder before a meeting: late is useless."""
    NOTICE = 2
    """A notice about something that changed (an invitation, a confirmation)."""
    BROADCAST = 3
    """An organiser's announcement to many."""


_PRIORITIES_DUE = {one: queries.priorities_due(list(Priority), one) for one in (False, True)}
_CANDIDATES = {
    (one, skipping): queries.candidates(one, skipping)
    for one in (False, True)
    for skipping in (False, True)
}


@dataclass(frozen=True)
class StateCounts:
    """How the messages about some topics stand: for a broadcast's report, say."""

    delivered: int = 0
    blocked: int = 0
    """Given up because the person blocked the bot."""
    failed: int = 0
    """Given up for any other reason: refused, or too many failed attempts."""
    uncertain: int = 0
    """Given up because they may or may not have arrived (``once`` messages)."""
    stopped: int = 0
    """Given up before a sender took them: their broadcast was stopped."""
    pending: int = 0
    """Not settled yet: due, scheduled, waiting for a retry, or in a sender's hands."""

    @property
    def total(self) -> int:
        """Every message counted."""
        return (
            self.delivered + self.blocked + self.failed + self.uncertain + self.stopped
            + self.pending
        )  # fmt: skip


@dataclass(frozen=True)
class Leased:
    """A message taken for delivery, as it stood when taken (no session holds it)."""

    id: int
    chat_id: str
    payload: dict[str, Any]
    attempts: int
    """Attempts so far, this one included."""
    priority: Priority = Priority.NOTICE
    once: bool = False
    topic: str | None = None


class OutboxRepository:
    """Queue, claim and settle outbox messages."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def queue(
        self,
        recipient: Participant,
        payload: dict[str, Any],
        now: datetime,
        *,
        topic: str | None = None,
        not_before: datetime | None = None,
        priority: Priority = Priority.NOTICE,
        deadline: datetime | None = None,
        once: bool = False,
    ) -> bool:
        """Queue ``payload`` for ``recipient`` at ``now``; ``False`` for silent channels.

        It is due at ``not_before`` (default: at once) and should have arrived by
        ``deadline`` (default: ``not_before``); due messages are sent by ``priority``, then
        by deadline. A ``once`` message is never sent twice: if its sender dies after
        perhaps sending it, it is given up as uncertain.
        """
        if recipient.channel in SILENT_CHANNELS:
            return False
        due = now if not_before is None else not_before
        self.session.add(
            OutboxMessage(
                participant_id=recipient.id,
                channel=recipient.channel,
                chat_id=recipient.chat_id,
                payload=payload,
                topic=topic,
                created_at=now,
                not_before=due,
                priority=int(priority),
                deadline=due if deadline is None else deadline,
                once=once,
            )
        )
        return True

    async def withdraw(self, topic: str) -> None:
        """Drop unsent messages about ``topic`` (a meeting that changed or was cancelled)
        that no sender holds: one in a sender's hands may be arriving as this runs, and its
        outcome is recorded by its id."""
        await self.session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.topic == topic,
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.leased_until.is_(None),
            )
        )

    async def give_up_unleased(self, topic_prefix: str, error: str, now: datetime) -> int:
        """Give up every unsent message whose topic begins with ``topic_prefix`` and that no
        sender holds (a stopped broadcast's); returns how many.

        Those in a sender's hands finish normally. One whose sender died holding it is
        given up as uncertain first (:meth:`settle_abandoned`): it may have arrived. A
        sender leasing one at the same moment either locked it first (the lease is seen
        here, and it is left alone) or finds it given up.
        """
        await self.settle_abandoned(now)
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.topic.startswith(topic_prefix, autoescape=True),
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.leased_until.is_(None),
            )
            .values(sent_at=now, last_error=error[:500])
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def given_up(self, topic: str) -> bool:
        """Whether a message about ``topic`` was given up (an edit of a message that is gone)."""
        found = await self.session.scalar(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.topic == topic,
                OutboxMessage.sent_at.is_not(None),
                OutboxMessage.last_error.is_not(None),
            )
            .limit(1)
        )
        return found is not None

    async def lease_next(
        self,
        channel: str,
        now: datetime,
        lease: timedelta,
        exclude_chats: Collection[str] = (),
        *,
        chat_id: str | None = None,
    ) -> Leased | None:
        """Take the next due message for delivery: :meth:`lease_batch` of one."""
        rows = await self.lease_batch(channel, now, lease, exclude_chats, chat_id=chat_id)
        return rows[0] if rows else None

    async def lease_batch(
        self,
        channel: str,
        now: datetime,
        lease: timedelta,
        exclude_chats: Collection[str] = (),
        *,
        limit: int = 1,
        chat_id: str | None = None,
        abandoned: bool = True,
    ) -> list[Leased]:
        """Take up to ``limit`` due messages, each to a different chat, for delivery: hidden
        from every sender for ``lease``.

        They are the next ones by priority, then the earliest deadline, then the first
        queued. None is marked sent: each is settled with :meth:`mark_sent`,
        :meth:`retry_later` or :meth:`give_up`. If its sender dies first, it becomes due
        again when the lease runs out (at worst a message is sent twice), except a ``once``
        message: that one is never taken again, and is given up as uncertain here (see
        :meth:`settle_abandoned`; with ``abandoned=False`` that is left for a later call).

        A chat whose earlier message waits for a retry (or is in another sender's hands)
        gets nothing newer of the same or a lower priority meanwhile, and a batch holds one
        message per chat: a chat's messages keep their order, but a broadcast part waiting
        out a 429 holds back no reminder. ``exclude_chats`` are skipped (busy in this
        process); with ``chat_id``, only that chat's messages are considered.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            # One lease at a time across processes, until this transaction ends: otherwise a
            # second sender reads the first one's uncommitted lease as not started, and two
            # messages of one chat could go out together or out of order. (SQLite has one
            # writer at a time anyway.)
            await self.session.execute(select(func.pg_advisory_xact_lock(_LEASE_LOCK_KEY)))
        if abandoned:
            await self.settle_abandoned(now)
        busy = set(exclude_chats)
        taken: dict[str, Leased] = {}
        for priority in await self._priorities_due(channel, now, chat_id):
            if len(taken) >= limit:
                break
            wanted = limit - len(taken)
            # A chat's later messages may come first in a batch: a few more than wanted.
            count = wanted if wanted == 1 and not busy else 2 * wanted
            look = {"channel": channel, "now": now, "priority": int(priority), "count": count}
            if chat_id is not None:
                look["chat_id"] = chat_id
            # The busy chats are left out here rather than by the database: at 1,000
            # messages a second they are a thousand (every chat sent to in the last
            # second), and hardly one has another message due. Only when they took the
            # places of a full batch does the database leave them out, in a second look.
            rows = await self._run(_CANDIDATES[chat_id is not None, False], look)
            usable = {row.chat_id for row in rows} - busy - taken.keys()
            if len(rows) == count and len(usable) < wanted and busy:
                look["busy"] = list(busy)
                rows = await self._run(_CANDIDATES[chat_id is not None, True], look)
            for row in rows:
                if len(taken) < limit and row.chat_id not in taken and row.chat_id not in busy:
                    taken[row.chat_id] = Leased(
                        row.id, row.chat_id, dict(row.payload), row.attempts + 1,
                        Priority(row.priority), row.once, row.topic,
                    )  # fmt: skip
        if taken:
            ids = [row.id for row in taken.values()]
            await self._run(queries.TAKE, {"ids": ids, "until": now + lease})
        return list(taken.values())

    async def _run(self, statement: Any, parameters: dict[str, Any]) -> Sequence[Row[Any]]:
        """Run one of the prebuilt statements (storage.outbox_queries) on the session's
        connection: straight to the database, with none of the ORM's work."""
        connection = await self.session.connection()
        result = await connection.execute(statement, parameters)
        return result.all() if result.returns_rows else ()

    async def _priorities_due(
        self, channel: str, now: datetime, chat_id: str | None
    ) -> list[Priority]:
        """The priorities with anything due, in one statement of a look at the (channel,
        priority, not_before) index each: reading the ordered index of a priority with
        nothing due would go through everything it has queued for later (tomorrow's
        reminders) before finding that out."""
        look: dict[str, Any] = {"channel": channel, "now": now}
        if chat_id is not None:
            look["chat_id"] = chat_id
        (found,) = await self._run(_PRIORITIES_DUE[chat_id is not None], look)
        return [priority for priority, due in zip(Priority, found, strict=True) if due]

    async def settle_abandoned(self, now: datetime) -> list[int]:
        """Give up, as uncertain, the ``once`` messages whose lease ran out unsettled.

        Their sender stopped (a crash, a kill) after taking them and perhaps sending them:
        sending them again could repeat them, so they are recorded with ``last_error``
        beginning ``"uncertain:"``. Returns their ids. Messages that are not ``once`` come
        back instead (:meth:`lease_next`).
        """
        ids = [row.id for row in await self._run(queries.ABANDONED, {"now": now})]
        if ids:
            await self.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(sent_at=now, last_error=ABANDONED, leased_until=None)
            )
            log.warning(
                "outbox messages %s were in the hands of a sender that stopped; they may "
                "have arrived and are not sent again",
                ids,
            )
        return ids

    async def mark_sent(
        self, message_id: int | Collection[int], now: datetime, *, leased: bool = False
    ) -> None:
        """Record messages as delivered (an earlier attempt's error is cleared): one id, or
        many in one statement. A sender records its own outcomes ``leased``: only messages
        still leased are touched (a message deleted meanwhile leaves its id to a new one)."""
        ids = [message_id] if isinstance(message_id, int) else list(message_id)
        statement = queries.MARK_SENT_LEASED if leased else queries.MARK_SENT
        await self._run(statement, {"ids": ids, "now": now})

    async def retry_later(
        self,
        message_id: int,
        error: str,
        due: datetime,
        payload: dict[str, Any] | None = None,
        *,
        leased: bool = False,
    ) -> None:
        """Put a message whose delivery failed back in the queue, due again at ``due``
        (``leased``: as :meth:`mark_sent`).

        A scheduled retry, not an expired lease: even a ``once`` message is sent again, so
        the sender retries one only when nothing of it can have arrived (a 429, say).
        ``payload`` replaces the stored one: a sender keeps there which parts of a
        several-message reply already went out, so a retry sends only the rest.
        """
        values: dict[str, Any] = {
            "sent_at": None,
            "last_error": error[:500],
            "not_before": due,
            "leased_until": None,
        }
        if payload is not None:
            values["payload"] = payload
        await self.session.execute(
            update(OutboxMessage).where(*queries.by_id(message_id, leased)).values(**values)
        )

    async def give_up(
        self, message_id: int, error: str, now: datetime, *, leased: bool = False
    ) -> None:
        """Record at ``now`` why a message will never be delivered; it is marked as handled
        (``leased``: as :meth:`mark_sent`).

        ``error`` begins with :data:`BLOCKED`, :data:`UNCERTAIN` or :data:`STOPPED` when that
        is the reason (:meth:`state_counts` counts them apart).
        """
        await self.session.execute(
            update(OutboxMessage)
            .where(*queries.by_id(message_id, leased))
            .values(last_error=error[:500], sent_at=now, leased_until=None)
        )

    async def next_due(self, channel: str, exclude_chats: Collection[str] = ()) -> datetime | None:
        """When :meth:`lease_next` will next find a message (leaving ``exclude_chats`` out)."""
        value: datetime | None = await self.session.scalar(
            select(OutboxMessage.not_before)
            .where(
                *queries.deliverable(channel),
                *([OutboxMessage.chat_id.not_in(list(exclude_chats))] if exclude_chats else []),
            )
            # By id too: the order of the unsent rows' index, which PostgreSQL would
            # otherwise pass over for the plain index of every row's due time.
            .order_by(OutboxMessage.not_before, OutboxMessage.id)
            .limit(1)
        )
        return value

    async def state_counts(self, topic_prefix: str) -> StateCounts:
        """How the messages whose topic begins with ``topic_prefix`` stand."""
        error = OutboxMessage.last_error
        state = case(
            (OutboxMessage.sent_at.is_(None), "pending"),
            (error.is_(None), "delivered"),
            (error.startswith(BLOCKED, autoescape=True), "blocked"),
            (error.startswith(UNCERTAIN, autoescape=True), "uncertain"),
            (error.startswith(STOPPED, autoescape=True), "stopped"),
            else_="failed",
        ).label("state")
        rows = await self.session.execute(
            select(state, func.count())
            .where(OutboxMessage.topic.startswith(topic_prefix, autoescape=True))
            .group_by(state)
        )
        return StateCounts(**{name: count for name, count in rows.all()})

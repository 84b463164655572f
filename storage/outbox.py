"""The outbox: messages for people other than the one who acted, delivered by a sender."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.event_models import OutboxMessage
from storage.models import Participant

# Channels with nobody behind them (seeded demo participants): nothing is queued for them.
SILENT_CHANNELS = frozenset({"demo"})
# The PostgreSQL advisory lock that serialises leases (any constant unique to this purpose).
_LEASE_LOCK_KEY = 0x504F4E5445  # "PONTE"


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
    ) -> bool:
        """Queue ``payload`` for ``recipient`` at ``now``, due at ``not_before`` (default: at
        once); ``False`` for silent channels."""
        if recipient.channel in SILENT_CHANNELS:
            return False
        self.session.add(
            OutboxMessage(
                participant_id=recipient.id,
                channel=recipient.channel,
                chat_id=recipient.chat_id,
                payload=payload,
                topic=topic,
                created_at=now,
                not_before=now if not_before is None else not_before,
            )
        )
        return True

    async def withdraw(self, topic: str) -> None:
        """Drop unsent messages about ``topic`` (a meeting that changed or was cancelled)."""
        await self.session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.topic == topic, OutboxMessage.sent_at.is_(None)
            )
        )

    async def lease_next(
        self,
        channel: str,
        now: datetime,
        lease: timedelta,
        exclude_chats: Collection[str] = (),
        *,
        chat_id: str | None = None,
    ) -> OutboxMessage | None:
        """Take the oldest due message for delivery: hidden from every sender for ``lease``.

        It is *not* marked sent: it is settled with
        :meth:`mark_sent`, :meth:`retry_later` or :meth:`give_up`, and if its sender dies
        first it simply becomes due again when the lease runs out, so nothing is lost (at
        worst a message is sent twice). A chat whose earlier message waits for a retry (or
        is in another sender's hands) gets nothing newer meanwhile: a chat's messages keep
        their order. ``exclude_chats`` are skipped (busy in this process); with ``chat_id``,
        only that chat's messages are considered.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            # One lease at a time across processes, until this transaction ends: otherwise a
            # second sender reads the first one's uncommitted lease as not started, and two
            # messages of one chat could go out together or out of order. (SQLite has one
            # writer at a time anyway.)
            await self.session.execute(select(func.pg_advisory_xact_lock(_LEASE_LOCK_KEY)))
        query = (
            select(OutboxMessage)
            .where(*_deliverable(channel, exclude_chats), OutboxMessage.not_before <= now)
            .order_by(OutboxMessage.not_before, OutboxMessage.id)
            .limit(1)
            .with_for_update(skip_locked=True, of=OutboxMessage)
        )
        if chat_id is not None:
            query = query.where(OutboxMessage.chat_id == chat_id)
        row = await self.session.scalar(query)
        if row is not None:
            row.not_before = now + lease
            row.attempts += 1
        return row

    async def mark_sent(self, message_id: int, now: datetime) -> None:
        """Record a leased message as delivered."""
        await self.session.execute(
            update(OutboxMessage).where(OutboxMessage.id == message_id).values(sent_at=now)
        )

    async def retry_later(
        self,
        message_id: int,
        error: str,
        due: datetime,
        payload: dict[str, Any] | None = None,
    ) -> None:
        """Put a message whose delivery failed back in the queue, due again at ``due``.

        ``payload`` replaces the stored one: a sender keeps there which parts of a
        several-message reply already went out, so a retry sends only the rest.
        """
        values: dict[str, Any] = {
            "sent_at": None,
            "last_error": error[:500],
            "not_before": due,
        }
        if payload is not None:
            values["payload"] = payload
        await self.session.execute(
            update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values)
        )

    async def give_up(self, message_id: int, error: str, now: datetime) -> None:
        """Record at ``now`` why a message will never be delivered; it is marked as handled."""
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(last_error=error[:500], sent_at=now)
        )

    async def next_due(self, channel: str, exclude_chats: Collection[str] = ()) -> datetime | None:
        """When :meth:`lease_next` will next find a message (leaving ``exclude_chats`` out)."""
        value: datetime | None = await self.session.scalar(
            select(OutboxMessage.not_before)
            .where(*_deliverable(channel, exclude_chats))
            .order_by(OutboxMessage.not_before)
            .limit(1)
        )
        return value


def _deliverable(channel: str, exclude_chats: Collection[str]) -> list[ColumnElement[bool]]:
    """Unsent messages for ``channel`` that are next in their chat (see ``lease_next``)."""
    earlier = aliased(OutboxMessage)
    retry_pending = exists().where(
        earlier.channel == OutboxMessage.channel,
        earlier.chat_id == OutboxMessage.chat_id,
        earlier.sent_at.is_(None),
        earlier.attempts > 0,
        earlier.id < OutboxMessage.id,
    )
    conditions = [
        OutboxMessage.channel == channel,
        OutboxMessage.sent_at.is_(None),
        ~retry_pending,
    ]
    if exclude_chats:
        conditions.append(OutboxMessage.chat_id.not_in(list(exclude_chats)))
    return conditions

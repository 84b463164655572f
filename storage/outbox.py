"""The outbox: messages for people other than the one who acted, delivered by a sender."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.event_models import OutboxMessage
from storage.models import Participant, utcnow

# Channels with nobody behind them (seeded demo participants): nothing is queued for them.
SILENT_CHANNELS = frozenset({"demo"})


class OutboxRepository:
    """Queue, claim and settle outbox messages."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def queue(
        self,
        recipient: Participant,
        payload: dict[str, Any],
        *,
        topic: str | None = None,
        not_before: datetime | None = None,
    ) -> bool:
        """Queue ``payload`` for ``recipient``; ``False`` for silent channels."""
        if recipient.channel in SILENT_CHANNELS:
            return False
        self.session.add(
            OutboxMessage(
                participant_id=recipient.id,
                channel=recipient.channel,
                chat_id=recipient.chat_id,
                payload=payload,
                topic=topic,
                created_at=utcnow(),
                not_before=not_before or utcnow(),
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

    async def claim_due(
        self, channel: str, now: datetime, limit: int = 100, chat_id: str | None = None
    ) -> list[OutboxMessage]:
        """Take due messages for delivery, marking them sent first.

        Marking before sending means a crash mid-send loses at most the message in hand and
        never sends one twice; a failed send is put back with :meth:`retry_later`.
        """
        query = (
            select(OutboxMessage)
            .where(
                OutboxMessage.channel == channel,
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.not_before <= now,
            )
            .order_by(OutboxMessage.not_before, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if chat_id is not None:
            query = query.where(OutboxMessage.chat_id == chat_id)
        rows = list((await self.session.scalars(query)).all())
        for row in rows:
            row.sent_at = now
            row.attempts += 1
        return rows

    async def retry_later(self, message_id: int, error: str, delay: timedelta) -> None:
        """Put a message whose delivery failed back in the queue after ``delay``."""
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(sent_at=None, last_error=error[:500], not_before=utcnow() + delay)
        )

    async def give_up(self, message_id: int, error: str) -> None:
        """Record why a message will never be delivered (it stays marked as handled)."""
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(last_error=error[:500])
        )

    async def next_due(self, channel: str) -> datetime | None:
        """When the next unsent message for ``channel`` becomes due."""
        value: datetime | None = await self.session.scalar(
            select(OutboxMessage.not_before)
            .where(OutboxMessage.channel == channel, OutboxMessage.sent_at.is_(None))
            .order_by(OutboxMessage.not_before)
            .limit(1)
        )
        return value

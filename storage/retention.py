"""Who has outlived the retention period that the privacy notice states.

The notice promises that data is kept until ``PRIVACY_RETENTION_DAYS`` days after the end of
the last event the participant joined, or after they registered if they joined none (after
they first wrote, if they never finished registering), and then erased.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.event_models import Event, EventRegistration
from storage.models import Participant
from storage.outbox import SILENT_CHANNELS

BATCH = 100
"""Participants found per look: each is then erased in a transaction of its own."""


async def past_retention(
    session: AsyncSession, now: datetime, days: int, *, among: Sequence[int] | None = None
) -> list[int]:
    """The ids of participants whose retention period ended before ``now``, at most
    :data:`BATCH` of them (or those of ``among``, to check again just before erasing).

    An event's last day is a date in its own time zone: a day more is waited so that no
    zone's end of that day is still to come.
    """
    last_event_day = (
        select(func.max(Event.ends_on))
        .join(EventRegistration, EventRegistration.event_id == Event.id)
        .where(EventRegistration.participant_id == Participant.id)
        .scalar_subquery()
    )
    joined_none = ~exists().where(EventRegistration.participant_id == Participant.id)
    since = func.coalesce(Participant.registered_at, Participant.created_at)
    query = (
        select(Participant.id)
        .where(
            Participant.channel.not_in(sorted(SILENT_CHANNELS)),  # the demo's made-up people
            or_(
                last_event_day < now.date() - timedelta(days=days + 1),
                and_(joined_none, since < now - timedelta(days=days)),
            ),
        )
        .order_by(Participant.id)
        .limit(BATCH)
    )
    if among is not None:
        query = query.where(Participant.id.in_(list(among)))
    return list((await session.scalars(query)).all())

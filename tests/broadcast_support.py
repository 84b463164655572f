"""Many Telegram recipients for broadcast tests and benchmarks, inserted in a few statements."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.event_models import EventRegistration
from storage.models import ConsentRecord, InterestArea, Participant, ParticipantInterest
from tests.events_support import NOW

LOCALES = ("it", "en", "zh_Hans")
FIRST_ID = 900_000


async def add_recipients(
    sessions: async_sessionmaker[AsyncSession],
    count: int,
    *,
    event_id: int | None = None,
    area: str = "energy",
    first_id: int = FIRST_ID,
) -> dict[int, str]:
    """``count`` registered Telegram participants with consent, interested in ``area``
    (in ``event_id``), their locales in turn it, en, zh_Hans; returns user id → locale."""
    people = {first_id + i: LOCALES[i % 3] for i in range(count)}
    earlier = NOW - timedelta(days=1)
    async with sessions() as session, session.begin():
        area_id = await session.scalar(select(InterestArea.id).where(InterestArea.code == area))
        rows = [
            dict(channel="telegram", external_id=str(uid), chat_id=str(uid), locale=locale,
                 name=f"Recipient {uid}", country="IT" if locale == "it" else "CN",
                 org_type="startup", registered_at=earlier, created_at=earlier, updated_at=earlier)
            for uid, locale in people.items()
        ]  # fmt: skip
        ids = list(await session.scalars(insert(Participant).returning(Participant.id), rows))
        await session.execute(
            insert(ConsentRecord),
            [dict(participant_id=i, purpose="profile_sharing", notice_version="test",
                  locale="en", given_at=earlier) for i in ids],
        )  # fmt: skip
        await session.execute(
            insert(ParticipantInterest), [dict(participant_id=i, area_id=area_id) for i in ids]
        )
        if event_id is not None:
            await session.execute(
                insert(EventRegistration),
                [dict(event_id=event_id, participant_id=i, joined_at=earlier) for i in ids],
            )
    return people


def per_chat(messages: list[tuple[int, str]]) -> Counter[int]:
    """How many messages each chat received."""
    return Counter(chat for chat, _text in messages)

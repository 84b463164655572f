"""Building events and registered participants directly in the database, for tests."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import App
from handlers.core import Core
from handlers.kernel.i18n import translator
from handlers.kernel.markup import fmt, to_plain_text
from handlers.kernel.notify import payload_to_reply
from handlers.kernel.replies import Reply
from storage.event_models import Event, EventRegistration, OutboxMessage, Place, Slot
from storage.models import ConsentRecord, InterestArea, Participant, ParticipantInterest

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@dataclass
class Clock:
    """A settable clock for Ponte: it says ``now``, which a test sets or advances.

    A ``ticking`` clock moves on with real time from ``now`` (for tests of the senders,
    whose retries wait real seconds), still starting from the tests' own date rather than
    the machine's.
    """

    now: datetime = NOW
    ticking: bool = False
    started: float = field(default_factory=time.monotonic)

    def __call__(self) -> datetime:
        if self.ticking:
            return self.now + timedelta(seconds=time.monotonic() - self.started)
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


async def make_event(
    sessions: async_sessionmaker[AsyncSession],
    *,
    code: str = "itcn-2026",
    first_slot: datetime = datetime(2026, 12, 15, 8, 0, tzinfo=UTC),
    slots: int = 6,
    minutes: int = 20,
    places: int = 2,
    mode: str = "online",
    time_zone: str = "Europe/Rome",
    deadline: datetime = datetime(2026, 12, 14, 17, 0, tzinfo=UTC),
    max_pending: int = 10,
) -> int:
    """An event with ``slots`` consecutive slots and ``places`` links or tables."""
    async with sessions() as session, session.begin():
        event = Event(
            code=code,
            names={"en": "Italy–China Matchmaking Day", "it": "Giornata di matchmaking Italia–Cina", "zh_Hans": "中意对接日"},
            mode=mode, city=None if mode == "online" else "Napoli",
            venue=None if mode == "online" else "Città della Scienza",
            time_zone=time_zone, starts_on=first_slot.date(), ends_on=first_slot.date(),
            registration_deadline=deadline, meeting_minutes=minutes,
            max_pending_requests=max_pending, request_ttl_hours=48, created_at=NOW,
        )  # fmt: skip
        session.add(event)
        await session.flush()
        for index in range(slots):
            start = first_slot + timedelta(minutes=minutes * index)
            session.add(
                Slot(event_id=event.id, starts_at=start, ends_at=start + timedelta(minutes=minutes))
            )
        for index in range(places):
            if mode == "online":
                session.add(Place(event_id=event.id, kind="link", label=f"Room {index + 1}",
                                  url=f"https://meeting.tencent.com/dm/test-{index + 1}", position=index))  # fmt: skip
            else:
                session.add(
                    Place(
                        event_id=event.id, kind="table", label=f"Table {index + 1}", position=index
                    )
                )
        return event.id


@dataclass
class Someone:
    """A registered participant made for a test."""

    user: str
    name: str
    country: str = "IT"
    locale: str = "en"
    areas: tuple[str, ...] = ("energy",)
    offer: str = "Battery technology"
    seek: str = "Industrial partners"
    channel: str = "test"
    time_zone: str | None = None
    email: str = field(default="")
    org_type: str = "startup"
    organisation: str = ""


async def add_people(
    sessions: async_sessionmaker[AsyncSession], event_id: int | None, people: list[Someone]
) -> dict[str, int]:
    """Registered participants (optionally in an event); returns their ids by user name."""
    ids: dict[str, int] = {}
    async with sessions() as session, session.begin():
        areas = {a.code: a.id for a in (await session.scalars(select(InterestArea))).all()}
        for person in people:
            zone = person.time_zone or (
                "Asia/Shanghai" if person.country == "CN" else "Europe/Rome"
            )
            participant = Participant(
                channel=person.channel, external_id=person.user, chat_id=person.user,
                locale=person.locale, time_zone=zone, name=person.name,
                organisation=person.organisation or f"{person.name} Lab", org_type=person.org_type,
                country=person.country,
                city="Napoli" if person.country == "IT" else "Beijing",
                email=person.email or f"{person.user}@example.org", phone="+39 06 1234 5678",
                website=f"https://{person.user}.example.org", profile="A test participant's profile.",
                offer=person.offer, seek=person.seek, languages_spoken=["en"],
                interpreter_needed=False, registered_at=NOW - timedelta(days=1),
                created_at=NOW - timedelta(days=1), updated_at=NOW - timedelta(days=1),
            )  # fmt: skip
            session.add(participant)
            await session.flush()
            session.add(ConsentRecord(participant_id=participant.id, purpose="profile_sharing",
                                      notice_version="test", locale=person.locale, given_at=NOW))  # fmt: skip
            session.add_all(
                ParticipantInterest(participant_id=participant.id, area_id=areas[c])
                for c in person.areas
            )
            if event_id is not None:
                session.add(
                    EventRegistration(
                        event_id=event_id, participant_id=participant.id, joined_at=NOW
                    )
                )
            ids[person.user] = participant.id
    return ids


async def core_with_clock(sessions: async_sessionmaker[AsyncSession], clock: Clock) -> Core:
    core = Core(sessions, clock=clock)
    await core.load_taxonomy()
    return core


def first_day(value: datetime) -> date:
    return value.date()


async def inbox(app: App, user: str, now: datetime) -> list[Reply]:
    """What the outbox holds for ``user`` and is due at ``now`` (claimed, as a sender would)."""
    async with app.sessions() as session, session.begin():
        rows = await session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.channel == "test",
                OutboxMessage.chat_id == user,
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.not_before <= now,
            )
            .order_by(OutboxMessage.not_before, OutboxMessage.id)
        )
        claimed = list(rows)
        for row in claimed:
            row.sent_at = now
        return [payload_to_reply(row.payload) for row in claimed]


def said(locale: str, message: str, **values: str) -> str:
    """What Ponte says in ``locale`` (plain text)."""
    return to_plain_text(fmt(translator(locale).gettext(message), **values))


def text_of(replies: list[Reply]) -> str:
    return "\n".join(to_plain_text(r.text) for r in replies)


async def slot_and_place(
    session: AsyncSession, code: str, slot_index: int
) -> tuple[Event, Slot, Place]:
    """The event ``code``, its ``slot_index``-th slot in time order, and its first place."""
    event = await session.scalar(select(Event).where(Event.code == code))
    assert event is not None
    slots = await session.scalars(
        select(Slot).where(Slot.event_id == event.id).order_by(Slot.starts_at)
    )
    place = await session.scalar(select(Place).where(Place.event_id == event.id).limit(1))
    assert place is not None
    return event, slots.all()[slot_index], place

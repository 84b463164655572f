"""Hundreds of accepts racing for the same slots, and events whose slots overlap: never a
double booking, and the database itself refuses one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from alembic import command
from sqlalchemy import func, inspect, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from bot.app import App
from storage import migrate
from storage.event_models import Booking, EventRegistration, Meeting, MeetingRequest, Slot
from tests.chat import Chat
from tests.events_support import Clock, Someone, add_people, core_with_clock, make_event

PEOPLE = 90
REQUESTS_EACH = 4  # everyone asks the next four people: 360 requests, many sharing a person


async def test_racing_accepts_never_double_book(app: App) -> None:
    clock = Clock()
    event_id = await make_event(app.sessions, slots=8, places=6)  # 48 seats in all
    people = [Someone(f"r{i}", f"Racer {i}", "IT" if i % 2 else "CN") for i in range(PEOPLE)]
    ids = await add_people(app.sessions, event_id, people)
    async with app.sessions() as session, session.begin():
        for i in range(PEOPLE):
            for step in range(1, REQUESTS_EACH + 1):
                session.add(
                    MeetingRequest(
                        event_id=event_id, requester_id=ids[f"r{i}"],
                        invitee_id=ids[f"r{(i + step) % PEOPLE}"], status="pending",
                        created_at=clock.now, expires_at=clock.now + timedelta(days=2),
                    )
                )  # fmt: skip
    async with app.sessions() as session:
        requests = (await session.scalars(select(MeetingRequest))).all()
    core = await core_with_clock(app.sessions, clock)
    reverse = {v: k for k, v in ids.items()}
    accepts = [
        Chat(core, user=reverse[r.invitee_id], channel="test").press_payload(f"rq|{r.id}|a")
        for r in requests
    ]
    # Every accept twice, so double taps race too.
    await asyncio.gather(*accepts, *[
        Chat(core, user=reverse[r.invitee_id], channel="test").press_payload(f"rq|{r.id}|a") for r in requests
    ])  # fmt: skip

    async with app.sessions() as session:
        meetings = (await session.scalars(select(Meeting))).all()
        bookings = (await session.scalars(select(Booking))).all()
    assert len(meetings) == len(requests), "every request became exactly one meeting"
    scheduled = [m for m in meetings if m.status == "scheduled"]
    seats = [(m.slot_id, m.place_id) for m in scheduled]
    assert len(seats) == len(set(seats)), "a slot's place used twice"
    people_in_slots = [(b.slot_id, b.participant_id) for b in bookings]
    assert len(people_in_slots) == len(set(people_in_slots)), "someone in two meetings at once"
    assert len(bookings) == 2 * len(scheduled)
    assert 0 < len(scheduled) <= 48
    for meeting in scheduled:
        own = {(b.slot_id, b.participant_id) for b in bookings if b.meeting_id == meeting.id}
        assert own == {(meeting.slot_id, meeting.first_id), (meeting.slot_id, meeting.second_id)}
    async with app.sessions() as session:
        waiting = await session.scalar(
            select(func.count())
            .select_from(MeetingRequest)
            .where(MeetingRequest.status == "pending")
        )
    assert waiting == 0


EIGHT = datetime(2026, 12, 15, 8, 0, tzinfo=UTC)


async def two_overlapping_events(
    app: App, people: list[Someone], *, slots: int = 6, places: int = 2
) -> tuple[int, int, dict[str, int]]:
    """Event one: 20-minute slots from 08:00. Event two: ``slots`` 30-minute slots from
    08:10, so its slots overlap event one's. Everyone joins both."""
    first = await make_event(app.sessions, first_slot=EIGHT, minutes=20)
    other = await make_event(app.sessions, code="other", first_slot=EIGHT + timedelta(minutes=10),
                             minutes=30, slots=slots, places=places)  # fmt: skip
    ids = await add_people(app.sessions, first, people)
    async with app.sessions() as session, session.begin():
        session.add_all(
            EventRegistration(event_id=other, participant_id=i, joined_at=app.clock())
            for i in ids.values()
        )
    return first, other, ids


async def accept(
    app: App, chat: Chat, event: int, requester: int, invitee: int, now: datetime
) -> None:
    async with app.sessions() as session, session.begin():
        request = MeetingRequest(
            event_id=event,
            requester_id=requester,
            invitee_id=invitee,
            status="pending",
            created_at=now,
            expires_at=now + timedelta(days=2),
        )
        session.add(request)
    await chat.press_payload(f"rq|{request.id}|a")


async def meeting_times(app: App) -> list[tuple[int, str | None]]:
    async with app.sessions() as session:
        meetings = (await session.scalars(select(Meeting).order_by(Meeting.id))).all()
    return [(m.event_id, m.slot.starts_at.strftime("%H:%M") if m.slot else None) for m in meetings]


@pytest.mark.parametrize(("slots", "expected"), [(4, "08:40"), (1, None)])
async def test_a_meeting_at_another_event_skips_overlapping_slots(
    app: App, slots: int, expected: str | None
) -> None:
    clock = Clock()
    pair = [Someone("maria", "Maria Rossi", "IT"), Someone("wang", "Wang Wei", "CN")]
    first, other, ids = await two_overlapping_events(app, pair, slots=slots)
    wang = Chat(await core_with_clock(app.sessions, clock), user="wang", channel="test")
    await accept(app, wang, first, ids["maria"], ids["wang"], clock.now)  # 08:00–08:20
    await accept(app, wang, other, ids["maria"], ids["wang"], clock.now)  # 08:10–08:40 overlaps
    assert await meeting_times(app) == [(first, "08:00"), (other, expected)]


async def test_the_database_refuses_overlapping_bookings(app: App) -> None:
    clock = Clock()
    pair = [Someone("maria", "Maria Rossi", "IT"), Someone("wang", "Wang Wei", "CN")]
    first, other, ids = await two_overlapping_events(app, pair)
    wang = Chat(await core_with_clock(app.sessions, clock), user="wang", channel="test")
    await accept(app, wang, first, ids["maria"], ids["wang"], clock.now)  # 08:00–08:20
    async with app.sessions() as session:
        meeting = await session.scalar(select(Meeting))
        slots = {(s.event_id, s.starts_at): s for s in (await session.scalars(select(Slot))).all()}
    assert meeting is not None
    overlapping = slots[(other, EIGHT + timedelta(minutes=10))]
    adjacent = slots[(first, EIGHT + timedelta(minutes=20))]

    def booking(slot: Slot) -> Booking:
        return Booking(meeting_id=meeting.id, slot_id=slot.id, participant_id=ids["maria"],
                       starts_at=slot.starts_at, ends_at=slot.ends_at)  # fmt: skip

    with pytest.raises(IntegrityError):
        async with app.sessions() as session, session.begin():
            session.add(booking(overlapping))
    async with app.sessions() as session, session.begin():
        session.add(booking(adjacent))  # 08:20–08:40 only touches 08:00–08:20
    # A slot made longer carries its bookings along, and may not make them overlap.
    with pytest.raises(IntegrityError):
        async with app.sessions() as session, session.begin():
            await session.execute(
                update(Slot)
                .where(Slot.id == meeting.slot_id)
                .values(ends_at=EIGHT + timedelta(minutes=25))
            )
    async with app.sessions() as session, session.begin():
        await session.execute(
            update(Slot).where(Slot.id == adjacent.id).values(ends_at=EIGHT + timedelta(minutes=35))
        )
    async with app.sessions() as session:
        ends = (
            await session.scalars(select(Booking.ends_at).where(Booking.slot_id == adjacent.id))
        ).all()
    assert ends == [EIGHT + timedelta(minutes=35)]


async def test_racing_accepts_at_two_overlapping_events_never_overlap(app: App) -> None:
    clock = Clock()
    crowd = [Someone(f"x{i}", f"Person {i}", "IT" if i % 2 else "CN") for i in range(40)]
    first, other, ids = await two_overlapping_events(app, crowd, slots=6, places=5)
    async with app.sessions() as session, session.begin():
        for event in (first, other):
            session.add_all(
                MeetingRequest(event_id=event, requester_id=ids[f"x{i}"],
                               invitee_id=ids[f"x{(i + step) % 40}"], status="pending",
                               created_at=clock.now, expires_at=clock.now + timedelta(days=2))
                for i in range(40) for step in (1, 2, 3)
            )  # fmt: skip
    async with app.sessions() as session:
        requests = (await session.scalars(select(MeetingRequest))).all()
    core = await core_with_clock(app.sessions, clock)
    reverse = {v: k for k, v in ids.items()}
    await asyncio.gather(*[
        Chat(core, user=reverse[r.invitee_id], channel="test").press_payload(f"rq|{r.id}|a")
        for r in requests
    ])  # fmt: skip
    async with app.sessions() as session:
        bookings = (await session.scalars(select(Booking))).all()
        meetings = (await session.scalars(select(Meeting))).all()
    assert len(meetings) == len(requests)
    assert {m.event_id for m in meetings if m.status == "scheduled"} == {first, other}
    by_person: dict[int, list[tuple[datetime, datetime]]] = {}
    for b in bookings:
        by_person.setdefault(b.participant_id, []).append((b.starts_at, b.ends_at))
    for person, times in by_person.items():
        times.sort()
        for (_, end), (start, _) in pairwise(times):
            assert end <= start, f"participant {person} booked at overlapping times"


async def test_migration_0003_goes_down_and_up_with_meetings_kept(app: App) -> None:
    clock = Clock()
    pair = [Someone("maria", "Maria Rossi", "IT"), Someone("wang", "Wang Wei", "CN")]
    first, other, ids = await two_overlapping_events(app, pair)
    wang = Chat(await core_with_clock(app.sessions, clock), user="wang", channel="test")
    await accept(app, wang, first, ids["maria"], ids["wang"], clock.now)

    def downgrade(connection: Connection) -> list[str]:
        config = migrate.alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
        return [c["name"] for c in inspect(connection).get_columns("bookings")]

    async with app.engine.begin() as connection:
        assert "starts_at" not in await connection.run_sync(downgrade)
    await migrate.upgrade(app.engine)
    async with app.sessions() as session:
        copied = await session.scalar(
            select(func.count())
            .select_from(Booking)
            .join(Slot, Slot.id == Booking.slot_id)
            .where(Booking.starts_at == Slot.starts_at, Booking.ends_at == Slot.ends_at)
        )
    assert copied == 2, "the upgrade copies each booking's slot times"
    await accept(app, wang, other, ids["maria"], ids["wang"], clock.now)
    assert await meeting_times(app) == [(first, "08:00"), (other, "08:40")]

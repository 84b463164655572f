"""Hundreds of accepts racing for the same slots: never a double booking."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from bot.app import App
from storage.event_models import Booking, Meeting, MeetingRequest
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

"""The retention period the privacy notice states is kept: those past it are erased."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

import bot.retention
import storage.retention
from bot.app import App
from bot.retention import erase_past_retention
from bot.scheduler import Scheduling
from storage.event_models import EventRegistration, Meeting, MeetingRequest, OutboxMessage
from storage.models import ConsentRecord, Participant
from tests.events_support import NOW, Clock, Someone, add_people, make_event, slot_and_place

DAYS = 365  # the default PRIVACY_RETENTION_DAYS, which the tests' app runs with


async def event_ended(app: App, code: str, days_ago: int) -> int:
    """An event whose one day was ``days_ago`` days before the tests' today."""
    first_slot = NOW.replace(hour=8) - timedelta(days=days_ago)
    return await make_event(app.sessions, code=code, first_slot=first_slot,
                            deadline=first_slot - timedelta(days=1))  # fmt: skip


async def people(app: App) -> set[str]:
    async with app.sessions() as session:
        return set((await session.scalars(select(Participant.external_id))).all())


async def world(app: App) -> None:
    long_ago = await event_ended(app, "long-ago", DAYS + 30)
    just_past = await event_ended(app, "just-past", DAYS + 2)
    boundary = await event_ended(app, "boundary", DAYS + 1)
    recent = await event_ended(app, "recent", 10)
    await add_people(app.sessions, long_ago, [Someone("anna", "Anna"), Someone("carla", "Carla")])
    await add_people(app.sessions, just_past, [Someone("gino", "Gino")])
    await add_people(app.sessions, boundary, [Someone("hana", "Hana")])
    await add_people(app.sessions, recent, [Someone("bruno", "Bruno")])
    await add_people(app.sessions, long_ago, [Someone("demo-1", "Demo", channel="demo")])
    await add_people(app.sessions, None, [Someone("dario", "Dario"), Someone("elena", "Elena"),
                                          Someone("fabio", "Fabio")])  # fmt: skip
    async with app.sessions() as session, session.begin():
        ids = dict((await session.execute(select(Participant.external_id, Participant.id))).all())
        # Carla joined a recent event too: her data is kept for that one.
        session.add(EventRegistration(event_id=recent, participant_id=ids["carla"], joined_at=NOW))
        # Anna and Carla met at the event long ago.
        _event, slot, place = await slot_and_place(session, "long-ago", 0)
        request = MeetingRequest(
            event_id=long_ago, requester_id=ids["anna"], invitee_id=ids["carla"],
            status="accepted", created_at=slot.starts_at - timedelta(days=2),
            expires_at=slot.starts_at, answered_at=slot.starts_at - timedelta(days=1),
        )  # fmt: skip
        session.add(request)
        await session.flush()
        session.add(
            Meeting(
                request_id=request.id, event_id=long_ago, first_id=ids["anna"],
                second_id=ids["carla"], slot_id=slot.id, place_id=place.id, status="scheduled",
                created_at=request.answered_at, updated_at=request.answered_at,
            )
        )  # fmt: skip
        # Dario registered long ago and joined nothing; Fabio never finished registering.
        await session.execute(
            update(Participant).where(Participant.id == ids["dario"])
            .values(registered_at=NOW - timedelta(days=DAYS + 1))
        )  # fmt: skip
        await session.execute(
            update(Participant).where(Participant.id == ids["fabio"])
            .values(registered_at=None, created_at=NOW - timedelta(days=DAYS + 1))
        )  # fmt: skip


async def test_those_past_the_retention_period_are_erased_and_nobody_else(
    app: App, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found two at a time, so that the four erased take more than one look.
    monkeypatch.setattr(storage.retention, "BATCH", 2)
    monkeypatch.setattr(bot.retention, "BATCH", 2)
    await world(app)
    before = await people(app)
    assert await erase_past_retention(app.core) == 4
    assert before - await people(app) == {"anna", "gino", "dario", "fabio"}
    async with app.sessions() as session:
        consents = await session.scalar(select(func.count()).select_from(ConsentRecord))
    assert consents == len(before) - 4  # what belonged to them went with them
    async with app.sessions() as session:
        meetings = await session.scalar(select(func.count()).select_from(Meeting))
        told = await session.scalar(select(func.count()).select_from(OutboxMessage))
    # Their meeting of long ago went with Anna, and nobody was told it was cancelled.
    assert (meetings, told) == (0, 0)
    assert await erase_past_retention(app.core) == 0

    # A day on, the event of the boundary case is past the period too.
    clock.advance(days=1)
    assert await erase_past_retention(app.core) == 1
    assert "hana" not in await people(app)


async def test_the_sweep_erases_once_a_day(app: App, clock: Clock, scheduling: Scheduling) -> None:
    await world(app)
    await scheduling.sweep()
    assert {"anna", "gino", "dario", "fabio"}.isdisjoint(await people(app))
    # Someone past the period found later the same day waits for the next day's look.
    await add_people(app.sessions, None, [Someone("ivo", "Ivo")])
    async with app.sessions() as session, session.begin():
        await session.execute(
            update(Participant).where(Participant.external_id == "ivo")
            .values(registered_at=NOW - timedelta(days=DAYS + 1))
        )  # fmt: skip
    await scheduling.sweep()
    assert "ivo" in await people(app)
    clock.advance(days=1)
    await scheduling.sweep()
    assert "ivo" not in await people(app)

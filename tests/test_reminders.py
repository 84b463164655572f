"""Reminders before meetings: planned from the database, sent once, in the reader's language
and time zone, moved and dropped with the meeting, answered with attendance buttons."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func, select

from bot.app import App
from bot.scheduler import Scheduling
from handlers.matchmaking.reminders import REMINDER_JOB
from storage.event_models import Booking, Meeting
from storage.reminder_models import Attendance, Reminder
from storage.reminders import DELIVERY_MARGIN, ReminderRepository, max_lead
from tests.events_support import Clock, inbox, text_of
from tests.test_matchmaking import request_and_accept, setup

FIRST_SLOT = datetime(2026, 12, 15, 8, 0, tzinfo=UTC)  # 09:00 in Rome, 16:00 in Beijing


@pytest.fixture
async def scheduling(app: App) -> AsyncIterator[Scheduling]:
    """Ponte's scheduler on the test's app (and its clock), started and stopped around the test."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.start()
    scheduling = Scheduling(app, scheduler)
    try:
        yield scheduling
    finally:
        scheduling.shutdown()


async def at(scheduling: Scheduling, clock: Clock, moment: datetime) -> None:
    """Move Ponte's clock to ``moment`` and let the scheduler do what falls due."""
    clock.now = moment
    await scheduling.sweep()
    await scheduling.settle()


async def reminders(app: App) -> list[Reminder]:
    async with app.sessions() as session:
        rows = await session.scalars(select(Reminder).order_by(Reminder.due_at, Reminder.id))
        return list(rows.unique().all())


async def meeting_of(app: App) -> Meeting:
    async with app.sessions() as session:
        meeting = await session.scalar(select(Meeting))
    assert meeting is not None
    return meeting


async def test_an_accepted_meeting_gets_its_reminders_and_digests(app: App, clock: Clock) -> None:
    ids, chats = await setup(app, clock)
    await request_and_accept(app, chats, ids, "maria", "wang")
    planned = {(r.participant_id, r.kind, r.offset_minutes): r.due_at for r in await reminders(app)}
    assert planned == {
        (ids["maria"], "before", 1440): FIRST_SLOT - timedelta(hours=24),
        (ids["maria"], "before", 15): FIRST_SLOT - timedelta(minutes=15),
        (ids["wang"], "before", 1440): FIRST_SLOT - timedelta(hours=24),
        (ids["wang"], "before", 15): FIRST_SLOT - timedelta(minutes=15),
        # 08:00 on the meeting's day, each in their own time zone
        (ids["maria"], "digest", 0): datetime(2026, 12, 15, 7, 0, tzinfo=UTC),
        (ids["wang"], "digest", 0): datetime(2026, 12, 15, 0, 0, tzinfo=UTC),
    }


async def test_reminders_arrive_in_each_language_and_local_time_once(
    app: App, clock: Clock, scheduling: Scheduling
) -> None:
    ids, chats = await setup(app, clock)
    await request_and_accept(app, chats, ids, "maria", "wang")
    await inbox(app, "maria", clock.now)
    await inbox(app, "wang", clock.now)
    await at(scheduling, clock, FIRST_SLOT - timedelta(hours=24, minutes=1))
    assert not await inbox(app, "maria", clock.now), "nothing before it is due"
    await at(scheduling, clock, FIRST_SLOT - timedelta(hours=24))
    maria = text_of(await inbox(app, "maria", clock.now))
    wang = text_of(await inbox(app, "wang", clock.now))
    assert "Wang Wei" in maria and "tra 1 giorno" in maria and "09:00" in maria
    assert "Maria Rossi" in wang and "1天后" in wang and "16:00" in wang
    await at(scheduling, clock, FIRST_SLOT - timedelta(hours=23))
    assert not await inbox(app, "maria", clock.now), "never twice"
    # The morning agenda at 08:00 in Rome, then the 15-minute reminder, with the
    # attendance buttons and "Running late".
    await at(scheduling, clock, datetime(2026, 12, 15, 7, 0, tzinfo=UTC))
    [digest] = await inbox(app, "maria", clock.now)
    assert "Oggi" in digest.text and "09:00" in digest.text and "Wang Wei" in digest.text
    await at(scheduling, clock, FIRST_SLOT - timedelta(minutes=15))
    [soon] = await inbox(app, "maria", clock.now)
    assert "tra 15 minuti" in text_of([soon])
    payloads = [b.payload for b in soon.all_buttons()]
    meeting = await meeting_of(app)
    assert payloads == [f"at|{meeting.id}|y", f"at|{meeting.id}|n", f"at|{meeting.id}|l"]


async def test_a_reminder_is_claimed_once_even_when_fired_twice(app: App, clock: Clock) -> None:
    ids, chats = await setup(app, clock)
    await request_and_accept(app, chats, ids, "maria", "wang")
    first = next(r for r in await reminders(app) if r.offset_minutes == 15)
    clock.now = first.due_at
    assert not await app.core.run_timed(REMINDER_JOB, first.id + 10_000), "unknown id"
    results = [await app.core.run_timed(REMINDER_JOB, first.id) for _ in range(3)]
    assert results == [True, False, False]


async def test_confirm_cancel_and_running_late(app: App, clock: Clock) -> None:
    ids, chats = await setup(app, clock)
    await request_and_accept(app, chats, ids, "maria", "wang")
    meeting = await meeting_of(app)
    await inbox(app, "wang", clock.now)
    clock.now = FIRST_SLOT - timedelta(minutes=10)
    await chats["maria"].press_payload(f"at|{meeting.id}|y")
    assert "Wang Wei" in chats["maria"].text
    await chats["maria"].press_payload(f"at|{meeting.id}|l")
    await chats["maria"].press("l10")
    late = text_of(await inbox(app, "wang", clock.now))
    assert "Maria Rossi" in late and "10" in late  # in Wang's Chinese
    assert "分钟" in late
    # "I can't make it" asks first; "No, keep it" keeps the meeting.
    await chats["wang"].press_payload(f"at|{meeting.id}|n")
    await chats["wang"].press("k")
    assert (await meeting_of(app)).status == "scheduled"
    await chats["wang"].press_payload(f"at|{meeting.id}|n")
    await chats["wang"].press("N")
    assert (await meeting_of(app)).status == "cancelled"
    told = text_of(await inbox(app, "maria", clock.now))
    assert "Wang Wei" in told
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Booking)) == 0
        answers = {
            (a.participant_id, a.status, a.late_minutes)
            for a in await session.scalars(select(Attendance))
        }
    assert answers == {(ids["maria"], "confirmed", 10), (ids["wang"], "declined", None)}
    assert {r.state for r in await reminders(app) if r.kind == "before"} == {"dropped"}


async def test_forged_attendance_presses_change_nothing(app: App, clock: Clock) -> None:
    ids, chats = await setup(app, clock)
    await request_and_accept(app, chats, ids, "maria", "wang")
    meeting = await meeting_of(app)
    for payload in (f"at|{meeting.id}|N", f"at|{meeting.id}|y", f"at|{meeting.id}|l10"):
        await chats["li"].press_payload(payload)  # not one of the two sides
    await chats["maria"].press_payload(f"at|{meeting.id}|zz")
    await chats["maria"].press_payload("at|x|y")
    # "Running late" a day ahead is refused kindly.
    await chats["maria"].press_payload(f"at|{meeting.id}|l5")
    assert (await meeting_of(app)).status == "scheduled"
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Attendance)) == 0


async def test_moving_a_meeting_moves_its_reminders(
    app: App, clock: Clock, scheduling: Scheduling
) -> None:
    ids, chats = await setup(app, clock)
    await request_and_accept(app, chats, ids, "maria", "wang")
    meeting = await meeting_of(app)
    await chats["maria"].press_payload(f"mt|{meeting.id}|r")
    moved = (await meeting_of(app)).slot
    assert moved is not None and moved.starts_at > FIRST_SLOT
    due = sorted(
        r.due_at for r in await reminders(app) if r.kind == "before" and r.state == "pending"
    )
    assert due == sorted(
        [moved.starts_at - timedelta(hours=24)] * 2 + [moved.starts_at - timedelta(minutes=15)] * 2
    )
    await inbox(app, "maria", clock.now)
    await at(scheduling, clock, moved.starts_at - timedelta(hours=24))
    assert "tra 1 giorno" in text_of(await inbox(app, "maria", clock.now))
    await at(scheduling, clock, FIRST_SLOT - timedelta(minutes=15))
    assert not [r for r in await inbox(app, "maria", clock.now) if "⏰" in r.text], (
        "the old time reminds nobody"
    )
    await at(scheduling, clock, moved.starts_at - timedelta(minutes=15))
    assert "tra 15 minuti" in text_of(await inbox(app, "maria", clock.now))


async def test_reminders_missed_while_down_are_sent_if_still_useful(
    app: App, clock: Clock, scheduling: Scheduling
) -> None:
    ids, chats = await setup(app, clock)
    await request_and_accept(app, chats, ids, "maria", "wang")
    await inbox(app, "maria", clock.now)
    # Down from before the 24-hour reminder until 7 minutes before the meeting: only the
    # closer reminder goes, and it says how long is really left.
    await at(scheduling, clock, FIRST_SLOT - timedelta(minutes=7))
    [late] = [r for r in await inbox(app, "maria", clock.now) if "⏰" in r.text]
    assert "tra 7 minuti" in text_of([late])
    states = {
        (r.participant_id, r.offset_minutes): (r.state, r.note)
        for r in await reminders(app)
        if r.kind == "before"
    }
    assert states[(ids["maria"], 1440)] == ("dropped", "a closer reminder is due too")
    assert states[(ids["maria"], 15)] == ("sent", None)


async def test_reminders_after_the_start_are_dropped(
    app: App, clock: Clock, scheduling: Scheduling
) -> None:
    ids, chats = await setup(app, clock)
    await request_and_accept(app, chats, ids, "maria", "wang")
    await inbox(app, "maria", clock.now)
    await at(scheduling, clock, FIRST_SLOT + timedelta(minutes=1))
    assert not [r for r in await inbox(app, "maria", clock.now) if "⏰" in r.text]
    assert {r.note for r in await reminders(app) if r.kind == "before"} <= {
        "meeting already started",
        "a closer reminder is due too",
    }


async def test_a_burst_is_planned_to_arrive_before_it_is_due(app: App, clock: Clock) -> None:
    """Regression: the spread planned a burst's last reminder at its very due time, so the
    claim, the outbox and the sender's round trip made it arrive after it (bench/reminders_burst
    measured most of a 4,000-reminder burst late)."""
    ids, chats = await setup(app, clock)
    await request_and_accept(app, chats, ids, "maria", "wang")
    due = FIRST_SLOT - timedelta(minutes=15)
    now = due - timedelta(minutes=30)
    async with app.sessions() as session, session.begin():
        await ReminderRepository(session).spread(now, rate=20.0)
    planned = sorted(
        r.send_at for r in await reminders(app) if r.kind == "before" and r.offset_minutes == 15
    )
    gap = timedelta(seconds=1 / 20)
    assert planned == [due - DELIVERY_MARGIN - gap, due - DELIVERY_MARGIN]
    assert all(due - at <= max_lead("before", 15) for at in planned)

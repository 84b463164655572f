"""Reminders before meetings: planned from the database, sent once, in the reader's language
and time zone, moved and dropped with the meeting, answered with attendance buttons."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.scheduler import Scheduling
from handlers.matchmaking.reminders import REMINDER_JOB
from storage.event_models import Booking, Meeting
from storage.models import Participant
from storage.reminder_models import Attendance, Reminder
from storage.reminders import DELIVERY_MARGIN, ReminderRepository, max_lead
from tests.events_support import Clock, Someone, add_people, inbox, make_event, text_of
from tests.test_matchmaking import request_and_accept, setup
from tests.test_outbox_delivery import eventually

FIRST_SLOT = datetime(2026, 12, 15, 8, 0, tzinfo=UTC)  # 09:00 in Rome, 16:00 in Beijing


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
    assert not await app.core.run_timed(REMINDER_JOB, [first.id + 10_000]), "unknown id"
    results = [await app.core.run_timed(REMINDER_JOB, [first.id]) for _ in range(3)]
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
    await chats["maria"].press(chats["maria"].buttons()[0].payload)  # the first time offered
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


@pytest.mark.parametrize(
    ("meeting_utc", "expected_due_utc", "why"),
    [
        # 23:00 in Rome: the day-before reminder would ring at 23:00, so it moves to 07:00.
        (
            datetime(2026, 12, 15, 22, 0, tzinfo=UTC),
            datetime(2026, 12, 15, 6, 0, tzinfo=UTC),
            "after the night",
        ),
        # 07:30 in Rome: 07:30 the day before is outside the night; nothing moves.
        (
            datetime(2026, 12, 15, 6, 30, tzinfo=UTC),
            datetime(2026, 12, 14, 6, 30, tzinfo=UTC),
            "not in the night",
        ),
    ],
)
async def test_quiet_hours_move_all_but_the_starting_soon_reminder(
    app: App, clock: Clock, meeting_utc: datetime, expected_due_utc: datetime, why: str
) -> None:
    ids, chats = await setup(app, clock, first_slot=meeting_utc, slots=1)
    await request_and_accept(app, chats, ids, "maria", "luca")  # both in Rome
    due = {
        r.offset_minutes: r.due_at
        for r in await reminders(app)
        if r.participant_id == ids["maria"] and r.kind == "before"
    }
    assert due[1440] == expected_due_utc, why
    assert due[15] == meeting_utc - timedelta(minutes=15), "starting soon: even at night"


def test_quiet_hours_that_leave_no_room_send_the_evening_before() -> None:
    from zoneinfo import ZoneInfo

    from storage.reminder_policy import ReminderPolicy

    rome = ZoneInfo("Europe/Rome")
    policy = ReminderPolicy(offsets=(180, 15))
    # A 06:30 meeting: three hours before is 03:30, in the night; the night ends at 07:00,
    # after the meeting, so the reminder goes the evening before, just before 22:00.
    due = policy.reminder_due(datetime(2026, 12, 15, 5, 30, tzinfo=UTC), 180, rome)
    assert due == datetime(2026, 12, 14, 20, 59, tzinfo=UTC)
    assert policy.reminder_due(datetime(2026, 12, 15, 5, 30, tzinfo=UTC), 15, rome) == datetime(
        2026, 12, 15, 5, 15, tzinfo=UTC
    )
    assert not ReminderPolicy(quiet=None).in_quiet_hours(
        datetime(2026, 12, 15, 2, tzinfo=UTC), rome
    )


@pytest.mark.parametrize(
    ("slot", "rome", "beijing"),
    [
        # 25 Oct 2026: Rome goes from UTC+2 to UTC+1 at 03:00; Beijing stays UTC+8.
        (datetime(2026, 10, 25, 8, 0, tzinfo=UTC), "09:00", "16:00"),
        # 29 Mar 2026: Rome goes from UTC+1 to UTC+2 at 02:00.
        (datetime(2026, 3, 29, 8, 0, tzinfo=UTC), "10:00", "16:00"),
    ],
)
async def test_reminders_on_clock_change_nights_ring_at_the_right_instant(
    app: App, clock: Clock, scheduling: Scheduling, slot: datetime, rome: str, beijing: str
) -> None:
    clock.now = slot - timedelta(days=5)
    ids, chats = await setup(
        app, clock, first_slot=slot, slots=1, deadline=slot - timedelta(days=1)
    )
    await request_and_accept(app, chats, ids, "maria", "wang")
    await inbox(app, "maria", clock.now)
    await inbox(app, "wang", clock.now)
    planned = {
        (r.participant_id, r.offset_minutes): r.due_at
        for r in await reminders(app)
        if r.kind == "before"
    }
    for who in ("maria", "wang"):
        # 24 real hours before, whatever the clocks did that night.
        assert planned[(ids[who], 1440)] == slot - timedelta(hours=24)
    for locale in ("it", "en", "zh_Hans"):
        async with app.sessions() as session, session.begin():
            maria = await session.get(Participant, ids["maria"])
            assert maria is not None
            maria.locale = locale
        reminder = next(
            r
            for r in await reminders(app)
            if r.participant_id == ids["maria"] and r.offset_minutes == 15
        )
        async with app.sessions() as session, session.begin():
            row = await session.get(Reminder, reminder.id)
            assert row is not None
            row.state = "pending"
        clock.now = slot - timedelta(minutes=15)
        assert await app.core.run_timed(REMINDER_JOB, [reminder.id])
        text = text_of([r for r in await inbox(app, "maria", clock.now) if "⏰" in r.text])
        expected_rome = rome.removeprefix("0") if locale == "en" else rome  # 9:00 AM
        assert expected_rome in text, (locale, text)
        expected_beijing = beijing if locale != "en" else "4:00"
        assert expected_beijing in text, (locale, text)
        if locale == "zh_Hans":
            assert "北京" in text or "中国" in text


async def test_a_burst_is_spread_ahead_so_none_is_late(app: App, clock: Clock) -> None:
    """4,000 reminders due at one instant, at 20 a second: the last one planned a margin
    before its due time, the first 200 s before that, never beyond the bound (10 min for 15
    min)."""
    from storage.reminder_models import BEFORE

    event_id_ = await make_event(app.sessions)
    ids = await add_people(
        app.sessions, event_id_, [Someone("p", "P", "IT", "it", ("energy",), "x", "y")]
    )
    due = datetime(2026, 12, 15, 7, 45, tzinfo=UTC)
    async with app.sessions() as session, session.begin():
        session.add_all(
            Reminder(key=f"burst{i}", kind=BEFORE, participant_id=ids["p"], event_id=event_id_,
                     offset_minutes=15, starts_at=due + timedelta(minutes=15), due_at=due,
                     send_at=due, state="pending")
            for i in range(4000)
        )  # fmt: skip
    now = due - timedelta(minutes=30)
    async with app.sessions() as session, session.begin():
        assert await ReminderRepository(session).spread(now, rate=20) == 4000
    async with app.sessions() as session, session.begin():
        assert await ReminderRepository(session).spread(now, rate=20) == 0, "stable"
        times = sorted((await session.scalars(select(Reminder.send_at))).all())
    assert times[-1] == due - DELIVERY_MARGIN and all(t <= due for t in times)
    assert due - DELIVERY_MARGIN - times[0] == timedelta(seconds=3999 / 20)
    assert due - times[0] <= max_lead(BEFORE, 15)
    gaps = {round((b - a).total_seconds(), 3) for a, b in pairwise(times)}
    assert gaps == {0.05}


async def test_the_calendar_file_reminds_at_the_first_offset(app: App, clock: Clock) -> None:
    from icalendar import Calendar

    ids, chats = await setup(app, clock)
    await request_and_accept(app, chats, ids, "maria", "wang")
    ics = next(r.document for r in chats["wang"].transcript if r.document is not None)
    alarms = Calendar.from_ical(ics.content).walk("VALARM")
    assert [a.decoded("trigger") for a in alarms] == [-timedelta(hours=24)]


async def test_agenda_shows_who_confirmed(app: App, clock: Clock) -> None:
    ids, chats = await setup(app, clock)
    await request_and_accept(app, chats, ids, "maria", "wang")
    meeting = await meeting_of(app)
    await chats["wang"].press_payload(f"at|{meeting.id}|y")
    await chats["maria"].say("/agenda")
    assert "Wang Wei" in chats["maria"].text
    assert "✅ presenza confermata" in chats["maria"].text
    await chats["wang"].say("/agenda")
    assert "✅" in chats["wang"].text


async def test_an_event_file_sets_the_reminder_policy(tmp_path, app: App, clock: Clock) -> None:  # type: ignore[no-untyped-def]
    from bot.events.files import EventFileError, read_event_file, write_event_yaml
    from storage.reminder_policy import ReminderPolicy

    base = (
        "code: pol\nname: Policy day\nmode: online\ntime_zone: Europe/Rome\nmeeting_minutes: 20\n"
        "sessions:\n  - {date: 2026-12-15, start: '09:00', end: '10:00'}\n"
        "links:\n  - {label: Room A, url: 'https://meeting.tencent.com/dm/a'}\n"
    )
    path = tmp_path / "event.yaml"
    path.write_text(
        base + "reminder_offsets: 2h, 10m\ndigest_time: off\nquiet_hours: 23:00-06:30\n"
    )
    spec = read_event_file(path)
    assert spec.reminders.offsets == (120, 10)
    assert spec.reminders.digest is None
    assert spec.reminders.quiet is not None and f"{spec.reminders.quiet[1]:%H:%M}" == "06:30"
    again = tmp_path / "again.yaml"
    again.write_text(write_event_yaml(spec))
    assert read_event_file(again).reminders == spec.reminders
    path.write_text(base)
    assert read_event_file(path).reminders == ReminderPolicy()
    for bad, message in (
        ("reminder_offsets: soon\n", "24h"),
        ("digest_time: 25:00\n", "08:00"),
        ("quiet_hours: 22:00\n", "22:00-07:00"),
    ):
        path.write_text(base + bad)
        with pytest.raises(EventFileError, match=message):
            read_event_file(path)


async def test_two_processes_on_one_database_send_each_reminder_once(
    app: App, clock: Clock
) -> None:
    """Two Pontes (two engines, as two workers would have) fire every reminder at once."""
    import asyncio

    from bot.app import build_app

    ids, chats = await setup(app, clock)
    await request_and_accept(app, chats, ids, "maria", "wang")
    await request_and_accept(app, chats, ids, "luca", "li")
    other = await build_app(app.settings, clock=clock)
    try:
        pending = [r for r in await reminders(app) if r.state == "pending"]
        clock.now = max(r.send_at for r in pending if r.kind == "before" and r.offset_minutes == 15)
        results = await asyncio.gather(
            *(
                core.run_timed(REMINDER_JOB, [r.id])
                for r in pending
                for core in (app.core, other.core)
            )
        )
    finally:
        await other.close()
    sent = [r for r in await reminders(app) if r.state == "sent"]
    assert sum(results) == len(sent) > 0
    async with app.sessions() as session:
        from storage.event_models import OutboxMessage

        topics = (
            await session.scalars(
                select(OutboxMessage.topic).where(OutboxMessage.topic.like("reminder:%"))
            )
        ).all()
    assert len(topics) == len(set(topics)) == len(sent), "one message per reminder"


async def test_organisers_see_attendance_on_the_command_line(
    app: App, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import build_parser
    from bot.events.commands import run_events

    ids, chats = await setup(app, clock)
    await request_and_accept(app, chats, ids, "maria", "wang")
    meeting = await meeting_of(app)
    clock.now = FIRST_SLOT - timedelta(minutes=10)
    await chats["maria"].press_payload(f"at|{meeting.id}|l")
    await chats["maria"].press("l5")
    args = build_parser().parse_args(["events", "attendance", "itcn-2026"])
    assert await run_events(app.settings, args) == 0
    out = capsys.readouterr().out
    assert "2026-12-15 09:00  Maria Rossi: confirmed (+5 min)  |  Wang Wei: -" in out
    assert "people confirmed 1, declined 0, not answered 1" in out
    args = build_parser().parse_args(["events", "attendance", "nope"])
    assert await run_events(app.settings, args) == 2
    assert "no event with code 'nope'" in capsys.readouterr().err


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


async def test_every_reminder_of_a_burst_is_claimed_when_its_second_comes(
    app: App, clock: Clock, scheduling: Scheduling
) -> None:
    """Regression: a burst is planned 1/20 s apart, and each second's job fired at the
    second's start, before the reminders planned later in it, which then waited for the next
    minute's sweep (bench/reminders_burst: most of a burst arrived late)."""
    ids, chats = await setup(app, clock)
    await request_and_accept(app, chats, ids, "maria", "wang")
    due = FIRST_SLOT - timedelta(minutes=15)
    async with app.sessions() as session, session.begin():
        await ReminderRepository(session).spread(due - timedelta(minutes=30), rate=20.0)

    def closest(rows: list[Reminder]) -> list[Reminder]:
        return [r for r in rows if r.kind == "before" and r.offset_minutes == 15]

    planned = [r.send_at for r in closest(await reminders(app))]
    assert any(moment.microsecond for moment in planned), "a send within a second"
    clock.now, clock.started, clock.ticking = min(planned) - timedelta(seconds=1.5), 0.0, True
    clock.started = time.monotonic()
    await scheduling.reload()

    async def both_claimed() -> bool:
        return all(r.state == "sent" for r in closest(await reminders(app)))

    # Both are due within 1.6 s; the next sweep, which would also send them, is 60 s off.
    await eventually(both_claimed, "both reminders claimed", seconds=10)


async def test_statistics_count_confirmed_attendance(app: App, clock: Clock) -> None:
    from storage.statistics import StatisticsRepository

    ids, chats = await setup(app, clock)
    await request_and_accept(app, chats, ids, "maria", "wang")
    meeting = await meeting_of(app)
    async with app.sessions() as session:
        assert (await StatisticsRepository(session).statistics()).reminders_confirmed == 0
    await chats["maria"].press_payload(f"at|{meeting.id}|y")
    await chats["wang"].press_payload(f"at|{meeting.id}|y")
    async with app.sessions() as session:
        assert (await StatisticsRepository(session).statistics()).reminders_confirmed == 2

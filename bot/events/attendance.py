"""``ponte events attendance CODE``: who said they will come to each meeting, and how the
event's reminders stand (for organisers, and for scripts: plain columns)."""

from __future__ import annotations

from collections import Counter
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.event_models import Event, Meeting, Slot
from storage.event_sync import UnknownEventError
from storage.reminder_models import Reminder
from storage.reminders import ReminderRepository

NO_ANSWER = "-"


async def print_attendance(sessions: async_sessionmaker[AsyncSession], code: str) -> int:
    """Print the event's scheduled meetings with both sides' answers, then totals."""
    async with sessions() as session:
        event = await session.scalar(select(Event).where(Event.code == code))
        if event is None:
            raise UnknownEventError(f"no event with code {code!r}; see: ponte events list")
        meetings = (
            (
                await session.scalars(
                    select(Meeting)
                    .join(Slot, Slot.id == Meeting.slot_id)
                    .where(Meeting.event_id == event.id, Meeting.status == "scheduled")
                    .order_by(Slot.starts_at, Meeting.id)
                )
            )
            .unique()
            .all()
        )
        answers = await ReminderRepository(session).attendance(m.id for m in meetings)
        states = dict(
            (
                await session.execute(
                    select(Reminder.state, func.count())
                    .where(Reminder.event_id == event.id)
                    .group_by(Reminder.state)
                )
            ).all()
        )
    zone = ZoneInfo(event.time_zone)
    totals: Counter[str] = Counter()
    print(f"meetings of {code} (times in {event.time_zone}); answers: confirmed, declined, -")
    for meeting in meetings:
        assert meeting.slot is not None
        sides = []
        for person in (meeting.first, meeting.second):
            answer = answers.get((meeting.id, person.id))
            status = answer.status if answer is not None else NO_ANSWER
            if answer is not None and answer.late_minutes:
                status += f" (+{answer.late_minutes} min)"
            totals[answer.status if answer is not None else "no answer"] += 1
            sides.append(f"{person.name or person.external_id}: {status}")
        start = meeting.slot.starts_at.astimezone(zone)
        print(f"{start:%Y-%m-%d %H:%M}  {'  |  '.join(sides)}")
    print(
        f"{len(meetings)} meetings; people confirmed {totals['confirmed']}, declined "
        f"{totals['declined']}, not answered {totals['no answer']}"
    )
    print(
        "reminders: " + ", ".join(f"{states.get(s, 0)} {s}" for s in ("pending", "sent", "dropped"))
    )
    return 0

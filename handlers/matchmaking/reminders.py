"""Reminders before meetings and the answers to them: "I'll be there", "I can't make it",
"Running late".

What is due lives in the database (:mod:`storage.reminders`); the scheduler in ``bot/`` runs
:func:`send_reminders` for the reminders planned for one second. Sending claims the reminder
first, in the same transaction that queues the message, so a reminder goes out once however
many processes run and whenever they restart. The text is written when it is sent, so a
reminder that waited through a restart still says how long is really left.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.context import Turn
from handlers.kernel.flow_router import STALE_BUTTON, FlowRouter
from handlers.kernel.i18n import Translator
from handlers.kernel.markup import bold, escape, fmt
from handlers.kernel.notify import notify, reader, reply_to_payload
from handlers.kernel.replies import Button, Reply
from handlers.kernel.timefmt import day, time_range, time_until
from handlers.kernel.validation import parse_id
from handlers.matchmaking.meetings import cancel, meeting_details
from storage.event_models import Meeting
from storage.meetings import MeetingRepository
from storage.outbox import OutboxRepository, Priority
from storage.reminder_models import BEFORE, Reminder
from storage.reminder_policy import STARTING_SOON
from storage.reminders import DEFAULT_RATE, ReminderRepository, reader_zone

log = logging.getLogger(__name__)

ATTENDANCE = "at"
REMINDER_JOB = "reminder"
"""The timed job's name: the scheduler runs ``Core.run_timed(REMINDER_JOB, reminder_ids)``."""
LATE_CHOICES = (5, 10)
LATE_WINDOW = timedelta(minutes=STARTING_SOON)
""""Running late" is offered, and accepted, from this long before the meeting to its end."""


def reminder_topic(reminder_id: int) -> str:
    """The outbox topic of a reminder's message."""
    return f"reminder:{reminder_id}"


async def send_reminders(session: AsyncSession, now: datetime, reminder_ids: Sequence[int]) -> bool:
    """Claim the reminders and queue their messages, all in this one transaction; ``True``
    if anything was queued. A reminder already sent by someone else, planned later, or no
    longer worth sending is skipped."""
    repo = ReminderRepository(session)
    claimed = await repo.claim(reminder_ids, now)
    closest: dict[tuple[int | None, int], int] = {}
    for reminder in claimed:
        if reminder.kind == BEFORE:
            key = (reminder.meeting_id, reminder.participant_id)
            closest[key] = min(closest.get(key, reminder.offset_minutes), reminder.offset_minutes)
    queued = False
    for reminder in claimed:
        key = (reminder.meeting_id, reminder.participant_id)
        if reminder.kind == BEFORE and reminder.offset_minutes > closest[key]:
            repo.drop(reminder, now, "a closer reminder is due too")
            continue
        queued = await _send(session, repo, reminder, now) or queued
    return queued


async def _send(
    session: AsyncSession, repo: ReminderRepository, reminder: Reminder, now: datetime
) -> bool:
    if not reminder.participant.active:
        repo.drop(reminder, now, "the recipient blocked the bot")
        return False
    if reminder.kind == BEFORE:
        reply = await _before_meeting(repo, reminder, now)
    else:
        reply = await _digest(repo, reminder, now)
    if reply is None:
        return False
    # Before notices and broadcasts, the most urgent first; sent at most once: a reminder
    # that may have arrived is not sent again.
    return OutboxRepository(session).queue(
        reminder.participant,
        reply_to_payload(reply),
        now,
        topic=reminder_topic(reminder.id),
        priority=Priority.REMINDER,
        deadline=reminder.due_at,
        once=True,
    )


async def _before_meeting(
    repo: ReminderRepository, reminder: Reminder, now: datetime
) -> Reply | None:
    meeting = reminder.meeting
    if (
        meeting is None
        or meeting.status != "scheduled"
        or meeting.slot is None
        or meeting.slot.starts_at != reminder.starts_at
    ):
        repo.drop(reminder, now, "meeting changed")
        return None
    if meeting.slot.starts_at <= now:
        # Ponte was down until after the start: a reminder now would only confuse.
        log.info("reminder %s dropped: its meeting started at %s", reminder.id, reminder.starts_at)
        repo.drop(reminder, now, "meeting already started")
        return None
    if await repo.superseded(reminder, now):
        repo.drop(reminder, now, "a closer reminder is due too")
        return None
    person = reminder.participant
    t = reader(person)
    partner = meeting.partner_of(person.id)
    headline = fmt(
        t.gettext("⏰ Your meeting with {name} starts {when}."),
        name=partner.name or "",
        when=time_until(meeting.slot.starts_at, now, t),
    )
    body = "\n".join([bold(headline), *meeting_details(meeting, person, t)])
    soon = meeting.slot.starts_at - now <= LATE_WINDOW
    return Reply(body, attendance_buttons(meeting, t, late=soon))


def attendance_buttons(
    meeting: Meeting, t: Translator, *, late: bool
) -> tuple[tuple[Button, ...], ...]:
    """ "I'll be there" / "I can't make it", and "Running late" close to the start."""
    rows: list[tuple[Button, ...]] = [
        (
            Button(t.gettext("✅ I'll be there"), f"{ATTENDANCE}|{meeting.id}|y"),
            Button(t.gettext("✖ I can't make it"), f"{ATTENDANCE}|{meeting.id}|n"),
        )
    ]
    if late:
        rows.append((Button(t.gettext("⏱ Running late"), f"{ATTENDANCE}|{meeting.id}|l"),))
    return tuple(rows)


async def _digest(repo: ReminderRepository, reminder: Reminder, now: datetime) -> Reply | None:
    """The morning agenda: the reader's meetings still to come that day."""
    person = reminder.participant
    event = reminder.event
    zone = reader_zone(person, event.time_zone)
    assert reminder.local_day is not None
    local_midnight = datetime.combine(reminder.local_day, datetime.min.time(), tzinfo=zone)
    end_of_day = (local_midnight + timedelta(days=1)).astimezone(zone)
    meetings = [
        m
        for m in await repo.meetings_on(person.id, event.id, now, end_of_day)
        if m.slot is not None and m.slot.starts_at > now
    ]
    if not meetings:
        repo.drop(reminder, now, "no meetings left that day")
        return None
    t = reader(person)
    first = meetings[0].slot
    assert first is not None
    lines = [
        bold(
            fmt(
                t.ngettext(
                    "☀️ Today, {day}: {count} meeting",
                    "☀️ Today, {day}: {count} meetings",
                    len(meetings),
                ),
                day=day(first.starts_at, t, zone.key),
                count=str(len(meetings)),
            )
        )
    ]
    for meeting in meetings:
        slot = meeting.slot
        assert slot is not None
        partner = meeting.partner_of(person.id)
        line = fmt(
            t.gettext("{time} · <b>{name}</b> ({organisation})"),
            time=time_range(slot.starts_at, slot.ends_at, t, zone.key),
            name=partner.name or "",
            organisation=partner.organisation or "",
        )
        if meeting.place is not None:
            line += "\n   " + escape(meeting.place.url or meeting.place.label)
        lines.append(line)
    lines.append(escape(t.gettext("Each meeting gets its own reminder shortly before it starts.")))
    return Reply("\n".join(lines))


async def on_attendance_button(turn: Turn, value: str) -> None:
    """``at|<meeting>|y`` coming, ``|n`` can't (asks first), ``|N`` confirmed cancel, ``|k``
    keep, ``|l`` running late (asks how late), ``|l5``/``|l10`` late by that much.

    The payload is untrusted: the meeting must involve the presser, be scheduled and not
    be over.
    """
    t = turn.t
    meeting_id, _, action = value.partition("|")
    number = parse_id(meeting_id)
    repo = MeetingRepository(turn.session)
    meeting = await repo.meeting(number, lock=True) if number is not None else None
    valid = {"y", "n", "N", "k", "l", *(f"l{m}" for m in LATE_CHOICES)}
    if meeting is None or not meeting.involves(turn.participant.id) or action not in valid:
        turn.say(t.gettext(STALE_BUTTON))
        return
    if meeting.status == "cancelled":
        turn.say(t.gettext("This meeting was cancelled."))
        return
    slot = meeting.slot
    if meeting.status != "scheduled" or slot is None or slot.ends_at <= turn.now:
        turn.say(t.gettext(STALE_BUTTON))
        return
    partner = meeting.partner_of(turn.participant.id)
    reminders = ReminderRepository(turn.session)
    me = turn.participant.id
    if action == "y":
        await reminders.set_attendance(meeting.id, me, "confirmed", turn.now)
        turn.say(
            fmt(
                t.gettext("✅ Noted: you will be at your meeting with {name}. See you there!"),
                name=partner.name or "",
            )
        )
    elif action == "n":
        turn.say(
            fmt(
                t.gettext(
                    "Cancel your meeting with {name}? They will be told, and the time is freed."
                ),
                name=partner.name or "",
            ),
            (
                (
                    Button(t.gettext("Yes, cancel it"), f"{ATTENDANCE}|{meeting.id}|N"),
                    Button(t.gettext("No, keep it"), f"{ATTENDANCE}|{meeting.id}|k"),
                ),
            ),
            edit=True,
        )
    elif action == "k":
        turn.say(escape(t.gettext("Fine: the meeting stays as it is.")), edit=True)
    elif action == "N":
        await reminders.set_attendance(meeting.id, me, "declined", turn.now)
        await cancel(turn, meeting, repo)
    else:
        await _running_late(turn, meeting, action)


async def _running_late(turn: Turn, meeting: Meeting, action: str) -> None:
    t = turn.t
    slot = meeting.slot
    assert slot is not None
    if slot.starts_at - turn.now > LATE_WINDOW:
        turn.say(escape(t.gettext("Your meeting is not starting yet; there is no need to hurry.")))
        return
    if action == "l":
        turn.say(
            escape(t.gettext("How late will you be?")),
            (
                tuple(
                    Button(
                        t.ngettext("{count} minute", "{count} minutes", m).format(count=m),
                        f"{ATTENDANCE}|{meeting.id}|l{m}",
                    )
                    for m in LATE_CHOICES
                ),
            ),
        )
        return
    minutes = int(action[1:])
    me = turn.participant
    partner = meeting.partner_of(me.id)
    await ReminderRepository(turn.session).set_attendance(
        meeting.id, me.id, "confirmed", turn.now, late_minutes=minutes
    )
    theirs = reader(partner)
    notify(
        turn,
        partner,
        Reply(
            fmt(
                theirs.ngettext(
                    "⏱ {name} is running late and will be there in about {count} minute.",
                    "⏱ {name} is running late and will be there in about {count} minutes.",
                    minutes,
                ),
                name=me.name or "",
                count=str(minutes),
            )
        ),
    )
    turn.say(
        fmt(
            t.gettext("{name} has been told. Thank you for letting them know."),
            name=partner.name or "",
        ),
        edit=True,
    )


async def plan_pending(session: AsyncSession, now: datetime, rate: float = DEFAULT_RATE) -> int:
    """The maintenance sweep's part: plan meetings whose reminders do not match them (a
    change made anywhere, an import, another process), then spread the bursts due soon.

    Returns 0: nothing is queued for delivery here; the scheduler sends what was planned.
    """
    repo = ReminderRepository(session)
    for meeting in await repo.meetings_to_plan(now):
        await repo.plan_meeting(meeting, now)
    await session.flush()
    await repo.spread(now, rate)
    return 0


def setup(rate: float = DEFAULT_RATE) -> FlowRouter:
    """The buttons on reminders, their planning in the maintenance sweep, and the timed job
    that sends one; bursts are spread to ``rate`` reminders per second."""

    async def plan(session: AsyncSession, now: datetime) -> int:
        return await plan_pending(session, now, rate)

    router = FlowRouter("reminders")
    router.button(ATTENDANCE, on_attendance_button, registered=True)
    router.maintenance(plan)
    router.timed(REMINDER_JOB, send_reminders)
    return router

"""Reminders in the database: planned per meeting, spread ahead of bursts, claimed once.

* **Planning.** :meth:`ReminderRepository.plan_meeting` writes one row per reader and
  offset (plus the morning digest of the day), keyed for good, so planning again moves the
  rows instead of adding more; :meth:`reconcile` finds meetings whose rows do not match their
  slot any more (however the meeting changed) and plans them again.
* **Spreading.** :meth:`spread` gives every reminder due soon a ``send_at``: as late as
  possible, never after it is due, and at most ``rate`` per second, filled backwards from
  the latest. A burst of thousands at one minute starts early enough that, sent at that
  rate, none is late; the lead is bounded by :func:`max_lead`.
* **Claiming.** :meth:`claim` turns a pending reminder into a sent one in one conditional
  UPDATE: whoever wins (a restarted process, a second worker) sends it, nobody else can.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.event_models import Meeting, Slot
from storage.models import Participant
from storage.reminder_models import (
    BEFORE,
    DIGEST,
    DROPPED,
    PENDING,
    SENT,
    Attendance,
    Reminder,
)
from storage.reminder_policy import ReminderPolicy

DEFAULT_RATE = 20.0
"""Reminders per second the planner spreads bursts to: below the sender's 25/s, so replies
and notices still get through while a burst goes out."""
HORIZON = timedelta(hours=2)
"""How far ahead reminders are spread and handed to the scheduler."""
DIGEST_LEAD = timedelta(minutes=30)
DELIVERY_MARGIN = timedelta(seconds=15)
"""How long before it is due the latest reminder of a burst is planned: claiming it, queueing
it and the sender's round trip take time too, and planned at its very due time it would
arrive after it."""


def max_lead(kind: str, offset_minutes: int) -> timedelta:
    """How much earlier than due a reminder may be sent to make room in a burst.

    Two thirds of the offset, at most an hour: a 15-minute reminder arrives between 15 and
    25 minutes before the meeting (planned at least :data:`DELIVERY_MARGIN` before it is
    due), a 24-hour one between 24 and 25 hours; the morning
    digest at most half an hour early.
    """
    if kind == DIGEST:
        return DIGEST_LEAD
    return min(timedelta(minutes=offset_minutes) * 2 / 3, timedelta(hours=1))


def reader_zone(person: Participant, event_zone: str) -> ZoneInfo:
    """The time zone a participant reads times in (their own, else the event's)."""
    return ZoneInfo(person.time_zone or event_zone)


@dataclass(frozen=True)
class Due:
    """A pending reminder the scheduler should run at ``send_at``."""

    id: int
    send_at: datetime


class ReminderRepository:
    """Plan, spread, list and claim reminders; record attendance answers."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def plan_meeting(self, meeting: Meeting, now: datetime) -> None:
        """Make the meeting's reminders match its current slot and status.

        A cancelled or unscheduled meeting's pending reminders are dropped. A scheduled one
        gets one reminder per offset and reader (moved if the slot changed; one already sent
        for this very time is left alone) and its readers' morning digests.
        """
        existing = {
            r.key: r
            for r in await self.session.scalars(
                select(Reminder).where(Reminder.meeting_id == meeting.id)
            )
        }
        wanted: set[str] = set()
        slot = meeting.slot
        if meeting.status == "scheduled" and slot is not None:
            event = meeting.event
            policy = ReminderPolicy.from_json(event.reminder_policy)
            for person in (meeting.first, meeting.second):
                zone = reader_zone(person, event.time_zone)
                for offset in policy.offsets:
                    key = f"m{meeting.id}:p{person.id}:o{offset}"
                    due = policy.reminder_due(slot.starts_at, offset, zone)
                    if due is None:
                        continue
                    wanted.add(key)
                    self._put(
                        existing.get(key),
                        key=key, kind=BEFORE, person=person, event_id=event.id,
                        meeting_id=meeting.id, offset=offset, day=None,
                        starts_at=slot.starts_at, due=due, now=now,
                    )  # fmt: skip
                await self._plan_digest(policy, person, event.id, zone, slot.starts_at, now)
        for key, row in existing.items():
            if key not in wanted and row.state == PENDING:
                row.state, row.settled_at, row.note = DROPPED, now, "meeting changed"

    async def _plan_digest(
        self,
        policy: ReminderPolicy,
        person: Participant,
        event_id: int,
        zone: ZoneInfo,
        starts_at: datetime,
        now: datetime,
    ) -> None:
        day = starts_at.astimezone(zone).date()
        due = policy.digest_due(day, zone)
        if due is None or due >= starts_at or due <= now:
            return  # no digest, or none before this meeting: its own reminders cover it
        key = f"d{event_id}:p{person.id}:{day.isoformat()}"
        fields = dict(key=key, kind=DIGEST, person=person, event_id=event_id, meeting_id=None,
                      offset=0, day=day, starts_at=due, due=due, now=now)  # fmt: skip
        row = await self.session.scalar(select(Reminder).where(Reminder.key == key))
        if row is None:
            try:
                # Two meetings of one reader accepted at once both plan the same morning
                # digest: the second insert meets the first's row, and updates it instead.
                async with self.session.begin_nested():
                    self._put(None, **fields)  # type: ignore[arg-type]
                return
            except IntegrityError:
                row = await self.session.scalar(select(Reminder).where(Reminder.key == key))
                if row is None:
                    raise
        if row.state != PENDING and row.due_at == due:
            return
        self._put(row, **fields)  # type: ignore[arg-type]

    def _put(
        self,
        row: Reminder | None,
        *,
        key: str,
        kind: str,
        person: Participant,
        event_id: int,
        meeting_id: int | None,
        offset: int,
        day: date | None,
        starts_at: datetime,
        due: datetime,
        now: datetime,
    ) -> None:
        if row is not None and row.state == SENT and row.starts_at == starts_at:
            return  # already reminded for this very time
        state, note = (PENDING, None) if due > now else (DROPPED, "due before it was planned")
        if row is None:
            self.session.add(
                Reminder(
                    key=key, kind=kind, participant_id=person.id, event_id=event_id,
                    meeting_id=meeting_id, offset_minutes=offset, local_day=day,
                    starts_at=starts_at, due_at=due, send_at=due, state=state,
                    settled_at=None if state == PENDING else now, note=note,
                )
            )  # fmt: skip
            return
        row.starts_at, row.due_at, row.send_at = starts_at, due, due
        row.state, row.note = state, note
        row.settled_at = None if state == PENDING else now

    async def drop_for_meeting(self, meeting_id: int, now: datetime, note: str) -> None:
        """Drop the meeting's pending reminders (it was cancelled)."""
        await self.session.execute(
            update(Reminder)
            .where(Reminder.meeting_id == meeting_id, Reminder.state == PENDING)
            .values(state=DROPPED, settled_at=now, note=note)
        )

    async def meetings_to_plan(self, now: datetime, limit: int = 500) -> list[Meeting]:
        """Upcoming scheduled meetings whose reminders do not match their slot, and meetings
        that still have pending reminders though they are no longer scheduled."""
        planned = exists().where(
            Reminder.meeting_id == Meeting.id,
            Reminder.kind == BEFORE,
            Reminder.starts_at == Slot.starts_at,
        )
        unplanned = await self.session.scalars(
            select(Meeting)
            .join(Slot, Slot.id == Meeting.slot_id)
            .where(Meeting.status == "scheduled", Slot.starts_at > now, ~planned)
            .order_by(Slot.starts_at)
            .limit(limit)
        )
        result = list(unplanned.unique().all())
        stale = exists().where(
            Reminder.meeting_id == Meeting.id,
            Reminder.state == PENDING,
            Reminder.starts_at != Slot.starts_at,
        )
        orphaned = await self.session.scalars(
            select(Meeting)
            .outerjoin(Slot, Slot.id == Meeting.slot_id)
            .where(
                exists().where(Reminder.meeting_id == Meeting.id, Reminder.state == PENDING),
                (Meeting.status != "scheduled") | Slot.id.is_(None) | stale,
            )
            .limit(limit)
        )
        seen = {m.id for m in result}
        result += [m for m in orphaned.unique().all() if m.id not in seen]
        return result

    async def spread(
        self, now: datetime, rate: float = DEFAULT_RATE, horizon: timedelta = HORIZON
    ) -> int:
        """Plan ``send_at`` for the pending reminders due within ``horizon``; returns how
        many moved.

        Filled backwards from the latest: each is sent :data:`DELIVERY_MARGIN` before it is
        due, or ``1/rate`` s before the next one planned, whichever is earlier, but never more than
        :func:`max_lead` early (beyond that, a burst is too big for the rate and the last
        ones go late rather than absurdly early). Deterministic: every process and every
        run plans the same times for the same reminders.
        """
        rows = (
            await self.session.execute(
                select(Reminder.id, Reminder.kind, Reminder.offset_minutes, Reminder.due_at)
                .where(
                    Reminder.state == PENDING,
                    Reminder.due_at > now,
                    Reminder.due_at <= now + horizon,
                )
                .order_by(Reminder.due_at.desc(), Reminder.id.desc())
            )
        ).all()
        gap = timedelta(seconds=1 / rate)
        planned: list[dict[str, Any]] = []
        later: datetime | None = None
        for reminder_id, kind, offset, due in rows:
            latest = due - DELIVERY_MARGIN
            send_at = latest if later is None else min(latest, later - gap)
            send_at = max(send_at, due - max_lead(kind, offset), now)
            planned.append({"id": reminder_id, "send_at": send_at})
            later = send_at
        current = dict(
            (
                await self.session.execute(
                    select(Reminder.id, Reminder.send_at).where(
                        Reminder.id.in_([p["id"] for p in planned])
                    )
                )
            ).all()
        ) if planned else {}  # fmt: skip
        changed = [p for p in planned if current.get(p["id"]) != p["send_at"]]
        if changed:
            await self.session.execute(update(Reminder), changed)
        return len(changed)

    async def due_within(self, now: datetime, horizon: timedelta = HORIZON) -> list[Due]:
        """Pending reminders planned before ``now + horizon`` (overdue ones included)."""
        rows = await self.session.execute(
            select(Reminder.id, Reminder.send_at)
            .where(Reminder.state == PENDING, Reminder.send_at <= now + horizon)
            .order_by(Reminder.send_at, Reminder.id)
        )
        return [Due(reminder_id, send_at) for reminder_id, send_at in rows.all()]

    async def claim(self, reminder_ids: Iterable[int], now: datetime) -> list[Reminder]:
        """Take for sending those of the reminders that are pending and planned for now or
        earlier; returns them.

        One conditional UPDATE each: of two processes (or a process and its restarted
        self) only one sees a row change, and only that one sends it. A batch is one
        transaction, so a burst costs one commit per second rather than one per reminder.
        """
        claimed: list[int] = []
        for reminder_id in reminder_ids:
            result = await self.session.execute(
                update(Reminder)
                .where(
                    Reminder.id == reminder_id,
                    Reminder.state == PENDING,
                    Reminder.send_at <= now,
                )
                .values(state=SENT, settled_at=now)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) == 1:
                claimed.append(reminder_id)
        if not claimed:
            return []
        rows = await self.session.scalars(
            select(Reminder)
            .where(Reminder.id.in_(claimed))
            .order_by(Reminder.send_at, Reminder.id)
            .execution_options(populate_existing=True)
        )
        return list(rows.unique().all())

    async def superseded(self, reminder: Reminder, now: datetime) -> bool:
        """Whether a closer reminder of the same meeting and reader is due too (Ponte was
        down through both): only the closer one is worth sending."""
        if reminder.meeting_id is None:
            return False
        closer = await self.session.scalar(
            select(Reminder.id).where(
                Reminder.meeting_id == reminder.meeting_id,
                Reminder.participant_id == reminder.participant_id,
                Reminder.state == PENDING,
                Reminder.offset_minutes < reminder.offset_minutes,
                Reminder.due_at <= now,
            )
        )
        return closer is not None

    @staticmethod
    def drop(reminder: Reminder, now: datetime, note: str) -> None:
        """Settle a claimed reminder as not sent, with the reason."""
        reminder.state, reminder.settled_at, reminder.note = DROPPED, now, note

    async def set_attendance(
        self,
        meeting_id: int,
        participant_id: int,
        status: str,
        now: datetime,
        *,
        late_minutes: int | None = None,
    ) -> None:
        """Record (or change) one side's attendance answer."""
        row = await self.session.get(Attendance, (meeting_id, participant_id))
        if row is None:
            row = Attendance(meeting_id=meeting_id, participant_id=participant_id)
            self.session.add(row)
        row.status, row.answered_at = status, now
        if late_minutes is not None:
            row.late_minutes = late_minutes

    async def attendance(self, meeting_ids: Iterable[int]) -> dict[tuple[int, int], Attendance]:
        """Attendance answers of the given meetings, by (meeting id, participant id)."""
        ids = list(meeting_ids)
        if not ids:
            return {}
        rows = await self.session.scalars(select(Attendance).where(Attendance.meeting_id.in_(ids)))
        return {(a.meeting_id, a.participant_id): a for a in rows}

    async def meetings_on(
        self, participant_id: int, event_id: int, start: datetime, end: datetime
    ) -> Sequence[Meeting]:
        """The participant's scheduled meetings at an event starting in [start, end)."""
        rows = await self.session.scalars(
            select(Meeting)
            .join(Slot, Slot.id == Meeting.slot_id)
            .where(
                Meeting.event_id == event_id,
                Meeting.status == "scheduled",
                (Meeting.first_id == participant_id) | (Meeting.second_id == participant_id),
                and_(Slot.starts_at >= start, Slot.starts_at < end),
            )
            .order_by(Slot.starts_at)
        )
        return list(rows.unique().all())

"""What organisers read about an event or about everyone: counts, timelines, export rows.

Queries only: the wording, the languages and the file formats are the organiser module's
(``handlers/organiser``). Every query takes an optional event; without one it covers every
registered participant and every meeting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.event_models import (
    Event,
    EventRegistration,
    Meeting,
    MeetingFeedback,
    MeetingRequest,
)
from storage.models import InterestArea, Participant, ParticipantInterest
from storage.reminder_models import Attendance


@dataclass(frozen=True, slots=True)
class AreaCount:
    """An interest area (code and names by locale) and how many participants chose it."""

    code: str
    names: dict[str, Any]
    count: int


@dataclass(frozen=True, slots=True)
class EventCount:
    """An event (code and names by locale) and how many participants joined it."""

    code: str
    names: dict[str, Any]
    count: int


@dataclass(slots=True)
class Statistics:
    """The numbers behind ``/stats``; dictionaries are ordered by count, largest first.

    ``reminders_confirmed`` is ``None`` while nothing records attendance confirmations, so
    the line is shown only once there is data behind it.
    """

    participants: int = 0
    by_country: dict[str | None, int] = field(default_factory=dict)
    by_type: dict[str | None, int] = field(default_factory=dict)
    by_locale: dict[str, int] = field(default_factory=dict)
    by_area: list[AreaCount] = field(default_factory=list)
    by_event: list[EventCount] = field(default_factory=list)
    registered_at: list[datetime] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    meetings: dict[str, int] = field(default_factory=dict)
    held: int = 0
    missed: int = 0
    reminders_confirmed: int | None = None

    @property
    def requested(self) -> int:
        """Meeting requests sent, whatever became of them."""
        return sum(self.requests.values())

    @property
    def accepted(self) -> int:
        """Requests accepted (each became a meeting)."""
        return self.requests.get("accepted", 0)


@dataclass(frozen=True, slots=True)
class MeetingRow:
    """A meeting for the export, with its request's times and each side's feedback."""

    meeting: Meeting
    requested_at: datetime
    accepted_at: datetime | None
    feedback: dict[int, bool]
    """Participant id → whether they said the meeting took place."""


class StatisticsRepository:
    """Counts and rows for organisers, over one event or all of them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def event_by_code(self, code: str) -> Event | None:
        """The event with ``code``, if any."""
        return await self.session.scalar(select(Event).where(Event.code == code))

    def _people(self, event_id: int | None) -> Select[int]:
        """Ids of the registered participants (of the event, when one is given)."""
        query = select(Participant.id).where(Participant.registered_at.is_not(None))
        if event_id is not None:
            query = query.join(
                EventRegistration, EventRegistration.participant_id == Participant.id
            ).where(EventRegistration.event_id == event_id)
        return query

    async def _grouped(self, column: Any, event_id: int | None) -> dict[Any, int]:
        count = func.count(Participant.id)
        rows = await self.session.execute(
            select(column, count)
            .where(Participant.id.in_(self._people(event_id)))
            .group_by(column)
            .order_by(count.desc(), column)
        )
        return {value: number for value, number in rows}

    async def statistics(self, event_id: int | None = None) -> Statistics:
        """Everything ``/stats`` shows, for one event or for everyone."""
        stats = Statistics()
        stats.by_country = await self._grouped(Participant.country, event_id)
        stats.by_type = await self._grouped(Participant.org_type, event_id)
        stats.by_locale = await self._grouped(Participant.locale, event_id)
        stats.participants = sum(stats.by_locale.values())
        stats.by_area = await self._areas(event_id)
        stats.by_event = await self._events(event_id)
        stats.registered_at = await self._registration_times(event_id)
        stats.requests = await self._statuses(MeetingRequest, event_id)
        stats.meetings = await self._statuses(Meeting, event_id)
        stats.held, stats.missed = await self._attendance(event_id)
        stats.reminders_confirmed = await self._reminders_confirmed(event_id)
        return stats

    async def _areas(self, event_id: int | None) -> list[AreaCount]:
        count = func.count(ParticipantInterest.participant_id)
        rows = await self.session.execute(
            select(InterestArea.code, InterestArea.names, count)
            .join(ParticipantInterest, ParticipantInterest.area_id == InterestArea.id)
            .where(ParticipantInterest.participant_id.in_(self._people(event_id)))
            # By the key alone: PostgreSQL cannot group by a JSON column, and the other
            # columns depend on the key (which both databases accept).
            .group_by(InterestArea.id)
            .order_by(count.desc(), InterestArea.position)
        )
        return [AreaCount(code, dict(names), number) for code, names, number in rows]

    async def _events(self, event_id: int | None) -> list[EventCount]:
        count = func.count(Participant.id)
        query = (
            select(Event.code, Event.names, count)
            .join(EventRegistration, EventRegistration.event_id == Event.id)
            .join(Participant, Participant.id == EventRegistration.participant_id)
            .where(Participant.registered_at.is_not(None))
            .group_by(Event.id)  # by the key alone, as above
            .order_by(count.desc(), Event.code)
        )
        if event_id is not None:
            query = query.where(Event.id == event_id)
        rows = await self.session.execute(query)
        return [EventCount(code, dict(names), number) for code, names, number in rows]

    async def _registration_times(self, event_id: int | None) -> list[datetime]:
        """When each participant registered (joined the event, when one is given), in order."""
        if event_id is None:
            query = select(Participant.registered_at).where(Participant.registered_at.is_not(None))
            times = await self.session.scalars(query.order_by(Participant.registered_at))
            return [t for t in times if t is not None]
        joined = await self.session.scalars(
            select(EventRegistration.joined_at)
            .join(Participant, Participant.id == EventRegistration.participant_id)
            .where(EventRegistration.event_id == event_id, Participant.registered_at.is_not(None))
            .order_by(EventRegistration.joined_at)
        )
        return list(joined)

    async def _statuses(
        self, model: type[MeetingRequest] | type[Meeting], event_id: int | None
    ) -> dict[str, int]:
        count = func.count(model.id)
        query = select(model.status, count).group_by(model.status)
        if event_id is not None:
            query = query.where(model.event_id == event_id)
        rows = await self.session.execute(query)
        return {status: number for status, number in rows}

    async def _attendance(self, event_id: int | None) -> tuple[int, int]:
        """Meetings that took place and meetings missed, by the participants' feedback.

        A meeting counts as held when either side says it took place (the other may simply
        have forgotten to answer yes), and as missed when everyone who answered says no.
        """
        said_yes = func.sum(case((MeetingFeedback.took_place, 1), else_=0))
        query = select(MeetingFeedback.meeting_id, said_yes).group_by(MeetingFeedback.meeting_id)
        if event_id is not None:
            query = query.join(Meeting, Meeting.id == MeetingFeedback.meeting_id).where(
                Meeting.event_id == event_id
            )
        rows = (await self.session.execute(query)).all()
        held = sum(1 for _meeting, yes in rows if yes)
        return held, len(rows) - held

    async def _reminders_confirmed(self, event_id: int | None) -> int | None:
        """How many people confirmed their attendance from a reminder ("I'll be there"),
        over meetings that are not cancelled."""
        query = (
            select(func.count())
            .select_from(Attendance)
            .join(Meeting, Meeting.id == Attendance.meeting_id)
            .where(Attendance.status == "confirmed", Meeting.status != "cancelled")
        )
        if event_id is not None:
            query = query.where(Meeting.event_id == event_id)
        return int(await self.session.scalar(query) or 0)

    # --- rows for the exports -----------------------------------------------------------

    async def participants(self, event_id: int | None = None) -> list[Participant]:
        """Registered participants (of the event, when one is given), in registration order."""
        rows = await self.session.scalars(
            select(Participant)
            .where(Participant.id.in_(self._people(event_id)))
            .order_by(Participant.registered_at, Participant.id)
        )
        return list(rows)

    # The per-participant lists below select by the same sub-query as the participants, not
    # by a list of ids: tens of thousands of ids would pass the databases' parameter limits.

    async def interests_of(self, event_id: int | None = None) -> dict[int, list[InterestArea]]:
        """Participant id → the interest areas they chose, in taxonomy order."""
        found: dict[int, list[InterestArea]] = {}
        rows = await self.session.execute(
            select(ParticipantInterest.participant_id, InterestArea)
            .join(InterestArea, InterestArea.id == ParticipantInterest.area_id)
            .where(ParticipantInterest.participant_id.in_(self._people(event_id)))
            .order_by(InterestArea.position, InterestArea.code)
        )
        for participant_id, area in rows:
            found.setdefault(participant_id, []).append(area)
        return found

    async def events_of(self, event_id: int | None = None) -> dict[int, list[str]]:
        """Participant id → the codes of the events they joined (all of them)."""
        found: dict[int, list[str]] = {}
        rows = await self.session.execute(
            select(EventRegistration.participant_id, Event.code)
            .join(Event, Event.id == EventRegistration.event_id)
            .where(EventRegistration.participant_id.in_(self._people(event_id)))
            .order_by(Event.code)
        )
        for participant_id, code in rows:
            found.setdefault(participant_id, []).append(code)
        return found

    async def meetings(self, event_id: int | None = None) -> list[MeetingRow]:
        """Meetings (of the event, when one is given) with request times and feedback."""
        query = (
            select(Meeting, MeetingRequest.created_at, MeetingRequest.answered_at)
            .join(MeetingRequest, MeetingRequest.id == Meeting.request_id)
            .order_by(Meeting.id)
        )
        if event_id is not None:
            query = query.where(Meeting.event_id == event_id)
        rows = (await self.session.execute(query)).unique().all()
        feedback = await self._feedback_by_meeting(event_id)
        return [
            MeetingRow(meeting, requested, accepted, feedback.get(meeting.id, {}))
            for meeting, requested, accepted in rows
        ]

    async def _feedback_by_meeting(self, event_id: int | None) -> dict[int, dict[int, bool]]:
        found: dict[int, dict[int, bool]] = {}
        query = select(MeetingFeedback)
        if event_id is not None:
            query = query.join(Meeting, Meeting.id == MeetingFeedback.meeting_id).where(
                Meeting.event_id == event_id
            )
        for answer in await self.session.scalars(query):
            found.setdefault(answer.meeting_id, {})[answer.participant_id] = answer.took_place
        return found

    async def feedback(self, event_id: int | None = None) -> list[tuple[MeetingFeedback, Meeting]]:
        """Every feedback answer with its meeting, oldest answer first."""
        query = (
            select(MeetingFeedback, Meeting)
            .join(Meeting, Meeting.id == MeetingFeedback.meeting_id)
            .order_by(MeetingFeedback.answered_at, MeetingFeedback.meeting_id)
        )
        if event_id is not None:
            query = query.where(Meeting.event_id == event_id)
        return list((await self.session.execute(query)).unique().all())

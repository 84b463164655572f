"""Matchmaking queries, one repository per thing they serve: :class:`EventRepository`
(events, who joined them, what ranking partners reads) and :class:`RequestRepository`
(meeting requests). Meetings and their feedback are in :mod:`storage.meetings`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.event_models import (
    Event,
    EventRegistration,
    MeetingRequest,
)
from storage.models import Participant, ParticipantInterest


class Profile(NamedTuple):
    """What partner ranking and filtering read about one participant of an event."""

    id: int
    country: str | None
    org_type: str | None
    organisation: str | None
    offer: str | None
    seek: str | None


class Repository:
    """A repository works inside the caller's session and transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session


class EventRepository(Repository):
    """Events, registrations into them, and what partner ranking reads about participants."""

    async def event_by_code(self, code: str) -> Event | None:
        """The event with ``code`` (case-sensitive, as in the link)."""
        return await self.session.scalar(select(Event).where(Event.code == code))

    async def event(self, event_id: int) -> Event | None:
        """The event with id ``event_id``."""
        return await self.session.get(Event, event_id)

    async def join(self, participant: Participant, event: Event, now: datetime) -> bool:
        """Register ``participant`` into ``event`` at ``now``; ``False`` when already there."""
        dialect = self.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        result = await self.session.execute(
            insert(EventRegistration)
            .values(event_id=event.id, participant_id=participant.id, joined_at=now)
            .on_conflict_do_nothing(index_elements=["event_id", "participant_id"])
        )
        return getattr(result, "rowcount", 0) == 1

    async def events_of(self, participant: Participant) -> list[Event]:
        """The events the participant joined, soonest first."""
        rows = await self.session.scalars(
            select(Event)
            .join(EventRegistration, EventRegistration.event_id == Event.id)
            .where(EventRegistration.participant_id == participant.id)
            .order_by(Event.starts_on, Event.id)
        )
        return list(rows.all())

    async def is_registered(self, participant_id: int, event_id: int) -> bool:
        """Whether the participant joined the event."""
        found = await self.session.get(EventRegistration, (event_id, participant_id))
        return found is not None

    async def leave(self, participant_id: int, event_id: int) -> bool:
        """Take the participant out of the event; ``False`` when they were not in it."""
        result = await self.session.execute(
            delete(EventRegistration).where(
                EventRegistration.event_id == event_id,
                EventRegistration.participant_id == participant_id,
            )
        )
        return getattr(result, "rowcount", 0) == 1

    async def event_profiles(self, event_id: int) -> list[Profile]:
        """What ranking and filtering read of every registered participant of the event."""
        rows = await self.session.execute(
            select(
                Participant.id, Participant.country, Participant.org_type,
                Participant.organisation, Participant.offer, Participant.seek,
            )
            .join(EventRegistration, EventRegistration.participant_id == Participant.id)
            .where(EventRegistration.event_id == event_id, Participant.registered_at.is_not(None))
        )  # fmt: skip
        return [Profile(*row) for row in rows.all()]

    async def event_interests(self, event_id: int) -> list[tuple[int, int]]:
        """(participant id, area id) for every participant of the event."""
        rows = await self.session.execute(
            select(ParticipantInterest.participant_id, ParticipantInterest.area_id)
            .join(
                EventRegistration,
                EventRegistration.participant_id == ParticipantInterest.participant_id,
            )
            .where(EventRegistration.event_id == event_id)
        )
        return [(row[0], row[1]) for row in rows.all()]

    async def area_ids_of(self, participant_id: int) -> list[int]:
        """Ids of the participant's interest areas."""
        rows = await self.session.scalars(
            select(ParticipantInterest.area_id).where(
                ParticipantInterest.participant_id == participant_id
            )
        )
        return list(rows.all())


class RequestRepository(Repository):
    """Meeting requests: asked, answered, lapsed or withdrawn."""

    async def request(self, request_id: int, *, lock: bool = False) -> MeetingRequest | None:
        """The request with id ``request_id``; with ``lock``, row-locked until commit and
        re-read, so two answers (or an answer and the lapse sweep) apply one after the
        other and the second sees what the first did."""
        query = select(MeetingRequest).where(MeetingRequest.id == request_id)
        if lock:
            query = query.with_for_update(of=MeetingRequest).execution_options(
                populate_existing=True
            )
        return await self.session.scalar(query)

    async def request_between(self, event_id: int, a: int, b: int) -> MeetingRequest | None:
        """A request between ``a`` and ``b`` at the event, in either direction.

        There can be one each way when one was withdrawn: the one still in force counts.
        """
        return await self.session.scalar(
            select(MeetingRequest)
            .where(
                MeetingRequest.event_id == event_id,
                or_(
                    and_(MeetingRequest.requester_id == a, MeetingRequest.invitee_id == b),
                    and_(MeetingRequest.requester_id == b, MeetingRequest.invitee_id == a),
                ),
            )
            .order_by((MeetingRequest.status == "withdrawn").asc(), MeetingRequest.id.desc())
            .limit(1)
        )

    async def requests_with(
        self, event_id: int, participant_id: int, others: Sequence[int]
    ) -> list[MeetingRequest]:
        """Requests at the event between the participant and any of ``others``."""
        if not others:
            return []
        me, them = participant_id, list(others)
        rows = await self.session.scalars(
            select(MeetingRequest).where(
                MeetingRequest.event_id == event_id,
                or_(
                    and_(MeetingRequest.requester_id == me, MeetingRequest.invitee_id.in_(them)),
                    and_(MeetingRequest.invitee_id == me, MeetingRequest.requester_id.in_(them)),
                ),
            )
        )
        return list(rows.unique().all())

    async def waiting(
        self, participant_id: int, now: datetime
    ) -> tuple[list[MeetingRequest], list[MeetingRequest]]:
        """The participant's requests still awaiting an answer: (sent, received).

        Sent ones in the order they were sent; received ones soonest to lapse first. A
        request whose time is up but which the sweep has not reached yet is left out.
        """
        rows = await self.session.scalars(
            select(MeetingRequest)
            .where(
                MeetingRequest.status == "pending",
                MeetingRequest.expires_at > now,
                or_(
                    MeetingRequest.requester_id == participant_id,
                    MeetingRequest.invitee_id == participant_id,
                ),
            )
            .order_by(MeetingRequest.created_at, MeetingRequest.id)
        )
        found = list(rows.unique().all())
        sent = [r for r in found if r.requester_id == participant_id]
        received = sorted(
            (r for r in found if r.invitee_id == participant_id), key=lambda r: r.expires_at
        )
        return sent, received

    async def pending_at_event(self, participant_id: int, event_id: int) -> list[MeetingRequest]:
        """The participant's pending requests at the event, both ways, row-locked."""
        rows = await self.session.scalars(
            select(MeetingRequest)
            .where(
                MeetingRequest.event_id == event_id,
                MeetingRequest.status == "pending",
                or_(
                    MeetingRequest.requester_id == participant_id,
                    MeetingRequest.invitee_id == participant_id,
                ),
            )
            .order_by(MeetingRequest.id)
            .with_for_update(of=MeetingRequest)
        )
        return list(rows.unique().all())

    def withdraw(self, request: MeetingRequest, now: datetime) -> None:
        """Withdraw a pending request (the requester changed their mind, or left)."""
        request.status, request.answered_at = "withdrawn", now

    async def pending_outgoing(self, participant_id: int, event_id: int) -> int:
        """How many of the participant's requests at the event await an answer."""
        count = await self.session.scalar(
            select(func.count())
            .select_from(MeetingRequest)
            .where(
                MeetingRequest.requester_id == participant_id,
                MeetingRequest.event_id == event_id,
                MeetingRequest.status == "pending",
            )
        )
        return int(count or 0)

    async def add_request(
        self, event: Event, requester: Participant, invitee: Participant, note: str | None,
        now: datetime, expires_at: datetime,
    ) -> MeetingRequest | None:  # fmt: skip
        """Create a pending request; ``None`` if one between the two exists already.

        A request the requester withdrew is asked again in the same row (its id stays, so
        erasure still finds every notice that names it).
        """
        withdrawn = await self.session.scalar(
            select(MeetingRequest)
            .where(
                MeetingRequest.event_id == event.id,
                MeetingRequest.requester_id == requester.id,
                MeetingRequest.invitee_id == invitee.id,
                MeetingRequest.status == "withdrawn",
            )
            .with_for_update(of=MeetingRequest)
        )
        if withdrawn is not None:
            withdrawn.note, withdrawn.status, withdrawn.answered_at = note, "pending", None
            withdrawn.created_at, withdrawn.expires_at = now, expires_at
            return withdrawn
        request = MeetingRequest(
            event_id=event.id, requester_id=requester.id, invitee_id=invitee.id, note=note,
            status="pending", created_at=now, expires_at=expires_at,
        )  # fmt: skip
        try:
            async with self.session.begin_nested():
                self.session.add(request)
        except IntegrityError:
            return None
        return request

    async def expired_requests(self, now: datetime, limit: int = 500) -> list[MeetingRequest]:
        """Pending requests whose time is up, locked so one sweeper handles each."""
        rows = await self.session.scalars(
            select(MeetingRequest)
            .where(MeetingRequest.status == "pending", MeetingRequest.expires_at <= now)
            .order_by(MeetingRequest.expires_at)
            .limit(limit)
            .with_for_update(of=MeetingRequest, skip_locked=True)
        )
        return list(rows.unique().all())

    async def withdraw_pending_requests(self, participant_id: int, now: datetime) -> None:
        """Withdraw every pending request to or from the participant."""
        await self.session.execute(
            update(MeetingRequest)
            .where(
                MeetingRequest.status == "pending",
                or_(
                    MeetingRequest.requester_id == participant_id,
                    MeetingRequest.invitee_id == participant_id,
                ),
            )
            .values(status="withdrawn", answered_at=now)
        )

"""Matchmaking queries, one repository per thing they serve.

:class:`EventRepository` (events, who joined them, what ranking partners reads),
:class:`RequestRepository` (meeting requests), :class:`MeetingRepository` (meetings and
their bookings, scheduling included) and :class:`FeedbackRepository` ("did it take place?").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.event_models import (
    Booking,
    Event,
    EventRegistration,
    Meeting,
    MeetingFeedback,
    MeetingRequest,
    Place,
    Slot,
)
from storage.models import Participant, ParticipantInterest

OPEN_MEETING = ("scheduled", "unscheduled")


class Profile(NamedTuple):
    """What partner ranking and filtering read about one participant of an event."""

    id: int
    country: str | None
    org_type: str | None
    organisation: str | None
    offer: str | None
    seek: str | None


class _Repository:
    """A repository works inside the caller's session and transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session


class EventRepository(_Repository):
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


class RequestRepository(_Repository):
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


class MeetingRepository(_Repository):
    """Meetings and their bookings: scheduling into free slots and places, cancelling."""

    async def meeting(self, meeting_id: int, *, lock: bool = False) -> Meeting | None:
        """The meeting with id ``meeting_id``."""
        query = select(Meeting).where(Meeting.id == meeting_id)
        if lock:
            query = query.with_for_update(of=Meeting)
        return await self.session.scalar(query)

    async def add_meeting(self, request: MeetingRequest, now: datetime) -> Meeting | None:
        """The meeting an accepted request becomes; ``None`` if it exists already."""
        meeting = Meeting(
            request_id=request.id, event_id=request.event_id, first_id=request.requester_id,
            second_id=request.invitee_id, status="unscheduled",
            sequence=0, created_at=now, updated_at=now,
        )  # fmt: skip
        try:
            async with self.session.begin_nested():
                self.session.add(meeting)
        except IntegrityError:
            return None
        return meeting

    async def schedule(self, meeting: Meeting, now: datetime) -> bool:
        """Give the meeting the earliest future slot where both sides are free, and a place.

        "Free" means no booking of either side overlaps the slot, whatever event it is at.
        The unique key and overlap check on bookings and the unique (slot, place) are the
        guarantee; when a concurrent transaction takes the same seat or time first, this
        one moves on to the next candidate. The meeting keeps its current seat when no
        other is free.
        """
        meeting_id, event_id = meeting.id, meeting.event_id
        people = sorted((meeting.first_id, meeting.second_id))  # one order: no lock cycles
        for slot in await self._free_slots(event_id, people, now):
            places = await self._free_places(event_id, slot.id)
            # Start at a different place for each meeting: many accepts at once then spread
            # over a slot's places instead of all queueing for the first one.
            shift = meeting_id % len(places) if places else 0
            for place_id in places[shift:] + places[:shift]:
                try:
                    async with self.session.begin_nested():
                        await self._seat(meeting_id, people, slot, place_id, now)
                except IntegrityError:
                    continue
                await self.session.refresh(meeting)
                return True
        await self.session.refresh(meeting)
        return False

    async def _seat(
        self, meeting_id: int, people: list[int], slot: Slot, place_id: int, now: datetime
    ) -> None:
        await self.session.execute(delete(Booking).where(Booking.meeting_id == meeting_id))
        await self.session.execute(
            update(Meeting)
            .where(Meeting.id == meeting_id)
            .values(slot_id=slot.id, place_id=place_id, status="scheduled", updated_at=now)
        )
        for participant_id in people:
            await self.session.execute(
                insert(Booking).values(
                    meeting_id=meeting_id,
                    slot_id=slot.id,
                    participant_id=participant_id,
                    starts_at=slot.starts_at,
                    ends_at=slot.ends_at,
                )
            )

    async def _free_slots(
        self, event_id: int, people: list[int], earliest: datetime, *, seat_free: bool = False,
        limit: int | None = None,
    ) -> list[Slot]:  # fmt: skip
        busy = (
            select(Booking.id)
            .where(
                Booking.participant_id.in_(people),
                Booking.starts_at < Slot.ends_at,
                Slot.starts_at < Booking.ends_at,
            )
            .exists()
        )
        query = select(Slot).where(Slot.event_id == event_id, Slot.starts_at > earliest, ~busy)
        if seat_free:
            # Correlated to the slot two levels up (auto-correlation only looks one up).
            used = (
                select(Meeting.place_id)
                .where(Meeting.slot_id == Slot.id, Meeting.place_id.is_not(None))
                .correlate(Slot)
            )
            query = query.where(
                select(Place.id).where(Place.event_id == event_id, Place.id.not_in(used)).exists()
            )
        rows = await self.session.scalars(query.order_by(Slot.starts_at).limit(limit))
        return list(rows.all())

    async def free_times(self, meeting: Meeting, now: datetime, limit: int) -> list[Slot]:
        """The next ``limit`` slots of the meeting's event after ``now`` where both sides are
        free (at any event) and a table or link is free: the times it could move to."""
        people = [meeting.first_id, meeting.second_id]
        return await self._free_slots(meeting.event_id, people, now, seat_free=True, limit=limit)

    async def move(self, meeting: Meeting, slot: Slot, now: datetime) -> bool:
        """Move the meeting to ``slot`` (of its event, in the future) if both sides and a
        place are free then; its calendar ``sequence`` goes up. ``False``: it stays as it was.

        The slot is checked again here, inside the transaction: the choice was offered
        earlier and someone may have taken the time since. Bookings' constraints are the
        final guarantee, as in :meth:`schedule`.
        """
        if slot.event_id != meeting.event_id or slot.starts_at <= now or slot.id == meeting.slot_id:
            return False
        people = sorted((meeting.first_id, meeting.second_id))
        free = await self._free_slots(meeting.event_id, people, now, seat_free=True)
        if slot.id not in {candidate.id for candidate in free}:
            return False
        places = await self._free_places(meeting.event_id, slot.id)
        shift = meeting.id % len(places) if places else 0
        for place_id in places[shift:] + places[:shift]:
            try:
                async with self.session.begin_nested():
                    await self._seat(meeting.id, people, slot, place_id, now)
            except IntegrityError:
                continue
            await self.session.execute(
                update(Meeting)
                .where(Meeting.id == meeting.id)
                .values(sequence=Meeting.sequence + 1)
            )
            await self.session.refresh(meeting)
            return True
        return False

    async def _free_places(self, event_id: int, slot_id: int) -> list[int]:
        used = select(Meeting.place_id).where(
            Meeting.slot_id == slot_id, Meeting.place_id.is_not(None)
        )
        rows = await self.session.scalars(
            select(Place.id)
            .where(Place.event_id == event_id, Place.id.not_in(used))
            .order_by(Place.position, Place.id)
        )
        return list(rows.all())

    async def cancel(self, meeting: Meeting, now: datetime) -> None:
        """Cancel the meeting and free its seat; its time stays known for the messages."""
        await self.session.execute(delete(Booking).where(Booking.meeting_id == meeting.id))
        await self.session.execute(
            update(Meeting)
            .where(Meeting.id == meeting.id)
            .values(
                place_id=None,
                status="cancelled",
                sequence=Meeting.sequence + 1,
                updated_at=now,
            )
        )
        await self.session.refresh(meeting)

    async def meetings_of(self, participant_id: int, event_id: int | None = None) -> list[Meeting]:
        """The participant's meetings that are not cancelled (at one event, if given), in
        time order."""
        query = (
            select(Meeting)
            .outerjoin(Slot, Slot.id == Meeting.slot_id)
            .where(
                or_(Meeting.first_id == participant_id, Meeting.second_id == participant_id),
                Meeting.status.in_(OPEN_MEETING),
            )
            .order_by(Slot.starts_at.is_(None), Slot.starts_at, Meeting.id)
        )
        if event_id is not None:
            query = query.where(Meeting.event_id == event_id)
        rows = await self.session.scalars(query)
        return list(rows.unique().all())

    async def slot(self, slot_id: int) -> Slot | None:
        """The slot with id ``slot_id``."""
        return await self.session.get(Slot, slot_id)


class FeedbackRepository(_Repository):
    """Each side's answer to "did the meeting take place?"."""

    async def record_feedback(
        self, meeting: Meeting, participant_id: int, took_place: bool, now: datetime
    ) -> None:
        """Store (or change) one side's answer to "did the meeting take place?"."""
        existing = await self.session.get(MeetingFeedback, (meeting.id, participant_id))
        if existing is None:
            self.session.add(
                MeetingFeedback(
                    meeting_id=meeting.id,
                    participant_id=participant_id,
                    took_place=took_place,
                    answered_at=now,
                )
            )
        else:
            existing.took_place, existing.answered_at = took_place, now

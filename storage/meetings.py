"""Meeting queries: :class:`MeetingRepository` (meetings and their bookings, scheduling
included) and :class:`FeedbackRepository` ("did it take place?")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from storage.event_models import (
    Booking,
    Meeting,
    MeetingFeedback,
    MeetingRequest,
    Place,
    Slot,
)
from storage.matchmaking import Repository

OPEN_MEETING = ("scheduled", "unscheduled")


class MeetingRepository(Repository):
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


class FeedbackRepository(Repository):
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

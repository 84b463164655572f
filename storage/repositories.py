"""Queries the conversation core needs, kept in one place so the SQL is easy to review."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.event_models import (
    Event,
    EventRegistration,
    Meeting,
    MeetingFeedback,
    MeetingRequest,
    OutboxMessage,
)
from storage.models import (
    ConsentRecord,
    ConversationState,
    InterestArea,
    Participant,
    ParticipantInterest,
)

# Built once: composing a statement costs more than running it on SQLite, and this one runs
# for every message anyone sends.
_OPEN_CONVERSATION = (
    select(Participant, ConversationState)
    .outerjoin(ConversationState, ConversationState.participant_id == Participant.id)
    .where(
        Participant.channel == bindparam("channel"),
        Participant.external_id == bindparam("external_id"),
    )
    .with_for_update(of=Participant)
)


class ParticipantRepository:
    """Participants, their conversation state, interests and consents."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(
        self, channel: str, external_id: str, *, lock: bool = False
    ) -> Participant | None:
        """The participant known by ``external_id`` on ``channel``; ``lock`` holds its row.

        The row lock (``SELECT … FOR UPDATE``, a no-op on SQLite, which serialises writers
        anyway) keeps two workers from handling the same user's updates at once.
        """
        query = select(Participant).where(
            Participant.channel == channel, Participant.external_id == external_id
        )
        if lock:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def get_or_create(
        self, channel: str, external_id: str, chat_id: str, locale: str, now: datetime
    ) -> tuple[Participant, bool]:
        """Return the participant (row-locked) and whether it was created just now."""
        participant = await self.find(channel, external_id, lock=True)
        if participant is not None:
            if participant.chat_id != chat_id:
                participant.chat_id = chat_id
            return participant, False
        insert = (
            pg_insert if self.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        )
        result = await self.session.execute(
            insert(Participant)
            .values(
                channel=channel,
                external_id=external_id,
                chat_id=chat_id,
                locale=locale,
                active=True,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["channel", "external_id"])
        )
        # Another worker may have created the same user between our SELECT and INSERT.
        created = getattr(result, "rowcount", 0) == 1
        participant = await self.find(channel, external_id, lock=True)
        if participant is None:
            raise RuntimeError(f"participant {channel}:{external_id} vanished while being created")
        return participant, created

    async def open_conversation(
        self, channel: str, external_id: str, chat_id: str, locale: str, now: datetime
    ) -> tuple[Participant, ConversationState, bool]:
        """The participant (row-locked), their conversation state and whether they are new.

        A known participant and their state come back in one query: this runs for every
        message anyone sends, so a second round trip would be paid on each.
        """
        parameters = {"channel": channel, "external_id": external_id}
        row = (await self.session.execute(_OPEN_CONVERSATION, parameters)).first()
        if row is None:
            participant, created = await self.get_or_create(
                channel, external_id, chat_id, locale, now
            )
            return participant, await self.state_of(participant, now), created
        participant, state = row
        if participant.chat_id != chat_id:
            participant.chat_id = chat_id
        if state is None:
            state = await self.state_of(participant, now)
        return participant, state, False

    async def set_reachable(
        self, channel: str, external_id: str, reachable: bool, now: datetime
    ) -> bool:
        """Mark a known participant (un)reachable; ``False`` when there is no such participant."""
        result = await self.session.execute(
            update(Participant)
            .where(Participant.channel == channel, Participant.external_id == external_id)
            .values(active=reachable, updated_at=now)
        )
        return bool(getattr(result, "rowcount", 0))

    async def state_of(self, participant: Participant, now: datetime) -> ConversationState:
        """The participant's conversation state, created idle when missing."""
        state = await self.session.get(ConversationState, participant.id)
        if state is None:
            state = ConversationState(
                participant_id=participant.id, flow="idle", data={}, updated_at=now
            )
            self.session.add(state)
        return state

    async def interest_codes(self, participant: Participant) -> list[str]:
        """Codes of the areas the participant selected, in taxonomy order."""
        rows = await self.session.scalars(
            select(InterestArea.code)
            .join(ParticipantInterest, ParticipantInterest.area_id == InterestArea.id)
            .where(ParticipantInterest.participant_id == participant.id)
            .order_by(InterestArea.position)
        )
        return list(rows.all())

    async def set_interests(self, participant: Participant, codes: Sequence[str]) -> None:
        """Replace the participant's interest areas with ``codes`` (unknown codes are ignored)."""
        await self.session.execute(
            delete(ParticipantInterest).where(ParticipantInterest.participant_id == participant.id)
        )
        if not codes:
            return
        area_ids = await self.session.scalars(
            select(InterestArea.id).where(InterestArea.code.in_(list(codes)))
        )
        self.session.add_all(
            ParticipantInterest(participant_id=participant.id, area_id=area_id)
            for area_id in area_ids.all()
        )

    async def record_consent(
        self,
        participant: Participant,
        purpose: str,
        notice_version: str,
        locale: str,
        now: datetime,
    ) -> ConsentRecord:
        """Store proof that the participant accepted ``notice_version`` at ``now``."""
        record = ConsentRecord(
            participant_id=participant.id,
            purpose=purpose,
            notice_version=notice_version,
            locale=locale,
            given_at=now,
        )
        self.session.add(record)
        return record

    async def consents(self, participant: Participant) -> list[ConsentRecord]:
        """The participant's consent records, oldest first."""
        rows = await self.session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.participant_id == participant.id)
            .order_by(ConsentRecord.given_at, ConsentRecord.id)
        )
        return list(rows.all())

    async def latest_consent(self, participant: Participant, purpose: str) -> ConsentRecord | None:
        """The most recent consent for ``purpose``, if any."""
        return await self.session.scalar(
            select(ConsentRecord)
            .where(ConsentRecord.participant_id == participant.id, ConsentRecord.purpose == purpose)
            .order_by(ConsentRecord.given_at.desc(), ConsentRecord.id.desc())
            .limit(1)
        )

    async def erase(self, participant: Participant) -> None:
        """Delete the participant and, by cascade, every row that belongs to them.

        Notes are the requester's own words, so they are cleared explicitly: they must go
        even where a request row is kept (a database without enforced foreign keys).
        """
        await self.session.execute(
            update(MeetingRequest)
            .where(MeetingRequest.requester_id == participant.id)
            .values(note=None)
        )
        await self.session.delete(participant)
        await self.session.flush()

    async def at_event(self, event_id: int, ids: Sequence[int]) -> dict[int, Participant]:
        """Those of ``ids`` who are registered participants of the event now, by id."""
        if not ids:
            return {}
        rows = await self.session.scalars(
            select(Participant)
            .join(EventRegistration, EventRegistration.participant_id == Participant.id)
            .where(
                EventRegistration.event_id == event_id,
                Participant.id.in_(list(ids)),
                Participant.registered_at.is_not(None),
            )
        )
        return {p.id: p for p in rows.all()}

    async def mark_registered(self, participant: Participant, when: datetime) -> None:
        """Record that registration was completed at ``when``."""
        participant.registered_at = when


class PersonalData:
    """What Ponte holds about one person beyond their profile: for export and erasure."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def registrations(self, participant_id: int) -> list[EventRegistration]:
        """The events the person joined, oldest event first."""
        rows = await self.session.scalars(
            select(EventRegistration)
            .join(Event, Event.id == EventRegistration.event_id)
            .where(EventRegistration.participant_id == participant_id)
            .order_by(Event.starts_on, Event.id)
        )
        return list(rows.unique().all())

    async def requests(self, participant_id: int) -> list[MeetingRequest]:
        """Meeting requests the person sent or received, in any state, oldest first."""
        rows = await self.session.scalars(
            select(MeetingRequest)
            .where(
                or_(
                    MeetingRequest.requester_id == participant_id,
                    MeetingRequest.invitee_id == participant_id,
                )
            )
            .order_by(MeetingRequest.created_at, MeetingRequest.id)
        )
        return list(rows.unique().all())

    async def meetings(self, participant_id: int) -> list[Meeting]:
        """The person's meetings, cancelled ones too, oldest first."""
        rows = await self.session.scalars(
            select(Meeting)
            .where(or_(Meeting.first_id == participant_id, Meeting.second_id == participant_id))
            .order_by(Meeting.created_at, Meeting.id)
        )
        return list(rows.unique().all())

    async def feedback(self, participant_id: int) -> list[MeetingFeedback]:
        """The person's answers to "did the meeting take place?"."""
        rows = await self.session.scalars(
            select(MeetingFeedback)
            .where(MeetingFeedback.participant_id == participant_id)
            .order_by(MeetingFeedback.answered_at, MeetingFeedback.meeting_id)
        )
        return list(rows.all())

    async def outbox_of(self, participant_ids: Collection[int]) -> list[OutboxMessage]:
        """Every outbox message, sent or not, addressed to one of ``participant_ids``."""
        if not participant_ids:
            return []
        rows = await self.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.participant_id.in_(list(participant_ids)))
            .order_by(OutboxMessage.id)
        )
        return list(rows.all())

    async def delete_outbox(self, message_ids: Collection[int]) -> None:
        """Delete outbox messages, whether or not they were sent."""
        if message_ids:
            await self.session.execute(
                delete(OutboxMessage).where(OutboxMessage.id.in_(list(message_ids)))
            )


class TaxonomyRepository:
    """Read access to the interest-area taxonomy."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def active_areas(self) -> list[InterestArea]:
        """Areas offered for selection, in display order."""
        rows = await self.session.scalars(
            select(InterestArea)
            .where(InterestArea.active.is_(True))
            .order_by(InterestArea.position)
        )
        return list(rows.all())

    async def areas_by_code(self, codes: Sequence[str]) -> list[InterestArea]:
        """The areas with the given codes (active or not), in display order."""
        if not codes:
            return []
        rows = await self.session.scalars(
            select(InterestArea)
            .where(InterestArea.code.in_(list(codes)))
            .order_by(InterestArea.position)
        )
        return list(rows.all())

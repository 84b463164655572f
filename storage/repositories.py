"""Queries the conversation core needs, kept in one place so the SQL is easy to review."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    ConsentRecord,
    ConversationState,
    InterestArea,
    Participant,
    ParticipantInterest,
    utcnow,
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
        self, channel: str, external_id: str, chat_id: str, locale: str
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
                created_at=utcnow(),
                updated_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["channel", "external_id"])
        )
        # Another worker may have created the same user between our SELECT and INSERT.
        created = getattr(result, "rowcount", 0) == 1
        participant = await self.find(channel, external_id, lock=True)
        if participant is None:
            raise RuntimeError(f"participant {channel}:{external_id} vanished while being created")
        return participant, created

    async def set_reachable(self, channel: str, external_id: str, reachable: bool) -> bool:
        """Mark a known participant (un)reachable; ``False`` when there is no such participant."""
        result = await self.session.execute(
            update(Participant)
            .where(Participant.channel == channel, Participant.external_id == external_id)
            .values(active=reachable, updated_at=utcnow())
        )
        return bool(getattr(result, "rowcount", 0))

    async def state_of(self, participant: Participant) -> ConversationState:
        """The participant's conversation state, created idle when missing."""
        state = await self.session.get(ConversationState, participant.id)
        if state is None:
            state = ConversationState(participant_id=participant.id, flow="idle", data={})
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
        self, participant: Participant, purpose: str, notice_version: str, locale: str
    ) -> ConsentRecord:
        """Store proof that the participant accepted ``notice_version`` just now."""
        record = ConsentRecord(
            participant_id=participant.id,
            purpose=purpose,
            notice_version=notice_version,
            locale=locale,
            given_at=utcnow(),
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
        """Delete the participant and, by cascade, every row that belongs to them."""
        await self.session.delete(participant)
        await self.session.flush()

    async def mark_registered(self, participant: Participant, when: datetime | None = None) -> None:
        """Record that registration is complete."""
        participant.registered_at = when or utcnow()


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

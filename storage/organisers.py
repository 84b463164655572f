"""Who may use the organiser tools, as stored (``ADMIN_IDS`` is checked above this layer)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.organiser_models import Organiser


class OrganiserRepository:
    """Organisers added by an organiser, by channel and user id."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def is_organiser(self, channel: str, external_id: str) -> bool:
        """Whether ``external_id`` on ``channel`` was added as an organiser."""
        found = await self.session.scalar(
            select(Organiser.id).where(
                Organiser.channel == channel, Organiser.external_id == external_id
            )
        )
        return found is not None

    async def add(self, channel: str, external_id: str, added_by: str, now: datetime) -> bool:
        """Add an organiser; ``False`` when they already were one."""
        if await self.is_organiser(channel, external_id):
            return False
        self.session.add(
            Organiser(channel=channel, external_id=external_id, added_by=added_by, added_at=now)
        )
        await self.session.flush()
        return True

    async def remove(self, channel: str, external_id: str) -> bool:
        """Remove an organiser; ``False`` when there was none to remove."""
        result = await self.session.execute(
            delete(Organiser)
            .where(Organiser.channel == channel, Organiser.external_id == external_id)
            .returning(Organiser.id)
        )
        return result.first() is not None

    async def all(self) -> list[Organiser]:
        """Every stored organiser, oldest first."""
        rows = await self.session.scalars(select(Organiser).order_by(Organiser.id))
        return list(rows)

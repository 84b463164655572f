"""Wiring: database, migrations, taxonomy and the conversation core, ready for a channel."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.channels.telegram.updates import CHANNEL as TELEGRAM
from bot.clock import Clock, system_clock
from bot.config import Settings
from handlers.core import Core
from handlers.flows import default_routers
from storage import migrate
from storage.db import create_engine, create_sessionmaker
from storage.taxonomy import read_taxonomy, sync_taxonomy

log = logging.getLogger(__name__)

REMINDER_SHARE = 0.8
"""The part of the sending rate that a burst of reminders may take."""


@dataclass
class App:
    """A running Ponte: its engine, session factory and core."""

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    core: Core

    async def close(self) -> None:
        """Release database connections."""
        await self.engine.dispose()


async def prepare_database(engine: AsyncEngine, settings: Settings) -> None:
    """Apply migrations and load the interest-area taxonomy."""
    await migrate.upgrade(engine)
    areas = read_taxonomy(settings.interest_areas_file)
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        await sync_taxonomy(session, areas)
    log.info(
        "database ready at revision %s with %d interest areas", migrate.head_revision(), len(areas)
    )


async def build_app(settings: Settings, *, clock: Clock = system_clock) -> App:
    """Open the database, bring it up to date and build the core, running on ``clock``."""
    engine = create_engine(settings.database_url)
    try:
        await prepare_database(engine, settings)
    except Exception:
        await engine.dispose()
        raise
    sessions = create_sessionmaker(engine)
    # Bursts of reminders are spread to four fifths of the sending rate (20 of 25 a second).
    core = Core(
        sessions,
        clock=clock,
        routers=default_routers(reminder_rate=settings.sending_rate * REMINDER_SHARE),
        privacy_terms=settings.privacy_terms,
        organisers=configured_organisers(settings),
    )
    await core.load_taxonomy()
    return App(settings=settings, clock=clock, engine=engine, sessions=sessions, core=core)


def configured_organisers(settings: Settings) -> frozenset[tuple[str, str]]:
    """``ADMIN_IDS`` as the core knows people: Telegram user ids on the Telegram channel."""
    return frozenset((TELEGRAM, str(user_id)) for user_id in settings.admin_ids)

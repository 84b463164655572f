"""Queueing broadcasts' deliveries, a chunk per transaction, and resuming them at start-up.

A confirmed broadcast has a delivery per recipient; its first chunk is queued with the
confirmation, the rest here (``handlers.organiser.broadcast_control.JOB``, one transaction per
chunk, so other users' updates pass in between). The scheduler runs :func:`resume` at every
start and whenever a turn asks for it (a confirmation), so a crash while queueing loses
nobody and queues nobody twice: only the deliveries still ``waiting`` are queued.

Every few seconds the scheduler runs :func:`edit_progress` too, which edits the progress
messages of the broadcasts on their way (one cheap query when there are none).
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from handlers.core import Core
from handlers.organiser.broadcast_control import JOB, PROGRESS_JOB, queue_next_chunk
from storage.broadcasts import BroadcastRepository
from storage.db import transaction_gate

log = logging.getLogger(__name__)


async def queue_all(core: Core, broadcast_id: int) -> int:
    """Queue every chunk still waiting; returns how many chunks were queued."""
    chunks = 0
    while await core.run_timed(JOB, [broadcast_id]):
        chunks += 1
        await asyncio.sleep(0)  # let replies in between two chunks
    return chunks


async def resume(core: Core) -> int:
    """Queue what every broadcast being sent has not queued yet; returns the chunks."""
    async with transaction_gate(core.sessions), core.sessions() as session:
        pending = await BroadcastRepository(session).needing_queueing()
    chunks = 0
    for broadcast_id in pending:
        chunks += await queue_all(core, broadcast_id)
    if chunks:
        log.info("broadcasts %s: %d chunks of deliveries queued", pending, chunks)
    return chunks


async def edit_progress(core: Core) -> int:
    """Queue the progress edits due (``PROGRESS_JOB``); returns how many broadcasts have a
    progress message that Ponte still edits."""
    async with transaction_gate(core.sessions), core.sessions() as session:
        showing = await BroadcastRepository(session).showing_progress()
    if showing:
        await core.run_timed(PROGRESS_JOB, showing)
    return len(showing)


async def queue_without_core(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, broadcast_id: int
) -> int:
    """:func:`queue_all` for the command line, which runs no core."""
    chunks = 0
    while True:
        async with transaction_gate(sessions), sessions() as session, session.begin():
            if not await queue_next_chunk(session, clock(), broadcast_id):
                return chunks
        chunks += 1

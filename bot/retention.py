"""Erasing those whose retention period has ended, as the privacy notice promises.

The scheduler's maintenance sweep runs :func:`erase_past_retention` once a day. Each person
is erased in a transaction of their own, exactly as ``/deleteme`` would: every flow module
cleans up first (their partners are told of any meeting still to come), then the
participant and everything that belongs to them is deleted.
"""

from __future__ import annotations

import logging

from handlers.core import Core
from handlers.kernel.incoming import Sender
from storage.db import transaction_gate
from storage.models import Participant
from storage.retention import BATCH, past_retention

log = logging.getLogger(__name__)


async def erase_past_retention(core: Core) -> int:
    """Erase everyone past the retention period; returns how many were erased."""
    days = core.privacy_terms.retention_days
    erased = 0
    while True:
        async with transaction_gate(core.sessions), core.sessions() as session:
            found = await past_retention(session, core.clock(), days)
        done = [pid for pid in found if await _erase(core, pid, days)]
        erased += len(done)
        if len(found) < BATCH or not done:
            break
    if erased:
        log.info("erased %d participants whose retention period (%d days) had ended", erased, days)
    return erased


async def _erase(core: Core, participant_id: int, days: int) -> bool:
    """Erase one participant if they are still past the period (they may have just joined an
    event); in one transaction."""
    async with transaction_gate(core.sessions), core.sessions() as session, session.begin():
        if not await past_retention(session, core.clock(), days, among=[participant_id]):
            return False
        person = await session.get(Participant, participant_id)
        if person is None:
            return False
        turn = await core.open_turn(
            session, Sender(person.channel, person.external_id, person.chat_id)
        )
        await core.before_erase(turn)
        await turn.people.erase(turn.participant)
    if turn.outbox_written:
        core.outbox_ready.set()
    return True

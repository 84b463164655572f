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
from storage.retention import first_past_retention

log = logging.getLogger(__name__)


async def erase_past_retention(core: Core) -> int:
    """Erase everyone past the retention period; returns how many were erased."""
    days = core.privacy_terms.retention_days
    erased = 0
    while True:
        async with transaction_gate(core.sessions), core.sessions() as session, session.begin():
            now = core.clock()
            found = await first_past_retention(session, now, days)
            if found is None:
                break
            person = await session.get(Participant, found)
            assert person is not None  # found in this very transaction
            sender = Sender(person.channel, person.external_id, person.chat_id)
            turn = await core.open_turn(session, sender)
            await core.before_erase(turn)
            await turn.people.erase(turn.participant)
        erased += 1
        if turn.outbox_written:
            core.outbox_ready.set()
    if erased:
        log.info("erased %d participants whose retention period (%d days) had ended", erased, days)
    return erased

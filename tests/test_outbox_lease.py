"""Leases are taken one at a time across processes, so a chat's messages keep their order."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.app import App
from storage.outbox import OutboxRepository
from storage.repositories import ParticipantRepository
from tests.databases import LockWatch

CHANNEL = "telegram"
LEASE = timedelta(minutes=10)


async def test_a_second_sender_waits_for_the_first_ones_lease(app: App) -> None:
    if app.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: two leases cannot overlap there")
    async with app.sessions() as session, session.begin():
        now = app.clock()
        person, _ = await ParticipantRepository(session).get_or_create(CHANNEL, "7", "7", "en", now)
        outbox = OutboxRepository(session)
        for text in ("first", "second"):
            assert outbox.queue(person, {"text": text}, now)

    first_sender = app.sessions()
    transaction = await first_sender.begin()
    leased = await OutboxRepository(first_sender).lease_next(CHANNEL, now, LEASE)
    assert leased is not None and leased.payload == {"text": "first"}

    async def second_sender() -> object:
        async with app.sessions() as session, session.begin():
            row = await OutboxRepository(session).lease_next(CHANNEL, now, LEASE)
            return None if row is None else row.payload

    other = asyncio.create_task(second_sender())
    # Without the lock it would take "second" past the uncommitted lease instead of waiting.
    await LockWatch(app.engine).until_waiting()
    assert not other.done()
    await transaction.commit()
    await first_sender.close()
    # Now it sees "first" in another sender's hands: nothing newer of that chat for it.
    assert await asyncio.wait_for(other, 10) is None

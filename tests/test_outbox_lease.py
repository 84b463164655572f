"""Leases are taken one at a time across processes, so a chat's messages keep their order."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert

from bot.app import App
from storage.event_models import OutboxMessage
from storage.models import utcnow
from storage.outbox import OutboxRepository
from storage.repositories import ParticipantRepository

CHANNEL = "telegram"
LEASE = timedelta(minutes=10)


async def test_a_second_sender_waits_for_the_first_ones_lease(app: App) -> None:
    if app.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: two leases cannot overlap there")
    async with app.sessions() as session, session.begin():
        person, _ = await ParticipantRepository(session).get_or_create(CHANNEL, "7", "7", "en")
        outbox = OutboxRepository(session)
        for text in ("first", "second"):
            assert outbox.queue(person, {"text": text})
    now = utcnow()

    first_sender = app.sessions()
    transaction = await first_sender.begin()
    leased = await OutboxRepository(first_sender).lease_next(CHANNEL, now, LEASE)
    assert leased is not None and leased.payload == {"text": "first"}

    async def second_sender() -> object:
        async with app.sessions() as session, session.begin():
            row = await OutboxRepository(session).lease_next(CHANNEL, now, LEASE)
            return None if row is None else row.payload

    other = asyncio.create_task(second_sender())
    await asyncio.sleep(0.3)
    # Without the lock it would already have taken "second" past the uncommitted lease.
    assert not other.done()
    await transaction.commit()
    await first_sender.close()
    # Now it sees "first" in another sender's hands: nothing newer of that chat for it.
    assert await asyncio.wait_for(other, 10) is None


async def sender_queries(app: App, busy: set[str]) -> list[tuple[str, Any]]:
    """The statements (and their driver parameters) of one lease and one look for the next."""
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM outbox" in statement and "pg_advisory" not in statement:
            statements.append((statement, parameters))

    event.listen(app.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with app.sessions() as session, session.begin():
            outbox = OutboxRepository(session)
            assert await outbox.lease_next(CHANNEL, utcnow(), LEASE, busy) is not None
            assert await outbox.next_due(CHANNEL, busy) is not None
    finally:
        event.remove(app.engine.sync_engine, "before_cursor_execute", record)
    return statements


async def test_the_senders_queries_read_only_the_unsent_messages_indexes(app: App) -> None:
    # Messages queued on top of a delivered history a hundred times their size: each one the
    # sender takes must not scan that history (bench/outbox.py measures what it cost).
    sent = utcnow() - timedelta(days=3)
    async with app.sessions() as session, session.begin():
        people = [
            (await ParticipantRepository(session).get_or_create(CHANNEL, str(i), str(i), "en"))[0]
            for i in range(50)
        ]
        history = [
            {"participant_id": people[i % 50].id, "channel": CHANNEL, "chat_id": str(i % 50),
             "payload": {"text": "old"}, "created_at": sent, "not_before": sent,
             "sent_at": sent, "attempts": 1}
            for i in range(5000)
        ]  # fmt: skip
        await session.execute(insert(OutboxMessage), history)
        outbox = OutboxRepository(session)
        for person in people[:40]:
            assert outbox.queue(person, {"text": "announcement"})
    async with app.engine.connect() as connection:
        await connection.exec_driver_sql("ANALYZE")
        await connection.commit()

    statements = await sender_queries(app, busy={"3", "4"})
    assert len(statements) == 2  # the lease, and the look for the next one

    plans = []
    async with app.engine.connect() as connection:
        for statement, parameters in statements:
            explain = "EXPLAIN" if app.engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN"
            rows = await connection.exec_driver_sql(f"{explain} {statement}", parameters)
            plans.append(" ".join(str(value) for row in rows for value in row))
    for plan in plans:
        assert "ix_outbox_unsent_due" in plan, plan  # the next due message
        assert "ix_outbox_unsent_chat" in plan, plan  # a chat's earlier retry
        assert "Seq Scan" not in plan and "SCAN outbox" not in plan, plan

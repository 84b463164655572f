"""Frequent queries read indexes, not the history an event leaves in its tables.

Delivered messages, lapsed requests and past meetings stay in their tables; a query that
runs for every message sent, every minute or every ``/agenda`` must not read them all. Each
test captures the statements a repository call really makes and asks the database for their
plan: SQLite's ``EXPLAIN QUERY PLAN``, and PostgreSQL's ``EXPLAIN`` with sequential scans
priced out, so that a ``Seq Scan`` in it means no index could serve the query.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bench.matchmaking import populate
from bot.app import App
from storage.event_models import Meeting, MeetingFeedback, MeetingRequest, OutboxMessage
from storage.matchmaking import RequestRepository
from storage.meetings import MeetingRepository
from storage.outbox import OutboxRepository, Priority
from storage.repositories import ParticipantRepository, PersonalData

CHANNEL = "telegram"
LEASE = timedelta(minutes=10)


async def plans_of(
    app: App, table: str, action: Callable[[AsyncSession], Awaitable[object]]
) -> list[str]:
    """The plan of each statement reading ``table`` that ``action`` runs, in order."""
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if f"FROM {table}" in statement:
            statements.append((statement, parameters))

    event.listen(app.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with app.sessions() as session, session.begin():
            await action(session)
    finally:
        event.remove(app.engine.sync_engine, "before_cursor_execute", record)
    assert statements, f"no statement read {table}"
    plans = []
    postgresql = app.engine.dialect.name == "postgresql"
    async with app.engine.connect() as connection:
        if postgresql:
            # For this transaction only (the connection goes back to the pool afterwards).
            await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        for statement, parameters in statements:
            explain = "EXPLAIN" if postgresql else "EXPLAIN QUERY PLAN"
            rows = await connection.exec_driver_sql(f"{explain} {statement}", parameters)
            plans.append(" ".join(str(value) for row in rows for value in row))
    return plans


def scans(plan: str, table: str) -> bool:
    """Whether ``plan`` reads the whole of ``table`` (either database's wording)."""
    return f"Seq Scan on {table}" in plan or f"SCAN {table}" in plan.replace("SCAN TABLE", "SCAN")


async def test_the_outbox_senders_queries_read_only_the_unsent_messages_indexes(app: App) -> None:
    # Messages queued on top of a delivered history over a hundred times their size, a
    # broadcast's worth of parts due and reminders queued for tomorrow: each message the
    # sender takes must read none of them through (bench/outbox.py measures the cost).
    now = app.clock()
    sent = now - timedelta(days=3)
    tomorrow = now + timedelta(days=1)
    async with app.sessions() as session, session.begin():
        people = [
            (
                await ParticipantRepository(session).get_or_create(
                    CHANNEL, str(i), str(i), "en", now
                )
            )[0]
            for i in range(50)
        ]

        def rows(count: int, **values: Any) -> list[dict[str, Any]]:
            return [
                {"participant_id": people[i % 50].id, "channel": CHANNEL,
                 "chat_id": str(i % 50), "payload": {"text": "x"}, "created_at": sent,
                 "not_before": now, "attempts": 0, **values}
                for i in range(count)
            ]  # fmt: skip

        await session.execute(insert(OutboxMessage), [
            *rows(5000, not_before=sent, sent_at=sent, attempts=1),
            *rows(2000, priority=Priority.BROADCAST, once=True),
            *rows(1000, priority=Priority.REMINDER, not_before=tomorrow, deadline=tomorrow),
        ])  # fmt: skip
        outbox = OutboxRepository(session)
        for person in people[:40]:
            assert outbox.queue(person, {"text": "announcement"}, now)
    busy = {"3", "4"}

    async def lease_and_look(session: AsyncSession) -> None:
        outbox = OutboxRepository(session)
        row = await outbox.lease_next(CHANNEL, now, LEASE, busy)
        assert row is not None and row.priority == Priority.NOTICE
        assert await outbox.next_due(CHANNEL, busy) is not None

    # SQLite has no statistics unless someone runs ANALYZE: the plans must hold either way.
    for analysed in (False, True):
        if analysed:
            async with app.engine.connect() as connection:
                await connection.exec_driver_sql("ANALYZE")
                await connection.commit()
        plans = await plans_of(app, "outbox", lease_and_look)
        # The abandoned leases, which priorities have anything due (one statement), the
        # notice leased, and the look for the next one.
        abandoned, anything_due, lease, look = plans
        assert "ix_outbox_leased" in abandoned, abandoned
        assert anything_due.count("ix_outbox_unsent_priority_due") == len(Priority), anything_due
        assert "ix_outbox_unsent_order" in lease, lease  # the next in deadline order
        assert "ix_outbox_unsent_due" in look, look  # the earliest due
        for plan in (lease, look):
            assert "ix_outbox_unsent_chat" in plan, plan  # a chat's earlier retry
        for plan in plans:
            assert not scans(plan, "outbox"), plan


async def test_the_maintenance_sweep_reads_only_due_pending_requests(app: App) -> None:
    async def sweep(session: AsyncSession) -> None:
        await RequestRepository(session).expired_requests(app.clock())

    (plan,) = await plans_of(app, "meeting_requests", sweep)
    assert "ix_meeting_requests_status_expires_at" in plan, plan
    assert not scans(plan, "meeting_requests"), plan


async def test_a_persons_meetings_and_feedback_are_found_by_index(app: App) -> None:
    # An event's worth of open meetings between 200 people, ten each: the status index
    # selects nearly all of them, so only the people's own indexes make the lookup cheap.
    event_id, people = await populate(app.core, participants=200, slots=1, places=1)
    now = app.clock()
    pairs = [(a, people[(i + k) % 200]) for i, a in enumerate(people) for k in range(1, 11)]
    async with app.sessions() as session, session.begin():
        await session.execute(insert(MeetingRequest), [
            {"event_id": event_id, "requester_id": a, "invitee_id": b, "status": "accepted",
             "created_at": now, "expires_at": now, "answered_at": now}
            for a, b in pairs
        ])  # fmt: skip
        requests = (await session.execute(select(MeetingRequest.id, MeetingRequest.requester_id,
                                                 MeetingRequest.invitee_id))).all()  # fmt: skip
        await session.execute(insert(Meeting), [
            {"request_id": rid, "event_id": event_id, "first_id": a, "second_id": b,
             "status": "unscheduled", "uid": f"uid-{rid}", "sequence": 0,
             "created_at": now, "updated_at": now}
            for rid, a, b in requests
        ])  # fmt: skip
        meetings = (await session.execute(select(Meeting.id, Meeting.first_id))).all()
        await session.execute(insert(MeetingFeedback), [
            {"meeting_id": mid, "participant_id": first, "took_place": True, "answered_at": now}
            for mid, first in meetings
        ])  # fmt: skip
    async with app.engine.connect() as connection:
        await connection.exec_driver_sql("ANALYZE")
        await connection.commit()
    person = people[7]

    async def agenda(session: AsyncSession) -> None:
        assert len(await MeetingRepository(session).meetings_of(person)) == 20

    async def export(session: AsyncSession) -> None:
        assert len(await PersonalData(session).meetings(person)) == 20

    async def feedback(session: AsyncSession) -> None:
        assert len(await PersonalData(session).feedback(person)) == 10  # their own requests

    for action in (agenda, export):
        plans = await plans_of(app, "meetings", action)
        for plan in plans:
            assert "ix_meetings_first_id" in plan and "ix_meetings_second_id" in plan, plan
            assert not scans(plan, "meetings"), plan
    (plan,) = await plans_of(app, "meeting_feedback", feedback)
    assert "ix_meeting_feedback_participant_id" in plan, plan
    assert not scans(plan, "meeting_feedback"), plan

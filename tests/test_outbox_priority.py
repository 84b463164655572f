"""The outbox's order (priority, then deadline) and its at-most-once messages, on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select

from bot.app import App
from storage.event_models import OutboxMessage
from storage.models import Participant
from storage.outbox import Leased, OutboxRepository, Priority, StateCounts
from storage.repositories import ParticipantRepository
from tests.events_support import Clock

CHANNEL = "telegram"
LEASE = timedelta(minutes=10)


async def people(app: App, count: int) -> list[Participant]:
    async with app.sessions() as session, session.begin():
        repository = ParticipantRepository(session)
        now = app.clock()
        return [
            (await repository.get_or_create(CHANNEL, str(i), str(i), "en", now))[0]
            for i in range(1, count + 1)
        ]


async def queue(app: App, person: Participant, text: str, **options: object) -> None:
    async with app.sessions() as session, session.begin():
        assert OutboxRepository(session).queue(person, {"text": text}, app.clock(), **options)  # type: ignore[arg-type]


async def lease(app: App, now: datetime | None = None) -> Leased | None:
    async with app.sessions() as session, session.begin():
        return await OutboxRepository(session).lease_next(CHANNEL, now or app.clock(), LEASE)


async def leased_texts(app: App) -> list[str]:
    """Lease and settle as delivered everything due, in the order it comes."""
    texts = []
    while (row := await lease(app)) is not None:
        texts.append(row.payload["text"])
        async with app.sessions() as session, session.begin():
            await OutboxRepository(session).mark_sent(row.id, app.clock())
    return texts


async def counts(app: App, prefix: str) -> StateCounts:
    async with app.sessions() as session, session.begin():
        return await OutboxRepository(session).state_counts(prefix)


async def test_due_messages_go_by_priority_then_deadline_then_first_queued(
    app: App, clock: Clock
) -> None:
    a, b, c, d, e, f = await people(app, 6)
    now = clock()
    soon, later = now + timedelta(minutes=5), now + timedelta(minutes=20)
    await queue(app, a, "broadcast", priority=Priority.BROADCAST, once=True)
    await queue(app, b, "notice")  # the default priority, as every existing caller
    await queue(app, c, "reminder at 20", priority=Priority.REMINDER, deadline=later)
    await queue(app, d, "reminder at 5", priority=Priority.REMINDER, deadline=soon)
    await queue(app, e, "second notice")
    # Due later: not leased now, whatever its priority.
    await queue(app, f, "tomorrow", priority=Priority.REPLY, not_before=now + timedelta(days=1))
    assert await leased_texts(app) == [
        "reminder at 5", "reminder at 20", "notice", "second notice", "broadcast",
    ]  # fmt: skip


async def test_a_reminder_queued_after_a_broadcast_backlog_goes_first(app: App) -> None:
    *recipients, late = await people(app, 301)
    for person in recipients:
        await queue(app, person, "broadcast", priority=Priority.BROADCAST, once=True)
    for _ in range(3):
        assert (await lease(app)) is not None
    await queue(app, late, "reminder", priority=Priority.REMINDER, once=True)
    row = await lease(app)
    assert row is not None and row.payload == {"text": "reminder"}


async def test_a_once_message_whose_sender_died_is_uncertain_and_never_sent_again(
    app: App, clock: Clock
) -> None:
    person, other = await people(app, 2)
    await queue(app, person, "reminder", topic="reminder:1", priority=Priority.REMINDER, once=True)
    await queue(app, other, "broadcast", topic="broadcast:7:1", priority=Priority.BROADCAST,
                once=True)  # fmt: skip
    taken = [await lease(app), await lease(app)]  # ... and their sender is killed
    assert all(row is not None for row in taken)
    assert await counts(app, "broadcast:7:") == StateCounts(pending=1)
    clock.now += LEASE + timedelta(seconds=1)
    assert await lease(app) is None  # neither comes back
    clock.now += LEASE * 10
    assert await lease(app) is None
    async with app.sessions() as session:
        errors = list(await session.scalars(select(OutboxMessage.last_error)))
    assert [(error or "").split(":")[0] for error in errors] == ["uncertain", "uncertain"]
    assert await counts(app, "broadcast:7:") == StateCounts(uncertain=1)
    assert await counts(app, "reminder:") == StateCounts(uncertain=1)


async def test_the_sweep_reports_abandoned_once_messages_without_a_lease(
    app: App, clock: Clock
) -> None:
    (person,) = await people(app, 1)
    await queue(app, person, "broadcast", topic="broadcast:1:1", once=True)
    row = await lease(app)
    assert row is not None
    async with app.sessions() as session, session.begin():
        assert await OutboxRepository(session).settle_abandoned(clock()) == []  # still in hand
    clock.now += LEASE
    async with app.sessions() as session, session.begin():
        assert await OutboxRepository(session).settle_abandoned(clock()) == [row.id]
    assert await counts(app, "broadcast:1:") == StateCounts(uncertain=1)


async def test_a_once_message_whose_lease_ran_out_is_never_taken_again(
    app: App, clock: Clock
) -> None:
    # The sender gives the abandoned up only now and then (abandoned=False in between): a
    # lease meanwhile must not take the message again, which may have arrived.
    once, notice = await people(app, 2)
    await queue(app, once, "broadcast", topic="broadcast:1:1", once=True)
    await queue(app, notice, "notice")
    async with app.sessions() as session, session.begin():
        taken = await OutboxRepository(session).lease_batch(CHANNEL, clock(), LEASE, limit=2)
    assert sorted(row.payload["text"] for row in taken) == ["broadcast", "notice"]
    clock.now += LEASE
    async with app.sessions() as session, session.begin():
        again = await OutboxRepository(session).lease_batch(
            CHANNEL, clock(), LEASE, limit=2, abandoned=False
        )
    assert [row.payload["text"] for row in again] == ["notice"]  # at least once, not once
    assert await counts(app, "broadcast:1:") == StateCounts(pending=1)
    async with app.sessions() as session, session.begin():
        assert await OutboxRepository(session).lease_batch(CHANNEL, clock(), LEASE) == []
    assert await counts(app, "broadcast:1:") == StateCounts(uncertain=1)


async def test_a_withdrawal_leaves_alone_what_a_sender_holds(app: App, clock: Clock) -> None:
    # Regression: a newer progress edit withdrew the older one from a sender's hands, SQLite
    # gave the freed id to the newer edit, and the sender's outcome for the older one then
    # marked the newer one sent unsent (the progress never showed "Announcement sent").
    (person,) = await people(app, 1)
    topic = "broadcast-progress:1"
    await queue(app, person, "older", topic=topic)
    held = await lease(app)
    assert held is not None
    async with app.sessions() as session, session.begin():
        await OutboxRepository(session).withdraw(topic)
    assert await counts(app, topic) == StateCounts(pending=1)  # in hand: it may be arriving
    await queue(app, person, "newer", topic=topic)
    async with app.sessions() as session, session.begin():
        await OutboxRepository(session).mark_sent(held.id, clock(), leased=True)
    assert await leased_texts(app) == ["newer"]


async def test_a_senders_outcome_touches_no_message_that_took_a_deleted_ones_id(
    app: App, clock: Clock
) -> None:
    (person,) = await people(app, 1)
    await queue(app, person, "deleted while in hand")
    held = await lease(app)
    assert held is not None
    async with app.sessions() as session, session.begin():
        await session.execute(delete(OutboxMessage).where(OutboxMessage.id == held.id))
    await queue(app, person, "queued after")  # SQLite may give it the same id
    async with app.sessions() as session, session.begin():
        outbox = OutboxRepository(session)
        await outbox.mark_sent(held.id, clock(), leased=True)
        await outbox.give_up(held.id, "blocked: Forbidden", clock(), leased=True)
        await outbox.retry_later(held.id, "429", clock() + timedelta(hours=1), leased=True)
    assert await leased_texts(app) == ["queued after"]


async def test_a_message_not_once_keeps_coming_back_until_settled(app: App, clock: Clock) -> None:
    (person,) = await people(app, 1)
    await queue(app, person, "notice")
    for attempt in (1, 2, 3):
        row = await lease(app)
        assert row is not None and row.attempts == attempt  # at least once
        assert await lease(app) is None  # hidden while in hand
        clock.now += LEASE


async def test_a_scheduled_retry_of_a_once_message_is_sent_again(app: App, clock: Clock) -> None:
    # A 429 says nothing arrived: that retry is no lease running out.
    (person,) = await people(app, 1)
    await queue(app, person, "reminder", topic="reminder:9", priority=Priority.REMINDER, once=True)
    row = await lease(app)
    assert row is not None
    async with app.sessions() as session, session.begin():
        await OutboxRepository(session).retry_later(
            row.id, "flood control: retry after 3", clock() + timedelta(seconds=3)
        )
    clock.now += timedelta(seconds=3)
    again = await lease(app)
    assert again is not None and again.id == row.id and again.attempts == 2
    async with app.sessions() as session, session.begin():
        await OutboxRepository(session).mark_sent(again.id, clock())
    assert await counts(app, "reminder:") == StateCounts(delivered=1)


async def test_state_counts_tell_delivered_blocked_failed_uncertain_and_pending(
    app: App, clock: Clock
) -> None:
    recipients = await people(app, 6)
    for person in recipients:
        await queue(app, person, "hello", topic=f"broadcast:3:{person.id}", once=True,
                    priority=Priority.BROADCAST)  # fmt: skip
    await queue(app, recipients[0], "other", topic="broadcast:30:1",  # another broadcast
                priority=Priority.BROADCAST)  # fmt: skip
    outcomes = ["sent", "blocked: Forbidden", "rejected: Bad Request", "uncertain: timed out"]
    for outcome in outcomes:
        row = await lease(app)
        assert row is not None
        async with app.sessions() as session, session.begin():
            outbox = OutboxRepository(session)
            if outcome == "sent":
                await outbox.mark_sent(row.id, clock())
            else:
                await outbox.give_up(row.id, outcome, clock())
    assert await counts(app, "broadcast:3:") == StateCounts(
        delivered=1, blocked=1, failed=1, uncertain=1, pending=2
    )
    assert (await counts(app, "broadcast:3:")).total == 6
    assert await counts(app, "broadcast:3%") == StateCounts()  # a prefix, not a pattern


async def test_a_broadcast_part_waiting_for_a_retry_holds_back_no_reminder_of_its_chat(
    app: App, clock: Clock
) -> None:
    (person,) = await people(app, 1)
    await queue(app, person, "first part", priority=Priority.BROADCAST, once=True)
    await queue(app, person, "second part", priority=Priority.BROADCAST, once=True)
    row = await lease(app)
    assert row is not None and row.payload == {"text": "first part"}
    async with app.sessions() as session, session.begin():
        await OutboxRepository(session).retry_later(row.id, "429", clock() + timedelta(hours=1))
    await queue(app, person, "reminder", priority=Priority.REMINDER, once=True)
    # The chat's newer broadcast part waits behind the retry; its reminder does not.
    assert await leased_texts(app) == ["reminder"]


async def test_a_batch_lease_takes_one_message_per_chat_in_the_outbox_order(
    app: App, clock: Clock
) -> None:
    a, b, c, d = await people(app, 4)
    await queue(app, a, "a: first notice")
    await queue(app, a, "a: second notice")
    await queue(app, c, "c: broadcast", priority=Priority.BROADCAST, once=True)
    await queue(app, b, "b: reminder", priority=Priority.REMINDER, once=True)
    await queue(app, d, "d: notice")
    async with app.sessions() as session, session.begin():
        batch = await OutboxRepository(session).lease_batch(CHANNEL, clock(), LEASE, limit=3)
        first = [row.payload["text"] for row in batch]
    assert first == ["b: reminder", "a: first notice", "d: notice"]
    async with app.sessions() as session, session.begin():
        batch = await OutboxRepository(session).lease_batch(CHANNEL, clock(), LEASE, limit=10)
        rest = [row.payload["text"] for row in batch]
    assert rest == ["c: broadcast"], "a's second notice waits until its first is settled"
    async with app.sessions() as session, session.begin():
        await OutboxRepository(session).mark_sent([r.id for r in await leased(app)], clock())
    assert await leased_texts(app) == ["a: second notice"]


async def leased(app: App) -> list[OutboxMessage]:
    async with app.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.leased_until.is_not(None), OutboxMessage.sent_at.is_(None)
            )
        )
        return list(rows)

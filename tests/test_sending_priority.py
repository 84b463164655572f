"""On Telegram, a broadcast never holds up a reminder or a reply, and nothing goes over
Telegram's limits or out twice when it must go at most once (against the fake Bot API).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import insert, select

from bot.channels.telegram.updates import CHANNEL
from bot.sending.limits import RateLimiter
from bot.sending.sender import LEASE
from storage.db import transaction_gate
from storage.event_models import OutboxMessage
from storage.models import Participant
from storage.outbox import OutboxRepository, Priority, StateCounts
from tests.fake_bot_api import SimulatedUser
from tests.telegram_world import FRAMEWORKS, World, running_bot
from tests.test_outbox_delivery import copies, eventually, notice, own_sender, rows, sends_to


@pytest.fixture
async def world(framework: str, database_url: str) -> AsyncIterator[World]:
    """The bot without its own sender: each test starts one with ``own_sender``."""
    async with running_bot(framework, database_url) as running:
        running.serving.stop_sending.set()
        await running.serving.sender
        yield running


async def queue_all(
    world: World, users: list[SimulatedUser], payload: dict[str, Any], **options: Any
) -> None:
    """Queue ``payload`` for each of ``users`` in one transaction, and wake the sender."""
    async with (
        transaction_gate(world.app.sessions),
        world.app.sessions() as session,
        session.begin(),
    ):
        now = world.app.clock()
        chats = [str(user.id) for user in users]
        known = select(Participant).where(
            Participant.channel == CHANNEL, Participant.external_id.in_(chats)
        )
        new = set(chats) - {p.external_id for p in await session.scalars(known)}
        if new:  # in one statement: a broadcast's audience is hundreds of people
            await session.execute(insert(Participant), [
                {"channel": CHANNEL, "external_id": chat, "chat_id": chat, "locale": "en",
                 "active": True, "created_at": now, "updated_at": now}
                for chat in new
            ])  # fmt: skip
        outbox = OutboxRepository(session)
        for person in await session.scalars(known.order_by(Participant.id)):
            assert outbox.queue(person, payload, now, **options)
    world.app.core.outbox_ready.set()


async def counts(world: World, prefix: str) -> StateCounts:
    async with world.app.sessions() as session:
        return await OutboxRepository(session).state_counts(prefix)


def chats_sent_to(world: World) -> list[int]:
    """The chat of every sendMessage call, in the order the server took them."""
    return [int(call.params["chat_id"]) for call in world.api.calls_to("sendMessage")]


def broadcasts_between(world: World, audience: set[int], start: int, chat: int) -> int:
    """Broadcast parts the server took after the ``start``-th call and before ``chat``'s."""
    order = chats_sent_to(world)
    return sum(c in audience for c in order[start : order.index(chat, start)])


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_a_broadcast_backlog_holds_up_neither_a_reminder_nor_a_reply(world: World) -> None:
    audience = [world.user() for _ in range(300)]
    reminded, writer = world.user(), world.user()
    await queue_all(world, audience, notice("News from the organisers"), topic="broadcast:1:",
                    priority=Priority.BROADCAST, once=True)  # fmt: skip
    # Slow enough that twenty broadcast parts stand in the limiter's line: in plain turn,
    # the reminder and the reply would come after all of them (and without priorities in
    # the outbox, the reminder after the whole backlog).
    limiter = RateLimiter(per_second=4, per_chat=1.0)
    world.runtime.bridge.limiter = limiter  # one limiter for replies and outbox, as served
    ids = {user.id for user in audience}
    async with own_sender(world, limiter=limiter, concurrency=20) as running:

        async def twenty_in_hand() -> bool:
            return len(await in_hand(world)) >= 20

        await eventually(twenty_in_hand, "twenty broadcast parts in hand", seconds=30)
        start = len(chats_sent_to(world))
        await queue_all(world, [reminded], notice("Your meeting starts in 15 minutes"),
                        priority=Priority.REMINDER, once=True)  # fmt: skip
        await world.until(lambda: copies(reminded, "15 minutes"), "the reminder", seconds=30)
        assert broadcasts_between(world, ids, start, reminded.id) <= 5

        start = len(chats_sent_to(world))
        writer.send_command("/start")
        await world.until(lambda: writer.messages, "the answer to /start", seconds=30)
        assert broadcasts_between(world, ids, start, writer.id) <= 5
        running.task.cancel()  # no need to wait for the parts in hand
    assert len(chats_sent_to(world)) < 100, "the backlog was still there all along"
    assert (await counts(world, "broadcast:1:")).pending > 200


async def in_hand(world: World) -> list[int]:
    """The outbox messages a sender holds now."""
    async with world.app.sessions() as session:
        leased = select(OutboxMessage.id).where(
            OutboxMessage.leased_until.is_not(None), OutboxMessage.sent_at.is_(None)
        )
        return list(await session.scalars(leased))


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_the_shared_limiter_keeps_replies_and_outbox_within_telegrams_limits(
    framework: str, database_url: str
) -> None:
    async with running_bot(framework, database_url) as world:  # its own sender and limiter
        flood = world.api.enforce_limits(per_second=30, chat_burst=2, chat_interval=1.0)
        audience = [world.user() for _ in range(20)]
        for number in (1, 2):
            await queue_all(world, audience, notice(f"Notice {number}"), topic="notice:",
                            priority=Priority.NOTICE)  # fmt: skip
        writers = [world.user() for _ in range(5)]
        for user in writers:
            user.send_command("/start")
        await world.until(
            lambda: (
                all(copies(u, "Notice 2") for u in audience) and all(u.messages for u in writers)
            ),
            "every notice and reply",
            seconds=30,
        )
        assert flood.refused == []
        assert all(copies(user, "Notice 1") == 1 for user in audience)

        async def all_recorded() -> bool:
            return await counts(world, "notice:") == StateCounts(delivered=40)

        await eventually(all_recorded, "every notice recorded as delivered")


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_a_once_message_without_an_answer_is_uncertain_and_not_sent_again(
    world: World,
) -> None:
    user = world.user()
    world.api.set_latency(0.6, "sendMessage")
    await queue_all(world, [user], notice("The event starts tomorrow"), topic="broadcast:2:",
                    priority=Priority.BROADCAST, once=True)  # fmt: skip
    async with own_sender(world, part_timeout=0.2):

        async def settled() -> bool:
            (row,) = await rows(world, user)
            return row.sent_at is not None

        await eventually(settled, "the message to be settled")
        world.api.set_latency(0.0, "sendMessage")
        await asyncio.sleep(0.5)  # the retry a message sent at least once would get
    (row,) = await rows(world, user)
    assert (row.last_error or "").startswith("uncertain:"), row.last_error
    assert row.attempts == 1 and len(sends_to(world, user)) == 1
    assert await counts(world, "broadcast:2:") == StateCounts(uncertain=1)


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_a_once_message_refused_with_429_is_retried_and_arrives_once(world: World) -> None:
    user = world.user()
    world.api.inject(status=429, retry_after=1, chat_id=user.id)
    await queue_all(world, [user], notice("Starting in 15 minutes"), topic="reminder:5",
                    priority=Priority.REMINDER, once=True)  # fmt: skip
    async with own_sender(world):
        await world.until(lambda: copies(user, "15 minutes"), "the reminder", seconds=15)
    assert [call.status for call in sends_to(world, user)] == [429, 200]
    assert copies(user, "15 minutes") == 1
    assert await counts(world, "reminder:") == StateCounts(delivered=1)


@pytest.mark.parametrize("framework", ["aiogram"])
async def test_after_a_crash_once_messages_are_uncertain_and_others_are_sent_again(
    world: World,
) -> None:
    reminded, notified = world.user(), world.user()
    await queue_all(world, [reminded], notice("Reminder: in 15 minutes"), topic="reminder:8",
                    priority=Priority.REMINDER, once=True)  # fmt: skip
    await queue_all(world, [notified], notice("Your meeting is confirmed"), topic="meeting:8")
    # A sender takes both, perhaps sends them, and is killed before recording anything.
    async with world.app.sessions() as session, session.begin():
        outbox = OutboxRepository(session)
        for _ in range(2):
            assert await outbox.lease_next(CHANNEL, world.app.clock(), LEASE) is not None
    world.app.clock.advance(seconds=LEASE.total_seconds() + 1)  # type: ignore[attr-defined]
    async with own_sender(world):
        await world.until(lambda: copies(notified, "confirmed"), "the notice, again")
        await asyncio.sleep(0.3)
    assert sends_to(world, reminded) == []
    assert await counts(world, "reminder:") == StateCounts(uncertain=1)
    assert await counts(world, "meeting:") == StateCounts(delivered=1)

"""The outbox sender on Telegram loses nothing and never stalls, against the fake Bot API.

The bot's own sender retries after minutes; most tests swap it for one with the same code
and short delays.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import build_app
from bot.channels.telegram.delivery import TelegramChannel
from bot.channels.telegram.transport import RetryLater, with_retries
from bot.channels.telegram.updates import CHANNEL
from bot.config import Settings
from bot.sending.limits import RateLimiter, RetryPolicy
from bot.sending.sender import OutboundSender
from bot.serving import start
from handlers.kernel.notify import reply_to_payload
from handlers.kernel.replies import Document, Reply
from storage.db import transaction_gate
from storage.event_models import OutboxMessage
from storage.outbox import OutboxRepository
from storage.repositories import ParticipantRepository
from tests.events_support import Clock
from tests.fake_bot_api import FakeBotApi, SimulatedUser
from tests.telegram_world import FRAMEWORKS, World, running_bot

FAST = RetryPolicy(max_attempts=4, base_delay=0.3, max_delay=5.0)


@pytest.fixture
async def world(framework: str, database_url: str) -> AsyncIterator[World]:
    """The bot without its own sender: each test starts one with :func:`own_sender`."""
    async with running_bot(framework, database_url) as running:
        running.serving.stop_sending.set()
        await running.serving.sender
        yield running


@dataclass
class Running:
    sender: OutboundSender
    stop: asyncio.Event
    task: asyncio.Task[None]


@contextlib.asynccontextmanager
async def own_sender(world: World, **options: Any) -> AsyncIterator[Running]:
    """A sender with short retry delays and a short per-chat gap."""
    options.setdefault("policy", FAST)
    limiter = options.pop("limiter", RateLimiter(per_second=100, per_chat=0.05))
    sender = OutboundSender(
        world.app.core, TelegramChannel(world.runtime.bridge.transport), limiter, **options
    )
    stop = asyncio.Event()
    running = Running(sender, stop, asyncio.create_task(sender.run(stop)))
    try:
        yield running
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await running.task


def notice(text: str, document: Document | None = None) -> dict[str, Any]:
    return reply_to_payload(Reply(text, document=document))


async def queue(world: World, user: SimulatedUser, payload: dict[str, Any]) -> None:
    """Queue ``payload`` for ``user`` the way the core does, and wake the sender."""
    async with (
        transaction_gate(world.app.sessions),
        world.app.sessions() as session,
        session.begin(),
    ):
        people = ParticipantRepository(session)
        now = world.app.clock()
        person, _ = await people.get_or_create(CHANNEL, str(user.id), str(user.id), "en", now)
        assert OutboxRepository(session).queue(person, payload, now)
    world.app.core.outbox_ready.set()


async def rows(world: World, user: SimulatedUser) -> list[OutboxMessage]:
    # Through the gate, as the bot's own transactions: on SQLite they never overlap.
    async with (
        transaction_gate(world.app.sessions),
        world.app.sessions() as session,
        session.begin(),
    ):
        found = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.chat_id == str(user.id))
            .order_by(OutboxMessage.id)
        )
        return list(found)


async def eventually(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def sends_to(world: World, user: SimulatedUser, method: str = "sendMessage") -> list[Any]:
    return [c for c in world.api.calls_to(method) if c.params.get("chat_id") == user.id]


def copies(user: SimulatedUser, text: str) -> int:
    return sum(text in (t or "") for t in user.texts)


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_a_message_that_cannot_be_rendered_loses_no_other(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    broken, anna, bruno = world.user(), world.user(), world.user()
    await queue(world, broken, {"buttons": []})  # no text: building the reply raises
    await queue(world, anna, notice("For Anna"))
    await queue(world, bruno, notice("For Bruno"))
    async with own_sender(world):
        await world.until(lambda: copies(anna, "For Anna") and copies(bruno, "For Bruno"), "both")

        async def given_up() -> bool:
            (row,) = await rows(world, broken)
            return row.sent_at is not None

        await eventually(given_up, "the broken message to be given up")
    (row,) = await rows(world, broken)
    assert row.attempts == FAST.max_attempts
    assert "KeyError" in (row.last_error or "") and "4 attempts" in (row.last_error or "")
    assert any("given up" in r.getMessage() for r in caplog.records)
    for user in (anna, bruno):
        (sent,) = await rows(world, user)
        assert sent.sent_at is not None and sent.attempts == 1


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_interrupted_sending_puts_every_message_back(world: World) -> None:
    users = [world.user() for _ in range(6)]
    for number, user in enumerate(users):
        await queue(world, user, notice(f"Notice {number}"))
    world.api.set_latency(0.5, "sendMessage")
    # Two a second: of the four messages in hand, two are sent and two wait for their turn.
    async with own_sender(world, limiter=RateLimiter(per_second=2, per_chat=0.05)) as running:
        await world.until(lambda: len(world.api.calls_to("sendMessage")) >= 2, "sends in hand")
        running.task.cancel()  # as at a hard shutdown: CancelledError in the middle of sends
        with contextlib.suppress(asyncio.CancelledError):
            await running.task
    soon = world.app.clock() + timedelta(seconds=1)
    for user in users:
        (row,) = await rows(world, user)
        # Either delivered, or back in the queue at once (not only when its lease runs out).
        assert (row.sent_at is None and row.not_before <= soon) or copies(user, "Notice")
    world.api.set_latency(0.0, "sendMessage")
    sender = OutboundSender(
        world.app.core, TelegramChannel(world.runtime.bridge.transport), policy=FAST
    )
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    try:
        await world.until(lambda: all(copies(u, "Notice") for u in users), "every notice")
    finally:
        stop.set()
        await task
    for number, user in enumerate(users):
        # At least once: a request interrupted after it reached Telegram is sent again.
        assert 1 <= copies(user, f"Notice {number}") <= 2
        assert all(row.sent_at is not None for row in await rows(world, user))


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_a_broken_chat_blocks_nobody_and_is_given_up(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    broken, anna, bruno, carla = (world.user() for _ in range(4))
    world.api.inject(status=502, chat_id=broken.id, times=1000, description="Bad Gateway")
    await queue(world, broken, notice("First for the broken chat"))
    await queue(world, broken, notice("Second for the broken chat"))
    await queue(world, anna, notice("For Anna"))
    await queue(world, bruno, notice("For Bruno"))
    async with own_sender(world):
        await world.until(lambda: copies(anna, "For Anna") and copies(bruno, "For Bruno"), "A+B")
        await queue(world, carla, notice("For Carla"))  # while the broken chat is retried
        await world.until(lambda: copies(carla, "For Carla"), "Carla's")
        assert len(sends_to(world, broken)) < FAST.max_attempts, "Carla came before the retries"

        async def both_given_up() -> bool:
            return all(row.sent_at is not None for row in await rows(world, broken))

        await eventually(both_given_up, "both broken messages to be given up", seconds=60)
    # The sender has stopped: every call it made is counted.
    calls = sends_to(world, broken)
    assert len(calls) == 2 * FAST.max_attempts, "retries end, and start again only for news"
    first = [c for c in calls if "First" in c.params["text"]]
    assert calls[: FAST.max_attempts] == first, "the chat's second message waited its turn"
    gaps = [later.time - earlier.time for earlier, later in itertools.pairwise(first)]
    for attempt, gap in enumerate(gaps, start=1):
        assert gap >= 0.8 * FAST.base_delay * 2 ** (attempt - 1), gaps  # exponential backoff
    for row in await rows(world, broken):
        assert row.attempts == FAST.max_attempts and "Bad Gateway" in (row.last_error or "")
    assert sum("given up" in r.getMessage() for r in caplog.records) == 2


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_a_long_flood_wait_reschedules_instead_of_stalling(world: World) -> None:
    flooded, anna = world.user(), world.user()
    # An hour's wait: far longer than this test may take, so Anna's message arriving at all
    # shows that the sender did not wait it out in-line (it pauses at most MAX_PAUSE).
    world.api.inject(status=429, retry_after=3600, chat_id=flooded.id)
    await queue(world, flooded, notice("Wait for me"))
    async with own_sender(world):
        await world.until(lambda: sends_to(world, flooded), "the 429")
        await queue(world, anna, notice("For Anna"))
        await world.until(lambda: copies(anna, "For Anna"), "Anna's", seconds=120)
    (row,) = await rows(world, flooded)
    assert row.sent_at is None and "flood" in (row.last_error or "")
    assert row.not_before >= world.app.clock() + timedelta(seconds=3000), (
        "Telegram's full wait is obeyed"
    )
    assert len(sends_to(world, flooded)) == 1


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_a_reply_in_several_messages_resumes_where_it_failed(world: World) -> None:
    user = world.user()
    text = "\n".join(f"Line {n:03d} " + "x" * 40 for n in range(40))  # > a caption's 1,024
    calendar = Document("meeting.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "text/calendar")
    world.api.inject(status=502, method="sendDocument", chat_id=user.id, times=5)
    await queue(world, user, notice(text, calendar))
    async with own_sender(world, policy=RetryPolicy(max_attempts=8, base_delay=0.05)):
        await world.until(lambda: world.api.sent_documents(user.id), "the calendar file")
    assert len(sends_to(world, user)) == 1, "the text went once, not again with each retry"
    assert copies(user, "Line 039") == 1
    assert len(sends_to(world, user, "sendDocument")) == 6
    (row,) = await rows(world, user)
    assert row.sent_at is not None and row.attempts == 6


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_a_split_text_whose_second_part_fails_is_completed(world: World) -> None:
    user = world.user()
    text = "\n".join(f"Paragraph {n:03d} " + "y" * 60 for n in range(80))  # two messages
    await queue(world, user, notice(text))
    # A gap between the parts, so the fault can be aimed at the second one.
    limiter = RateLimiter(per_second=100, per_chat=0.5)
    policy = RetryPolicy(max_attempts=8, base_delay=0.05)
    async with own_sender(world, policy=policy, limiter=limiter):
        await world.until(lambda: copies(user, "Paragraph 000"), "the first part")
        world.api.inject(status=500, chat_id=user.id, times=5)
        await world.until(lambda: copies(user, "Paragraph 079"), "the second part", seconds=15)
    assert copies(user, "Paragraph 000") == 1 and copies(user, "Paragraph 079") == 1
    assert [c.status for c in sends_to(world, user)] == [200, *[500] * 5, 200]


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_a_timed_out_send_is_repeated_after_the_backoff(world: World) -> None:
    user = world.user()
    world.api.set_latency(0.6, "sendMessage")
    await queue(world, user, notice("Your meeting is confirmed"))
    # A backoff well above the time-out, so "waited for the backoff" and "retried at once"
    # cannot be confused however late the first call reached the server.
    slow_retry = RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=5.0)
    async with own_sender(world, part_timeout=0.3, policy=slow_retry):

        async def timed_out() -> bool:
            (row,) = await rows(world, user)
            return "no answer" in (row.last_error or "")

        await eventually(timed_out, "the time-out")
        world.api.set_latency(0.0, "sendMessage")
        await world.until(lambda: len(sends_to(world, user)) >= 2, "the second attempt")
    first, second = sends_to(world, user)[:2]
    # The time-out counts from when the sender started the call, which may be a little
    # before the server saw it (a new connection, a busy machine); the backoff always
    # lies between the two arrivals.
    assert second.time - first.time >= 0.8 * slow_retry.base_delay, "not retried at once"
    await world.until(lambda: copies(user, "confirmed") >= 1, "the notice")
    assert copies(user, "confirmed") <= 2  # at least once: the timed-out one may arrive too


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_shutdown_stops_the_sender_before_the_connection(
    framework: str, database_url: str
) -> None:
    async with running_bot(framework, database_url, webhook=True) as world:
        user = world.user()
        world.api.set_latency(1.0, "sendMessage")
        await queue(world, user, notice("Sent while stopping"))
        await queue(world, user, notice("Sent at the next start"))
        await world.until(lambda: sends_to(world, user), "the first send in hand")
        await world.serving.stop()
        (in_hand,) = sends_to(world, user)
        unhook = world.api.last_call("deleteWebhook")
        assert unhook is not None and unhook.time >= in_hand.time + 1.0
        assert copies(user, "Sent while stopping") == 1
        first, second = await rows(world, user)
        assert first.sent_at is not None
        assert second.sent_at is None and second.attempts == 0, "untouched, for the next start"


@pytest.mark.parametrize("retry_after", [31.0, 300.0])
async def test_in_line_waits_never_exceed_the_cap(retry_after: float) -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    async def flooded() -> None:
        raise RetryLater("Too Many Requests", retry_after)

    with pytest.raises(RetryLater):
        await with_retries(flooded, max_delay=30.0, sleep=record)
    assert waits == [], "a long wait is the caller's to schedule, not slept in-line"


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_a_long_flood_wait_on_the_profile_does_not_stop_the_start(
    framework: str, sqlite_url: str
) -> None:
    async with FakeBotApi() as api:
        api.inject(status=429, method="setMyDescription", retry_after=3000)
        settings = Settings(
            _env_file=None,
            database_url=sqlite_url,
            telegram_bot_token=api.token,
            telegram_api_base=api.base_url,
            bot_framework=framework,
        )
        app = await build_app(settings, clock=Clock(ticking=True))
        try:
            # Fifty minutes asked: a start that waited in-line would fail the time-out here.
            serving = await asyncio.wait_for(start(app), timeout=300)
            try:
                user = api.user()
                user.send_command("/start")
                await api.wait_for(lambda: user.messages, timeout=60, what="an answer")
            finally:
                await serving.stop()
        finally:
            await app.close()

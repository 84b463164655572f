"""The Telegram sender's limits, measured on a short scale."""

from __future__ import annotations

import asyncio
import time

from bot.sending.limits import RateLimiter
from storage.outbox import Priority
from tests.virtual_time import VirtualTime, settle


async def test_one_chat_waits_between_messages() -> None:
    limiter = RateLimiter(per_second=100, per_chat=0.05)
    started = time.monotonic()
    for _ in range(4):
        await limiter.acquire("42")
    assert time.monotonic() - started >= 0.15


async def test_the_overall_rate_is_capped() -> None:
    limiter = RateLimiter(per_second=10, per_chat=0.0)
    started = time.monotonic()
    for chat in range(25):
        await limiter.acquire(str(chat))
    assert time.monotonic() - started >= 2.0  # 25 messages at 10 a second


async def test_different_chats_do_not_wait_for_each_other() -> None:
    # A day between two messages of one chat: waiting for another chat would time out here.
    limiter = RateLimiter(per_second=100, per_chat=86_400.0)

    async def one_each() -> None:
        for chat in range(20):
            await limiter.acquire(str(chat))

    await asyncio.wait_for(one_each(), timeout=120)


def virtual_limiter(per_second: int, per_chat: float) -> tuple[RateLimiter, VirtualTime]:
    clock = VirtualTime()
    return RateLimiter(per_second, per_chat, monotonic=clock, sleep=clock.sleep), clock


# The waiting tasks, kept referenced until they finish.
tasks: set[asyncio.Task[None]] = set()


def start(limiter: RateLimiter, order: list[str], name: str, chat: str, priority: Priority) -> None:
    """A task that takes a turn for ``chat`` at ``priority``, then notes ``name`` in ``order``."""

    async def one() -> None:
        await limiter.acquire(chat, priority)
        order.append(name)

    task = asyncio.create_task(one())
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def test_when_the_window_is_full_waiters_go_by_priority_then_in_turn() -> None:
    limiter, clock = virtual_limiter(per_second=2, per_chat=1.0)
    await limiter.acquire("a")  # at 0 s
    start(limiter, [], "b", "b", Priority.NOTICE)
    await clock.advance(0.5)  # b at 0.5 s: the window is full until 1 s
    order: list[str] = []
    for name, chat, priority in [
        ("broadcast 1", "1", Priority.BROADCAST),
        ("broadcast 2", "2", Priority.BROADCAST),
        ("notice", "3", Priority.NOTICE),
        ("broadcast 3", "4", Priority.BROADCAST),
        ("reminder", "5", Priority.REMINDER),
        ("reply", "6", Priority.REPLY),
    ]:
        start(limiter, order, name, chat, priority)
    await settle()
    assert order == []
    await clock.advance(0.499)
    assert order == []
    await clock.advance(0.001)
    assert order == ["reply"]  # came last, served first
    await clock.advance(0.5)
    assert order == ["reply", "reminder"]
    await clock.advance(1.0)
    assert order == ["reply", "reminder", "notice", "broadcast 1"]
    await clock.advance(1.0)
    assert order[4:] == ["broadcast 2", "broadcast 3"]  # within a priority, in turn


async def test_sends_are_spaced_evenly_not_let_out_in_a_burst() -> None:
    """Regression: four sends a second went out at once, and the requests' jitter on the way
    crowded five into one of the fake Telegram's seconds (429s in bench/broadcast)."""
    limiter, clock = virtual_limiter(per_second=4, per_chat=1.0)
    order: list[str] = []
    for chat in "abcd":
        start(limiter, order, chat, chat, Priority.BROADCAST)
    await settle()
    assert order == ["a"]
    for granted in (["a", "b"], ["a", "b", "c"], ["a", "b", "c", "d"]):
        await clock.advance(0.249)
        assert len(order) == len(granted) - 1
        await clock.advance(0.001)
        assert order == granted


async def test_a_reply_is_not_held_by_its_chats_interval_but_starts_it() -> None:
    limiter, clock = virtual_limiter(per_second=10, per_chat=5.0)
    await limiter.acquire("42")  # a notice to chat 42 at 0 s
    await clock.advance(2.0)
    order: list[str] = []
    start(limiter, order, "reply", "42", Priority.REPLY)
    await settle()
    assert order == ["reply"]  # at once, not at 5 s
    start(limiter, order, "notice", "42", Priority.NOTICE)
    await clock.advance(4.9)
    assert order == ["reply"]  # 5 s after the reply, not after the first notice
    await clock.advance(0.1)
    assert order == ["reply", "notice"]


async def test_a_reply_counts_in_the_window_and_waits_out_a_pause() -> None:
    limiter, clock = virtual_limiter(per_second=1, per_chat=0.0)
    order: list[str] = []
    start(limiter, order, "reply", "1", Priority.REPLY)
    start(limiter, order, "notice", "2", Priority.NOTICE)
    await settle()
    assert order == ["reply"]
    await clock.advance(1.0)
    assert order == ["reply", "notice"]
    limiter.pause(3.0)  # a 429 holds replies too
    start(limiter, order, "second reply", "1", Priority.REPLY)
    await clock.advance(2.9)
    assert order == ["reply", "notice"]
    await clock.advance(0.1)
    assert order[-1] == "second reply"


async def test_a_waiter_held_by_its_chat_lets_others_of_lower_priority_pass() -> None:
    limiter, clock = virtual_limiter(per_second=1, per_chat=10.0)
    await limiter.acquire("7")
    await clock.advance(1.0)
    order: list[str] = []
    start(limiter, order, "reminder to 7", "7", Priority.REMINDER)  # its chat waits 9 s more
    start(limiter, order, "broadcast to 8", "8", Priority.BROADCAST)
    await settle()
    assert order == ["broadcast to 8"]
    await clock.advance(9.0)
    assert order == ["broadcast to 8", "reminder to 7"]


async def test_a_send_let_out_late_does_not_push_the_next_ones_back() -> None:
    """Regression: each gap was counted from the last send itself, so every delay of the
    event loop slowed the stream for good (27.6 instead of 29 messages/s in bench/broadcast)."""
    limiter, clock = virtual_limiter(per_second=4, per_chat=1.0)
    await limiter.acquire("a")  # at 0 s: the next beat is at 0.25 s
    await clock.advance(0.3)
    await limiter.acquire("b")  # late, at 0.3 s: the beat after it stays at 0.5 s
    order: list[str] = []
    start(limiter, order, "c", "c", Priority.BROADCAST)
    await clock.advance(0.199)
    assert order == []
    await clock.advance(0.001)
    assert order == ["c"]


async def after_a_seconds_stream(ceiling: int) -> tuple[RateLimiter, VirtualTime]:
    """A limiter at 4 a second on a channel that allows ``ceiling``, after four broadcast
    sends at 0, 0.25, 0.5 and 0.75 s: its window full for the stream."""
    clock = VirtualTime()
    limiter = RateLimiter(4, 1.0, monotonic=clock, sleep=clock.sleep, ceiling=ceiling)
    for chat in "abcd":
        await limiter.acquire(chat, Priority.BROADCAST)
        if chat != "d":
            await clock.advance(0.25)
    return limiter, clock


async def test_a_reply_uses_the_room_below_the_channels_limit_without_waiting() -> None:
    # Sending at 4 a second on a channel that allows 6: a reply need not wait for the
    # stream's second to pass while the window holds up to 5 (one below the limit).
    limiter, clock = await after_a_seconds_stream(ceiling=6)
    order: list[str] = []
    start(limiter, order, "broadcast", "e", Priority.BROADCAST)
    start(limiter, order, "first reply", "x", Priority.REPLY)
    start(limiter, order, "second reply", "y", Priority.REPLY)
    await settle()
    assert order == ["first reply"]  # at once: 5 in the window, one below the limit
    await clock.advance(0.249)  # until 0.999 s: the window is full for everyone
    assert order == ["first reply"]
    await clock.advance(0.001)  # the send at 0 s leaves the window: the reply goes first
    assert order == ["first reply", "second reply"]
    # The stream makes way: its next send waits until the window holds fewer than 4.
    await clock.advance(0.499)
    assert order == ["first reply", "second reply"]
    await clock.advance(0.001)
    assert order == ["first reply", "second reply", "broadcast"]


async def test_without_room_below_the_limit_a_reply_waits_for_the_window() -> None:
    limiter, clock = await after_a_seconds_stream(ceiling=5)
    order: list[str] = []
    start(limiter, order, "reply", "x", Priority.REPLY)
    await settle()
    assert order == []  # 4 in the window: as many as 5 less one
    await clock.advance(0.25)
    assert order == ["reply"]


async def test_a_send_counts_in_the_window_from_when_it_really_went() -> None:
    """Regression: the window counted a send from when its turn was handed out; a waiter
    the busy event loop resumed late then let the next ones out as if it had gone on time,
    and their requests reached the fake Telegram crowded (a 429 at 980 of 1,000 a second)."""
    clock = VirtualTime()
    late = [0.0]  # how far the event loop runs behind, as the limiter's clock shows it
    limiter = RateLimiter(2, 0.0, monotonic=lambda: clock() + late[0], sleep=clock.sleep)
    order: list[str] = []

    async def busy_first() -> None:
        await limiter.acquire("1", Priority.REPLY)
        order.append("first")
        late[0] = 0.25  # the event loop is busy for 0.25 s before the second goes

    for chat in "xy":  # the window full until 1 s
        await limiter.acquire(chat, Priority.REPLY)
    first = asyncio.create_task(busy_first())
    start(limiter, order, "second", "2", Priority.REPLY)
    await clock.advance(1.0)  # both turns at 1 s; the second went at 1.25 s
    await first
    assert order == ["first", "second"]
    start(limiter, order, "third", "3", Priority.REPLY)
    start(limiter, order, "fourth", "4", Priority.REPLY)
    await clock.advance(0.75)  # 2 s: the first leaves the window
    assert order[2:] == ["third"]
    await clock.advance(0.125)
    assert order[2:] == ["third"]  # the second is in the window until 2.25 s
    await clock.advance(0.125)
    assert order[2:] == ["third", "fourth"]

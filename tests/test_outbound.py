"""The Telegram sender's limits, measured on a short scale."""

from __future__ import annotations

import asyncio
import time

from bot.sending.limits import RateLimiter


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

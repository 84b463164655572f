"""Ponte's aiohttp request class keeps python-telegram-bot's contract: a real ``telegram.Bot``
on it, talking HTTP to the fake Bot API."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from telegram import Bot, InputFile
from telegram.error import NetworkError, RetryAfter, TimedOut

from bot.channels.telegram import ptb_runtime
from bot.channels.telegram.ptb_request import AiohttpRequest
from tests.fake_bot_api import FakeBotApi, SimulatedUser
from tests.telegram_world import free_port


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


@pytest.fixture
def anna(api: FakeBotApi) -> SimulatedUser:
    return api.user(7, "Anna", language_code="it")


def ptb_bot(base_url: str, token: str, *, read_timeout: float = 5.0) -> Bot:
    return Bot(
        token,
        base_url=base_url,
        request=AiohttpRequest(4, read_timeout=read_timeout),
        get_updates_request=AiohttpRequest(1, read_timeout=read_timeout),
    )


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    ptb = ptb_bot(api.ptb_base_url, api.token)
    await ptb.initialize()
    try:
        yield ptb
    finally:
        await ptb.shutdown()


async def test_parameters_are_a_form_and_files_multipart(
    api: FakeBotApi, bot: Bot, anna: SimulatedUser
) -> None:
    sent = await bot.send_message(7, "<b>é</b> &amp; 你好", parse_mode="HTML")
    (call,) = api.calls_to("sendMessage")
    assert call.encoding == "form"
    assert (call.params["chat_id"], call.params["text"]) == (7, "<b>é</b> &amp; 你好")
    assert anna.last_text == "é & 你好" and sent.message_id == anna.messages[-1].message_id

    document = InputFile(b'{"a": 1}', filename="ponte-my-data.json")
    await bot.send_document(7, document, caption="dati")
    (upload,) = api.calls_to("sendDocument")
    assert upload.encoding == "multipart" and upload.params["caption"] == "dati"
    (stored,) = api.sent_documents(7)
    assert (stored.file_name, stored.data) == ("ponte-my-data.json", b'{"a": 1}')


async def test_telegrams_errors_are_read_by_ptb(
    api: FakeBotApi, bot: Bot, anna: SimulatedUser
) -> None:
    api.inject(status=429, method="sendMessage", retry_after=2)
    with pytest.raises(RetryAfter) as limited:
        await bot.send_message(7, "x")
    # As Ponte runs PTB (``PTB_TIMEDELTA``, set by importing the runtime): a time delta.
    assert ptb_runtime.CONNECTION_POOL_SIZE and os.environ["PTB_TIMEDELTA"] == "1"
    assert limited.value.retry_after == timedelta(seconds=2)


async def test_a_slow_answer_is_a_time_out(api: FakeBotApi, anna: SimulatedUser) -> None:
    bot = ptb_bot(api.ptb_base_url, api.token, read_timeout=0.3)
    await bot.initialize()
    try:
        await bot.send_message(7, "in time")  # the same call, answered at once, succeeds
        api.set_latency(2.0, method="sendMessage")
        with pytest.raises(TimedOut):
            await bot.send_message(7, "late")
    finally:
        await bot.shutdown()


async def test_the_long_poll_waits_beyond_the_requests_own_read_timeout(api: FakeBotApi) -> None:
    # PTB adds the time the server may hold the poll to the request's read time-out.
    bot = ptb_bot(api.ptb_base_url, api.token, read_timeout=0.3)
    await bot.initialize()
    try:
        started = time.monotonic()
        assert await bot.get_updates(timeout=1) == ()
        assert time.monotonic() - started >= 0.9  # held for the whole second, not timed out
    finally:
        await bot.shutdown()


async def test_a_closed_port_is_a_network_error() -> None:
    request = AiohttpRequest(1)
    bot = Bot("1:x", base_url=f"http://127.0.0.1:{free_port()}/bot", request=request)
    try:
        with pytest.raises(NetworkError):
            await bot.initialize()  # getMe
    finally:
        await request.shutdown()


async def test_requests_before_initialize_are_refused_and_shutdown_can_repeat(
    api: FakeBotApi,
) -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="initialize"):
        await request.do_request(api.api_url("getMe"), "POST")
    await request.initialize()
    status, _payload = await request.do_request(api.api_url("getMe"), "POST")
    assert status == 200
    await request.shutdown()
    await request.shutdown()
    with pytest.raises(RuntimeError, match="initialize"):
        await request.do_request(api.api_url("getMe"), "POST")

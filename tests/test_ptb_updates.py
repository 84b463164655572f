"""Polled updates reach Ponte's bridge on python-telegram-bot exactly as the server sent them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from telegram import Update

from bot.channels.telegram.bridge import ALLOWED_UPDATES
from bot.channels.telegram.ptb_request import AiohttpRequest
from bot.channels.telegram.ptb_runtime import PonteBot, RawUpdate, update_json
from bot.channels.telegram.updates import parse_update
from tests.fake_bot_api import FakeBotApi


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


def ponte_bot(api: FakeBotApi, polling_read_timeout: float = 5.0) -> PonteBot:
    return PonteBot(
        api.token,
        base_url=api.ptb_base_url,
        request=AiohttpRequest(4),
        get_updates_request=AiohttpRequest(1, read_timeout=polling_read_timeout),
    )


async def test_polled_updates_carry_the_json_as_sent_and_are_confirmed(api: FakeBotApi) -> None:
    user = api.user(first_name="<b>Acme & Co</b>", language_code="zh-hans")
    sent = [user.send_text("你好 <b>&"), user.send_command("start", "ref_42")]
    bot = ponte_bot(api)
    await bot.initialize()
    try:
        updates = await bot.get_updates(timeout=0, allowed_updates=ALLOWED_UPDATES)
        assert all(isinstance(u, RawUpdate) for u in updates)
        assert [update_json(u) for u in updates] == sent
        assert [u.update_id for u in updates] == [s["update_id"] for s in sent]
        # As PTB's updater does: the next call's offset confirms them.
        again = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
        assert again == () and api.pending_updates == []
        call = api.calls_to("getUpdates")[0]
        assert call.params["allowed_updates"] == ALLOWED_UPDATES
    finally:
        await bot.shutdown()


@pytest.mark.parametrize("hold", [1, timedelta(seconds=1)], ids=["seconds", "timedelta"])
async def test_the_long_poll_waits_beyond_the_requests_own_read_timeout(
    api: FakeBotApi, hold: int | timedelta
) -> None:
    # As PTB: the read time-out is the request's plus the time the server may hold the call.
    bot = ponte_bot(api, polling_read_timeout=0.3)
    await bot.initialize()
    try:
        started = time.monotonic()
        assert await bot.get_updates(timeout=hold) == ()
        assert time.monotonic() - started >= 0.9  # held for the whole second, not timed out
    finally:
        await bot.shutdown()


async def test_a_raw_update_read_as_ptb_dict_is_the_json_as_sent(api: FakeBotApi) -> None:
    sent = api.user().send_text("ciao")
    bot = ponte_bot(api)
    await bot.initialize()
    try:
        (update,) = await bot.get_updates(timeout=0)
        assert update.to_dict() == sent and update.to_dict() is not update_json(update)
    finally:
        await bot.shutdown()


async def test_other_options_and_webhook_updates_go_through_ptbs_own_parsing(
    api: FakeBotApi,
) -> None:
    sent = api.user(first_name="Anna").send_text("ciao")
    bot = ponte_bot(api)
    await bot.initialize()
    try:
        (update,) = await bot.get_updates(timeout=0, read_timeout=5)
        assert not isinstance(update, RawUpdate) and update.message is not None
        assert update.message.text == "ciao"
        # Rebuilt from PTB's objects (PTB adds its defaults), it means the same to the bridge;
        # so does an update PTB parsed itself, as its webhook server does.
        expected = parse_update(sent)
        assert expected is not None
        assert parse_update(update_json(update)) == expected
        assert parse_update(update_json(Update.de_json(sent, bot))) == expected
    finally:
        await bot.shutdown()

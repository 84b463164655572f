"""Ponte's aiogram session: calls posted as one JSON object, files as aiogram's multipart form,
aiogram's own errors, and polled updates kept as Telegram sent them — against the fake Bot
API over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram import Bot, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramNetworkError, TelegramRetryAfter
from aiogram.types import BotCommand, BotCommandScopeChat, BufferedInputFile, Message, Update

from bot.channels.telegram.aiogram_runtime import LeanSendMessage, build_bot, build_dispatcher
from bot.channels.telegram.aiogram_session import ReceivedUpdates
from tests.fake_bot_api import FakeBotApi, SimulatedUser
from tests.telegram_world import free_port

KEYBOARD = {"inline_keyboard": [[{"text": "<b>Acme & Co</b>", "callback_data": "org|1"}]]}
TEXT = "<b>Acme &amp; Co</b> 你好"


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as server:
        yield server


@pytest.fixture
def lin(api: FakeBotApi) -> SimulatedUser:
    return api.user(42, "Lin", language_code="zh-hans")


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    ponte_bot = build_bot(api.token, api.base_url)
    yield ponte_bot
    await ponte_bot.session.close()


async def test_a_message_is_one_json_object_with_the_bots_defaults(
    api: FakeBotApi, bot: Bot, lin: SimulatedUser
) -> None:
    sent = await bot(LeanSendMessage(chat_id=42, text=TEXT, reply_markup=KEYBOARD))
    (call,) = api.calls_to("sendMessage")
    assert call.encoding == "json"
    assert call.params == {
        "chat_id": 42,
        "text": TEXT,
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
        "disable_web_page_preview": True,  # aiogram sends the old option beside the new one
        "reply_markup": KEYBOARD,
    }
    stored = api.last_message(42)
    assert stored is not None and sent.message_id == stored.message_id
    assert stored.text == "Acme & Co 你好" and lin.last_buttons == ["<b>Acme & Co</b>"]


async def test_aiogram_objects_in_a_call_become_json_objects(
    api: FakeBotApi, bot: Bot, lin: SimulatedUser
) -> None:
    commands = [BotCommand(command="start", description="Avvia"), BotCommand(command="help",
                description="Aiuto")]  # fmt: skip
    scope = BotCommandScopeChat(chat_id=42)
    assert await bot.set_my_commands(commands, scope=scope, language_code="it") is True
    (call,) = api.calls_to("setMyCommands")
    assert call.encoding == "json" and call.params == {
        "commands": [
            {"command": "start", "description": "Avvia"},
            {"command": "help", "description": "Aiuto"},
        ],
        "scope": {"type": "chat", "chat_id": 42},
        "language_code": "it",
    }
    menu = await bot.get_my_commands(scope=scope, language_code="it")
    assert [(c.command, c.description) for c in menu] == [("start", "Avvia"), ("help", "Aiuto")]


async def test_the_same_call_as_aiogram_itself_posts_it(
    api: FakeBotApi, bot: Bot, lin: SimulatedUser
) -> None:
    """aiogram's own session posts a form; the server reads the same parameters from both."""
    own = Bot(api.token, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url)),
              default=bot.default)  # fmt: skip
    try:
        await own(LeanSendMessage(chat_id=42, text=TEXT, reply_markup=KEYBOARD))
    finally:
        await own.session.close()
    await bot(LeanSendMessage(chat_id=42, text=TEXT, reply_markup=KEYBOARD))
    form, json = api.calls_to("sendMessage")
    assert (form.encoding, json.encoding) == ("form", "json")
    assert form.params == json.params and form.response is not None and json.response is not None
    assert form.response["result"]["text"] == json.response["result"]["text"]


async def test_a_file_goes_as_aiograms_multipart_form(
    api: FakeBotApi, bot: Bot, lin: SimulatedUser
) -> None:
    document = BufferedInputFile(b'{"name": "Lin"}', filename="mydata.json")
    sent = await bot.send_document(42, document, caption="<b>I tuoi dati</b>")
    (call,) = api.calls_to("sendDocument")
    assert call.encoding == "multipart"
    assert call.params["caption"] == "<b>I tuoi dati</b>" and call.params["parse_mode"] == "HTML"
    assert sent.document is not None and sent.document.file_name == "mydata.json"
    stored = api.files[sent.document.file_id]
    assert stored.data == b'{"name": "Lin"}'


async def test_errors_are_aiograms(api: FakeBotApi, bot: Bot, lin: SimulatedUser) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(99, "x")
    api.inject(status=429, method="sendMessage", retry_after=3)
    with pytest.raises(TelegramRetryAfter) as limited:
        await bot(LeanSendMessage(chat_id=42, text="x"))
    assert limited.value.retry_after == 3
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot(LeanSendMessage(chat_id=42, text="<b>open"))
    assert api.last_message(42) is None  # nothing was sent


async def test_an_unreachable_server_is_a_network_error() -> None:
    nowhere = build_bot("1:x", f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(TelegramNetworkError):
            await nowhere(LeanSendMessage(chat_id=42, text="x"))
    finally:
        await nowhere.session.close()


async def test_polled_updates_reach_the_handler_as_sent_and_are_taken_once(
    api: FakeBotApi, lin: SimulatedUser
) -> None:
    received = ReceivedUpdates()
    bot = build_bot(api.token, api.base_url, received)
    handed: list[dict[str, Any]] = []
    router = Router()

    async def handler(_message: Message, event_update: Update) -> None:
        handed.append(received.take(event_update))

    router.message.register(handler)
    dispatcher = build_dispatcher()
    dispatcher.include_router(router)
    sent = [lin.send_text("<b>Acme & Co</b>"), lin.send_command("/start", "itcn-demo")]
    try:
        updates = await bot.get_updates(timeout=0)
        assert len(received) == 2
        for update in updates:
            await dispatcher.feed_update(bot, update)
    finally:
        await bot.session.close()
    assert handed == sent and len(received) == 0


def test_an_update_not_kept_is_aiograms_dump_of_it() -> None:
    raw = {"update_id": 7, "message": {"message_id": 1, "date": 1_700_000_000,
           "chat": {"id": 42, "type": "private"}, "text": "ciao", "via_bot": None}}  # fmt: skip
    update = Update.model_validate(raw)
    dumped = ReceivedUpdates().take(update)
    assert "via_bot" not in dumped["message"] and dumped["message"]["text"] == "ciao"
    kept = ReceivedUpdates()
    kept.keep([raw])
    assert kept.take(update) is raw  # as received: the explicit null is still there


def test_kept_updates_are_bounded_and_malformed_ones_ignored() -> None:
    received = ReceivedUpdates(limit=3)
    received.keep([{"update_id": n} for n in range(1, 6)])
    received.keep([{"no": "id"}, {"update_id": True}, {"update_id": "8"}, ["x"], None])
    assert len(received) == 3
    taken = [received.take(Update(update_id=n)) for n in range(1, 6)]
    assert taken[2:] == [{"update_id": 3}, {"update_id": 4}, {"update_id": 5}]
    assert len(received) == 0

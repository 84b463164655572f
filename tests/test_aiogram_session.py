"""Ponte's aiogram session: calls posted as one JSON object, files as aiogram's multipart form,
aiogram's own errors, and polled updates kept as Telegram sent them — against the fake Bot
API over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiogram import Bot, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
)
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.methods import (
    AnswerCallbackQuery,
    DeleteWebhook,
    GetMe,
    GetUpdates,
    SendDocument,
    SendMediaGroup,
    SetMyCommands,
    SetMyDescription,
    SetMyShortDescription,
    SetWebhook,
    TelegramMethod,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    BufferedInputFile,
    InputMediaPhoto,
    Message,
    Update,
)

from bot.channels.telegram.aiogram_runtime import (
    AiogramTransport,
    LeanEditMessageText,
    LeanSendMessage,
    build_bot,
    build_dispatcher,
)
from bot.channels.telegram.aiogram_session import JsonAiohttpSession, ReceivedUpdates
from bot.channels.telegram.transport import NotModified, Rejected, RetryLater
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


# Every call Ponte makes, with the values a form leaves out (None, "") and keeps (False, 0, []).
CALLS: list[TelegramMethod[Any]] = [
    LeanSendMessage(chat_id=-1001234567890123, text="你好 😀 &amp; <b>x</b>", reply_markup=KEYBOARD),
    LeanSendMessage(chat_id=42, text="t", reply_markup=None),
    LeanEditMessageText(chat_id=42, message_id=7, text="e", reply_markup=KEYBOARD),
    AnswerCallbackQuery(callback_query_id="123", text=None),
    AnswerCallbackQuery(callback_query_id="123", text="", show_alert=False, cache_time=0),
    SetMyCommands(commands=[BotCommand(command="a", description="b")],
                  scope=BotCommandScopeChat(chat_id=42), language_code="it"),
    SetMyCommands(commands=[], scope=BotCommandScopeDefault(), language_code=None),
    SetMyCommands(commands=[], scope=BotCommandScopeDefault(), language_code=""),
    SetMyDescription(description="d", language_code="zh"),
    SetMyDescription(description="", language_code=None),
    SetMyShortDescription(short_description="s", language_code="en"),
    SetWebhook(url="https://x/y", secret_token="s3", allowed_updates=["message"]),
    SetWebhook(url="https://x/y", allowed_updates=[], drop_pending_updates=False),
    DeleteWebhook(drop_pending_updates=False),
    GetMe(),
    GetUpdates(offset=0, timeout=25, allowed_updates=["message", "callback_query"]),
    GetUpdates(offset=None, timeout=0, limit=0),
]  # fmt: skip


def as_the_bot_api_reads_it(session: JsonAiohttpSession, body: bytes) -> dict[str, str]:
    """The Bot API decodes a JSON body's top-level strings and keeps any other value as its
    JSON text — the text a form carries for it."""
    decoded = json.loads(body)
    return {k: v if isinstance(v, str) else session.json_dumps(v) for k, v in decoded.items()}


@pytest.mark.parametrize("call", CALLS, ids=lambda call: type(call).__name__)
def test_the_bot_api_reads_the_same_arguments_from_json_as_from_aiograms_form(
    call: TelegramMethod[Any],
) -> None:
    bot = build_bot("1:x", "http://127.0.0.1:1")
    session = bot.session
    assert isinstance(session, JsonAiohttpSession)
    body = session.build_json(bot, call)
    assert body is not None
    form = session.build_form_data(bot, call)
    # Without files, the form is URL-encoded: read it back as the Bot API does.
    as_form = dict(parse_qsl(form().decode(), keep_blank_values=True))
    assert as_the_bot_api_reads_it(session, body) == as_form


def test_a_call_with_a_file_anywhere_in_it_is_left_to_the_form() -> None:
    bot = build_bot("1:x", "http://127.0.0.1:1")
    session = bot.session
    assert isinstance(session, JsonAiohttpSession)
    photo = InputMediaPhoto(media=BufferedInputFile(b"x", filename="a.jpg"))
    assert session.build_json(bot, SendMediaGroup(chat_id=1, media=[photo])) is None
    upload = SendDocument(chat_id=1, document=BufferedInputFile(b"x", filename="a"))
    assert session.build_json(bot, upload) is None
    assert session.build_json(bot, SendDocument(chat_id=1, document="file-id")) is not None


async def test_time_outs_are_the_sessions_and_the_long_polls(api: FakeBotApi, bot: Bot,
                                                             lin: SimulatedUser) -> None:  # fmt: skip
    bot.session.timeout = 1
    api.set_latency(2.0, method="sendMessage")
    with pytest.raises(TelegramNetworkError, match="Request timeout"):
        await bot(LeanSendMessage(chat_id=42, text="x"))
    # As aiogram's polling asks: a long poll of 2 s with a request time-out of 3 s.
    started = time.monotonic()
    assert await bot(GetUpdates(timeout=2), request_timeout=3) == []
    assert time.monotonic() - started >= 1.5


async def test_a_proxys_html_error_page_is_aiograms_decode_error(api: FakeBotApi, bot: Bot,
                                                                 lin: SimulatedUser) -> None:  # fmt: skip
    api.inject(method="sendMessage", status=502, raw_body="<html>502 Bad Gateway</html>")
    with pytest.raises(ClientDecodeError):
        await bot(LeanSendMessage(chat_id=42, text="x"))
    assert [c.encoding for c in api.calls_to("sendMessage")] == ["json"]


def test_the_dispatcher_keeps_no_fsm() -> None:
    middlewares = build_dispatcher().update.outer_middleware
    assert not any(isinstance(m, FSMContextMiddleware) for m in middlewares)


async def test_ponte_s_replies_are_posted_as_they_are(api: FakeBotApi, bot: Bot,
                                                     lin: SimulatedUser) -> None:  # fmt: skip
    transport = AiogramTransport(bot)
    message_id = await transport.send_message(42, TEXT, KEYBOARD)
    await transport.edit_message(42, message_id, "<i>Scelto</i>", None)
    sent, edited = api.calls_to("sendMessage") + api.calls_to("editMessageText")
    options = {"parse_mode": "HTML", "link_preview_options": {"is_disabled": True}}
    assert (sent.encoding, edited.encoding) == ("json", "json")
    assert sent.params == {"chat_id": 42, "text": TEXT, **options, "reply_markup": KEYBOARD}
    assert edited.params == {"chat_id": 42, "message_id": message_id, "text": "<i>Scelto</i>",
                             **options}  # fmt: skip
    assert lin.last_text == "Scelto" and lin.last_buttons == []
    # Telegram's refusals come back as the bridge's errors, through aiogram's.
    with pytest.raises(Rejected, match="chat not found"):
        await transport.send_message(99, "x", None)
    with pytest.raises(NotModified):
        await transport.edit_message(42, message_id, "<i>Scelto</i>", None)
    api.inject(status=429, method="sendMessage", retry_after=2)
    with pytest.raises(RetryLater) as limited:
        await transport.send_message(42, "x", None)
    assert limited.value.retry_after == 2


def test_the_transport_needs_ponte_s_session() -> None:
    with pytest.raises(TypeError, match="build_bot"):
        AiogramTransport(Bot("1:x"))

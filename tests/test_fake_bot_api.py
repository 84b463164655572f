"""The fake Bot API server, exercised over HTTP with the real aiogram and python-telegram-bot."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import warnings
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import telegram
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import SendMessage
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from telegram import error as ptb_error
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from tests.fake_bot_api import (
    NGINX_502_PAGE,
    ButtonNotFoundError,
    FakeBotApi,
    HtmlParseError,
    WebhookReceiver,
    errors,
    parse_html,
)

TOKEN = "7000000001:AAFakeTokenForPonteTestsOnly-0123456"
KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[
        [
            InlineKeyboardButton(text="Italiano", callback_data="lang:it"),
            InlineKeyboardButton(text="中文", callback_data="lang:zh"),
        ],
        [InlineKeyboardButton(text="Website", url="https://example.org")],
    ]
)


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN, username="ponte_test_bot") as server:
        yield server


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
    aiogram_bot = Bot(TOKEN, session=session)
    yield aiogram_bot
    await aiogram_bot.session.close()


@pytest.fixture
async def ptb(api: FakeBotApi) -> AsyncIterator[telegram.Bot]:
    ptb_bot = telegram.Bot(TOKEN, base_url=api.ptb_base_url, base_file_url=api.ptb_base_file_url)
    async with ptb_bot:
        yield ptb_bot


async def raw_call(
    api: FakeBotApi, method: str, token: str = TOKEN, **kwargs: Any
) -> tuple[int, Any, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            kwargs.pop("verb", "POST"), f"{api.base_url}/bot{token}/{method}", **kwargs
        ) as resp,
    ):
        return resp.status, await resp.json(content_type=None), resp.headers


# --- transport ------------------------------------------------------------------------------
async def test_get_me_with_both_libraries(api: FakeBotApi, bot: Bot, ptb: telegram.Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot, me.can_join_groups) == (
        7000000001,
        "ponte_test_bot",
        True,
        True,
    )
    assert ptb.username == "ponte_test_bot"  # PTB calls getMe in initialize()
    assert [c.method for c in api.calls] == ["getMe", "getMe"]


async def test_token_method_and_encodings(api: FakeBotApi) -> None:
    status, body, _ = await raw_call(api, "getMe", token="1:wrong")
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    status, body, _ = await raw_call(api, "noSuchMethod")
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    user = api.user(42, "Lin")
    encodings: list[dict[str, Any]] = [
        {"verb": "GET", "params": {"chat_id": "42", "text": "via query"}},
        {"data": {"chat_id": "42", "text": "via form"}},
        {"json": {"chat_id": 42, "text": "via json"}},
        {
            "data": aiohttp.FormData(
                {"chat_id": "42", "text": "via multipart"}, default_to_multipart=True
            )
        },
    ]
    for request in encodings:
        status, body, _ = await raw_call(api, "SENDmessage", **request)
        assert status == 200 and body["ok"] is True, body
    assert user.texts == ["via query", "via form", "via json", "via multipart"]
    assert [m.message_id for m in user.messages] == [1, 2, 3, 4]


async def test_error_bodies_status_and_retry_after_header(api: FakeBotApi) -> None:
    api.user(42)
    api.inject(method="sendMessage", status=429, retry_after=7)
    status, body, headers = await raw_call(api, "sendMessage", json={"chat_id": 42, "text": "x"})
    assert status == 429 and headers["Retry-After"] == "7"
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }
    status, body, _ = await raw_call(api, "sendMessage", json={"chat_id": 99, "text": "x"})
    assert (status, body["description"]) == (400, "Bad Request: chat not found")


# --- aiogram ---------------------------------------------------------------------------------
async def test_aiogram_send_edit_delete_and_store(api: FakeBotApi, bot: Bot) -> None:
    user = api.user(42, "Lin", language_code="zh-hans")
    html = "<b>Ciao</b> Lin &amp; co, 你好 <i>😀</i>"
    sent = await bot.send_message(42, html, parse_mode="HTML", reply_markup=KEYBOARD)
    assert sent.text == "Ciao Lin & co, 你好 😀" and sent.chat.id == 42
    assert sent.reply_markup is not None and sent.message_id == 1
    stored = api.last_message(42)
    assert stored is not None and stored.html == html and stored.text == sent.text
    assert stored.entities[1] == {"type": "italic", "offset": 18, "length": 2}  # UTF-16 units
    assert user.last_buttons == ["Italiano", "中文", "Website"]
    edited = await bot.edit_message_text("Scelto", chat_id=42, message_id=1)
    assert isinstance(edited, Message) and edited.edit_date is not None
    assert user.last_text == "Scelto" and user.last_buttons == []  # no markup: keyboard removed
    assert await bot.send_chat_action(42, "typing") is True
    assert await bot.delete_message(42, 1) is True
    assert user.messages == [] and api.chat(42).actions == ["typing"]


async def test_aiogram_bad_requests_use_telegram_wording(api: FakeBotApi, bot: Bot) -> None:
    api.user(42)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"text": "1 < 2", "parse_mode": "HTML"},
         'can\'t parse entities: Unsupported start tag "" at byte offset 2'),
        ({"text": "<div>x</div>", "parse_mode": "HTML"},
         'can\'t parse entities: Unsupported start tag "div" at byte offset 0'),
        ({"text": "<b>open", "parse_mode": "HTML"},
         'Can\'t find end tag corresponding to start tag "b"'),
        ({"text": "<b> </b>", "parse_mode": "HTML"}, "Bad Request: message text is empty"),
        ({"text": "x" * 4097}, "Bad Request: message is too long"),
        ({"text": "ok", "reply_markup": InlineKeyboardMarkup(inline_keyboard=[[
            InlineKeyboardButton(text="b", callback_data="x" * 65)]])},
         "Bad Request: BUTTON_DATA_INVALID"),
        ({"text": "ok", "reply_markup": InlineKeyboardMarkup(inline_keyboard=[[
            InlineKeyboardButton(text="b")]])},
         "Text buttons are unallowed in the inline keyboard"),
        ({"text": "ok", "chat_id": 777}, "Bad Request: chat not found"),
    ]  # fmt: skip
    for kwargs, expected in cases:
        with pytest.raises(TelegramBadRequest) as info:
            await bot.send_message(**{"chat_id": 42, **kwargs})
        assert expected in info.value.message, (kwargs, info.value.message)
    assert await bot.send_message(42, "x" * 4096, parse_mode="HTML")  # exactly at the limit
    await bot.send_message(42, "same", reply_markup=KEYBOARD)
    message_id = api.chat(42).bot_messages[-1].message_id
    with pytest.raises(TelegramBadRequest, match="message is not modified: specified new"):
        await bot.edit_message_text(
            "same", chat_id=42, message_id=message_id, reply_markup=KEYBOARD
        )
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("new", chat_id=42, message_id=999)
    with pytest.raises(TelegramBadRequest, match="query is too old and response timeout expired"):
        await bot.answer_callback_query("no-such-query")


async def test_aiogram_forbidden_retry_after_and_server_errors(api: FakeBotApi, bot: Bot) -> None:
    user = api.user(42)
    user.block()
    with pytest.raises(TelegramForbiddenError, match="Forbidden: bot was blocked by the user"):
        await bot.send_message(42, "hello?")
    user.unblock()
    api.inject(method="sendMessage", status=429, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as info:
        await bot.send_message(42, "hi")
    assert info.value.retry_after == 3
    fault = api.inject(status=502, times=2)  # any method except getUpdates
    for _ in range(2):
        with pytest.raises(TelegramServerError, match="Bad Gateway"):
            await bot.send_message(42, "hi")
    assert fault.hits == 2 and (await bot.send_message(42, "hi")).text == "hi"
    api.inject(method="getMe", status=502, raw_body=NGINX_502_PAGE)
    with pytest.raises(ClientDecodeError):
        await bot.get_me()
    with pytest.raises(TelegramUnauthorizedError):
        await Bot("1:bad", session=bot.session).get_me()


async def test_aiogram_long_polling_offset_and_conflicts(api: FakeBotApi, bot: Bot) -> None:
    user = api.user(42, "Lin")
    # A poll that waited out its time-out instead of answering on arrival would fail here.
    poll = asyncio.create_task(bot.get_updates(timeout=600))
    await api.wait_for(lambda: api.calls_to("getUpdates"))
    user.send_text("hi")
    updates = await asyncio.wait_for(poll, timeout=120)
    (update,) = updates
    assert update.message is not None and update.message.from_user is not None
    assert update.message.text == "hi" and update.message.from_user.language_code == "en"
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [updates[0].update_id]  # not confirmed yet
    user.send_command("/start", "ref_42")
    user.send_text("third")
    batch = await bot.get_updates(offset=updates[0].update_id + 1, limit=1, timeout=0)
    assert batch[0].message is not None and batch[0].message.text == "/start ref_42"
    assert await bot.get_updates(offset=-1, timeout=0) == await bot.get_updates(timeout=0)
    polls = len(api.calls_to("getUpdates"))
    first = asyncio.create_task(bot.get_updates(offset=batch[0].update_id + 2, timeout=5))
    await api.wait_for(lambda: len(api.calls_to("getUpdates")) > polls)
    second = asyncio.create_task(bot.get_updates(timeout=0))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await first
    assert await second == []


async def test_callback_press_flow(api: FakeBotApi, bot: Bot, ptb: telegram.Bot) -> None:
    user = api.user(42, "Lin")
    await bot.send_message(42, "Lingua?", reply_markup=KEYBOARD)
    query = user.press("中文")
    (update,) = await bot.get_updates(timeout=1)
    callback = update.callback_query
    assert isinstance(callback, CallbackQuery) and callback.data == "lang:zh"
    assert isinstance(callback.message, Message) and callback.message.text == "Lingua?"
    (ptb_update,) = await ptb.get_updates(timeout=1)  # the same update, parsed by PTB
    assert ptb_update.callback_query is not None and ptb_update.callback_query.data == "lang:zh"
    assert await bot.answer_callback_query(callback.id, text="OK") is True
    assert query.answered and query.answer_text == "OK"
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(callback.id)
    await bot.edit_message_reply_markup(chat_id=42, message_id=callback.message.message_id)
    with pytest.raises(ButtonNotFoundError):
        user.press("中文")
    with pytest.raises(ButtonNotFoundError):
        user.press("Nope")


async def test_aiogram_dispatcher_end_to_end(api: FakeBotApi, bot: Bot) -> None:
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> None:
        await message.answer(f"echo: <b>{message.text}</b>", parse_mode="HTML")

    user = api.user(7, "Marco", language_code="it")
    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
    try:
        user.send_text("ciao")
        (reply,) = await user.wait_for_reply(timeout=5)
        assert reply.text == "echo: ciao" and reply.html == "echo: <b>ciao</b>"
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 5)


# --- python-telegram-bot ---------------------------------------------------------------------
async def test_ptb_send_errors_and_polling(api: FakeBotApi, ptb: telegram.Bot) -> None:
    user = api.user(42, "Lin")
    message = await ptb.send_message(42, "<i>ciao</i>", parse_mode="HTML")
    assert message.text == "ciao" and user.last_text == "ciao"
    with pytest.raises(ptb_error.BadRequest) as info:
        await ptb.send_message(42, "<x>", parse_mode="HTML")
    assert info.value.message.startswith(
        "Can't parse entities: unsupported start tag"
    )  # capitalize()
    with pytest.raises(ptb_error.BadRequest, match=r"(?i)message is not modified"):
        await ptb.edit_message_text(
            "<i>ciao</i>", chat_id=42, message_id=message.message_id, parse_mode="HTML"
        )
    edited = await ptb.edit_message_text("ciao", chat_id=42, message_id=message.message_id)
    assert isinstance(edited, telegram.Message) and edited.entities == ()  # italic dropped
    user.block()
    with pytest.raises(ptb_error.Forbidden, match="bot was blocked by the user"):
        await ptb.send_message(42, "x")
    user.unblock()
    api.inject(method="sendMessage", status=429, retry_after=2)
    with warnings.catch_warnings():  # PTB 22 deprecates the int form of retry_after
        warnings.simplefilter("ignore")
        with pytest.raises(ptb_error.RetryAfter) as retry:
            await ptb.send_message(42, "x")
        assert retry.value.retry_after in (2, dt.timedelta(seconds=2))
    api.inject(method="sendMessage", status=502, raw_body=NGINX_502_PAGE)
    with pytest.raises(ptb_error.NetworkError):
        await ptb.send_message(42, "x")
    updates = await ptb.get_updates(timeout=0)  # block + unblock
    kinds = [(u.my_chat_member.old_chat_member.status, u.my_chat_member.new_chat_member.status)
             for u in updates if u.my_chat_member]  # fmt: skip
    assert kinds == [("member", "kicked"), ("kicked", "member")]
    user.send_text("dopo")
    polled = await ptb.get_updates(offset=updates[-1].update_id + 1, timeout=2)
    assert polled[0].message is not None and polled[0].message.text == "dopo"


async def test_ptb_application_end_to_end(api: FakeBotApi) -> None:
    async def echo(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        keyboard = [[telegram.InlineKeyboardButton("OK", callback_data="ok")]]
        await update.message.reply_html(
            f"<b>echo</b> {update.message.text}",
            reply_markup=telegram.InlineKeyboardMarkup(keyboard),
        )

    async def pressed(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.callback_query is not None
        await update.callback_query.answer("done")
        await update.callback_query.edit_message_text("pressed")

    application = (
        Application.builder()
        .token(TOKEN)
        .base_url(api.ptb_base_url)
        .base_file_url(api.ptb_base_file_url)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, echo))
    application.add_handler(CallbackQueryHandler(pressed))
    user = api.user(5, "Anna", language_code="it")
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(timeout=1, poll_interval=0)
        try:
            user.send_text("ciao")
            (reply,) = await user.wait_for_reply()
            assert (reply.text, reply.buttons) == ("echo ciao", ["OK"])
            query = user.press("OK")
            await api.wait_for(lambda: query.answered and user.last_text == "pressed")
            assert query.answer_text == "done"
        finally:
            await application.updater.stop()
            await application.stop()
    assert api.call_names()[:2] == ["getMe", "deleteWebhook"]  # PTB clears the webhook itself


# --- documents -------------------------------------------------------------------------------
async def test_document_upload_both_libraries(api: FakeBotApi, bot: Bot, ptb: telegram.Bot) -> None:
    api.user(42)
    payload = b'{"name": "Lin"}'
    sent = await bot.send_document(
        42,
        BufferedInputFile(payload, filename="ponte-my-data.json"),
        caption="<b>I tuoi dati</b>",
        parse_mode="HTML",
    )
    assert sent.document is not None and sent.caption == "I tuoi dati"
    (document,) = api.sent_documents(42)
    assert (document.file_name, document.data, document.mime_type) == (
        "ponte-my-data.json",
        payload,
        "application/json",
    )
    downloaded = await bot.download(sent.document.file_id)
    assert downloaded is not None and downloaded.read() == payload
    await ptb.send_document(42, document=b"a,b\n1,2\n", filename="export.csv")
    assert api.sent_documents(42)[-1].data == b"a,b\n1,2\n"
    ptb_file = await ptb.get_file(sent.document.file_id)
    assert bytes(await ptb_file.download_as_bytearray()) == payload
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_document(42, BufferedInputFile(b"x", "x.txt"), caption="c" * 1025)


# --- webhook ---------------------------------------------------------------------------------
async def test_webhook_delivery_secret_and_conflict(api: FakeBotApi, bot: Bot) -> None:
    user = api.user(42)
    async with WebhookReceiver(secret="s3cret") as hook:
        assert await bot.set_webhook(hook.url, secret_token="s3cret") is True
        user.send_text("via webhook")
        await api.wait_for(lambda: hook.accepted, timeout=5)
        assert hook.received[0].secret == "s3cret"
        assert hook.accepted[0]["message"]["text"] == "via webhook"
        delivery = api.webhook_deliveries[0]
        assert delivery.ok and delivery.status == 200
        info = await bot.get_webhook_info()
        assert info.url == hook.url and info.pending_update_count == 0
        with pytest.raises(TelegramConflictError, match="can't use getUpdates method while"):
            await bot.get_updates()
        forged = {"update_id": 1, "message": hook.accepted[0]["message"]}
        assert await api.post_update(hook.url, forged, secret_token="wrong") == 401
        assert await api.post_update(hook.url, forged) == 401  # no header at all
        hook.fail_with = 500
        user.send_text("lost")
        await api.wait_for(lambda: len(api.webhook_deliveries) >= 4, timeout=5)
        info = await bot.get_webhook_info()
        assert info.last_error_message is not None and "500" in info.last_error_message
        assert await bot.delete_webhook(drop_pending_updates=True) is True
    user.send_text("polled again")
    (update,) = await bot.get_updates(timeout=0)
    assert update.message is not None and update.message.text == "polled again"


async def test_webhook_reply_method_is_executed(api: FakeBotApi, bot: Bot) -> None:
    dp = Dispatcher()

    @dp.message()
    async def reply_in_response(message: Message) -> SendMessage:
        return SendMessage(chat_id=message.chat.id, text=f"got {message.text}")

    app = web.Application()
    SimpleRequestHandler(dp, bot, secret_token="tok", handle_in_background=False).register(
        app, path="/hook"
    )
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="tok")
        user = api.user(42)
        user.send_text("ping")
        (reply,) = await user.wait_for_reply(timeout=5)
        assert reply.text == "got ping"
        call = api.last_call("sendMessage")
        assert call is not None and call.via == "webhook-reply" and call.ok
    finally:
        await runner.cleanup()


# --- bot settings ----------------------------------------------------------------------------
async def test_commands_and_descriptions(api: FakeBotApi, bot: Bot) -> None:
    default = [BotCommand(command="start", description="Start")]
    italian = [BotCommand(command="start", description="Inizia"),
               BotCommand(command="privacy", description="Privacy")]  # fmt: skip
    assert await bot.set_my_commands(default)
    assert await bot.set_my_commands(italian, language_code="it")
    scope = BotCommandScopeChat(chat_id=42)
    await bot.set_my_commands([BotCommand(command="admin", description="Admin")], scope=scope)
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    assert [c.description for c in await bot.get_my_commands(language_code="it")] == [
        "Inizia",
        "Privacy",
    ]
    assert [c.command for c in await bot.get_my_commands(scope=scope)] == ["admin"]
    await bot.delete_my_commands(language_code="it")
    assert await bot.get_my_commands(language_code="it") == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad-Name", description="x")])
    with pytest.raises(TelegramBadRequest):
        await bot.set_my_commands(default, language_code="zh-hans")  # ISO 639-1 codes only
    await bot.set_my_description("Matchmaking Italia–Cina", language_code="it")
    await bot.set_my_short_description("Ponte")
    assert (await bot.get_my_description(language_code="it")).description.startswith("Match")
    assert (await bot.get_my_short_description(language_code="zh")).short_description == "Ponte"


# --- simulated users -------------------------------------------------------------------------
async def test_simulated_user_updates_parse_in_both_libraries(
    api: FakeBotApi, ptb: telegram.Bot
) -> None:
    user = api.user(42, "Lin", username="lin_w", language_code="zh-hans")
    user.send_command("/start", "ref_42")
    user.share_contact("+8613800138000")
    user.share_contact("+390000000", own=False, first_name="Anna")
    user.send_photo(caption="me")
    user.send_sticker()
    user.send_document("cv.pdf", b"%PDF-1.4")
    user.block()
    raw = api.pending_updates
    for payload in raw:
        parsed = Update.model_validate(payload)  # aiogram's pydantic models
        assert parsed.update_id == payload["update_id"]
    start, own, other, photo, sticker, doc, blocked = await ptb.get_updates(timeout=0)
    assert start.message is not None and start.message.text == "/start ref_42"
    assert start.message.entities[0].type == "bot_command" and start.message.entities[0].length == 6
    assert own.message is not None and own.message.contact is not None
    assert own.message.contact.user_id == 42
    assert other.message is not None and other.message.contact is not None
    assert other.message.contact.user_id is None
    assert photo.message is not None and len(photo.message.photo) == 2
    assert sticker.message is not None and sticker.message.sticker is not None
    assert doc.message is not None and doc.message.document is not None
    assert blocked.my_chat_member is not None
    assert blocked.my_chat_member.new_chat_member.status == "kicked"
    assert [m.kind for m in api.chat(42).user_messages] == [
        "text", "contact", "contact", "photo", "sticker", "document",
    ]  # fmt: skip


async def test_reply_keyboard_contact_and_removal(api: FakeBotApi, bot: Bot) -> None:
    user = api.user(42, "Lin")
    keyboard = ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text="📱 Share phone", request_contact=True)],
                  [KeyboardButton(text="Skip")]],
        resize_keyboard=True, one_time_keyboard=True,
    )  # fmt: skip
    sent = await bot.send_message(42, "Phone?", reply_markup=keyboard)
    assert sent.reply_markup is None  # only inline keyboards are echoed back
    assert user.keyboard == ["📱 Share phone", "Skip"]
    contact_update = user.tap("📱 Share phone")
    assert contact_update["message"]["contact"]["user_id"] == 42
    assert user.tap("Skip")["message"]["text"] == "Skip"
    await bot.send_message(42, "Thanks", reply_markup=ReplyKeyboardRemove())
    assert user.keyboard == []
    with pytest.raises(ButtonNotFoundError):
        user.tap("Skip")


async def test_allowed_updates_latency_and_wait_for_timeout(api: FakeBotApi, bot: Bot) -> None:
    user = api.user(42)
    await bot.get_updates(allowed_updates=["callback_query"], timeout=0)
    user.send_text("filtered out")
    assert api.pending_updates == [] and api.queue.filtered_out
    api.set_latency(0.2, method="sendMessage")
    started = time.monotonic()
    await bot.send_message(42, "slow")
    assert time.monotonic() - started >= 0.2
    assert [m.text for m in await user.wait_for_reply()] == ["slow"]
    with pytest.raises(TimeoutError, match="waiting for 2 bot message"):
        await user.wait_for_reply(count=2, timeout=0.1)


def test_html_parser_follows_telegram() -> None:
    parsed = parse_html('<a href="https://t.me/x?a=1&amp;b=2">t</a> &#x41;&#66; a&b &nbsp;')
    assert parsed.text == "t AB a&b &nbsp;"  # a bare "&" is kept, as on Telegram
    assert parsed.entities == [
        {"type": "text_link", "offset": 0, "length": 1, "url": "https://t.me/x?a=1&b=2"}
    ]
    quote = parse_html(
        '<blockquote expandable>q</blockquote><pre><code class="language-py">x</code></pre>'
    )
    assert [e["type"] for e in quote.entities] == ["expandable_blockquote", "pre"]
    assert quote.entities[1]["language"] == "py"
    bad = {
        "<span>s</span>": 'Tag "span" must have class "tg-spoiler" at byte offset 0',
        "<b>x</i>": 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"',
        "é <": "Unclosed start tag at byte offset 3",
        "</b>": "Unexpected end tag at byte offset 0",
    }
    for text, message in bad.items():
        with pytest.raises(HtmlParseError) as info:
            parse_html(text)
        assert str(info.value) == message
    assert errors.MESSAGE_NOT_MODIFIED.endswith("reply markup of the message")


async def test_flood_control_answers_429_overall_and_per_chat_like_telegram(
    api: FakeBotApi,
) -> None:
    flood = api.enforce_limits(per_second=3, chat_burst=2, chat_interval=1.0)
    clock = [100.0]
    flood.monotonic = lambda: clock[0]
    for chat in (1, 2, 3, 4):
        api.user(chat)

    async def send(chat: int) -> tuple[int, dict[str, Any]]:
        status, body, _ = await raw_call(api, "sendMessage", json={"chat_id": chat, "text": "x"})
        return status, body

    assert [(await send(1))[0], (await send(1))[0]] == [200, 200]  # a chat's short burst
    status, body = await send(1)  # the third at once: one a second in a chat
    assert (status, body["parameters"]) == (429, {"retry_after": 1})
    assert (await send(2))[0] == 200  # the third message of this second overall
    status, body = await send(3)  # a fourth within the second: over the overall limit
    assert status == 429 and body["description"] == "Too Many Requests: retry after 1"
    assert await raw_call(api, "getMe") and flood.refused == [("sendMessage", "1"),
                                                              ("sendMessage", "3")]  # fmt: skip
    clock[0] += 1.0
    assert [(await send(chat))[0] for chat in (1, 3, 4)] == [200, 200, 200]
    assert len(api.chat(1).bot_messages) == 3  # refused calls show nothing

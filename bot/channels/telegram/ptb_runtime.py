"""Ponte on python-telegram-bot 22: a transport over ``telegram.Bot`` and a catch-all handler."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

# Opt in to PTB 23's time-delta durations now (``RetryAfter.retry_after`` and friends), as
# PTB 22 recommends; without it every read of those fields warns.
os.environ.setdefault("PTB_TIMEDELTA", "1")

import aiohttp
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InlineKeyboardMarkup,
    InputFile,
    LinkPreviewOptions,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram import error as ptb_error
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults, TypeHandler

from bot.channels.telegram.bridge import ALLOWED_UPDATES, CONCURRENT_UPDATES, TelegramBridge
from bot.channels.telegram.ptb_request import AiohttpRequest
from bot.channels.telegram.runtime import WebhookConfig
from bot.channels.telegram.transport import (
    Blocked,
    MaybeDelivered,
    NotModified,
    Rejected,
    RetryLater,
    TokenRefused,
    Transient,
)
from bot.sending.limits import RateLimiter
from handlers.core import Core

log = logging.getLogger(__name__)
T = TypeVar("T")
PTBApplication = Application[Any, Any, Any, Any, Any, Any]
ReplyMarkup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove
CONNECTION_POOL_SIZE = 100  # as aiogram's AiohttpSession
POOL_TIMEOUT = 30.0


async def _translated(call: Callable[[], Awaitable[T]]) -> T:
    """Run a Bot call, turning python-telegram-bot's exceptions into the bridge's."""
    try:
        return await call()
    except ptb_error.Forbidden as exc:
        raise Blocked(exc.message) from exc
    except ptb_error.RetryAfter as exc:
        wait = exc.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        raise RetryLater(exc.message, seconds) from exc
    except ptb_error.BadRequest as exc:  # a subclass of NetworkError: check it first
        if "message is not modified" in exc.message.lower():
            raise NotModified(exc.message) from exc
        raise Rejected(exc.message) from exc
    except ptb_error.TimedOut as exc:  # no answer: the request may have arrived
        raise MaybeDelivered(exc.message) from exc
    except ptb_error.NetworkError as exc:  # 5xx answers, connection failures
        cause = exc.__cause__
        if isinstance(cause, aiohttp.ClientError) and not isinstance(
            cause, aiohttp.ClientConnectorError
        ):  # the connection broke on the way: the request may have arrived
            raise MaybeDelivered(exc.message) from exc
        raise Transient(exc.message) from exc
    except ptb_error.TelegramError as exc:
        raise Rejected(exc.message) from exc


def _server_said(error: ptb_error.TelegramError) -> str:
    """The Bot API's own description, under the messages PTB wraps it in (one names the
    token itself)."""
    while isinstance(error.__cause__, ptb_error.TelegramError):
        error = error.__cause__
    return error.message


# The bridge's keyboards, by the field that tells them apart (render.reply_markup).
MARKUP_TYPES: dict[str, type[ReplyMarkup]] = {
    "inline_keyboard": InlineKeyboardMarkup,
    "keyboard": ReplyKeyboardMarkup,
    "remove_keyboard": ReplyKeyboardRemove,
}


def ptb_markup(markup: dict[str, Any] | None) -> ReplyMarkup | None:
    """The bridge's ``reply_markup`` (Bot API JSON) as PTB's keyboard object."""
    if markup is None:
        return None
    kind = next((key for key in MARKUP_TYPES if key in markup), None)
    if kind is None:
        raise ValueError(f"not a keyboard Ponte sends: {sorted(markup)}")
    return MARKUP_TYPES[kind].de_json(markup)


class PTBTransport:
    """The bridge's Bot API calls, made through the ``telegram.Bot`` of an application built
    by :func:`build_application` (its defaults make every text HTML without link previews)."""

    def __init__(self, application: PTBApplication) -> None:
        self.bot: Bot = application.bot

    async def bot_username(self) -> str:
        me = await _translated(self.bot.get_me)
        return me.username or ""

    async def send_message(self, chat_id: int, text: str, markup: dict[str, Any] | None) -> int:
        keyboard = ptb_markup(markup)
        sent = await _translated(
            lambda: self.bot.send_message(chat_id, text, reply_markup=keyboard)
        )
        return sent.message_id

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, markup: dict[str, Any] | None
    ) -> None:
        keyboard = ptb_markup(markup)
        if keyboard is not None and not isinstance(keyboard, InlineKeyboardMarkup):
            raise ValueError("an edited message can carry inline buttons only")
        await _translated(
            lambda: self.bot.edit_message_text(
                text, chat_id=chat_id, message_id=message_id, reply_markup=keyboard
            )
        )

    async def answer_callback(self, callback_id: str, text: str | None) -> None:
        await _translated(lambda: self.bot.answer_callback_query(callback_id, text=text))

    async def send_document(
        self, chat_id: int, filename: str, content: bytes, caption: str | None
    ) -> None:
        document = InputFile(content, filename=filename)
        await _translated(lambda: self.bot.send_document(chat_id, document, caption=caption))

    async def send_photo(
        self, chat_id: int, filename: str, content: bytes, caption: str | None
    ) -> None:
        photo = InputFile(content, filename=filename)
        await _translated(lambda: self.bot.send_photo(chat_id, photo, caption=caption))

    async def set_commands(
        self, commands: list[tuple[str, str]], language_code: str | None, chat_id: int | None
    ) -> None:
        menu = [BotCommand(name, text) for name, text in commands]
        scope = BotCommandScopeChat(chat_id) if chat_id else BotCommandScopeDefault()
        await _translated(
            lambda: self.bot.set_my_commands(menu, scope=scope, language_code=language_code)
        )

    async def set_descriptions(
        self, description: str, short_description: str, language_code: str | None
    ) -> None:
        await _translated(
            lambda: self.bot.set_my_description(description, language_code=language_code)
        )
        await _translated(
            lambda: self.bot.set_my_short_description(
                short_description, language_code=language_code
            )
        )


def build_requests() -> tuple[AiohttpRequest, AiohttpRequest]:
    """The HTTP clients of one bot: one for its calls, one for long polling.

    Long polling holds a connection of its own, so it never waits behind the replies. Calls
    beyond the pool wait up to 30 s for a free connection, not PTB's 1 s: a call that waits
    has not been sent, so waiting is safe, and a burst of replies must not fail with a pool
    time-out.
    """
    return (
        AiohttpRequest(CONNECTION_POOL_SIZE, pool_timeout=POOL_TIMEOUT),
        AiohttpRequest(1, pool_timeout=POOL_TIMEOUT),
    )


def build_application(
    token: str, api_base: str, requests: tuple[AiohttpRequest, AiohttpRequest] | None = None
) -> PTBApplication:
    """A PTB application for ``api_base`` on aiohttp (:class:`AiohttpRequest`, see there for
    why), handling updates concurrently; ``requests`` as :func:`build_requests` makes them."""
    request, polling_request = requests or build_requests()
    defaults = Defaults(
        parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
    )
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{api_base}/bot")
        .base_file_url(f"{api_base}/file/bot")
        .defaults(defaults)
        .request(request)
        .get_updates_request(polling_request)
        .concurrent_updates(CONCURRENT_UPDATES)
        .build()
    )


class PTBRuntime:
    """Ponte served by python-telegram-bot, by long polling or by webhook."""

    def __init__(
        self,
        core: Core,
        token: str,
        api_base: str,
        webhook: WebhookConfig | None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.requests = build_requests()
        self.application = build_application(token, api_base, self.requests)
        self.bridge = TelegramBridge(core, PTBTransport(self.application), limiter)
        self.webhook = webhook

        async def to_bridge(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
            await self.bridge.process(update.to_dict())

        self.application.add_handler(TypeHandler(Update, to_bridge))

    async def start(self) -> None:
        try:
            await self.application.initialize()  # calls getMe
        except ptb_error.InvalidToken as exc:  # 401, or 404: no bot at this token and URL
            raise TokenRefused(_server_said(exc)) from exc
        username = await self.bridge.transport.bot_username()
        log.info("python-telegram-bot runtime for @%s", username)
        await self.bridge.set_up_profile()
        updater = self.application.updater
        assert updater is not None
        if self.webhook is None:
            await updater.start_polling(
                allowed_updates=ALLOWED_UPDATES, timeout=25, drop_pending_updates=False
            )
        else:
            await updater.start_webhook(
                listen=self.webhook.host,
                port=self.webhook.port,
                url_path=self.webhook.path.lstrip("/"),
                webhook_url=self.webhook.url,
                secret_token=self.webhook.secret,
                allowed_updates=ALLOWED_UPDATES,
            )
        await self.application.start()

    async def close(self) -> None:
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        await self.application.shutdown()  # nothing, if it never finished initializing
        # PTB opens the clients, then checks the token with getMe; when that fails, its
        # shutdown leaves them open.
        await asyncio.gather(*(request.shutdown() for request in self.requests))

    async def stop(self) -> None:
        """Stop receiving (close the listener, remove the webhook), then finish the updates
        in hand, then disconnect; Telegram keeps what it could not deliver meanwhile."""
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.webhook is not None:
            try:
                await _translated(lambda: self.application.bot.delete_webhook())
            except Exception as exc:
                log.warning("could not delete the webhook: %s", exc)
        if self.application.running:
            await self.application.stop()  # waits for the updates in hand
        await self.bridge.drain()
        await self.application.shutdown()

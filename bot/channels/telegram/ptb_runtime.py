"""Ponte on python-telegram-bot 22: a transport over ``telegram.Bot`` and a catch-all handler."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

# Opt in to PTB 23's time-delta durations now (``RetryAfter.retry_after`` and friends), as
# PTB 22 recommends; without it every read of those fields warns.
os.environ.setdefault("PTB_TIMEDELTA", "1")

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InputFile,
    LinkPreviewOptions,
    Update,
)
from telegram import error as ptb_error
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ContextTypes,
    Defaults,
    ExtBot,
    TypeHandler,
)

from bot.channels.telegram.bridge import ALLOWED_UPDATES, CONCURRENT_UPDATES, TelegramBridge
from bot.channels.telegram.ptb_request import AiohttpRequest
from bot.channels.telegram.render import html_call
from bot.channels.telegram.runtime import WebhookConfig
from bot.channels.telegram.transport import Blocked, NotModified, Rejected, RetryLater, Transient
from handlers.core import Core

log = logging.getLogger(__name__)
T = TypeVar("T")
TimePeriod = int | timedelta  # as PTB's get_updates takes it
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
    except ptb_error.NetworkError as exc:  # time-outs, 5xx, connection failures
        raise Transient(exc.message) from exc
    except ptb_error.TelegramError as exc:
        raise Rejected(exc.message) from exc


class RawUpdate(Update):
    """An update as Telegram sent it: its ``update_id`` for PTB, its JSON for Ponte.

    PTB's updater and application need only the id and the type; the bridge reads JSON.
    Parsing each update into PTB objects (``Update.de_json``) only for the bridge to turn
    them back into JSON (``to_dict``) was the largest cost PTB added per update.
    """

    __slots__ = ("raw",)
    raw: dict[str, Any]

    def __init__(self, raw: dict[str, Any]) -> None:
        super().__init__(update_id=int(raw["update_id"]))
        object.__setattr__(self, "raw", raw)  # PTB objects are frozen after __init__

    def to_dict(self, recursive: bool = True) -> dict[str, Any]:
        """A copy of the update as received."""
        return dict(self.raw)


def update_json(update: Update) -> dict[str, Any]:
    """The Bot API JSON of ``update``: as received when polled, rebuilt otherwise (webhook)."""
    return update.raw if isinstance(update, RawUpdate) else update.to_dict()


class PonteBot(ExtBot[None]):
    """PTB's bot with two changes that keep Ponte's traffic in JSON.

    Ponte's replies are Bot API JSON already, and it reads only the id of what it sent.
    Through ``send_message`` each keyboard became PTB objects and back to JSON, and each
    answer was parsed into a whole ``Message``: a fifth of Ponte's CPU per update.
    (``do_api_request`` does the same but warns when the method has a PTB counterpart.)
    Polled updates likewise reach the bridge as received (:class:`RawUpdate`).
    """

    async def get_updates(
        self,
        offset: int | None = None,
        limit: int | None = None,
        timeout: TimePeriod | None = None,  # noqa: ASYNC109 - PTB's signature
        allowed_updates: Sequence[str] | None = None,
        **options: Any,
    ) -> tuple[Update, ...]:
        """PTB's ``get_updates`` as PTB's updater calls it, returning :class:`RawUpdate`.

        Called with any other option (explicit time-outs, ``api_kwargs``), or with PTB's
        arbitrary callback data on (it rewrites the updates' buttons), it is PTB's own.
        """
        if options or self.callback_data_cache is not None:
            return await super().get_updates(offset, limit, timeout, allowed_updates, **options)
        seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout or 0
        # As PTB: the polling request's read time-out, plus the time Telegram may hold it.
        read_timeout = (self._request[0].read_timeout or 0) + seconds
        data = {
            "timeout": timeout,
            "offset": offset,
            "limit": limit,
            "allowed_updates": allowed_updates,
        }
        result = await self._post("getUpdates", data, read_timeout=read_timeout)
        return tuple(RawUpdate(raw) for raw in result)

    async def close_connections(self) -> None:
        """Close both HTTP clients; unlike ``shutdown``, also after an ``initialize`` that
        failed (PTB opens the clients, then checks the token with ``getMe``)."""
        await asyncio.gather(*(request.shutdown() for request in self._request))

    async def call_json(self, method: str, parameters: dict[str, Any]) -> Any:
        """Call ``method`` (camelCase) with JSON ``parameters``; Telegram's ``result``.

        Errors are PTB's usual exceptions; no defaults are added to ``parameters``.
        """
        return await self._post(method, dict(parameters))


class PTBTransport:
    """The bridge's Bot API calls, made through a ``telegram.Bot``."""

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        assert isinstance(application.bot, PonteBot), "build it with build_application"
        self.bot: PonteBot = application.bot

    async def bot_username(self) -> str:
        me = await _translated(self.bot.get_me)
        return me.username or ""

    async def send_message(self, chat_id: int, text: str, markup: dict[str, Any] | None) -> int:
        sent = await self._html_call("sendMessage", markup, chat_id=chat_id, text=text)
        return int(sent["message_id"])

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, markup: dict[str, Any] | None
    ) -> None:
        await self._html_call(
            "editMessageText", markup, chat_id=chat_id, message_id=message_id, text=text
        )

    async def _html_call(self, method: str, markup: dict[str, Any] | None, **fields: Any) -> Any:
        """``method`` with an HTML text, no link previews and ``markup`` if any, as JSON."""
        parameters = html_call(markup, **fields)
        return await _translated(lambda: self.bot.call_json(method, parameters))

    async def answer_callback(self, callback_id: str, text: str | None) -> None:
        await _translated(lambda: self.bot.answer_callback_query(callback_id, text=text))

    async def send_document(
        self, chat_id: int, filename: str, content: bytes, caption: str | None
    ) -> None:
        document = InputFile(content, filename=filename)
        await _translated(lambda: self.bot.send_document(chat_id, document, caption=caption))

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


def build_application(
    token: str, api_base: str, bot_type: type[ExtBot[None]] = PonteBot
) -> Application[Any, Any, Any, Any, Any, Any]:
    """A PTB application for ``api_base``; updates are handled concurrently.

    ``bot_type`` is :class:`PonteBot` for Ponte; the benchmark's echo bot passes PTB's own
    ``ExtBot`` (updates as PTB objects, same settings otherwise).

    Calls go through aiohttp (:class:`AiohttpRequest`), not PTB's httpx: a tenth of the CPU
    per call (docs/benchmarks.md). Calls beyond the pool wait up to 30 s for a free
    connection, not PTB's 1 s: a call that waits has not been sent, so waiting is safe, and a
    burst of replies must not fail with a pool time-out.
    """
    defaults = Defaults(
        parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
    )
    bot = bot_type(
        token,
        base_url=f"{api_base}/bot",
        base_file_url=f"{api_base}/file/bot",
        defaults=defaults,
        request=AiohttpRequest(CONNECTION_POOL_SIZE, pool_timeout=POOL_TIMEOUT),
        # Long polling holds its own connection, so it never waits behind the replies.
        get_updates_request=AiohttpRequest(1, pool_timeout=POOL_TIMEOUT),
    )
    return ApplicationBuilder().bot(bot).concurrent_updates(CONCURRENT_UPDATES).build()


class PTBRuntime:
    """Ponte served by python-telegram-bot, by long polling or by webhook."""

    def __init__(
        self, core: Core, token: str, api_base: str, webhook: WebhookConfig | None
    ) -> None:
        self.application = build_application(token, api_base)
        self.bridge = TelegramBridge(core, PTBTransport(self.application))
        self.webhook = webhook

        async def to_bridge(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
            await self.bridge.process(update_json(update))

        self.application.add_handler(TypeHandler(Update, to_bridge))

    async def start(self) -> None:
        await self.application.initialize()
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
        bot = self.application.bot
        if isinstance(bot, PonteBot):
            await bot.close_connections()

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

"""Ponte on aiogram 3: a transport over ``aiogram.Bot`` and a router that feeds the bridge."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageText,
    GetUpdates,
    Response,
    SendDocument,
    SendMessage,
    SendPhoto,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    BufferedInputFile,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    TelegramObject,
    Update,
    User,
)
from aiohttp import ClientConnectorError

from bot.channels.telegram.aiogram_webhook import WebhookReceiver
from bot.channels.telegram.bridge import ALLOWED_UPDATES, CONCURRENT_UPDATES, TelegramBridge
from bot.channels.telegram.runtime import WebhookConfig
from bot.channels.telegram.transport import (
    Blocked,
    MaybeDelivered,
    NotModified,
    Rejected,
    RetryLater,
    TelegramError,
    TokenRefused,
    Transient,
)
from bot.sending.limits import RateLimiter
from handlers.core import Core

log = logging.getLogger(__name__)
T = TypeVar("T")
DRAIN_SECONDS = 10.0  # for the updates in hand at a stop
# Every text Ponte sends is HTML (user values escaped) and shows no link previews.
BOT_DEFAULTS = DefaultBotProperties(
    parse_mode=ParseMode.HTML, link_preview=LinkPreviewOptions(is_disabled=True)
)
# aiogram reads each answer as a ``Response[<what the method returns>]``, a class pydantic keeps
# only in a weak cache: once the garbage collector drops one, the next call builds it again,
# which took a sixth of Ponte's CPU time in a paid broadcast (bench/broadcast_apart). Held
# here, the classes of the calls Ponte makes all the time are built once.
RESPONSE_TYPES = tuple(
    Response[method.__returning__]  # type: ignore[name-defined]
    for method in (SendMessage, EditMessageText, AnswerCallbackQuery, SendDocument, SendPhoto,
                   GetUpdates)
)  # fmt: skip
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove
# The bridge's keyboards, by the field that tells them apart (render.reply_markup).
MARKUP_TYPES: dict[str, type[Markup]] = {
    "inline_keyboard": InlineKeyboardMarkup,
    "keyboard": ReplyKeyboardMarkup,
    "remove_keyboard": ReplyKeyboardRemove,
}


async def _translated(call: Callable[[], Awaitable[T]]) -> T:
    """Run a Bot call, turning aiogram's exceptions into the bridge's."""
    try:
        return await call()
    except TelegramForbiddenError as exc:
        raise Blocked(exc.message) from exc
    except TelegramRetryAfter as exc:
        raise RetryLater(exc.message, float(exc.retry_after)) from exc
    except TelegramBadRequest as exc:
        if "message is not modified" in exc.message:
            raise NotModified(exc.message) from exc
        raise Rejected(exc.message) from exc
    except TelegramNetworkError as exc:
        # No answer: unless the connection was never made, the request may have arrived.
        if isinstance(exc.__cause__, ClientConnectorError):
            raise Transient(str(exc)) from exc
        raise MaybeDelivered(str(exc)) from exc
    except (TelegramServerError, ClientDecodeError) as exc:
        # ClientDecodeError: a proxy's HTML error page (502/504) instead of Bot API JSON.
        raise Transient(str(exc)) from exc
    except TelegramAPIError as exc:
        raise Rejected(exc.message) from exc


def aiogram_markup(markup: dict[str, Any] | None) -> Markup | None:
    """The bridge's ``reply_markup`` (Bot API JSON) as aiogram's keyboard model."""
    if markup is None:
        return None
    kind = next((key for key in MARKUP_TYPES if key in markup), None)
    if kind is None:
        raise ValueError(f"not a keyboard Ponte sends: {sorted(markup)}")
    return MARKUP_TYPES[kind].model_validate(markup)


def update_json(update: Update) -> dict[str, Any]:
    """``update`` as Bot API JSON, the bridge's input (aliases such as ``from``, no nulls)."""
    return update.model_dump(mode="json", exclude_none=True, by_alias=True)


class AiogramTransport:
    """The bridge's Bot API calls, made through an ``aiogram.Bot`` built by :func:`build_bot`
    (its defaults make every text HTML without link previews)."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def bot_username(self) -> str:
        async def get_me() -> User:
            try:
                return await self.bot.get_me()
            except (TelegramUnauthorizedError, TelegramNotFound) as exc:
                # From getMe, which needs nothing but the token, these refuse the token.
                raise TokenRefused(exc.message) from exc

        me = await _translated(get_me)
        return me.username or ""

    async def send_message(self, chat_id: int, text: str, markup: dict[str, Any] | None) -> int:
        keyboard = aiogram_markup(markup)
        sent = await _translated(
            lambda: self.bot.send_message(chat_id, text, reply_markup=keyboard)
        )
        return sent.message_id

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, markup: dict[str, Any] | None
    ) -> None:
        keyboard = aiogram_markup(markup)
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
        document = BufferedInputFile(content, filename=filename)
        await _translated(lambda: self.bot.send_document(chat_id, document, caption=caption))

    async def send_photo(
        self, chat_id: int, filename: str, content: bytes, caption: str | None
    ) -> None:
        photo = BufferedInputFile(content, filename=filename)
        await _translated(lambda: self.bot.send_photo(chat_id, photo, caption=caption))

    async def set_commands(
        self, commands: list[tuple[str, str]], language_code: str | None, chat_id: int | None
    ) -> None:
        menu = [BotCommand(command=name, description=text) for name, text in commands]
        scope = BotCommandScopeChat(chat_id=chat_id) if chat_id else BotCommandScopeDefault()
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


def build_bot(token: str, api_base: str) -> Bot:
    """An aiogram ``Bot`` on its own ``AiohttpSession`` for ``api_base`` (api.telegram.org,
    or a local Bot API server)."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base))
    return Bot(token, session=session, default=BOT_DEFAULTS)


def build_dispatcher() -> Dispatcher:
    """A dispatcher without aiogram's FSM: the conversation's state is the core's, and the
    FSM's middleware would still look up a state for every update."""
    return Dispatcher(disable_fsm=True)


def build_router(bridge: TelegramBridge) -> Router:
    """One router: every update Ponte handles goes to the bridge as Bot API JSON."""
    router = Router(name="ponte")

    async def to_bridge(_event: TelegramObject, event_update: Update) -> None:
        await bridge.process(update_json(event_update))

    router.message.register(to_bridge)
    router.callback_query.register(to_bridge)
    router.my_chat_member.register(to_bridge)
    return router


class AiogramRuntime:
    """Ponte served by aiogram, by long polling or by webhook."""

    def __init__(
        self,
        core: Core,
        token: str,
        api_base: str,
        webhook: WebhookConfig | None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.bot = build_bot(token, api_base)
        self.bridge = TelegramBridge(core, AiogramTransport(self.bot), limiter)
        self.dispatcher = build_dispatcher()
        self.dispatcher.include_router(build_router(self.bridge))
        self.webhook = webhook
        self._polling: asyncio.Task[None] | None = None
        self._receiver: WebhookReceiver | None = None

    async def start(self) -> None:
        username = await self.bridge.transport.bot_username()
        log.info("aiogram runtime for @%s", username)
        await self.bridge.set_up_profile()
        if self.webhook is None:
            await _translated(lambda: self.bot.delete_webhook(drop_pending_updates=False))
            self._polling = asyncio.create_task(
                self.dispatcher.start_polling(
                    self.bot,
                    handle_signals=False,
                    close_bot_session=False,
                    allowed_updates=ALLOWED_UPDATES,
                    polling_timeout=25,
                    tasks_concurrency_limit=CONCURRENT_UPDATES,
                )
            )
            return
        hook = self.webhook
        self._receiver = WebhookReceiver(self.dispatcher, self.bot, hook.secret)
        await self._receiver.start(hook.host, hook.port, hook.path)
        await _translated(
            lambda: self.bot.set_webhook(
                hook.url, secret_token=hook.secret, allowed_updates=ALLOWED_UPDATES
            )
        )

    async def close(self) -> None:
        if self._receiver is not None:
            await self._receiver.stop_accepting()
            await self._receiver.finish(grace=0)
        await self.bot.session.close()

    async def stop(self) -> None:
        """Stop receiving, finish the updates in hand, and only then close the session.

        A webhook is refused and removed first, so no update arrives while the ones in
        hand finish; Telegram keeps the refused ones for the next start.
        """
        if self._receiver is not None:
            await self._receiver.stop_accepting()
            try:
                await _translated(lambda: self.bot.delete_webhook())
            except TelegramError as exc:
                log.warning("could not delete the webhook: %s", exc)
        if self._polling is not None:
            await self.dispatcher.stop_polling()
            await asyncio.wait([self._polling], timeout=30)
        if self._receiver is not None:
            await self._receiver.finish(grace=DRAIN_SECONDS)
        await self.bridge.drain(grace=DRAIN_SECONDS)
        await self.bot.session.close()

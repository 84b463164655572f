"""Telegram's rules around the core: ordering, callbacks, edits, limits and failures.

Framework-free: a runtime hands over each update as Bot API JSON and provides a
:class:`Transport`; everything Ponte does on Telegram is decided here, once for both
frameworks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bot.channels.telegram.render import inline_keyboard, messages_for
from bot.channels.telegram.transport import (
    Blocked,
    NotModified,
    Rejected,
    RetryLater,
    TelegramError,
    Transport,
    reply_calls,
    with_retries,
)
from bot.channels.telegram.updates import ParsedUpdate, parse_update
from bot.sending.limits import MAX_PAUSE, RateLimiter
from handlers.core import APOLOGY, Core
from handlers.kernel.i18n import SUPPORTED_LOCALES, translator
from handlers.kernel.incoming import ReachabilityChanged
from handlers.kernel.menu import BOT_DESCRIPTION, BOT_SHORT_DESCRIPTION, COMMANDS
from handlers.kernel.ordering import KeyedLock
from handlers.kernel.replies import Reply, Response
from handlers.organiser.rights import ORGANISER_COMMANDS
from storage.outbox import Priority

log = logging.getLogger(__name__)
T = TypeVar("T")

# Telegram's language codes (ISO 639-1) for the locales Ponte speaks.
TELEGRAM_LANGUAGE = {"it": "it", "en": "en", "zh_Hans": "zh"}
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
# Updates a runtime handles at once (a user's own are still ordered by the bridge). More
# buy nothing — SQLite writes one at a time, PostgreSQL's pool holds 30 — and a burst held
# in memory whole only made garbage collections longer; Telegram keeps the rest until asked.
CONCURRENT_UPDATES = 64


class TelegramBridge:
    """Turns updates into the core's incoming messages and the core's responses into Bot API calls."""

    def __init__(
        self, core: Core, transport: Transport, limiter: RateLimiter | None = None
    ) -> None:
        """``limiter`` paces the replies: the one the outbox sender uses too, so that both
        keep within Telegram's limits together (replies go first). ``None``: unpaced."""
        self.core = core
        self.transport = transport
        self.limiter = limiter
        self._ordering = KeyedLock()
        self._in_flight: set[asyncio.Task[None]] = set()

    async def process(self, update: dict[str, Any]) -> None:
        """Handle one update completely; never raises, so one bad update harms no other.

        A user's updates are handled one at a time, in arrival order, replies included.
        """
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            parsed = parse_update(update)
            if parsed is None:
                return
            async with self._ordering.hold(parsed.incoming.sender.user_id):
                await self._handle(parsed)
        except Exception:
            log.exception("update %s could not be handled", update.get("update_id"))
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def drain(self, grace: float = 10.0) -> None:
        """Wait (up to ``grace`` seconds) for the updates in hand: for a graceful shutdown."""
        pending = [task for task in self._in_flight if task is not asyncio.current_task()]
        if pending:
            await asyncio.wait(pending, timeout=grace)

    async def _handle(self, parsed: ParsedUpdate) -> None:
        response = await self.core.handle(parsed.incoming)
        if parsed.callback_id is not None:
            # Answer first: the spinner on the user's button stops at once.
            notice = response.notice.text if response.notice else None
            await self._quietly(self.transport.answer_callback(parsed.callback_id, notice or None))
        try:
            await self._deliver(parsed, response)
        except Blocked:
            log.info("user %s blocked the bot", parsed.incoming.sender.user_id)
            sender = parsed.incoming.sender
            await self.core.handle(ReachabilityChanged(sender, reachable=False))
            return
        except TelegramError as exc:
            log.error("replying to user %s failed: %s", parsed.incoming.sender.user_id, exc)
            await self._apologise(parsed, response)
            return
        if response.locale and (response.language_changed or response.organiser_menu):
            await self._quietly(
                self._set_chat_commands(parsed.chat_id, response.locale, response.organiser_menu)
            )

    async def _deliver(self, parsed: ParsedUpdate, response: Response) -> None:
        for reply in response.replies:
            if reply.document is not None:
                await self._send_document(parsed.chat_id, reply)
            elif reply.edit and parsed.callback_message_id is not None:
                await self._edit_or_send(parsed.chat_id, parsed.callback_message_id, reply)
            else:
                await self._send(parsed.chat_id, reply)

    async def _paced(self, chat_id: int, call: Callable[[], Awaitable[T]]) -> T:
        """Make one message-showing call in the limiter's turn for a reply.

        A 429 holds every send for a moment (the sender's too): Telegram's flood control
        may be bot-wide.
        """
        if self.limiter is None:
            return await call()
        await self.limiter.acquire(str(chat_id), Priority.REPLY)
        try:
            return await call()
        except RetryLater as exc:
            self.limiter.pause(min(exc.retry_after, MAX_PAUSE))
            raise

    async def _send(self, chat_id: int, reply: Reply) -> None:
        for message in messages_for(reply):
            await with_retries(
                lambda m=message: self._paced(  # type: ignore[misc]
                    chat_id, lambda: self.transport.send_message(chat_id, m.text, m.markup)
                )
            )

    async def _edit_or_send(self, chat_id: int, message_id: int, reply: Reply) -> None:
        messages = messages_for(reply)
        if len(messages) == 1 and (
            reply.buttons or not (reply.contact_button or reply.remove_keyboard)
        ):
            try:
                await with_retries(
                    lambda: self._paced(
                        chat_id,
                        lambda: self.transport.edit_message(
                            chat_id, message_id, messages[0].text, inline_keyboard(reply)
                        ),
                    )
                )
                return
            except NotModified:
                return  # a repeated tap: the message already shows this
            except Rejected as exc:
                log.info("could not edit message %s (%s); sending a new one", message_id, exc)
        await self._send(chat_id, reply)

    async def _send_document(self, chat_id: int, reply: Reply) -> None:
        for call in reply_calls(self.transport, chat_id, reply):
            await with_retries(lambda c=call: self._paced(chat_id, c))  # type: ignore[misc]

    async def _apologise(self, parsed: ParsedUpdate, response: Response) -> None:
        locale = response.locale or "en"
        text = translator(locale).gettext(APOLOGY)
        await self._quietly(
            self._paced(
                parsed.chat_id, lambda: self.transport.send_message(parsed.chat_id, text, None)
            )
        )

    async def _quietly(self, call: Any) -> None:
        try:
            await call
        except TelegramError as exc:
            log.warning("Telegram call failed: %s", exc)

    # --- the bot's profile: command menus and descriptions -----------------------------

    async def set_up_profile(self) -> None:
        """Localised command menus and descriptions, for each language and the default.

        A failure is logged and start-up goes on: Telegram keeps the profile last set, and
        a long flood wait (``with_retries`` does not sit out more than 30 s) must not keep
        the bot from serving.
        """
        targets: list[tuple[str, str | None]] = [
            (x, TELEGRAM_LANGUAGE[x]) for x in SUPPORTED_LOCALES
        ]
        for locale, code in [*targets, ("en", None)]:
            try:
                await self._set_profile(locale, code)
            except TelegramError as exc:
                log.warning("could not set the bot's %s profile: %s", code or "default", exc)

    async def _set_profile(self, locale: str, language_code: str | None) -> None:
        t = translator(locale)
        await with_retries(
            lambda: self.transport.set_commands(command_menu(locale), language_code, None)
        )
        await with_retries(
            lambda: self.transport.set_descriptions(
                t.gettext(BOT_DESCRIPTION), t.gettext(BOT_SHORT_DESCRIPTION), language_code
            )
        )

    async def _set_chat_commands(self, chat_id: int, locale: str, organiser: bool) -> None:
        menu = command_menu(locale, organiser=organiser)
        await with_retries(lambda: self.transport.set_commands(menu, None, chat_id))


def command_menu(locale: str, *, organiser: bool = False) -> list[tuple[str, str]]:
    """The command menu in ``locale``; an organiser's lists the organiser's commands too."""
    t = translator(locale)
    entries = (*COMMANDS, *ORGANISER_COMMANDS) if organiser else COMMANDS
    return [(name, t.gettext(description)) for name, description in entries]

"""What the bridge needs from a Telegram framework, and the errors it must report.

Each runtime implements :class:`Transport` with its framework's bot object and translates
the framework's exceptions into the sender's (``bot.sending.delivery``), so the error policy
is written once.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from bot.channels.telegram.render import caption_for, inline_keyboard, messages_for

# Failures are reported with the sender's channel-neutral errors, so one policy handles every
# channel; ``TelegramError`` is their common base under the name the Telegram code reads.
from bot.sending.delivery import Blocked, MaybeDelivered, Rejected, RetryLater, Step, Transient
from bot.sending.delivery import DeliveryError as TelegramError
from handlers.kernel.replies import Reply

__all__ = [
    "Blocked",
    "Call",
    "MaybeDelivered",
    "NotModified",
    "Rejected",
    "RetryLater",
    "TelegramError",
    "TokenRefused",
    "Transient",
    "Transport",
    "reply_calls",
    "with_retries",
]

log = logging.getLogger(__name__)
T = TypeVar("T")


class NotModified(Rejected):
    """400 "message is not modified": the edit would change nothing."""


class TokenRefused(Rejected):
    """``getMe`` answered 401 Unauthorized (or 404: no bot at that token and base URL)."""


# One Bot API call, ready to make (and to make again).
Call = Step


class Transport(Protocol):
    """The Bot API calls Ponte makes, in Bot API JSON terms."""

    async def bot_username(self) -> str:
        """``getMe``'s username."""
        ...

    async def send_message(self, chat_id: int, text: str, markup: dict[str, Any] | None) -> int:
        """``sendMessage`` in HTML parse mode, without link previews; returns the message id."""
        ...

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, markup: dict[str, Any] | None
    ) -> None:
        """``editMessageText`` in HTML parse mode."""
        ...

    async def answer_callback(self, callback_id: str, text: str | None) -> None:
        """``answerCallbackQuery``."""
        ...

    async def send_document(
        self, chat_id: int, filename: str, content: bytes, caption: str | None
    ) -> None:
        """``sendDocument`` with an uploaded file and an HTML caption."""
        ...

    async def send_photo(
        self, chat_id: int, filename: str, content: bytes, caption: str | None
    ) -> None:
        """``sendPhoto`` with an uploaded picture and an HTML caption."""
        ...

    async def set_commands(
        self, commands: list[tuple[str, str]], language_code: str | None, chat_id: int | None
    ) -> None:
        """``setMyCommands`` for everyone (``chat_id`` None) or one private chat."""
        ...

    async def set_descriptions(
        self, description: str, short_description: str, language_code: str | None
    ) -> None:
        """``setMyDescription`` and ``setMyShortDescription``."""
        ...


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    attempts: int = 5,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run ``call``, waiting out 429s as told and retrying transient failures with backoff.

    A 429 asking for more than ``max_delay`` is raised at once: waiting in-line that long
    would hold up the caller, and retrying sooner than Telegram said prolongs the flood
    wait. A time-out is transient too: the call may have arrived, so a retry can repeat it
    (at least once, never lost), but only after the backoff. Other errors (blocked,
    rejected, not modified) are raised at once: retrying them cannot help.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except RetryLater as exc:
            if attempt == attempts or exc.retry_after > max_delay:
                raise
            delay = exc.retry_after
            log.warning("Telegram asked to wait %.1f s (attempt %d/%d)", delay, attempt, attempts)
        except Transient as exc:
            if attempt == attempts:
                raise
            delay = min(base_delay * 2 ** (attempt - 1), max_delay) * (0.5 + random.random() / 2)
            log.warning("Telegram call failed (%s); retrying in %.2f s", exc, delay)
        await sleep(delay)
    raise AssertionError("unreachable")


def reply_calls(transport: Transport, chat_id: int, reply: Reply) -> list[Call]:
    """The Bot API calls that show ``reply`` as a new message, in order.

    Text too long for a caption goes first as messages of its own, then the document. A
    reply that ``replaces`` a message (its id) and fits in one message is one
    ``editMessageText`` instead: "message is not modified" (it already shows this) counts
    as done, and a message that can no longer be edited is rejected, not sent anew (an edit
    queued every few seconds would otherwise become a new message every few seconds).
    """
    document = reply.document
    if reply.replaces is not None and document is None:
        messages = messages_for(reply)
        if len(messages) == 1 and reply.replaces.isdigit():
            edit = functools.partial(
                _edit, transport, chat_id, int(reply.replaces), messages[0].text,
                inline_keyboard(reply),
            )  # fmt: skip
            return [edit]
    caption = caption_for(reply) if document is not None else None
    calls: list[Call] = []
    if document is None or caption is None:
        calls += [
            functools.partial(transport.send_message, chat_id, m.text, m.markup)
            for m in messages_for(reply)
        ]
    if document is not None:
        send = transport.send_photo if document.photo else transport.send_document
        calls.append(functools.partial(send, chat_id, document.filename, document.content, caption))
    return calls


async def _edit(
    transport: Transport, chat_id: int, message_id: int, text: str, markup: dict[str, Any] | None
) -> None:
    try:
        await transport.edit_message(chat_id, message_id, text, markup)
    except NotModified:
        return  # it already shows this (a refresh tap got there first)

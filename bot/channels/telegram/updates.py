"""Telegram update JSON → the core's incoming messages. No framework involved."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handlers.kernel.incoming import (
    ButtonPress,
    ContactShared,
    Incoming,
    ReachabilityChanged,
    Sender,
    UnsupportedMessage,
    parse_text,
)

CHANNEL = "telegram"

# Message content types a user may send instead of text, for the "please type" hint.
_NON_TEXT_KINDS = (
    "photo", "sticker", "voice", "video", "video_note", "audio", "document", "animation",
    "location", "venue", "poll", "dice", "story", "game", "paid_media",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ParsedUpdate:
    """An update Ponte acts on: the incoming message for the core and how to answer it."""

    incoming: Incoming
    chat_id: int
    callback_id: str | None = None
    callback_message_id: int | None = None


def sender_of(user: dict[str, Any], chat_id: int) -> Sender:
    """The core's sender for a Telegram user writing in ``chat_id``."""
    name = " ".join(part for part in (user.get("first_name"), user.get("last_name")) if part)
    return Sender(
        channel=CHANNEL,
        user_id=str(user["id"]),
        chat_id=str(chat_id),
        language_hint=user.get("language_code"),
        display_name=name or None,
    )


def parse_update(update: dict[str, Any]) -> ParsedUpdate | None:
    """The incoming message in ``update``, or ``None`` for updates Ponte ignores.

    Ponte talks to people in private chats only; groups, channels, edits and update types
    it does not know are ignored.
    """
    if "message" in update:
        return _message(update["message"])
    if "callback_query" in update:
        return _callback(update["callback_query"])
    if "my_chat_member" in update:
        return _membership(update["my_chat_member"])
    return None


def _private_chat_id(message: dict[str, Any]) -> int | None:
    chat = message.get("chat") or {}
    return int(chat["id"]) if chat.get("type") == "private" and "id" in chat else None


def _message(message: dict[str, Any]) -> ParsedUpdate | None:
    chat_id = _private_chat_id(message)
    user = message.get("from")
    if chat_id is None or not user or user.get("is_bot"):
        return None
    sender = sender_of(user, chat_id)
    if isinstance(message.get("text"), str):
        return ParsedUpdate(parse_text(sender, message["text"]), chat_id)
    contact = message.get("contact")
    if contact:
        owner = contact.get("user_id")
        shared = ContactShared(
            sender,
            phone=str(contact.get("phone_number", "")),
            contact_user_id=str(owner) if owner is not None else "someone else",
        )
        return ParsedUpdate(shared, chat_id)
    kind = next((k for k in _NON_TEXT_KINDS if k in message), "other")
    return ParsedUpdate(UnsupportedMessage(sender, kind), chat_id)


def _callback(query: dict[str, Any]) -> ParsedUpdate | None:
    message = query.get("message") or {}
    chat_id = _private_chat_id(message)
    user = query.get("from")
    data = query.get("data")
    if chat_id is None or not user or not isinstance(data, str):
        # Inline-mode and game callbacks carry no message or data Ponte made.
        return None
    # Telegram marks messages the bot can no longer reach with date 0.
    message_id = int(message["message_id"]) if message.get("date") else None
    return ParsedUpdate(
        ButtonPress(
            sender_of(user, chat_id), data, None if message_id is None else str(message_id)
        ),
        chat_id,
        callback_id=str(query["id"]),
        callback_message_id=message_id,
    )


def _membership(change: dict[str, Any]) -> ParsedUpdate | None:
    chat_id = _private_chat_id(change)
    user = change.get("from")
    if chat_id is None or not user:
        return None
    status = (change.get("new_chat_member") or {}).get("status")
    if status not in {"kicked", "member"}:
        return None
    return ParsedUpdate(ReachabilityChanged(sender_of(user, chat_id), status == "member"), chat_id)

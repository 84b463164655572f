"""What the fake server remembers: chats and their messages, files, calls, callback queries."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .markup import button_texts, find_button


@dataclass
class StoredFile:
    """A file known to the server (uploaded by the bot or sent by a simulated user)."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    file_name: str | None = None
    mime_type: str | None = None

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)

    def as_document(self) -> dict[str, Any]:
        """The Telegram ``Document`` object."""
        doc: dict[str, Any] = {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
        }
        if self.file_name is not None:
            doc["file_name"] = self.file_name
        if self.mime_type is not None:
            doc["mime_type"] = self.mime_type
        return doc

    def as_file(self) -> dict[str, Any]:
        """The Telegram ``File`` object returned by getFile."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "file_path": self.file_path,
        }


@dataclass
class StoredMessage:
    """One message in a chat, from the bot or from the simulated user.

    ``text`` is what the user sees (after entity parsing), ``html`` the raw text the bot sent;
    for documents the same pair exists as ``caption``/``caption_html``. ``reply_markup`` is the
    inline keyboard attached to the message; ``keyboard`` is a reply keyboard, keyboard removal
    or force-reply markup sent along with it.
    """

    chat_id: int
    message_id: int
    from_bot: bool
    date: int
    text: str | None = None
    html: str | None = None
    parse_mode: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    caption_html: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    keyboard: dict[str, Any] | None = None
    document: StoredFile | None = None
    photo: StoredFile | None = None
    photo_size: tuple[int, int] = (0, 0)
    extra: dict[str, Any] = field(default_factory=dict)
    edit_date: int | None = None
    deleted: bool = False
    edits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """``text``, ``document``, or the first extra content field (``contact``, ``photo``...)."""
        if self.document is not None:
            return "document"
        if self.photo is not None:
            return "photo"
        if self.text is not None:
            return "text"
        return next(iter(self.extra), "unknown")

    @property
    def visible_text(self) -> str:
        """The text or caption a user sees ("" when there is none)."""
        return self.text if self.text is not None else (self.caption or "")

    @property
    def buttons(self) -> list[str]:
        """Labels of the inline keyboard attached to this message."""
        return button_texts(self.reply_markup)

    @property
    def keyboard_buttons(self) -> list[str]:
        """Labels of the reply keyboard sent with this message."""
        return button_texts(self.keyboard)

    def button(self, label_or_data: str) -> dict[str, Any] | None:
        """The inline button with this text or callback_data, if any."""
        return find_button(self.reply_markup, label_or_data)

    def to_dict(self, sender: dict[str, Any], chat: dict[str, Any]) -> dict[str, Any]:
        """The Telegram ``Message`` object as the API would return it now."""
        result: dict[str, Any] = {
            "message_id": self.message_id,
            "from": sender,
            "chat": chat,
            "date": self.date,
        }
        if self.edit_date is not None:
            result["edit_date"] = self.edit_date
        if self.text is not None:
            result["text"] = self.text
            if self.entities:
                result["entities"] = self.entities
        if self.document is not None:
            result["document"] = self.document.as_document()
        if self.photo is not None:
            width, height = self.photo_size
            result["photo"] = [
                {
                    "file_id": self.photo.file_id,
                    "file_unique_id": self.photo.file_unique_id,
                    "file_size": self.photo.size,
                    "width": width,
                    "height": height,
                }
            ]
        if self.caption:
            result["caption"] = self.caption
            if self.caption_entities:
                result["caption_entities"] = self.caption_entities
        result.update(self.extra)
        if self.reply_markup is not None:
            result["reply_markup"] = self.reply_markup
        return result


@dataclass
class ChatState:
    """A private chat between the bot and one user, with every message in it."""

    chat_id: int
    chat: dict[str, Any]
    user: dict[str, Any]
    history: list[StoredMessage] = field(default_factory=list)
    next_message_id: int = 1
    started: bool = True
    blocked: bool = False
    deactivated: bool = False
    reply_keyboard: dict[str, Any] | None = None
    actions: list[str] = field(default_factory=list)

    @property
    def messages(self) -> list[StoredMessage]:
        """All messages not deleted, both directions, oldest first."""
        return [m for m in self.history if not m.deleted]

    @property
    def bot_messages(self) -> list[StoredMessage]:
        """Messages from the bot that were not deleted, oldest first."""
        return [m for m in self.history if m.from_bot and not m.deleted]

    @property
    def user_messages(self) -> list[StoredMessage]:
        """Messages the user sent, oldest first."""
        return [m for m in self.history if not m.from_bot and not m.deleted]

    @property
    def documents(self) -> list[StoredFile]:
        """Documents the bot sent in this chat (deleted messages included)."""
        return [m.document for m in self.history if m.from_bot and m.document is not None]

    @property
    def photos(self) -> list[StoredFile]:
        """Photos the bot sent in this chat (deleted messages included)."""
        return [m.photo for m in self.history if m.from_bot and m.photo is not None]

    @property
    def keyboard_buttons(self) -> list[str]:
        """Labels of the reply keyboard currently shown to the user."""
        return button_texts(self.reply_keyboard)

    def get(self, message_id: int) -> StoredMessage | None:
        """The live (not deleted) message with this id."""
        for message in self.history:
            if message.message_id == message_id and not message.deleted:
                return message
        return None

    def add(self, *, from_bot: bool, **fields: Any) -> StoredMessage:
        """Append a message with the next id of this chat."""
        message = StoredMessage(
            chat_id=self.chat_id,
            message_id=self.next_message_id,
            from_bot=from_bot,
            date=int(time.time()),
            **fields,
        )
        self.next_message_id += 1
        self.history.append(message)
        return message


@dataclass
class CallRecord:
    """One Bot API call as the server saw it, and how it answered."""

    method: str
    params: dict[str, Any]
    time: float
    wall_time: float
    http_method: str = "POST"
    status: int = 200
    response: dict[str, Any] | None = None
    via: str = "http"
    # How the parameters came: "json", "form" (URL-encoded), "multipart", or "" (query only).
    encoding: str = ""

    @property
    def ok(self) -> bool:
        """True if the call succeeded."""
        return self.status == 200

    @property
    def description(self) -> str | None:
        """The error description, for failed calls."""
        return None if self.response is None else self.response.get("description")

    @property
    def result(self) -> Any:
        """The ``result`` of a successful call."""
        return None if self.response is None else self.response.get("result")


@dataclass
class CallbackQueryRecord:
    """A callback query sent by a simulated user and the bot's answer to it."""

    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str | None
    update_id: int
    answered: bool = False
    answer_text: str | None = None
    show_alert: bool = False
    url: str | None = None
    cache_time: int | None = None


@dataclass
class WebhookDelivery:
    """One attempt to POST an update to the webhook."""

    update_id: int
    url: str
    status: int | None
    error: str | None
    secret_sent: str | None
    time: float
    attempt: int = 1

    @property
    def ok(self) -> bool:
        """True for a 2xx answer."""
        return self.status is not None and 200 <= self.status < 300

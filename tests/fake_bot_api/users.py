"""Simulated Telegram users: they write to the bot, press buttons, block it, and see its replies.

Every action is synchronous: it stores the user's message in the chat and queues a realistic
``Update`` (delivered by getUpdates or the webhook). To wait for the bot's reaction use
``await user.wait_for_reply()`` or ``await api.wait_for(...)``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .html_parse import utf16_len
from .markup import find_button
from .models import CallbackQueryRecord, ChatState, StoredMessage

if TYPE_CHECKING:
    from .server import FakeBotApi

_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?=\s|$)")
# A tiny valid JPEG (SOI + EOI) stands in for photo bytes.
_FAKE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
_FAKE_WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"


class ButtonNotFoundError(LookupError):
    """The user looked for a button that is not on screen."""


class SimulatedUser:
    """One Telegram user in a private chat with the bot (get it from ``api.user(...)``)."""

    def __init__(self, api: FakeBotApi, chat: ChatState) -> None:
        self.api = api
        self.chat = chat
        self._mark = 0

    # --- identity ---------------------------------------------------------------------------
    @property
    def id(self) -> int:
        """The user id (also the private chat id)."""
        return self.chat.chat_id

    @property
    def user_dict(self) -> dict[str, Any]:
        """The Telegram ``User`` object of this user."""
        return self.chat.user

    @property
    def blocked(self) -> bool:
        """Whether the user has blocked the bot."""
        return self.chat.blocked

    # --- what the user sees -------------------------------------------------------------------
    @property
    def messages(self) -> list[StoredMessage]:
        """The bot's messages in this chat that were not deleted, oldest first."""
        return self.chat.bot_messages

    @property
    def last_message(self) -> StoredMessage | None:
        """The bot's latest visible message."""
        messages = self.chat.bot_messages
        return messages[-1] if messages else None

    @property
    def last_text(self) -> str | None:
        """Text (or caption) of the bot's latest visible message, as the user sees it."""
        message = self.last_message
        return None if message is None else message.visible_text

    @property
    def texts(self) -> list[str]:
        """Visible text of every bot message, oldest first."""
        return [m.visible_text for m in self.chat.bot_messages]

    @property
    def last_buttons(self) -> list[str]:
        """Inline button labels of the bot's latest visible message."""
        message = self.last_message
        return [] if message is None else message.buttons

    @property
    def keyboard(self) -> list[str]:
        """Labels of the reply keyboard currently shown (empty once removed)."""
        return self.chat.keyboard_buttons

    @property
    def queries(self) -> list[CallbackQueryRecord]:
        """This user's callback queries, oldest first (with the bot's answers)."""
        return [q for q in self.api.callback_queries.values() if q.user_id == self.id]

    def new_replies(self) -> list[StoredMessage]:
        """Bot messages sent since the user's last action (deleted ones included)."""
        sent = [m for m in self.chat.history if m.from_bot]
        return sent[self._mark :]

    async def wait_for_reply(
        self,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - the documented test-helper signature
    ) -> list[StoredMessage]:
        """Wait until the bot has sent ``count`` messages since the user's last action."""
        await self.api.wait_for(
            lambda: len(self.new_replies()) >= count,
            timeout=timeout,
            what=f"{count} bot message(s) to user {self.id}",
        )
        return self.new_replies()

    # --- actions ----------------------------------------------------------------------------
    def send_text(self, text: str) -> dict[str, Any]:
        """Send a text message; a leading /command gets its bot_command entity."""
        entities = []
        match = _COMMAND.match(text)
        if match:
            entities.append(
                {"type": "bot_command", "offset": 0, "length": utf16_len(match.group())}
            )
        return self._send(text=text, entities=entities)

    def send_command(self, command: str, payload: str | None = None) -> dict[str, Any]:
        """Send ``/command [payload]`` (e.g. a deep link ``/start ref_42``)."""
        command = command if command.startswith("/") else f"/{command}"
        text = f"{command} {payload}" if payload else command
        entity = {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
        return self._send(text=text, entities=[entity])

    def tap(self, label: str) -> dict[str, Any]:
        """Press a reply-keyboard button: sends its text, or the contact for request_contact."""
        button = find_button(self.chat.reply_keyboard, label)
        if button is None:
            raise ButtonNotFoundError(f"no keyboard button {label!r}; keyboard: {self.keyboard}")
        if button.get("request_contact"):
            return self.share_contact()
        return self.send_text(str(button["text"]))

    def press(
        self, label_or_data: str, message: StoredMessage | int | None = None
    ) -> CallbackQueryRecord:
        """Press an inline button (by label or callback_data) on ``message`` or, by default,
        on the latest bot message carrying it; queues a callback_query update."""
        target = self._find_message(label_or_data, message)
        button = target.button(label_or_data)
        if button is None or "callback_data" not in button:
            raise ButtonNotFoundError(
                f"button {label_or_data!r} on message {target.message_id} has no callback_data"
            )
        return self.press_data(str(button["callback_data"]), target)

    def press_data(self, data: str, target: StoredMessage | None = None) -> CallbackQueryRecord:
        """A press carrying any callback data (a modified client can forge it) on ``target``,
        by default the bot's latest message; queues a callback_query update."""
        target = target or self.last_message
        if target is None:
            raise ButtonNotFoundError("the bot has sent no message to press a button on")
        query_id = self.api.new_callback_query_id()
        update = self._push(
            {
                "callback_query": {
                    "id": query_id,
                    "from": self.user_dict,
                    "message": target.to_dict(self.api.bot_user, self.chat.chat),
                    "chat_instance": str(-(abs(self.id) * 7919 + 104729)),
                    "data": data,
                }
            }
        )
        record = CallbackQueryRecord(
            id=query_id,
            user_id=self.id,
            chat_id=self.id,
            message_id=target.message_id,
            data=data,
            update_id=update["update_id"],
        )
        self.api.callback_queries[query_id] = record
        return record

    def share_contact(
        self, phone: str = "+393331234567", own: bool = True, first_name: str | None = None
    ) -> dict[str, Any]:
        """Share a contact: the user's own (``user_id`` set, as from request_contact) or another."""
        contact: dict[str, Any] = {"phone_number": phone}
        if own:
            contact["first_name"] = self.user_dict["first_name"]
            if "last_name" in self.user_dict:
                contact["last_name"] = self.user_dict["last_name"]
            contact["user_id"] = self.id
        else:
            contact["first_name"] = first_name or "Someone"
        return self._send(extra={"contact": contact})

    def send_photo(self, caption: str | None = None) -> dict[str, Any]:
        """Send a photo (two sizes, like real clients produce)."""
        small = self.api.new_file(_FAKE_JPEG, kind="photos", mime_type="image/jpeg")
        large = self.api.new_file(_FAKE_JPEG * 2, kind="photos", mime_type="image/jpeg")
        sizes = [
            {"file_id": small.file_id, "file_unique_id": small.file_unique_id,
             "file_size": small.size, "width": 90, "height": 67},
            {"file_id": large.file_id, "file_unique_id": large.file_unique_id,
             "file_size": large.size, "width": 1280, "height": 960},
        ]  # fmt: skip
        return self._send(extra={"photo": sizes}, caption=caption)

    def send_sticker(self, emoji: str = "👍") -> dict[str, Any]:
        """Send a static sticker."""
        file = self.api.new_file(_FAKE_WEBP, kind="stickers", mime_type="image/webp")
        sticker = {
            "file_id": file.file_id, "file_unique_id": file.file_unique_id, "type": "regular",
            "width": 512, "height": 512, "is_animated": False, "is_video": False,
            "emoji": emoji, "set_name": "PonteTestStickers", "file_size": file.size,
        }  # fmt: skip
        return self._send(extra={"sticker": sticker})

    def send_document(
        self, file_name: str, data: bytes, mime_type: str = "application/octet-stream"
    ) -> dict[str, Any]:
        """Send a document (the bot can getFile and download it)."""
        file = self.api.new_file(data, kind="documents", file_name=file_name, mime_type=mime_type)
        return self._send(document=file)

    def block(self) -> dict[str, Any]:
        """Block the bot: sends then fail with 403; queues my_chat_member member → kicked."""
        self.chat.blocked = True
        return self._member_update("member", "kicked")

    def unblock(self) -> dict[str, Any]:
        """Unblock the bot; queues my_chat_member kicked → member."""
        self.chat.blocked = False
        return self._member_update("kicked", "member")

    def deactivate(self) -> None:
        """Delete the account: sends fail with 403 "user is deactivated"."""
        self.chat.deactivated = True

    # --- internals ------------------------------------------------------------------------------
    def _find_message(self, label: str, message: StoredMessage | int | None) -> StoredMessage:
        if isinstance(message, StoredMessage):
            message = message.message_id
        if message is not None:
            found = self.chat.get(message)
            if found is None or not found.from_bot or found.button(label) is None:
                raise ButtonNotFoundError(f"no button {label!r} on bot message {message}")
            return found
        for candidate in reversed(self.chat.bot_messages):
            if candidate.button(label) is not None:
                return candidate
        latest = self.last_buttons
        raise ButtonNotFoundError(f"no inline button {label!r}; latest buttons: {latest}")

    def _send(self, **fields: Any) -> dict[str, Any]:
        self.chat.started = True
        message = self.chat.add(from_bot=False, **fields)
        return self._push({"message": message.to_dict(self.user_dict, self.chat.chat)})

    def _member_update(self, old: str, new: str) -> dict[str, Any]:
        new_member: dict[str, Any] = {"user": self.api.bot_user, "status": new}
        if new == "kicked":
            new_member["until_date"] = 0
        old_member: dict[str, Any] = {"user": self.api.bot_user, "status": old}
        if old == "kicked":
            old_member["until_date"] = 0
        return self._push(
            {
                "my_chat_member": {
                    "chat": self.chat.chat,
                    "from": self.user_dict,
                    "date": self.api.now(),
                    "old_chat_member": old_member,
                    "new_chat_member": new_member,
                }
            }
        )

    def _push(self, payload: dict[str, Any]) -> dict[str, Any]:
        self._mark = sum(1 for m in self.chat.history if m.from_bot)
        return self.api.enqueue_update(payload)

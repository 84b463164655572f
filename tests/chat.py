"""A test user talking to the core, the way a channel would, with helpers to read replies."""

from __future__ import annotations

from dataclasses import dataclass, field

from handlers.core import Core
from handlers.kernel.incoming import (
    ButtonPress,
    ContactShared,
    Incoming,
    Sender,
    UnsupportedMessage,
    parse_text,
)
from handlers.kernel.markup import to_plain_text
from handlers.kernel.replies import Button, Reply, Response


@dataclass
class Chat:
    """One user's conversation with the core; keeps everything the bot said."""

    core: Core
    user: str = "u1"
    lang: str | None = "en"
    channel: str = "test"
    transcript: list[Reply] = field(default_factory=list)
    last: Response = field(default_factory=Response)

    @property
    def sender(self) -> Sender:
        return Sender(self.channel, self.user, self.user, self.lang, self.user)

    async def send(self, incoming: Incoming) -> Response:
        self.last = await self.core.handle(incoming)
        self.transcript.extend(self.last.replies)
        return self.last

    async def say(self, text: str) -> Response:
        """Type ``text`` (a command when it starts with ``/``)."""
        return await self.send(parse_text(self.sender, text))

    async def press(self, value: str) -> Response:
        """Press the on-screen button whose payload ends with ``|value`` or equals ``value``."""
        return await self.send(ButtonPress(self.sender, self.button(value).payload))

    async def press_payload(self, payload: str, message_ref: str | None = None) -> Response:
        """Send a raw (possibly forged or stale) payload, from the message ``message_ref``
        names if given (as a channel that can edit its messages would)."""
        return await self.send(ButtonPress(self.sender, payload, message_ref))

    async def share_contact(self, phone: str, owner: str | None = None) -> Response:
        return await self.send(ContactShared(self.sender, phone, owner or self.user))

    async def send_unsupported(self, kind: str = "photo") -> Response:
        return await self.send(UnsupportedMessage(self.sender, kind))

    def buttons(self) -> list[Button]:
        """The buttons on screen: those of the latest reply that has any."""
        for reply in reversed(self.transcript):
            if reply.buttons:
                return reply.all_buttons()
        return []

    def button(self, value: str) -> Button:
        for button in self.buttons():
            if button.payload == value or button.payload.endswith(f"|{value}"):
                return button
        labels = [(b.label, b.payload) for b in self.buttons()]
        raise AssertionError(f"no button {value!r} on screen; buttons: {labels}")

    @property
    def texts(self) -> list[str]:
        """Plain text of the replies to the last message."""
        return [to_plain_text(reply.text) for reply in self.last.replies]

    @property
    def text(self) -> str:
        """All replies to the last message, as one plain text."""
        return "\n".join(self.texts)

    @property
    def all_text(self) -> str:
        return "\n".join(to_plain_text(reply.text) for reply in self.transcript)

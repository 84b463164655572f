"""What a channel hands the core: small, typed, framework-free incoming messages.

"Event" in Ponte means a matchmaking event; what arrives from a channel is an *incoming*
message (a text, a command, a button press, a shared contact…).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sender:
    """Who wrote and where to answer.

    ``channel`` names the transport (``telegram``, ``console``…) so that ids from different
    channels never collide; ``language_hint`` is the client's language code, if it sent one.
    """

    channel: str
    user_id: str
    chat_id: str
    language_hint: str | None = None
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class TextMessage:
    """Free text typed by the user."""

    sender: Sender
    text: str


@dataclass(frozen=True, slots=True)
class CommandMessage:
    """A command such as ``/start abc``: ``name`` is ``start`` (lower case), ``args`` ``abc``."""

    sender: Sender
    name: str
    args: str = ""


@dataclass(frozen=True, slots=True)
class ButtonPress:
    """A press on a button the core offered; the payload is untrusted and re-checked.

    ``message_ref`` names the message the button is on, as the channel knows it (Telegram's
    message id), so that the core can have it edited later; ``None`` where a channel cannot
    edit what it showed (the console).
    """

    sender: Sender
    payload: str
    message_ref: str | None = None


@dataclass(frozen=True, slots=True)
class ContactShared:
    """A phone number shared through the client's contact button.

    ``contact_user_id`` is whose contact it is, when the channel knows, so the core can refuse
    someone else's card.
    """

    sender: Sender
    phone: str
    contact_user_id: str | None = None


@dataclass(frozen=True, slots=True)
class UnsupportedMessage:
    """Anything the core cannot read (photo, sticker, voice…); ``kind`` says what it was."""

    sender: Sender
    kind: str


@dataclass(frozen=True, slots=True)
class ReachabilityChanged:
    """The user blocked (``reachable=False``) or unblocked the bot, or a send to them failed.

    Only known participants are updated; nobody is created by this message and nothing is
    answered.
    """

    sender: Sender
    reachable: bool


Incoming = (
    TextMessage
    | CommandMessage
    | ButtonPress
    | ContactShared
    | UnsupportedMessage
    | ReachabilityChanged
)
"""Anything a channel can hand to :meth:`handlers.core.Core.handle`."""


def parse_text(sender: Sender, text: str) -> TextMessage | CommandMessage:
    """Turn typed text into a command when it starts with ``/``, else keep it as text.

    ``/start@ponte_bot payload`` becomes ``CommandMessage(name="start", args="payload")``.
    """
    stripped = text.strip()
    if stripped.startswith("/") and len(stripped) > 1:
        head, _, args = stripped[1:].partition(" ")
        name = head.split("@", 1)[0].lower()
        if name and name.replace("_", "").isalnum() and name.isascii():
            return CommandMessage(sender=sender, name=name, args=args.strip())
    return TextMessage(sender=sender, text=text)

"""What the core hands back: replies a channel renders in its own way."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_PAYLOAD_BYTES = 64  # Telegram's limit on callback data, the strictest channel's.


@dataclass(frozen=True, slots=True)
class Button:
    """A choice offered to the user; ``payload`` comes back in a :class:`ButtonPress`."""

    label: str
    payload: str

    def __post_init__(self) -> None:
        size = len(self.payload.encode("utf-8"))
        if not 1 <= size <= MAX_PAYLOAD_BYTES:
            raise ValueError(f"button payload must be 1-64 bytes, got {size}: {self.payload!r}")


@dataclass(frozen=True, slots=True)
class Document:
    """A file to send, such as the ``/mydata`` export.

    ``photo``: the file is a picture to show in the chat (a chart): channels that can show
    pictures do (Telegram's ``sendPhoto``), the others handle it as any document.
    """

    filename: str
    content: bytes
    mime_type: str
    caption: str = ""
    photo: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    """One message to show.

    ``text`` is markup (see :mod:`handlers.kernel.markup`). ``buttons`` are rows of inline choices.
    ``edit`` asks the channel to replace the message whose button was pressed instead of
    sending a new one; ``replaces``, in an outbox message, names the message to replace (a
    :attr:`ButtonPress.message_ref <handlers.kernel.incoming.ButtonPress.message_ref>`
    kept from earlier). ``contact_button`` is the label of a "share my phone number" button
    (a reply keyboard on Telegram); ``remove_keyboard`` takes such a keyboard away.
    """

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    edit: bool = False
    contact_button: str | None = None
    remove_keyboard: bool = False
    document: Document | None = None
    replaces: str | None = None

    def all_buttons(self) -> list[Button]:
        """Every inline button, row by row."""
        return [button for row in self.buttons for button in row]


@dataclass(slots=True)
class Notice:
    """Text for the channel to show a button presser briefly (Telegram's callback answer)."""

    text: str = ""


@dataclass(slots=True)
class Response:
    """Everything the core answers to one incoming message.

    ``locale`` is the user's language after the message (for anything the channel words
    itself); ``language_changed`` says it changed while answering it, so a channel can
    localise what it shows outside messages (Telegram's command menu). ``organiser_menu``
    says the user is an organiser, checked in this turn, whose command menu should list the
    organiser's commands too (set when the panel opens and when an organiser's language
    changes).
    """

    replies: list[Reply] = field(default_factory=list)
    notice: Notice | None = None
    locale: str | None = None
    language_changed: bool = False
    organiser_menu: bool = False


def split_payload(payload: str) -> tuple[str, str]:
    """``"key|value"`` → ``("key", "value")``; a payload without ``|`` has an empty value."""
    key, _, value = payload.partition("|")
    return key, value

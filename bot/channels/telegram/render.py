"""The core's replies → Telegram message content (HTML text, keyboards), within limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handlers.kernel.markup import escape, to_plain_text
from handlers.kernel.replies import Reply

MAX_TEXT = 4096  # characters after entity parsing
MAX_CAPTION = 1024


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One ``sendMessage``: HTML text and an optional ``reply_markup`` as Bot API JSON."""

    text: str
    markup: dict[str, Any] | None = None


def visible_length(markup: str) -> int:
    """Length as Telegram counts it: after tags and entities are parsed."""
    return len(to_plain_text(markup))


def split_markup(markup: str, limit: int = MAX_TEXT) -> list[str]:
    """Split HTML text into messages of at most ``limit`` visible characters.

    Splits fall between paragraphs or lines, so tags (which never span lines in Ponte's
    replies) stay balanced; a single line longer than the limit is cut as plain text.
    """
    # Tags and entities only shorten the text, so most replies need no parsing at all.
    if len(markup) <= limit or visible_length(markup) <= limit:
        return [markup]
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in markup.split("\n"):
        length = visible_length(line)
        if length > limit:
            if current:
                chunks.append("\n".join(current))
                current, size = [], 0
            plain = to_plain_text(line)
            chunks += [escape(plain[i : i + limit]) for i in range(0, len(plain), limit)]
            continue
        extra = length + (1 if current else 0)
        if size + extra > limit:
            chunks.append("\n".join(current))
            current, size = [line], length
        else:
            current.append(line)
            size += extra
    if current:
        chunks.append("\n".join(current))
    return [chunk for chunk in chunks if to_plain_text(chunk).strip()] or [escape(" ")]


def inline_keyboard(reply: Reply) -> dict[str, Any] | None:
    """The reply's buttons as an ``InlineKeyboardMarkup``."""
    if not reply.buttons:
        return None
    return {
        "inline_keyboard": [
            [{"text": button.label, "callback_data": button.payload} for button in row]
            for row in reply.buttons
        ]
    }


def reply_markup(reply: Reply) -> dict[str, Any] | None:
    """Inline buttons; else a one-button contact keyboard; else a keyboard removal."""
    inline = inline_keyboard(reply)
    if inline is not None:
        return inline
    if reply.contact_button:
        return {
            "keyboard": [[{"text": reply.contact_button, "request_contact": True}]],
            "resize_keyboard": True,
            "one_time_keyboard": True,
        }
    if reply.remove_keyboard:
        return {"remove_keyboard": True}
    return None


def messages_for(reply: Reply) -> list[OutgoingMessage]:
    """The messages that show ``reply``; the keyboard goes with the last one."""
    chunks = split_markup(reply.text)
    markup = reply_markup(reply)
    return [
        OutgoingMessage(chunk, markup if index == len(chunks) - 1 else None)
        for index, chunk in enumerate(chunks)
    ]


def caption_for(reply: Reply) -> str | None:
    """A document's caption when the reply's text fits in one; else ``None``."""
    return reply.text if visible_length(reply.text) <= MAX_CAPTION else None

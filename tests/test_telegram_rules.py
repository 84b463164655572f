"""Telegram's limits and update shapes, checked without a running bot."""

from __future__ import annotations

import pytest

from bot.channels.telegram.render import MAX_TEXT, messages_for, split_markup
from bot.channels.telegram.updates import parse_update
from handlers.kernel.incoming import (
    ButtonPress,
    CommandMessage,
    ContactShared,
    ReachabilityChanged,
    TextMessage,
    UnsupportedMessage,
)
from handlers.kernel.markup import escape, fmt
from handlers.kernel.replies import Button, Reply
from tests.fake_bot_api import parse_html

USER = {"id": 1111111, "is_bot": False, "first_name": "Test", "language_code": "it"}
CHAT = {"id": 1111111, "type": "private", "first_name": "Test"}


def message(**fields: object) -> dict[str, object]:
    body = {"message_id": 5, "date": 1_700_000_000, "chat": CHAT, "from": USER, **fields}
    return {"update_id": 1, "message": body}


def test_long_replies_are_split_into_valid_messages_within_the_limit() -> None:
    line = fmt("<b>{label}</b>: {value}", label="Offer", value="Acme & Co <tech> " * 20)
    markup = "\n".join([line] * 60)
    chunks = split_markup(markup)
    assert len(chunks) > 1
    for chunk in chunks:
        parsed = parse_html(chunk)  # raises on broken HTML, as Telegram would answer 400
        assert 0 < len(parsed.text) <= MAX_TEXT
    assert "".join(parse_html(c).text for c in chunks).count("Acme & Co") == 60 * 20


def test_a_single_huge_line_is_cut_as_plain_text() -> None:
    chunks = split_markup(escape("<" * 9000))
    assert [len(parse_html(c).text) for c in chunks] == [4096, 4096, 808]


def test_buttons_go_with_the_last_part() -> None:
    reply = Reply("\n".join(["x" * 100] * 100), buttons=((Button("OK", "k|ok"),),))
    parts = messages_for(reply)
    assert len(parts) == 3
    assert [p.markup is not None for p in parts] == [False, False, True]


def test_button_payloads_over_64_bytes_are_refused() -> None:
    with pytest.raises(ValueError, match="1-64 bytes"):
        Button("x", "é" * 33)


CALLBACK = {
    "update_id": 2,
    "callback_query": {
        "id": "q", "from": USER, "chat_instance": "c", "data": "name|^back",
        "message": {"message_id": 9, "date": 1, "chat": CHAT},
    },
}  # fmt: skip
BLOCKED = {
    "update_id": 3,
    "my_chat_member": {
        "chat": CHAT, "from": USER, "date": 1,
        "old_chat_member": {"status": "member", "user": USER},
        "new_chat_member": {"status": "kicked", "user": USER, "until_date": 0},
    },
}  # fmt: skip
COMMAND_ENTITY = [{"type": "bot_command", "offset": 0, "length": 6}]
CONTACT = {"phone_number": "393331234567", "first_name": "T", "user_id": 1111111}
PHOTO = [{"file_id": "a", "file_unique_id": "b", "width": 1, "height": 1}]


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        (message(text="/start ev-2026", entities=COMMAND_ENTITY), CommandMessage),
        (message(text="/start@ponte_test_bot"), CommandMessage),
        (message(text="Mario"), TextMessage),
        (message(contact=CONTACT), ContactShared),
        (message(photo=PHOTO), UnsupportedMessage),
        (message(sticker={"file_id": "a"}), UnsupportedMessage),
        (CALLBACK, ButtonPress),
        (BLOCKED, ReachabilityChanged),
    ],
)
def test_updates_become_core_events(update: dict[str, object], expected: type) -> None:
    parsed = parse_update(update)
    assert parsed is not None and isinstance(parsed.incoming, expected)
    assert parsed.incoming.sender.user_id == "1111111"
    assert parsed.incoming.sender.language_hint == "it"


def test_deep_link_payload_is_the_command_argument() -> None:
    parsed = parse_update(message(text="/start ev-2026", entities=COMMAND_ENTITY))
    assert parsed is not None and isinstance(parsed.incoming, CommandMessage)
    assert (parsed.incoming.name, parsed.incoming.args) == ("start", "ev-2026")


GROUP = {"id": -5, "type": "group"}


@pytest.mark.parametrize(
    "update",
    [
        {"update_id": 4, "edited_message": {"message_id": 1, "date": 1, "chat": CHAT, "text": "x"}},
        {"update_id": 5, "channel_post": {"message_id": 1, "date": 1, "chat": GROUP, "text": "x"}},
        {"update_id": 6, "poll": {"id": "p"}},
        {"update_id": 7, "message": {"message_id": 1, "date": 1, "chat": GROUP, "from": USER, "text": "hi"}},
        {"update_id": 8, "callback_query": {"id": "q", "from": USER, "chat_instance": "c", "inline_message_id": "i", "data": "x"}},
    ],
)  # fmt: skip
def test_updates_ponte_does_not_handle_are_ignored(update: dict[str, object]) -> None:
    assert parse_update(update) is None


def test_a_button_on_an_inaccessible_message_is_a_press_that_cannot_be_edited() -> None:
    update = {
        "update_id": 9,
        "callback_query": {
            "id": "q", "from": USER, "chat_instance": "c", "data": "d|1",
            "message": {"message_id": 9, "date": 0, "chat": CHAT},
        },
    }  # fmt: skip
    parsed = parse_update(update)
    assert parsed is not None and parsed.callback_message_id is None

"""Validation of ``reply_markup``: inline keyboards, reply keyboards, keyboard removal, force reply.

Inline buttons are checked like the Bot API does: ``text`` must be a string, a button needs an
action field (else "Text buttons are unallowed in the inline keyboard"; an empty
``callback_data`` counts as no action, as on the live server), and ``callback_data`` may be at
most 64 bytes (else ``BUTTON_DATA_INVALID``). Unlike the real server, which silently uses the
first action field, a button with several action fields is rejected (the API documents that
exactly one must be used).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from . import errors
from .errors import bad_request

#: Action fields of InlineKeyboardButton ("exactly one of" them must be used).
INLINE_ACTIONS: dict[str, type | tuple[type, ...]] = {
    "url": str,
    "callback_data": str,
    "web_app": dict,
    "login_url": dict,
    "switch_inline_query": str,
    "switch_inline_query_current_chat": str,
    "switch_inline_query_chosen_chat": dict,
    "copy_text": dict,
    "callback_game": dict,
    "pay": bool,
}
_TYPE_NAMES = {str: "String", dict: "Object", bool: "Boolean"}
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_BUTTONS = 100

MarkupKind = Literal["inline", "keyboard", "remove", "force_reply"]


@dataclass
class Markup:
    """A validated reply_markup: its kind and the JSON object as Telegram would echo it."""

    kind: MarkupKind
    data: dict[str, Any]

    @property
    def is_inline(self) -> bool:
        """True for an InlineKeyboardMarkup (the only kind attached to a sent Message)."""
        return self.kind == "inline"


def load_markup(raw: Any) -> Markup | None:
    """Parse (if a JSON string) and validate ``reply_markup``; None when absent or empty."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise bad_request(errors.MARKUP_JSON) from None
    if not isinstance(raw, dict):
        raise bad_request(errors.MARKUP_JSON)
    if "inline_keyboard" in raw:
        return Markup("inline", {"inline_keyboard": _check_inline_keyboard(raw["inline_keyboard"])})
    if "keyboard" in raw:
        _check_reply_keyboard(raw["keyboard"])
        return Markup("keyboard", raw)
    if raw.get("remove_keyboard") is True:
        return Markup("remove", raw)
    if raw.get("force_reply") is True:
        return Markup("force_reply", raw)
    raise bad_request(errors.MARKUP_JSON)


def load_inline_markup(raw: Any) -> Markup | None:
    """Like :func:`load_markup` but only an inline keyboard is acceptable (edit methods)."""
    markup = load_markup(raw)
    if markup is not None and not markup.is_inline:
        raise bad_request(errors.INLINE_KEYBOARD_EXPECTED)
    return markup


def _check_inline_keyboard(rows: Any) -> list[list[dict[str, Any]]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(errors.INLINE_KEYBOARD_SHAPE)
    total = 0
    clean_rows: list[list[dict[str, Any]]] = []
    for row in rows:
        clean_row = [check_inline_button(button) for button in row]
        total += len(clean_row)
        if clean_row:
            clean_rows.append(clean_row)
    if total > MAX_INLINE_BUTTONS:
        raise bad_request(errors.REPLY_MARKUP_TOO_LONG)
    return clean_rows


def check_inline_button(button: Any) -> dict[str, Any]:
    """Validate one InlineKeyboardButton; return it without null fields."""
    if not isinstance(button, dict):
        raise bad_request(errors.BUTTON_NOT_OBJECT)
    if "text" not in button:
        raise bad_request(errors.BUTTON_NO_TEXT)
    if not isinstance(button["text"], str):
        raise bad_request(errors.BUTTON_FIELD_TYPE.format(field="text", kind="String"))
    actions: list[str] = []
    for name, kind in INLINE_ACTIONS.items():
        if name not in button:
            continue
        value = button[name]
        if not isinstance(value, kind):
            type_name = _TYPE_NAMES.get(kind if isinstance(kind, type) else str, "String")
            raise bad_request(errors.BUTTON_FIELD_TYPE.format(field=name, kind=type_name))
        if name == "callback_data" and value == "":
            continue  # the live server treats empty data as "no action"
        actions.append(name)
    if not actions:
        raise bad_request(errors.TEXT_BUTTONS_UNALLOWED)
    if len(actions) > 1:
        raise bad_request(errors.BUTTON_SEVERAL_ACTIONS)
    data = button.get("callback_data")
    if isinstance(data, str) and len(data.encode("utf-8")) > MAX_CALLBACK_DATA_BYTES:
        raise bad_request(errors.BUTTON_DATA_INVALID)
    url = button.get("url")
    if actions[0] == "url" and not (isinstance(url, str) and url.strip()):
        raise bad_request(errors.BUTTON_URL_INVALID)
    return {key: value for key, value in button.items() if value is not None}


def _check_reply_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(errors.REPLY_KEYBOARD_SHAPE)
    for row in rows:
        for button in row:
            if isinstance(button, str):
                continue
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request(errors.KEYBOARD_BUTTON_INVALID)


def button_rows(markup: dict[str, Any] | None) -> list[list[dict[str, Any]]]:
    """The button rows of an inline or reply keyboard (strings turned into ``{"text": ...}``)."""
    if not markup:
        return []
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return [[b if isinstance(b, dict) else {"text": str(b)} for b in row] for row in rows]


def button_texts(markup: dict[str, Any] | None) -> list[str]:
    """All button labels of a keyboard, row by row, flattened."""
    return [button["text"] for row in button_rows(markup) for button in row]


def find_button(markup: dict[str, Any] | None, label_or_data: str) -> dict[str, Any] | None:
    """The first button whose text or callback_data equals ``label_or_data``."""
    for row in button_rows(markup):
        for button in row:
            if label_or_data in (button.get("text"), button.get("callback_data")):
                return button
    return None

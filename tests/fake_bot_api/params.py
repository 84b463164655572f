"""Request parameters of a Bot API call, whatever the encoding they arrived in.

Telegram accepts the query string, ``application/x-www-form-urlencoded``, JSON and
``multipart/form-data`` bodies; form values are strings and nested objects are JSON-encoded
strings. :class:`Params` normalises all of that: known integer and boolean fields are coerced,
JSON fields are decoded, and uploaded files become :class:`UploadedFile` objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import errors
from .errors import bad_request

#: Fields whose value is a JSON-serialized object or array when sent as a form field.
JSON_FIELDS = frozenset(
    {
        "reply_markup", "entities", "caption_entities", "allowed_updates", "commands",
        "scope", "menu_button", "link_preview_options", "reply_parameters", "media",
        "rights", "results", "message_ids", "reaction",
    }
)  # fmt: skip
#: Fields coerced to int when they look like integers (chat_id may also be "@username").
INT_FIELDS = frozenset(
    {
        "chat_id", "message_id", "offset", "limit", "timeout", "user_id", "cache_time",
        "max_connections", "message_thread_id", "reply_to_message_id", "from_chat_id",
    }
)  # fmt: skip
BOOL_FIELDS = frozenset(
    {
        "show_alert", "drop_pending_updates", "disable_notification", "protect_content",
        "disable_web_page_preview", "allow_sending_without_reply", "disable_content_type_detection",
        "allow_paid_broadcast", "for_channels",
    }
)  # fmt: skip
_TRUE = frozenset({"true", "1", "yes", "on"})


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes


def _coerce(name: str, value: Any) -> Any:
    if isinstance(value, UploadedFile) or value is None:
        return value
    if name in JSON_FIELDS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value  # left for the method to reject with its own message
    if name in INT_FIELDS and isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        return value
    if name in BOOL_FIELDS and isinstance(value, str):
        return value.strip().lower() in _TRUE
    return value


class Params:
    """The decoded parameters of one call; read with the typed getters."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = dict(raw)
        self.values: dict[str, Any] = {k: _coerce(k, v) for k, v in raw.items()}

    def __contains__(self, name: str) -> bool:
        return name in self.values and self.values[name] is not None

    def get(self, name: str, default: Any = None) -> Any:
        """The decoded value, or ``default``."""
        value = self.values.get(name)
        return default if value is None else value

    def get_str(self, name: str, default: str | None = None) -> str | None:
        """A string parameter (numbers are turned into strings, like Telegram does)."""
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, UploadedFile):
            raise bad_request(errors.PARAMETER_INVALID.format(name=name))
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False)
        return str(value)

    def get_int(self, name: str, default: int | None = None) -> int | None:
        """An integer parameter; a malformed value is a 400."""
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(float(value))
            except ValueError:
                pass
        raise bad_request(errors.PARAMETER_INVALID.format(name=name))

    def get_float(self, name: str, default: float | None = None) -> float | None:
        """A number parameter (used for ``timeout``)."""
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(errors.PARAMETER_INVALID.format(name=name)) from None

    def get_bool(self, name: str, default: bool = False) -> bool:
        """A boolean parameter ("true"/"1" or a JSON true)."""
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, str):
            return value.strip().lower() in _TRUE
        return bool(value)

    def get_json(self, name: str) -> Any:
        """A JSON parameter, decoded; a string that is not valid JSON is returned unchanged."""
        return self.values.get(name)

    def get_file(self, name: str) -> UploadedFile | str | None:
        """An InputFile parameter: an upload (also via ``attach://<part>``) or a string id/URL."""
        value = self.values.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            attached = self.values.get(value[len("attach://") :])
            if isinstance(attached, UploadedFile):
                return attached
            raise bad_request(errors.WRONG_FILE_SPEC)
        if value is None or isinstance(value, UploadedFile):
            return value
        return str(value)

    def public(self) -> dict[str, Any]:
        """Decoded values for the call log (file parts shown as UploadedFile objects)."""
        return dict(self.values)

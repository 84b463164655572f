"""The one place where text meets markup.

Replies carry a small HTML subset (``<b>``, ``<i>``, ``<code>``) that Telegram renders and
other channels can strip. Every value a user typed is escaped here and nowhere else.
"""

from __future__ import annotations

import html
import re
from typing import Any

_TAG = re.compile(r"<[^>]*>")


def escape(value: object) -> str:
    """Escape ``value`` for HTML text, so ``<b>Acme & Co</b>`` is shown, not parsed."""
    return html.escape(str(value), quote=False)


def fmt(template: str, **values: Any) -> str:
    """Fill a (trusted, translated) template with escaped values."""
    return template.format(**{key: escape(value) for key, value in values.items()})


def bold(markup: str) -> str:
    """Wrap already-safe markup in bold."""
    return f"<b>{markup}</b>"


def italic(markup: str) -> str:
    """Wrap already-safe markup in italics."""
    return f"<i>{markup}</i>"


def to_plain_text(markup: str) -> str:
    """Drop the tags and unescape entities, for channels that show plain text."""
    return html.unescape(_TAG.sub("", markup))

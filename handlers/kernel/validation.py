"""Checks for what users type. Pure functions: a value, or a localisable reason it is wrong."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from handlers.kernel.i18n import N_, Translator
from handlers.kernel.markup import fmt

# Ids in button payloads: ASCII digits only ("²".isdigit() is true but int("²") fails) and small
# enough for a 32-bit INTEGER column, so a forged payload never reaches the database as an error.
_PAYLOAD_ID = re.compile(r"[0-9]{1,9}")


def parse_id(text: str) -> int | None:
    """The id in a button payload or a typed number, or ``None`` when it is not one."""
    return int(text) if _PAYLOAD_ID.fullmatch(text) else None


# Invisible characters users paste by accident (zero-width space/joiners, BOM, word joiner).
_INVISIBLE_EDGES = "\u200b\u200c\u200d\u2060\ufeff"


@dataclass(frozen=True, slots=True)
class Problem:
    """Why an input was refused: a message id to translate and the values it mentions."""

    message: str
    values: dict[str, Any] = field(default_factory=dict)

    def render(self, t: Translator) -> str:
        """The localised explanation, with values escaped."""
        return fmt(t.gettext(self.message), **self.values)


@dataclass(frozen=True, slots=True)
class Valid:
    """An accepted input, normalised for storage."""

    value: Any


Checked = Valid | Problem


def clean_text(raw: str) -> str:
    """Trim surrounding whitespace and stray invisible characters; keep the inside as typed."""
    return raw.strip().strip(_INVISIBLE_EDGES).strip()


def _has_control_characters(text: str, multiline: bool) -> bool:
    allowed = {"\n", "\t"} if multiline else {"\t"}
    return any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in text)


def check_text(
    raw: str,
    *,
    min_length: int,
    max_length: int,
    multiline: bool = False,
    needs_letters: bool = True,
) -> Checked:
    """Check a free-text answer: length, no control characters, some letters in it."""
    text = clean_text(raw)
    if not text:
        return Problem(N_("This answer can't be empty. Please type it again."))
    if _has_control_characters(text, multiline):
        return Problem(
            N_(
                "Your text contains invisible control characters. Please type it again without them."
            )
        )
    if not multiline and "\n" in text:
        text = " ".join(part.strip() for part in text.splitlines() if part.strip())
    if needs_letters and not any(unicodedata.category(ch).startswith("L") for ch in text):
        return Problem(
            N_("Please use words: an answer made only of symbols, emoji or spaces can't be used.")
        )
    if len(text) < min_length:
        return Problem(
            N_("That is too short: please write at least {minimum} characters."),
            {"minimum": min_length},
        )
    if len(text) > max_length:
        return Problem(
            N_("That is {count} characters long; the limit is {maximum}. Please shorten it."),
            {"count": len(text), "maximum": max_length},
        )
    return Valid(text)


def check_email(raw: str) -> Checked:
    """Check e-mail syntax (no network look-up) and return the normalised address."""
    text = clean_text(raw)
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return Problem(
            N_(
                "That doesn't look like an e-mail address. Please check it, for example name@example.com."
            )
        )
    return Valid(result.normalized)


_HOST = re.compile(
    r"^(?=.{1,253}$)([a-z0-9\u00a1-\uffff-]{1,63}\.)+[a-z\u00a1-\uffff]{2,63}$", re.I
)
MAX_URL_LENGTH = 300


def check_url(raw: str) -> Checked:
    """Check a web address; ``example.com`` becomes ``https://example.com``."""
    text = clean_text(raw)
    if text and "://" not in text:
        text = f"https://{text}"
    problem = Problem(
        N_(
            "That doesn't look like a web address. Please check it, for example https://example.com."
        )
    )
    if len(text) > MAX_URL_LENGTH or any(ch.isspace() for ch in text):
        return problem
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
    except ValueError:
        return problem
    if parts.scheme not in {"http", "https"} or not _HOST.match(host):
        return problem
    return Valid(text)


_PHONE_CHARS = re.compile(r"^\+?[0-9 ().\-/]+$")


def check_phone(raw: str) -> Checked:
    """Check a typed phone number: digits with an optional ``+``, 7 to 15 digits in all."""
    text = clean_text(raw)
    digits = sum(ch.isdigit() for ch in text)
    if not _PHONE_CHARS.match(text) or not 7 <= digits <= 15:
        return Problem(
            N_(
                "That doesn't look like a phone number. Type it with the country code, "
                "for example +39 06 1234 5678, or use the button."
            )
        )
    return Valid(text)


def normalise_shared_phone(phone: str) -> str:
    """Phone numbers shared by Telegram come without ``+``; add it back."""
    phone = phone.strip()
    return phone if phone.startswith("+") else f"+{phone}"

"""Checks for what users type. Pure functions: a value, or a localisable reason it is wrong."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from handlers.kernel.i18n import N_, Translator
from handlers.kernel.markup import fmt

# Ids in button payloads: ASCII digits only ("²".isdigit() is true but int("²") fails) and small
# enough for a 32-bit INTEGER column, so a forged payload never reaches the database as an error.
_PAYLOAD_ID = re.compile(r"[0-9]{1,9}")


def parse_id(text: str) -> int | None:
    """The id in a button payload or a typed number, or ``None`` when it is not one."""
    return int(text) if _PAYLOAD_ID.fullmatch(text) else None


# Emoji sequences hold a zero-width joiner between pictographs (👩‍🔬); anywhere else an
# invisible format character only hides or reorders what others will read.
_EMOJI_JOINER = "\u200d"
_EMOJI_PARTS = frozenset({"So", "Sk"})
_VARIATION_SELECTOR = "\ufe0f"
# Line and paragraph separators (U+2028/9) are line breaks that no keyboard types.
_LINE_BREAKS = str.maketrans({"\u2028": "\n", "\u2029": "\n"})


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
    """What every typed answer is stored as: invisible format characters removed, NFC.

    Bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE and its kind), zero-width spaces,
    joiners and marks, soft hyphens and tag characters show nothing, yet can make a name read
    backwards or two names look alike, so they go wherever they are. A zero-width joiner
    inside an emoji sequence stays. Surrounding whitespace is trimmed; the rest is kept as
    typed (composed to NFC, so an accent typed in two parts is the same as one).
    """
    lines = raw.replace("\r\n", "\n").replace("\r", "\n").translate(_LINE_BREAKS)
    text = unicodedata.normalize("NFC", lines)
    kept: list[str] = []
    for index, ch in enumerate(text):
        if unicodedata.category(ch) != "Cf" or (ch == _EMOJI_JOINER and _joins_emoji(text, index)):
            kept.append(ch)
    return "".join(kept).strip()


def _joins_emoji(text: str, index: int) -> bool:
    before = text[index - 1] if index > 0 else ""
    after = text[index + 1] if index + 1 < len(text) else ""
    emoji_before = before == _VARIATION_SELECTOR or unicodedata.category(before) in _EMOJI_PARTS
    return bool(before and after) and emoji_before and unicodedata.category(after) == "So"


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
        return _no_letters(text)
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


def _no_letters(text: str) -> Problem:
    """Say what an answer without a single letter is made of."""
    if any(unicodedata.category(ch) == "Nd" for ch in text):
        return Problem(
            N_("Please write it in words: an answer made only of numbers can't be used.")
        )
    if all(unicodedata.category(ch).startswith(("P", "Z")) for ch in text):
        return Problem(
            N_("Please write it in words: an answer made only of punctuation can't be used.")
        )
    return Problem(N_("Please use words: an answer made only of symbols or emoji can't be used."))


def length_hint(min_length: int, max_length: int, t: Translator) -> str:
    """The length a free-text answer may have, to state in its question."""
    if min_length > 1:
        return fmt(
            t.gettext("Between {minimum} and {maximum} characters."),
            minimum=t.number(min_length),
            maximum=t.number(max_length),
        )
    return fmt(t.gettext("Up to {maximum} characters."), maximum=t.number(max_length))


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
_PHONE_FORMAT = phonenumbers.PhoneNumberFormat.INTERNATIONAL


def check_phone(raw: str, home_region: str | None = None) -> Checked:
    """Check a typed phone number against the numbering plans (Google's libphonenumber).

    The number must carry its country code (``+39 …``, or ``0039 …``); without one, the
    answer says so and, when the number makes sense in ``home_region`` (the participant's
    country), shows how to write it. Stored in international format: ``+852 5123 4567``.
    """
    text = clean_text(raw)
    if not _PHONE_CHARS.match(text):
        return Problem(
            N_(
                "A phone number has only digits, spaces and a leading +. "
                "Please type it with the country code, for example +39 06 1234 5678."
            )
        )
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+"):
        return _missing_country_code(text, home_region)
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return _unknown_country_code(text)
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason == phonenumbers.ValidationResult.INVALID_COUNTRY_CODE:
        return _unknown_country_code(text)
    if reason in (
        phonenumbers.ValidationResult.TOO_SHORT,
        phonenumbers.ValidationResult.INVALID_LENGTH,
    ):
        return Problem(
            N_("That number is too short for a phone number with the country code +{code}."),
            {"code": number.country_code},
        )
    if reason == phonenumbers.ValidationResult.TOO_LONG:
        return Problem(
            N_("That number is too long for a phone number with the country code +{code}."),
            {"code": number.country_code},
        )
    if not phonenumbers.is_valid_number(number):
        return Problem(
            N_(
                "{number} is not a phone number in use with the country code +{code}. "
                "Please check the digits."
            ),
            {"number": text, "code": number.country_code},
        )
    return Valid(phonenumbers.format_number(number, _PHONE_FORMAT))


def _missing_country_code(text: str, home_region: str | None) -> Problem:
    """A number without ``+``: say so, with the number written out when it can be guessed."""
    if home_region:
        try:
            number = phonenumbers.parse(text, home_region)
        except phonenumbers.NumberParseException:
            number = None
        if number is not None and phonenumbers.is_valid_number(number):
            return Problem(
                N_(
                    "Please type the number with its country code. If it is a number in "
                    "your country, that is {number}."
                ),
                {"number": phonenumbers.format_number(number, _PHONE_FORMAT)},
            )
    return Problem(
        N_(
            "Please type the number with its country code, starting with +: "
            "for example +39 for Italy or +86 for China."
        )
    )


def _unknown_country_code(text: str) -> Problem:
    digits = "".join(ch for ch in text if ch.isdigit())
    return Problem(
        N_(
            "{number} does not start with a country code in use. Please check it: "
            "+39 is Italy, +86 China."
        ),
        {"number": "+" + digits},
    )


def normalise_shared_phone(phone: str) -> str:
    """Phone numbers shared by Telegram (verified by it) come without ``+``; add it back."""
    phone = clean_text(phone)
    return phone if phone.startswith("+") else f"+{phone}"

"""Catalogues are complete and consistent; locales are negotiated; times are localised."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from handlers.kernel.i18n import SUPPORTED_LOCALES, catalogue_path, negotiate_locale, translator
from handlers.kernel.timefmt import when

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"gettext": None, "ngettext": (1, 2), "N_": None}
ALLOWED_TAGS = re.compile(r"</?(b|i|code)>")


def source_messages() -> set[str]:
    """Every message id the code asks for, extracted from the source as pybabel would."""
    found: set[str] = set()
    for folder in ("handlers", "bot"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, keywords=KEYWORDS, comment_tags=()
        ):
            found.add(message[0] if isinstance(message, tuple) else message)
    return found


def placeholders(text: str) -> list[str]:
    return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)


def catalogue(locale: str) -> dict[str, tuple[str, ...]]:
    with catalogue_path(locale).open("rb") as handle:
        parsed = read_po(handle, locale=locale)
    entries: dict[str, tuple[str, ...]] = {}
    for message in parsed:
        if not message.id:
            continue
        msgid = message.id[0] if isinstance(message.id, tuple) else message.id
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert not message.fuzzy, f"{locale}: fuzzy translation of {msgid!r}"
        entries[msgid] = tuple(strings)
    return entries


def test_source_has_messages() -> None:
    assert len(source_messages()) > 50


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_message_is_translated(locale: str) -> None:
    entries = catalogue(locale)
    missing = sorted(m for m in source_messages() if not all(entries.get(m, ("",))))
    assert not missing, f"{locale} lacks translations for: {missing}"


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_placeholders_match_the_source(locale: str) -> None:
    for msgid, strings in catalogue(locale).items():
        for translated in strings:
            assert placeholders(translated) == placeholders(msgid), (locale, msgid, translated)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_translations_are_safe_markup(locale: str) -> None:
    for msgid, strings in catalogue(locale).items():
        for translated in strings:
            bare = ALLOWED_TAGS.sub("", translated)
            assert "<" not in bare and ">" not in bare and "&" not in bare, (locale, msgid)


def test_plural_forms_follow_each_language() -> None:
    done = "Done ({count} selected)"
    it, zh = translator("it"), translator("zh_Hans")
    assert it.ngettext(done, done, 1) != it.ngettext(done, done, 2)
    assert zh.ngettext(done, done, 1) == zh.ngettext(done, done, 5)


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        ("it", "it"),
        ("it-IT", "it"),
        ("IT_it", "it"),
        ("zh", "zh_Hans"),
        ("zh-hans", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("zh-Hans-CN", "zh_Hans"),
        ("en", "en"),
        ("en-US", "en"),
        ("de", "en"),
        ("pt-br", "en"),
        ("", "en"),
        (None, "en"),
        ("itx", "en"),
    ],
)
def test_language_is_guessed_from_telegram_codes(hint: str | None, expected: str) -> None:
    assert negotiate_locale(hint) == expected


@pytest.mark.parametrize(
    ("moment", "zone", "expected"),
    [
        # Last Sunday of March 2027: Rome moves from UTC+1 to UTC+2 at 01:00 UTC.
        (
            datetime(2027, 3, 28, 0, 30, tzinfo=UTC),
            "Europe/Rome",
            {"it": "01:30", "en": "1:30\u202fAM", "zh_Hans": "01:30"},
        ),
        (
            datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
            "Europe/Rome",
            {"it": "03:30", "en": "3:30\u202fAM", "zh_Hans": "03:30"},
        ),
        # Last Sunday of October 2026: back to UTC+1 at 01:00 UTC.
        (
            datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
            "Europe/Rome",
            {"it": "02:30", "en": "2:30\u202fAM", "zh_Hans": "02:30"},
        ),
        (
            datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
            "Europe/Rome",
            {"it": "02:30", "en": "2:30\u202fAM", "zh_Hans": "02:30"},
        ),
        # China keeps UTC+8 all year.
        (
            datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
            "Asia/Shanghai",
            {"it": "09:30", "en": "9:30\u202fAM", "zh_Hans": "09:30"},
        ),
    ],
)
def test_times_are_shown_in_the_readers_zone_and_locale(
    moment: datetime, zone: str, expected: dict[str, str]
) -> None:
    for locale, clock in expected.items():
        assert clock in when(moment, translator(locale), zone), (
            locale,
            when(moment, translator(locale), zone),
        )


def test_dates_use_each_languages_conventions() -> None:
    moment = datetime(2026, 11, 22, 8, 55, tzinfo=UTC)
    assert when(moment, translator("it"), "Europe/Rome") == "22 nov 2026, 09:55"
    assert when(moment, translator("en"), "Europe/Rome") == "Nov 22, 2026, 9:55\u202fAM"
    assert when(moment, translator("zh_Hans"), "Asia/Shanghai") == "2026年11月22日 16:55"

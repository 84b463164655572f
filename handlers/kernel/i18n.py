"""Languages: choosing a user's locale and translating through Babel gettext catalogues.

Catalogues are the ``.po`` files in ``locales/``; they are compiled in memory on first use,
so there is no separate build step.
"""

from __future__ import annotations

import gettext as _gettext
import io
import re
from collections.abc import Sequence
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path

from babel import Locale
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

SUPPORTED_LOCALES: tuple[str, ...] = ("it", "en", "zh_Hans")
DEFAULT_LOCALE = "en"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it yet."""
    return message


def locales_dir() -> Path:
    """The folder holding the catalogues."""
    return Path(str(resources.files("locales")))


def catalogue_path(locale: str) -> Path:
    """Where the ``.po`` file of ``locale`` lives."""
    return locales_dir() / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


_SEPARATORS = re.compile(r"[-_]")


def negotiate_locale(hint: str | None) -> str:
    """Map a Telegram-style language code (``it-IT``, ``zh-hans``, ``en``…) to a locale.

    Any Chinese variant maps to Simplified Chinese, the only Chinese Ponte speaks; anything
    unknown or missing maps to English.
    """
    if not hint:
        return DEFAULT_LOCALE
    primary = _SEPARATORS.split(hint.strip().lower(), maxsplit=1)[0]
    if primary == "it":
        return "it"
    if primary == "zh":
        return "zh_Hans"
    return DEFAULT_LOCALE


def normalise_locale(code: str | None) -> str:
    """Return ``code`` when Ponte supports it, else the closest supported locale."""
    if code in SUPPORTED_LOCALES:
        return code
    return negotiate_locale(code)


class Translator:
    """Translations and number formatting for one locale."""

    def __init__(self, code: str, translations: _gettext.NullTranslations) -> None:
        self.code = code
        self.locale = Locale.parse(code)
        self._translations = translations

    def gettext(self, message: str) -> str:
        """Translate ``message``."""
        return self._translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """Translate and choose the plural form for ``n`` by the locale's plural rules."""
        return self._translations.ngettext(singular, plural, n)

    def number(self, value: int | float) -> str:
        """Format a number in this locale."""
        return format_decimal(value, locale=self.locale)

    def list(self, items: Sequence[str]) -> str:
        """Items as a list in a sentence, by the locale's pattern: ``A, B e C``, ``A、B和C``.

        When an item holds the list's own separator or conjunction ("Smart production,
        Industry 4.0 and robotics"), the pattern would blur where items end, so they are
        separated by semicolons instead (``；`` in Chinese).
        """
        if len(items) > 1 and any(_would_blur(item, self.locale) for item in items):
            return _SEMICOLON.get(self.locale.language, "; ").join(items)
        return format_list(list(items), locale=self.locale)

    def language_name(self, language: str) -> str:
        """The name of ``language`` (a locale code) in this locale, e.g. ``inglese``."""
        return _language_name(language, self.code)

    def __repr__(self) -> str:
        return f"Translator({self.code!r})"


_SEMICOLON = {"zh": "；"}
_OTHER_CONJUNCTIONS = {"zh": {"与", "及"}}


def _would_blur(item: str, locale: Locale) -> bool:
    """Whether ``item`` contains a separator of ``locale``'s list patterns (", ", "、", " e ")."""
    return any(part and part in item for part in _list_separators(str(locale)))


@cache
def _list_separators(locale: str) -> frozenset[str]:
    patterns = Locale.parse(locale).list_patterns["standard"]
    parts = set()
    for key in ("start", "middle", "end", "2"):
        parts.add(patterns[key].replace("{0}", "").replace("{1}", ""))
    # An item holding a comma of any script blurs a list too, whatever the locale's pattern;
    # so does, in Chinese, the other word for "and" (能源和新材料与纳米技术).
    commas = {",", "，", "、"}
    parts = {part.strip() if part.strip() in commas else part for part in parts}
    return frozenset(parts | commas | _OTHER_CONJUNCTIONS.get(locale.split("_")[0], set()))


@lru_cache(maxsize=1024)
def _language_name(language: str, reader: str) -> str:
    # Parsing two locales costs more than a whole database transaction; the answers never change.
    return Locale.parse(language).get_display_name(Locale.parse(reader)) or language


def _load(locale: str) -> _gettext.NullTranslations:
    path = catalogue_path(locale)
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


@cache
def translator(locale: str) -> Translator:
    """The (cached) translator for ``locale``; unsupported codes fall back as documented."""
    code = normalise_locale(locale)
    translations = _load(code)
    if code != DEFAULT_LOCALE:
        translations.add_fallback(_load(DEFAULT_LOCALE))
    return Translator(code, translations)


def place(t: Translator, wider: str, narrower: str) -> str:
    """A place and a part of it, as the reader writes them: ``Italia, Napoli``, ``中国，北京``."""
    return t.gettext("{place}, {part}").format(place=wider, part=narrower)


def event_name(names: dict[str, object], locale: str) -> str:
    """An event's name in ``locale``, falling back to English."""
    return str(names.get(locale) or names.get("en") or next(iter(names.values()), ""))

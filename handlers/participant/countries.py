"""Countries by name in any of Ponte's languages (from Babel's CLDR data) and their zones."""

from __future__ import annotations

import unicodedata
from difflib import get_close_matches
from functools import cache
from zoneinfo import available_timezones

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import get_timezone_location

from handlers.kernel.i18n import N_, SUPPORTED_LOCALES, Translator
from handlers.kernel.validation import Checked, Problem, Valid, clean_text

# CLDR lists a country's zones alphabetically, which for a few large countries puts a remote
# zone first (America/Adak for the US). For those, start from the most populous zone; the
# user can change it in /profile.
_MAIN_ZONE = {
    "US": "America/New_York",
    "CA": "America/Toronto",
    "RU": "Europe/Moscow",
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "MX": "America/Mexico_City",
    "ID": "Asia/Jakarta",
    "KZ": "Asia/Almaty",
    "AR": "America/Argentina/Buenos_Aires",
    "CL": "America/Santiago",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "DE": "Europe/Berlin",
    "CN": "Asia/Shanghai",
}


# Two-letter CLDR territories nobody is based in: unknown, groupings and pseudo-locales.
_NOT_PLACES = frozenset({"ZZ", "EU", "EZ", "UN", "XA", "XB"})

# CLDR names each territory once per language, formally ("Hong Kong SAR China", "中国香港特别行政区",
# "Stati Uniti"). People also write the short forms and older names below; CLDR's own names
# in Ponte's languages, in Traditional Chinese and in each country's official languages
# ("Deutschland", "日本", "Svizzera") are added from Babel's data.
_ALIASES: dict[str, tuple[str, ...]] = {
    "CN": (
        "PRC",
        "P.R. China",
        "People's Republic of China",
        "Mainland China",
        "Cina popolare",
        "Repubblica Popolare Cinese",
        "中华人民共和国",
        "中國",
        "中国大陆",
        "大陆",
        "内地",
    ),
    "HK": (
        "Hong Kong",
        "Hongkong",
        "HK",
        "HKSAR",
        "香港",
        "香港特别行政区",
        "香港特區",
        "中国香港",
    ),
    "MO": ("Macau", "Macao", "澳门", "澳門", "中国澳门"),
    "TW": ("台灣", "Taiwan, China", "中国台湾", "Chinese Taipei"),
    "US": (
        "USA",
        "U.S.A.",
        "US",
        "U.S.",
        "United States of America",
        "America",
        "Stati Uniti d'America",
        "USA (Stati Uniti)",
        "美利坚合众国",
        "美國",
    ),
    "GB": (
        "UK",
        "U.K.",
        "Great Britain",
        "Britain",
        "England",
        "Scotland",
        "Wales",
        "Northern Ireland",
        "Gran Bretagna",
        "Inghilterra",
        "Scozia",
        "Galles",
        "Irlanda del Nord",
        "英格兰",
        "苏格兰",
        "威尔士",
        "大不列颠",
        "英國",
    ),
    "KR": (
        "Korea",
        "Republic of Korea",
        "Corea",
        "Corea del Sud",
        "South Korea",
        "南韩",
        "韩国",
        "大韩民国",
    ),
    "KP": ("North Korea", "Corea del Nord", "朝鲜"),
    "NL": ("Holland", "Olanda", "The Netherlands", "荷兰"),
    "CZ": ("Czech Republic", "Repubblica Ceca", "捷克共和国"),
    "TR": ("Turkey", "Türkiye", "Turchia", "土耳其"),
    "AE": ("UAE", "U.A.E.", "Emirati", "Emirati Arabi", "阿联酋"),
    "VA": (
        "Vatican",
        "Vatican City",
        "Vaticano",
        "Città del Vaticano",
        "Santa Sede",
        "Holy See",
        "梵蒂冈",
    ),
    "RU": ("Russian Federation", "Federazione Russa", "俄罗斯联邦"),
    "DE": ("Germania", "德国"),
    "IT": ("Italia", "Repubblica Italiana", "Italian Republic", "意大利共和国", "義大利"),
}


def fold(text: str) -> str:
    """A name as compared: case, accents, spaces and punctuation do not matter.

    ``U.S.A.``, ``usa`` and ``U S A`` are the same; so are ``Hong Kong`` and ``HongKong``.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = folded.replace("’", "'")
    for article in ("the ", "la ", "il ", "lo ", "l'", "le ", "gli ", "i "):
        if folded.startswith(article):
            folded = folded[len(article) :]
            break
    # Accents are optional too ("Mexico", "Cote d'Ivoire"): compare without combining marks.
    folded = unicodedata.normalize("NFKD", folded)
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


def _is_place(territory: str) -> bool:
    return len(territory) == 2 and territory.isalpha() and territory not in _NOT_PLACES


@cache
def _names() -> dict[str, str]:
    """Folded country name (or ISO code) → ISO 3166 alpha-2 code."""
    index: dict[str, str] = {}
    for code in (*SUPPORTED_LOCALES, "zh_Hant"):
        for territory, name in Locale.parse(code).territories.items():
            if _is_place(territory):
                index.setdefault(fold(name), territory)
                index.setdefault(territory.casefold(), territory)
    for territory, aliases in _ALIASES.items():
        for alias in aliases:
            index.setdefault(fold(alias), territory)
    for territory, name in _local_names():
        index.setdefault(fold(name), territory)
    index.pop("", None)
    return index


def _local_names() -> list[tuple[str, str]]:
    """Each country's name in its official languages, from CLDR: ``Deutschland``, ``日本``."""
    found = []
    for territory, languages in get_global("territory_languages").items():
        if not _is_place(territory):
            continue
        for language, info in languages.items():
            if info.get("official_status") not in ("official", "de_facto_official"):
                continue
            try:
                names = Locale.parse(language).territories
            except (UnknownLocaleError, ValueError):
                continue  # a language CLDR has no locale data for
            if territory in names:
                found.append((territory, names[territory]))
    return found


def check_country(raw: str, t: Translator | None = None) -> Checked:
    """Find the country the user typed (``Italia``, ``China``, ``法国``, ``USA``, ``香港``…).

    When nothing matches, the closest known name (in the reader's language) is suggested.
    """
    text = clean_text(raw)
    code = _names().get(fold(text))
    if code is not None:
        return Valid(code)
    close = get_close_matches(fold(text), list(_names()), n=1, cutoff=0.8) if len(text) > 3 else []
    if close and t is not None:
        return Problem(
            N_("I don't know the country “{text}”. Did you mean {suggestion}?"),
            {"text": text[:60], "suggestion": country_name(_names()[close[0]], t)},
        )
    return Problem(
        N_(
            "I don't know the country “{text}”. Please type its name, "
            "for example France, Francia or 法国, or its two-letter code."
        ),
        {"text": text[:60]},
    )


def is_country_code(code: str) -> bool:
    """Whether ``code`` is a country Ponte knows (a button's payload is untrusted)."""
    return code in _codes()


@cache
def _codes() -> frozenset[str]:
    return frozenset(_names().values())


def country_name(code: str | None, t: Translator) -> str:
    """The country's name in the reader's language."""
    if not code:
        return ""
    return str(t.locale.territories.get(code, code))


def guess_time_zone(country: str | None) -> str | None:
    """A reasonable first time zone for someone in ``country``."""
    if not country:
        return None
    if country in _MAIN_ZONE:
        return _MAIN_ZONE[country]
    zones: list[str] = get_global("territory_zones").get(country, [])
    return zones[0] if zones else None


# China's zone is named after Shanghai; people will type the capital.
_BEIJING = {"beijing": "Asia/Shanghai", "pechino": "Asia/Shanghai", "北京": "Asia/Shanghai"}


@cache
def _zones_by_folded_name() -> dict[str, str]:
    """IANA names, and their cities' names in every supported locale, → IANA name."""
    index: dict[str, str] = {}
    available = available_timezones()
    # CLDR's canonical zones (no aliases such as Asia/Chongqing), as the system knows them.
    canonical = sorted(set(get_global("zone_territories")) & available)
    for locale in SUPPORTED_LOCALES:
        for name in canonical:
            city = get_timezone_location(name, locale=locale, return_city=True)
            index.setdefault(city.casefold(), name)
    index.update({name.casefold(): name for name in available})
    return index


def check_time_zone(raw: str) -> Checked:
    """Find a time zone by IANA name (``Europe/Rome``), city (``Roma``, ``上海``) or country."""
    text = clean_text(raw)
    folded = text.casefold()
    zones = _zones_by_folded_name()
    name = zones.get(folded) or zones.get(folded.replace(" ", "_")) or _BEIJING.get(folded)
    if name is None:
        # A country name works too: "Italia" means Italy's zone.
        country = _names().get(fold(text))
        name = guess_time_zone(country) if country else None
    if name is None:
        return Problem(
            N_(
                "I don't know that time zone. Please type a city such as Rome or Shanghai, "
                "or a zone name such as Europe/Rome."
            )
        )
    return Valid(name)

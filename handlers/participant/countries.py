"""Countries by name in any of Ponte's languages (from Babel's CLDR data) and their zones."""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from babel import Locale
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


@cache
def _names() -> dict[str, str]:
    """Folded country name (or ISO code) → ISO 3166 alpha-2 code, in every supported locale."""
    index: dict[str, str] = {}
    for code in SUPPORTED_LOCALES:
        for territory, name in Locale.parse(code).territories.items():
            if len(territory) == 2 and territory.isalpha() and territory not in _NOT_PLACES:
                index.setdefault(name.casefold(), territory)
                index.setdefault(territory.casefold(), territory)
    return index


def check_country(raw: str) -> Checked:
    """Find the country the user typed (``Italia``, ``China``, ``法国``, ``fr``…)."""
    text = clean_text(raw)
    code = _names().get(text.casefold())
    if code is None:
        return Problem(
            N_(
                "I don't know the country “{text}”. Please type its name, "
                "for example France, Francia or 法国, or its two-letter code."
            ),
            {"text": text[:60]},
        )
    return Valid(code)


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
        country = _names().get(folded)
        name = guess_time_zone(country) if country else None
    if name is None:
        return Problem(
            N_(
                "I don't know that time zone. Please type a city such as Rome or Shanghai, "
                "or a zone name such as Europe/Rome."
            )
        )
    return Valid(name)

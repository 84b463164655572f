"""Formatting instants for a reader: their locale, their time zone, via ``babel.dates``."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.core import get_global
from babel.dates import (
    format_date,
    format_interval,
    format_skeleton,
    format_time,
    format_timedelta,
    get_timezone_location,
)

from handlers.kernel.i18n import Translator

FALLBACK_TIME_ZONE = "UTC"


def zone(name: str | None) -> ZoneInfo:
    """The ``ZoneInfo`` for ``name``; UTC when missing or unknown."""
    try:
        return ZoneInfo(name or FALLBACK_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(FALLBACK_TIME_ZONE)


def when(moment: datetime, t: Translator, time_zone: str | None) -> str:
    """Date and time (to the minute) of ``moment`` as the reader would write it, in their zone.

    ``22 nov 2026, 09:55`` in Italian, ``Nov 22, 2026, 9:55 AM`` in English,
    ``2026年11月22日 16:55`` in Chinese.
    """
    tzinfo = zone(time_zone)
    date = format_date(moment.astimezone(tzinfo), "medium", locale=t.locale)
    time = format_time(moment, "short", tzinfo=tzinfo, locale=t.locale)
    pattern = str(t.locale.datetime_formats["medium"])
    return pattern.replace("{1}", date).replace("{0}", time)


def clock(moment: datetime, t: Translator, time_zone: str | None) -> str:
    """Only the time of day of ``moment`` in the reader's zone and locale."""
    return format_time(moment, "short", tzinfo=zone(time_zone), locale=t.locale)


# China keeps one clock, which its people, press and timetables call Beijing time, whatever
# the zone's IANA name (Asia/Shanghai, and its old aliases).
_BEIJING_TIME_ZONES = frozenset({"Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "PRC"})
# The clock nearly everyone in a country with a second zone keeps (not Büsingen, the Canaries
# or Madeira): named after the country, as a zone of a country with one zone is.
_COUNTRY_CLOCKS = frozenset({"Europe/Berlin", "Europe/Madrid", "Europe/Lisbon"})
_BRACKETS = frozenset("()（）")
_UTC_ZONES = frozenset({"UTC", "Etc/UTC", "Etc/GMT", "GMT", "Etc/Universal", "Zulu"})


def zone_label(time_zone: str, t: Translator) -> str:
    """A time zone as the reader knows it: ``Ora Italia``, ``北京时间``, ``New York Time``.

    Never with brackets of its own, so it can stand in brackets in a sentence: CLDR writes
    a zone of a country with several as ``United States (New York) Time``; here it is named
    after its city in the locale's region format instead.
    """
    name = zone(time_zone).key
    if name in _BEIJING_TIME_ZONES:
        return t.gettext("Beijing time")
    if name in _UTC_ZONES:
        return "UTC"
    name = get_global("zone_aliases").get(name, name)
    territory = str(get_global("zone_territories").get(name, "ZZ"))
    zones = get_global("territory_zones").get(territory, ())
    country = str(t.locale.territories.get(territory, ""))
    region = str(t.locale.zone_formats["region"])
    # A few country names carry brackets of their own ("Myanmar (Burma)", "刚果（布）"): those
    # zones are named after their city too.
    if (len(zones) == 1 or name in _COUNTRY_CLOCKS) and country and not _BRACKETS & set(country):
        return region % country
    return region % get_timezone_location(name, locale=t.locale, return_city=True)


def day(moment: datetime, t: Translator, time_zone: str | None) -> str:
    """The day of ``moment`` in the reader's zone: ``lun 14 dic 2026``, ``Mon, Dec 14, 2026``."""
    local = moment.astimezone(zone(time_zone))
    return format_skeleton("yMMMEd", local, locale=t.locale)


def time_range(start: datetime, end: datetime, t: Translator, time_zone: str | None) -> str:
    """``09:00–09:20`` in the reader's zone and locale."""
    return format_interval(
        start, end, "Hm" if _uses_24h(t) else "hm", tzinfo=zone(time_zone), locale=t.locale
    )


def _uses_24h(t: Translator) -> bool:
    return "H" in str(t.locale.time_formats["short"])


def date_range(first: date, last: date, t: Translator) -> str:
    """An event's dates: ``15–16 dic 2026``, ``Dec 15 – 16, 2026``, ``2026年12月15日至16日``."""
    if first == last:
        return format_date(first, "medium", locale=t.locale)
    return format_interval(first, last, "yMMMd", locale=t.locale)


def time_until(later: datetime, now: datetime, t: Translator) -> str:
    """How long until ``later``, said the reader's way: ``in 15 minutes``, ``tra 1 giorno``,
    ``15分钟后`` (never less than a minute)."""
    left = max(later - now, timedelta(minutes=1))
    return format_timedelta(left, add_direction=True, locale=t.locale)

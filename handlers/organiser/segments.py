"""Who a broadcast goes to: ``KEY=VALUE`` conditions, all of which must hold.

The same conditions are typed after ``/broadcast`` in the chat, built with its buttons, and
given to ``ponte broadcast --segment``: ``event=CODE``, ``country=IT``, ``type=startup``,
``area=energy``, ``lang=zh`` and ``unconfirmed=yes`` (an upcoming meeting not confirmed),
or ``all`` for everyone. They are stored as a small dictionary (the broadcast's
``segment``) and checked again against the database whenever they are used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.i18n import N_, SUPPORTED_LOCALES, Translator, event_name, negotiate_locale
from handlers.kernel.markup import escape, fmt
from handlers.participant.countries import country_name, is_country_code
from handlers.participant.form import ORG_TYPES
from storage.broadcast_segments import Segment
from storage.event_models import Event
from storage.models import InterestArea

KEYS = ("event", "country", "type", "area", "lang", "unconfirmed")
EVERYONE = ("all", "everyone")
YES = ("yes", "true", "1", "y", "sì", "si", "是")

Spec = dict[str, str]
"""A segment as stored: condition → value (``{}``: everyone)."""


@dataclass(frozen=True, slots=True)
class SegmentError:
    """Why a segment cannot be used: a translatable message and its (escaped) values."""

    message: str
    values: tuple[tuple[str, str], ...] = ()

    def text(self, t: Translator) -> str:
        """The problem in the reader's language, as markup."""
        return fmt(t.gettext(self.message), **dict(self.values))


BAD_PAIR = N_(
    "“{value}” is not a condition. Write KEY=VALUE with KEY one of event, country, type, "
    "area, lang, unconfirmed (or all for everyone)."
)


def parse_pairs(words: Iterable[str]) -> Spec | SegmentError:
    """``["event=X", "area=energy"]`` → ``{"event": "X", "area": "energy"}``, normalised."""
    spec: Spec = {}
    for word in words:
        if word.strip().lower() in EVERYONE:
            continue
        key, equals, value = word.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not equals or key not in KEYS or not value:
            return SegmentError(BAD_PAIR, (("value", word[:60]),))
        spec[key] = normalise(key, value)
    return spec


def normalise(key: str, value: str) -> str:
    """A condition's value as stored (country codes upper case, locales Ponte's)."""
    if key == "country":
        return value.upper()
    if key == "lang":
        return negotiate_locale(value) if value not in SUPPORTED_LOCALES else value
    if key == "unconfirmed":
        return "yes" if value.lower() in YES else value.lower()
    if key in ("type", "area"):
        return value.lower()
    return value


async def resolve(session: AsyncSession, spec: Spec) -> Segment | SegmentError:
    """The storage segment for ``spec``, every value checked against what exists now."""
    event_id = None
    if "event" in spec:
        event_id = await session.scalar(select(Event.id).where(Event.code == spec["event"]))
        if event_id is None:
            return SegmentError(
                N_("There is no event with the code “{value}”."), (("value", spec["event"]),)
            )
    country = spec.get("country")
    if country is not None and not is_country_code(country):
        return SegmentError(
            N_("“{value}” is not a country code, such as IT or CN."), (("value", country),)
        )
    org_type = spec.get("type")
    if org_type is not None and org_type not in ORG_TYPES:
        return SegmentError(
            N_("“{value}” is not a type of organisation; use one of: {types}."),
            (("value", org_type), ("types", ", ".join(ORG_TYPES))),
        )
    area = spec.get("area")
    if (
        area is not None
        and await session.scalar(select(InterestArea.id).where(InterestArea.code == area)) is None
    ):
        return SegmentError(N_("There is no interest area “{value}”."), (("value", area),))
    locale = spec.get("lang")
    if locale is not None and locale not in SUPPORTED_LOCALES:
        return SegmentError(
            N_("“{value}” is not a language: use it, en or zh."), (("value", locale),)
        )
    unconfirmed = spec.get("unconfirmed")
    if unconfirmed not in (None, "yes"):
        return SegmentError(N_("Write unconfirmed=yes, or leave it out."))
    return Segment(
        event_id=event_id, country=country, org_type=org_type, area_code=area,
        locale=locale, unconfirmed=unconfirmed == "yes",
    )  # fmt: skip


async def describe(session: AsyncSession, spec: Spec, t: Translator) -> str:
    """The segment in the reader's words, as markup: ``Everyone`` or ``Event: …; Area: …``."""
    if not spec:
        return escape(t.gettext("Everyone"))
    parts: list[str] = []
    for key in KEYS:
        if key not in spec:
            continue
        value = spec[key]
        if key == "event":
            names = await session.scalar(select(Event.names).where(Event.code == value))
            shown = event_name(dict(names or {}), t.code) or value
            parts.append(fmt(t.gettext("event: {value}"), value=shown))
        elif key == "country":
            parts.append(fmt(t.gettext("country: {value}"), value=country_name(value, t)))
        elif key == "type":
            label = ORG_TYPES.get(value)
            parts.append(
                fmt(t.gettext("type: {value}"), value=t.gettext(label) if label else value)
            )
        elif key == "area":
            names = await session.scalar(
                select(InterestArea.names).where(InterestArea.code == value)
            )
            shown = str((names or {}).get(t.code) or (names or {}).get("en") or value)
            parts.append(fmt(t.gettext("interest area: {value}"), value=shown))
        elif key == "lang":
            parts.append(fmt(t.gettext("language: {value}"), value=t.language_name(value)))
        else:
            parts.append(escape(t.gettext("not yet confirmed an upcoming meeting")))
    return t.gettext("; ").join(parts)

"""The first screen of ``/broadcast``: who receives the announcement.

The organiser adds conditions by buttons (a category, then one of the values someone has)
and sees the recipient count change; :mod:`handlers.organiser.segments` reads and checks
the conditions.
"""

from __future__ import annotations

from sqlalchemy import distinct, select

from handlers.kernel.context import Turn
from handlers.kernel.i18n import N_, SUPPORTED_LOCALES
from handlers.kernel.markup import bold, escape, fmt
from handlers.kernel.replies import Button
from handlers.organiser import segments
from handlers.organiser.broadcast_control import PREFIX
from handlers.participant.countries import country_name
from handlers.participant.form import ORG_TYPES
from storage.broadcasts import BroadcastRepository
from storage.event_models import Event
from storage.models import Participant

MAX_CHOICES = 24
CATEGORIES = (
    ("event", N_("Event")), ("country", N_("Country")), ("type", N_("Type")),
    ("area", N_("Interest area")), ("lang", N_("Language")), ("unconfirmed", N_("Not confirmed")),
)  # fmt: skip


async def show_segment(turn: Turn, spec: segments.Spec, *, edit: bool = False) -> None:
    """Who receives it so far, how many they are, and the buttons to change it."""
    t = turn.t
    segment = await segments.resolve(turn.session, spec)
    count = 0
    if not isinstance(segment, segments.SegmentError):
        count = await BroadcastRepository(turn.session).count(segment, turn.now)
    lines = [
        bold(escape(t.gettext("New announcement: who receives it?"))),
        t.gettext("Recipients: {who}").format(who=await segments.describe(turn.session, spec, t)),
        fmt(t.ngettext("{n} participant", "{n} participants", count), n=t.number(count)),
        t.gettext("Add a condition, or go on to write the text."),
    ]
    rows: list[tuple[Button, ...]] = []
    picks = [Button(t.gettext(label), f"{PREFIX}|pick|{key}") for key, label in CATEGORIES]
    rows += [tuple(picks[i : i + 3]) for i in range(0, len(picks), 3)]
    rows.append(
        (
            Button(t.gettext("Everyone (clear)"), f"{PREFIX}|clear"),
            Button(t.gettext("Write the text"), f"{PREFIX}|write|"),
        )
    )
    turn.say("\n".join(lines), tuple(rows), edit=edit)


async def show_choices(turn: Turn, key: str) -> None:
    """The values the category ``key`` may take, as buttons."""
    t = turn.t
    options = await choices(turn, key)
    buttons = [Button(label[:40], f"{PREFIX}|set|{key}|{value}") for value, label in options]
    rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
    rows.append((Button(t.gettext("Back"), f"{PREFIX}|back"),))
    heading = (
        t.gettext("Choose one:") if options else t.gettext("There is nothing to choose here yet.")
    )
    turn.say(escape(heading), tuple(rows), edit=True)


async def choices(turn: Turn, key: str) -> list[tuple[str, str]]:
    """(payload value, label) of what ``key`` may be: only values someone has."""
    t = turn.t
    session = turn.session
    if key == "event":
        events = await session.scalars(
            select(Event).order_by(Event.starts_on.desc()).limit(MAX_CHOICES)
        )
        return [(str(e.id), e.names.get(t.code) or e.names.get("en") or e.code) for e in events]
    if key == "country":
        codes = await session.scalars(
            select(distinct(Participant.country)).where(
                Participant.registered_at.is_not(None), Participant.country.is_not(None)
            )
        )
        named = [(str(code), country_name(code, t)) for code in codes.all() if code]
        return sorted(named, key=lambda pair: pair[1])[:MAX_CHOICES]
    if key == "type":
        return [(code, t.gettext(label)) for code, label in ORG_TYPES.items()]
    if key == "area":
        return [
            (a.code, str(a.names.get(t.code) or a.names.get("en") or a.code)) for a in turn.areas
        ][:MAX_CHOICES]
    if key == "lang":
        return [(code, t.language_name(code)) for code in SUPPORTED_LOCALES]
    return [("yes", t.gettext("Not yet confirmed an upcoming meeting"))]

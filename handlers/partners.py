"""``/partners``: suggested partners at an event, ranked, paged, without contact details."""

from __future__ import annotations

import re
import unicodedata

from handlers.context import Turn
from handlers.countries import country_name
from handlers.fields import SPOKEN_LANGUAGES
from handlers.form import ORG_TYPES
from handlers.i18n import N_
from handlers.ics import event_name
from handlers.markup import bold, escape, fmt
from handlers.replies import Button
from storage.event_models import Event
from storage.matchmaking import Candidate, MatchmakingRepository
from storage.models import Participant

PAGE_SIZE = 5
SHORTLIST = 200  # candidates ranked finely after the database's coarse ordering
PARTNERS = "pt"
NEW_REQUEST = "rqn"
_WORD = re.compile(r"\w+", re.UNICODE)


def keywords(text: str | None) -> set[str]:
    """Words of 3+ letters, case-folded; for Chinese and Japanese, character pairs."""
    found: set[str] = set()
    for word in _WORD.findall((text or "").casefold()):
        if any(unicodedata.east_asian_width(ch) == "W" for ch in word):
            found.update(word[i : i + 2] for i in range(len(word) - 1))
        elif len(word) >= 3:
            found.add(word)
    return found


def fit(me: Participant, other: Participant) -> int:
    """How well each side's offer meets the other's seek: shared keywords, both ways."""
    return len(keywords(me.seek) & keywords(other.offer)) + len(
        keywords(me.offer) & keywords(other.seek)
    )


def rank(me: Participant, candidates: list[Candidate]) -> list[Candidate]:
    """Other country first, then shared interest areas and offer/seek fit."""
    return sorted(
        candidates,
        key=lambda c: (
            -c.other_country,
            -(2 * c.shared_areas + fit(me, c.participant)),
            c.participant.id,
        ),
    )


async def area_names(turn: Turn, other: Participant) -> list[str]:
    """Names of a participant's interest areas in the reader's language."""
    names = {area.code: area.names for area in turn.areas}
    locale = turn.participant.locale
    return [
        str(names[code].get(locale) or names[code].get("en") or code)
        for code in await turn.people.interest_codes(other)
        if code in names
    ]


async def partner_card(turn: Turn, other: Participant) -> str:
    """What anyone at the event may see of ``other``: never e-mail, phone or website."""
    t = turn.t
    org_type = t.gettext(ORG_TYPES.get(other.org_type or "", N_("Other")))
    country = country_name(other.country, t)
    spoken = [
        t.language_name(code) for code in SPOKEN_LANGUAGES if code in (other.languages_spoken or [])
    ]
    lines = [
        bold(escape(other.name or "")) + " · " + escape(other.organisation or ""),
        escape(f"{org_type} · {country}" + (f", {other.city}" if other.city else "")),
        fmt(t.gettext("Interests: {areas}"), areas=", ".join(await area_names(turn, other))),
        fmt(t.gettext("Offers: {text}"), text=_short(other.offer)),
        fmt(t.gettext("Seeks: {text}"), text=_short(other.seek)),
        fmt(t.gettext("Languages: {languages}"), languages=", ".join(spoken)),
    ]
    if other.interpreter_needed:
        lines.append(escape(t.gettext("Would like an interpreter")))
    return "\n".join(lines)


def _short(text: str | None, limit: int = 160) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def show_partners(
    turn: Turn, event_id: int | None = None, page: int = 0, *, edit: bool = False
) -> None:
    """A page of suggestions; with several events, first a choice of event."""
    t = turn.t
    if not turn.registered:
        turn.say(t.gettext("Please finish registration first: send /start."))
        return
    repo = MatchmakingRepository(turn.session)
    events = await repo.events_of(turn.participant)
    event = next((e for e in events if e.id == event_id), None) if event_id else None
    if event is None:
        if not events:
            turn.say(
                t.gettext("Join an event first: open the link or QR code the organisers shared.")
            )
            return
        if len(events) > 1:
            buttons = tuple(
                (Button(event_name(e.names, t.code)[:60], f"{PARTNERS}|{e.id}|0"),) for e in events
            )
            turn.say(bold(t.gettext("Which event?")), buttons)
            return
        event = events[0]
    await _page(turn, repo, event, max(page, 0), edit=edit)


async def _page(
    turn: Turn, repo: MatchmakingRepository, event: Event, page: int, *, edit: bool
) -> None:
    t = turn.t
    me = turn.participant
    ranked = rank(me, await repo.candidates(event, me, await repo.area_ids_of(me.id), SHORTLIST))
    if not ranked:
        turn.say(t.gettext("No other participants at this event yet. Please look again later."))
        return
    pages = (len(ranked) + PAGE_SIZE - 1) // PAGE_SIZE
    page = min(page, pages - 1)
    shown = ranked[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    header = (
        bold(escape(event_name(event.names, t.code)))
        + "\n"
        + fmt(t.gettext("Suggested partners, page {page} of {pages}"), page=page + 1, pages=pages)
    )
    cards = [await partner_card(turn, c.participant) for c in shown]
    meet = t.gettext("🤝 Meet {name}")
    rows: list[tuple[Button, ...]] = [
        (
            Button(
                meet.format(name=c.participant.name or "")[:60],
                f"{NEW_REQUEST}|{c.participant.id}|{event.id}",
            ),
        )
        for c in shown
    ]
    nav = []
    if page > 0:
        nav.append(Button(t.gettext("‹ Previous"), f"{PARTNERS}|{event.id}|{page - 1}"))
    if page + 1 < pages:
        nav.append(Button(t.gettext("Next ›"), f"{PARTNERS}|{event.id}|{page + 1}"))
    if nav:
        rows.append(tuple(nav))
    turn.say(header + "\n\n" + "\n\n".join(cards), tuple(rows), edit=edit)


async def on_partners_button(turn: Turn, value: str) -> None:
    """``pt|<event id>|<page>``: another page, or the chosen event."""
    event_id, _, page = value.partition("|")
    if not (event_id.isdigit() and page.isdigit()):
        turn.notice(turn.t.gettext("That button is from an earlier message and no longer works."))
        return
    await show_partners(turn, int(event_id), int(page), edit=True)

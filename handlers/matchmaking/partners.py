"""``/partners``: suggested partners at an event, ranked, paged, without contact details."""

from __future__ import annotations

from handlers.kernel.context import Turn
from handlers.kernel.flow_router import STALE_BUTTON, FlowRouter
from handlers.kernel.i18n import N_, Translator, event_name, place
from handlers.kernel.markup import bold, escape, fmt
from handlers.kernel.replies import Button
from handlers.kernel.validation import parse_id
from handlers.matchmaking.directory import Directory, Entry, EventIndex, keywords
from handlers.matchmaking.meetings import MEETING
from handlers.matchmaking.partner_filter import (
    FILTER,
    PARTNERS,
    SEARCH_FLOW,
    current_filter,
    describe,
    no_match,
    on_filter_button,
    search_route,
)
from handlers.participant.countries import country_name
from handlers.participant.fields import SPOKEN_LANGUAGES
from handlers.participant.form import ORG_TYPES
from storage.event_models import Event, Meeting, MeetingRequest
from storage.matchmaking import EventRepository, RequestRepository
from storage.meetings import MeetingRepository
from storage.models import Participant

PAGE_SIZE = 5
SHORTLIST = 200  # how many ranked partners can be paged through
NEW_REQUEST = "rqn"
WAITING = "rqs"
"""``/requests``' list and its buttons (:mod:`handlers.matchmaking.waiting`)."""


async def area_names(
    turn: Turn, other: Participant, area_ids: frozenset[int] | None, t: Translator
) -> list[str]:
    """Names of a participant's interest areas in ``t``'s language (taxonomy order)."""
    locale = t.code
    if area_ids is None:
        codes = set(await turn.people.interest_codes(other))
        chosen = [area for area in turn.areas if area.code in codes]
    else:
        chosen = [area for area in turn.areas if area.id in area_ids]
    return [str(area.names.get(locale) or area.names.get("en") or area.code) for area in chosen]


async def partner_card(
    turn: Turn,
    other: Participant,
    area_ids: frozenset[int] | None = None,
    *,
    reader: Translator | None = None,
) -> str:
    """What anyone at the event may see of ``other``: never e-mail, phone or website.

    Written in the language of ``reader`` (by default, the turn's participant's).
    """
    t = reader or turn.t
    org_type = t.gettext(ORG_TYPES.get(other.org_type or "", N_("Other")))
    country = country_name(other.country, t)
    spoken = [
        t.language_name(code) for code in SPOKEN_LANGUAGES if code in (other.languages_spoken or [])
    ]
    lines = [
        bold(escape(other.name or "")) + " · " + escape(other.organisation or ""),
        escape(f"{org_type} · " + (place(t, country, other.city) if other.city else country)),
        fmt(
            t.gettext("Interests: {areas}"),
            areas=t.list(await area_names(turn, other, area_ids, t)),
        ),
        fmt(t.gettext("Offers: {text}"), text=_short(other.offer)),
        fmt(t.gettext("Seeks: {text}"), text=_short(other.seek)),
        fmt(t.gettext("Languages: {languages}"), languages=t.list(spoken)),
    ]
    if other.interpreter_needed:
        lines.append(escape(t.gettext("Would like an interpreter")))
    return "\n".join(lines)


def _short(text: str | None, limit: int = 160) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def show_partners(
    turn: Turn,
    directory: Directory,
    event_id: int | None = None,
    page: int = 0,
    *,
    edit: bool = False,
) -> None:
    """A page of suggestions; with several events, first a choice of event."""
    event = await _event(turn, event_id)
    if event is not None:
        await _page(turn, directory, event, max(page, 0), edit=edit)


async def _event(turn: Turn, event_id: int | None) -> Event | None:
    """The user's event ``event_id``; without one (or a wrong one), their only event, or
    else the question which (``None``: the user was answered)."""
    t = turn.t
    if not turn.registered:
        turn.say(t.gettext("Please finish registration first: send /start."))
        return None
    events = await EventRepository(turn.session).events_of(turn.participant)
    event = next((e for e in events if e.id == event_id), None) if event_id else None
    if event is not None:
        return event
    if not events:
        turn.say(t.gettext("Join an event first: open the link or QR code the organisers shared."))
        return None
    if len(events) > 1:
        buttons = tuple(
            (Button(event_name(e.names, t.code)[:60], f"{PARTNERS}|{e.id}|0"),) for e in events
        )
        turn.say(bold(t.gettext("Which event?")), buttons)
        return None
    return events[0]


async def _page(turn: Turn, directory: Directory, event: Event, page: int, *, edit: bool) -> None:
    t = turn.t
    chosen = current_filter(turn, event.id)
    keep = chosen.matcher() if chosen.active else None
    for attempt in range(2):
        index = await directory.index(turn.session, event.id)
        ranked = index.rank(await _entry_of_mine(turn, index), SHORTLIST, keep)
        if not ranked and chosen.active:
            text, ways_out = no_match(turn, chosen)
            turn.say(text, ways_out, edit=edit)
            return
        if not ranked:
            turn.say(t.gettext("No other participants at this event yet. Please look again later."))
            return
        pages = (len(ranked) + PAGE_SIZE - 1) // PAGE_SIZE
        page = min(page, pages - 1)
        shown = ranked[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        people = await turn.people.at_event(event.id, [r.participant_id for r in shown])
        if len(people) == len(shown) or attempt:
            break
        # The index predates someone's erasure or departure (in another process, or
        # within its time to live): build it again rather than show who is gone.
        directory.forget(event.id)
    shown = [r for r in shown if r.participant_id in people]
    header = bold(escape(event_name(event.names, t.code))) + "\n"
    if chosen.active:
        header += describe(turn, chosen) + "\n"
    header += fmt(
        t.gettext("Suggested partners, page {page} of {pages}"), page=page + 1, pages=pages
    )
    cards = [
        await partner_card(turn, people[r.participant_id], index.entries[r.participant_id].areas)
        for r in shown
    ]
    relations = await _relations(turn, event, [r.participant_id for r in shown])
    rows: list[tuple[Button, ...]] = [
        (_partner_button(turn, event, people[r.participant_id], relations.get(r.participant_id)),)
        for r in shown
    ]
    nav = []
    if page > 0:
        nav.append(Button(t.gettext("‹ Previous"), f"{PARTNERS}|{event.id}|{page - 1}"))
    if page + 1 < pages:
        nav.append(Button(t.gettext("Next ›"), f"{PARTNERS}|{event.id}|{page + 1}"))
    if nav:
        rows.append(tuple(nav))
    narrow = [Button(t.gettext("🔎 Filter or search"), f"{FILTER}|{event.id}")]
    if chosen.active:
        narrow.append(Button(t.gettext("✖ Clear filter"), f"{FILTER}|{event.id}|x"))
    rows.append(tuple(narrow))
    turn.say(header + "\n\n" + "\n\n".join(cards), tuple(rows), edit=edit)


Relation = Meeting | MeetingRequest


async def _relations(turn: Turn, event: Event, others: list[int]) -> dict[int, Relation]:
    """For each of ``others`` already in touch with the user at the event: the open meeting
    with them, else the request still waiting between the two."""
    me = turn.participant.id
    found: dict[int, Relation] = {}
    for request in await RequestRepository(turn.session).requests_with(event.id, me, others):
        if request.status == "pending" and request.expires_at > turn.now:
            other = request.invitee_id if request.requester_id == me else request.requester_id
            found[other] = request
    for meeting in await MeetingRepository(turn.session).meetings_of(me, event.id):
        found[meeting.partner_of(me).id] = meeting
    return found


def _partner_button(
    turn: Turn, event: Event, person: Participant, relation: Relation | None
) -> Button:
    """ "Meet", or what is already under way with them: a meeting, a request either way."""
    t = turn.t
    name = person.name or ""
    if isinstance(relation, Meeting):
        label, payload = t.gettext("✅ Meeting confirmed: {name}"), f"{MEETING}|{relation.id}|v"
    elif isinstance(relation, MeetingRequest) and relation.requester_id == turn.participant.id:
        label, payload = t.gettext("⏳ Request sent: {name}"), f"{WAITING}|all"
    elif isinstance(relation, MeetingRequest):
        label = t.gettext("📩 {name} asked to meet you")
        payload = f"{NEW_REQUEST}|{person.id}|{event.id}"  # shows their request
    else:
        label, payload = t.gettext("🤝 Meet {name}"), f"{NEW_REQUEST}|{person.id}|{event.id}"
    return Button(label.format(name=name)[:60], payload)


async def _entry_of_mine(turn: Turn, index: EventIndex) -> Entry:
    me = turn.participant
    return index.entries.get(me.id) or Entry(
        me.id,
        me.country,
        frozenset(await EventRepository(turn.session).area_ids_of(me.id)),
        keywords(me.offer),
        keywords(me.seek),
    )


async def on_partners_button(turn: Turn, directory: Directory, value: str) -> None:
    """``pt|<event id>|<page>``: another page, or the chosen event."""
    if turn.flow == SEARCH_FLOW:
        turn.go("idle")  # a button instead of a word: the search question is over
    event_text, _, page_text = value.partition("|")
    event_id, page = parse_id(event_text), parse_id(page_text)
    if event_id is None or page is None:
        turn.notice(turn.t.gettext(STALE_BUTTON))
        return
    await show_partners(turn, directory, event_id, page, edit=True)


def setup(directory: Directory | None = None) -> FlowRouter:
    """``/partners`` and its paging buttons, over this process's index of each event."""
    index = directory or Directory()
    router = FlowRouter("partners")

    async def partners_command(turn: Turn, _args: str) -> None:
        await show_partners(turn, index)

    async def partners_button(turn: Turn, value: str) -> None:
        await on_partners_button(turn, index, value)

    def refresh(turn: Turn) -> None:
        if turn.profiles_changed or turn.erased:
            index.invalidate()

    async def first_page(turn: Turn, event_id: int, edit: bool) -> None:
        await show_partners(turn, index, event_id, 0, edit=edit)

    async def filter_button(turn: Turn, value: str) -> None:
        await on_filter_button(turn, index, first_page, value)

    router.command("partners", partners_command, registered=True)
    router.button(PARTNERS, partners_button, registered=True)
    router.button(FILTER, filter_button, registered=True)
    router.flow(search_route(first_page))
    router.after_commit(refresh)
    return router

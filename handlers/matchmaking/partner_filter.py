"""What narrows ``/partners``: an interest area, a country, a type of organisation, a word.

The filter is kept in the conversation state (one, for the event last filtered) until the
user clears it, so paging, asking someone for a meeting and coming back to ``/partners``
keep it; every list it narrows says so and offers to clear it. Buttons carry only short
codes (``ptf|<event>|a|<area id>``); the word, which may be long Chinese, stays in the state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace

from handlers.kernel.context import PARTNER_FILTER, Rows, Turn
from handlers.kernel.flow_router import STALE_BUTTON, FlowRoute
from handlers.kernel.i18n import N_
from handlers.kernel.markup import bold, escape, fmt
from handlers.kernel.replies import Button
from handlers.kernel.validation import Problem, check_text, parse_id
from handlers.matchmaking.directory import Directory, Entry, searchable
from handlers.participant.countries import country_name, is_country_code
from handlers.participant.form import ORG_TYPES
from storage.matchmaking import EventRepository

FILTER = "ptf"
PARTNERS = "pt"
ANY = "-"
MAX_WORD = 50
MAX_COUNTRIES = 40


@dataclass(frozen=True, slots=True)
class PartnerFilter:
    """The narrowing in force for one event; every part optional."""

    event_id: int
    area: int | None = None
    country: str | None = None
    org_type: str | None = None
    word: str | None = None

    @property
    def active(self) -> bool:
        """Whether anything narrows the list."""
        return any(v is not None for v in (self.area, self.country, self.org_type, self.word))

    def matcher(self) -> Callable[[Entry], bool]:
        """Whether a participant passes: every part set must match (the word as a
        case-insensitive substring of the organisation, offer or seek)."""
        folded = searchable(self.word) if self.word else None

        def keep(entry: Entry) -> bool:
            return (
                (self.area is None or self.area in entry.areas)
                and (self.country is None or entry.country == self.country)
                and (self.org_type is None or entry.org_type == self.org_type)
                and (folded is None or folded in entry.text)
            )

        return keep


def current_filter(turn: Turn, event_id: int) -> PartnerFilter:
    """The filter the user set for the event (none when they set it for another)."""
    stored = turn.state.data.get(PARTNER_FILTER)
    if not isinstance(stored, dict) or stored.get("event") != event_id:
        return PartnerFilter(event_id)
    area = stored.get("area")
    return PartnerFilter(
        event_id,
        area=area if isinstance(area, int) else None,
        country=_text(stored.get("country")),
        org_type=_text(stored.get("type")),
        word=_text(stored.get("word")),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def remember(turn: Turn, chosen: PartnerFilter) -> None:
    """Keep ``chosen`` (a new dict: the JSON column is saved only when replaced)."""
    data = {k: v for k, v in turn.state.data.items() if k != PARTNER_FILTER}
    if chosen.active:
        data[PARTNER_FILTER] = {
            "event": chosen.event_id, "area": chosen.area, "country": chosen.country,
            "type": chosen.org_type, "word": chosen.word,
        }  # fmt: skip
    turn.state.data = data


def describe(turn: Turn, chosen: PartnerFilter) -> str:
    """``Filter: Energy · China · Startup · “battery”`` (markup), or ``""`` when none."""
    t = turn.t
    parts = []
    if chosen.area is not None:
        parts.append(area_label(turn, chosen.area))
    if chosen.country is not None:
        parts.append(country_name(chosen.country, t))
    if chosen.org_type is not None:
        parts.append(t.gettext(ORG_TYPES.get(chosen.org_type, N_("Other"))))
    if chosen.word is not None:
        parts.append(t.gettext("“{word}”").format(word=chosen.word))
    return fmt(t.gettext("Filter: {filter}"), filter=" · ".join(parts)) if parts else ""


def area_label(turn: Turn, area_id: int) -> str:
    """An interest area's name in the reader's language."""
    for area in turn.areas:
        if area.id == area_id:
            return str(area.names.get(turn.t.code) or area.names.get("en") or area.code)
    return "?"


def choose(
    turn: Turn, chosen: PartnerFilter, kind: str, value: str, countries: Iterable[str]
) -> PartnerFilter | None:
    """The filter after choosing ``value`` for ``kind`` (``-`` for any); ``None`` when the
    (untrusted) value is not one that was offered."""
    if kind == "a":
        if value == ANY:
            return replace(chosen, area=None)
        ids = {area.id for area in turn.areas}
        number = parse_id(value)
        return replace(chosen, area=number) if number in ids else None
    if kind == "c":
        if value == ANY:
            return replace(chosen, country=None)
        ok = is_country_code(value) and value in set(countries)
        return replace(chosen, country=value) if ok else None
    if kind == "t":
        if value == ANY:
            return replace(chosen, org_type=None)
        return replace(chosen, org_type=value) if value in ORG_TYPES else None
    if kind == "w" and value == ANY:
        return replace(chosen, word=None)
    return None


def main_menu(turn: Turn, chosen: PartnerFilter) -> tuple[str, Rows]:
    """The choice of what to narrow by."""
    t = turn.t
    base = f"{FILTER}|{chosen.event_id}"
    text = bold(escape(t.gettext("Narrow the list of partners")))
    if chosen.active:
        text += "\n" + describe(turn, chosen)
    rows: list[tuple[Button, ...]] = [
        (
            Button(t.gettext("Interest area"), f"{base}|a"),
            Button(t.gettext("Country"), f"{base}|c"),
        ),
        (
            Button(t.gettext("Type of organisation"), f"{base}|t"),
            Button(t.gettext("🔎 Search by word"), f"{base}|w"),
        ),
    ]
    if chosen.active:
        rows.append((Button(t.gettext("✖ Clear filter"), f"{base}|x"),))
    rows.append((Button(t.gettext("‹ Back to the list"), f"{PARTNERS}|{chosen.event_id}|0"),))
    return text, tuple(rows)


def options_menu(
    turn: Turn, chosen: PartnerFilter, kind: str, countries: Iterable[str]
) -> tuple[str, Rows]:
    """The values offered for one ``kind`` (``a`` area, ``c`` country, ``t`` type); the one
    in force is ticked."""
    t = turn.t
    base = f"{FILTER}|{chosen.event_id}|{kind}"
    options: list[tuple[str, str]]
    if kind == "a":
        title, current = N_("Which interest area?"), str(chosen.area)
        options = [(str(a.id), area_label(turn, a.id)) for a in turn.areas]
        anything = N_("Any area")
    elif kind == "c":
        title, current = N_("Which country?"), chosen.country or ""
        named = sorted(((code, country_name(code, t)) for code in set(countries)), key=_by_name)
        options = named[:MAX_COUNTRIES]
        anything = N_("Any country")
    else:
        title, current = N_("Which type of organisation?"), chosen.org_type or ""
        options = [(code, t.gettext(label)) for code, label in ORG_TYPES.items()]
        anything = N_("Any type")
    buttons = [
        Button(("✅ " if code == current else "") + label[:50], f"{base}|{code}")
        for code, label in options
    ]
    pairs = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
    rows = [*pairs, (Button(t.gettext(anything), f"{base}|{ANY}"),)]
    rows.append((Button(t.gettext("‹ Back"), f"{FILTER}|{chosen.event_id}"),))
    return bold(escape(t.gettext(title))), tuple(rows)


def _by_name(option: tuple[str, str]) -> str:
    return option[1].casefold()


def no_match(turn: Turn, chosen: PartnerFilter) -> tuple[str, Rows]:
    """What an empty filtered list says, with the ways out."""
    t = turn.t
    base = f"{FILTER}|{chosen.event_id}"
    text = (
        escape(t.gettext("No participants match this filter."))
        + "\n"
        + describe(turn, chosen)
        + "\n"
        + escape(t.gettext("Clear the filter to see everyone, or change it."))
    )
    rows = (
        (Button(t.gettext("✖ Clear filter"), f"{base}|x"),),
        (Button(t.gettext("Change the filter"), base),),
    )
    return text, rows


# --- the buttons and the word search -------------------------------------------------------

SEARCH_FLOW = "partner_search"
Show = Callable[[Turn, int, bool], Awaitable[None]]
"""Shows the first page of the event's partners (``True``: in place of the pressed message)."""


async def on_filter_button(turn: Turn, directory: Directory, show: Show, value: str) -> None:
    """``ptf|<event>`` menu, ``|a``/``|c``/``|t`` options, ``|<kind>|<value>`` choice,
    ``|w`` ask for a word, ``|x`` clear. Everything in the payload is checked again."""
    if turn.flow == SEARCH_FLOW:
        turn.go("idle")  # a button instead of a word: the search question is over
    event_text, _, rest = value.partition("|")
    kind, _, choice = rest.partition("|")
    event_id = parse_id(event_text)
    events = EventRepository(turn.session)
    if (
        event_id is None
        or kind not in {"", "a", "c", "t", "w", "x"}
        or not await events.is_registered(turn.participant.id, event_id)
    ):
        turn.say(turn.t.gettext(STALE_BUTTON))
        return
    chosen = current_filter(turn, event_id)
    if kind == "":
        text, rows = main_menu(turn, chosen)
        turn.say(text, rows, edit=True)
        return
    if kind == "x":
        remember(turn, PartnerFilter(event_id))
        await show(turn, event_id, True)
        return
    if kind == "w" and not choice:
        turn.go(SEARCH_FLOW, "word", event=event_id)
        ask_word(turn, edit=True)
        return
    index = await directory.index(turn.session, event_id)
    me = turn.participant.id
    countries = {e.country for pid, e in index.entries.items() if pid != me and e.country}
    if not choice:
        text, rows = options_menu(turn, chosen, kind, countries)
        turn.say(text, rows, edit=True)
        return
    changed = choose(turn, chosen, kind, choice, countries)
    if changed is None:
        turn.say(turn.t.gettext(STALE_BUTTON))
        return
    remember(turn, changed)
    await show(turn, event_id, True)


def ask_word(turn: Turn, *, edit: bool = False) -> None:
    """The question for a word to search (the event is in the flow's data)."""
    t = turn.t
    event_id = int(turn.state.data.get("event", 0))
    turn.say(
        bold(escape(t.gettext("Search partners by word")))
        + "\n"
        + fmt(
            t.gettext(
                "Type a word or part of a word to find in organisations, offers and seeks, for example “battery” or “电池” (at most {maximum} characters)."
            ),
            maximum=MAX_WORD,
        ),
        ((Button(t.gettext("‹ Back"), f"{FILTER}|{event_id}"),),),
        edit=edit,
    )


async def on_search_text(turn: Turn, show: Show, text: str) -> None:
    """The word: kept in the filter, then the first page of what matches."""
    checked = check_text(text, min_length=1, max_length=MAX_WORD, needs_letters=False)
    if isinstance(checked, Problem):
        turn.say(checked.render(turn.t))
        ask_word(turn)
        return
    event_id = int(turn.state.data.get("event", 0))
    turn.go("idle")
    remember(turn, replace(current_filter(turn, event_id), word=str(checked.value)))
    await show(turn, event_id, False)


def search_route(show: Show) -> FlowRoute:
    """The word-search question as a conversation flow: any command ends it."""

    async def text(turn: Turn, typed: str) -> None:
        await on_search_text(turn, show, typed)

    async def again(turn: Turn, edit: bool) -> bool:
        ask_word(turn, edit=edit)
        return True

    async def cancel(turn: Turn) -> None:
        turn.go("idle")
        turn.say(turn.t.gettext("Search cancelled."))

    return FlowRoute(SEARCH_FLOW, text=text, ask_again=again, cancel=cancel, ended_by_commands=True)

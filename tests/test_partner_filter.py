"""``/partners`` narrowed by interest area, country and type, and searched by a word, in
Italian, English and Chinese; the filter is remembered until cleared."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import App
from handlers.kernel.markup import to_plain_text
from handlers.kernel.replies import MAX_PAYLOAD_BYTES
from storage.models import InterestArea
from tests.chat import Chat
from tests.events_support import Clock, Someone, add_people, core_with_clock, make_event, said

LOCALES = ["it", "en", "zh_Hans"]
CROWD = [
    Someone("wang", "Wang Wei", "CN", "zh_Hans", ("energy",), "储能电池和电池管理系统", "意大利的科研伙伴", org_type="sme"),
    Someone("li", "Li Na", "CN", "en", ("design",), "Industrial design", "Furniture makers", org_type="university"),
    Someone("luca", "Luca Bianchi", "IT", "it", ("energy",), "Collaudo di BATTERIE al sodio", "Startup cinesi"),
    Someone("hans", "Hans Müller", "DE", "en", ("energy", "design"), "Straße lighting", "ÉNERGIE partners",
            organisation="Müller Energietechnik GmbH", org_type="large_company"),
]  # fmt: skip


async def setup(app: App, clock: Clock, locale: str) -> tuple[int, Chat, dict[str, int]]:
    event = await make_event(app.sessions)
    me = Someone("maria", "Maria Rossi", "IT", locale, ("energy",), "Sodium batteries", "Partners")
    await add_people(app.sessions, event, [me, *CROWD])
    core = await core_with_clock(app.sessions, clock)
    async with app.sessions() as session:
        areas = {a.code: a.id for a in (await session.scalars(select(InterestArea))).all()}
    return event, Chat(core, user="maria", lang=locale), areas


def shown(chat: Chat) -> set[str]:
    """Whose cards the latest list shows."""
    return {p.name for p in CROWD if p.name in chat.text}


@pytest.mark.parametrize("locale", LOCALES)
async def test_filter_by_area_country_and_type_is_remembered_until_cleared(
    app: App, clock: Clock, locale: str
) -> None:
    event, maria, areas = await setup(app, clock, locale)
    await maria.say("/partners")
    assert shown(maria) == {"Wang Wei", "Li Na", "Luca Bianchi", "Hans Müller"}
    await maria.press(f"ptf|{event}")
    assert said(locale, "Narrow the list of partners") in maria.text
    await maria.press(f"{event}|a")
    assert said(locale, "Which interest area?") in maria.text
    await maria.press(f"a|{areas['design']}")
    assert maria.last.replies[0].edit
    assert shown(maria) == {"Li Na", "Hans Müller"}
    async with app.sessions() as session:
        design = (await session.get(InterestArea, areas["design"])).names[locale]  # type: ignore[union-attr]
    assert said(locale, "Filter: {filter}", filter=design) in maria.text, "it says it is filtered"
    assert any(b.payload == f"ptf|{event}|x" for b in maria.buttons())

    # Remembered: another command, then /partners again.
    await maria.say("/agenda")
    await maria.say("/partners")
    assert shown(maria) == {"Li Na", "Hans Müller"}

    # Country: only countries of people at the event are offered, in the reader's language.
    await maria.press(f"ptf|{event}")
    await maria.press(f"{event}|c")
    countries = [b.payload.rsplit("|", 1)[1] for b in maria.buttons() if "|c|" in b.payload]
    assert sorted(countries) == ["-", "CN", "DE", "IT"]
    await maria.press("c|CN")
    assert shown(maria) == {"Li Na"}, "area and country together"
    await maria.press(f"ptf|{event}")
    await maria.press(f"{event}|a")
    await maria.press("a|-")  # any area
    assert shown(maria) == {"Wang Wei", "Li Na"}

    # Type.
    await maria.press(f"ptf|{event}")
    await maria.press(f"{event}|t")
    ticked = [b.label for b in maria.buttons() if b.label.startswith("✅")]
    assert ticked == [], "no type chosen yet"
    await maria.press("t|university")
    assert shown(maria) == {"Li Na"}
    assert said(locale, "University") in maria.text

    await maria.press(f"{event}|x")
    assert shown(maria) == {"Wang Wei", "Li Na", "Luca Bianchi", "Hans Müller"}
    assert said(locale, "Filter: {filter}", filter="") not in maria.text


@pytest.mark.parametrize(
    ("word", "found"),
    [
        ("电池", {"Wang Wei"}),  # Chinese: a substring inside a longer run of characters
        ("batterie", {"Luca Bianchi"}),  # case-insensitive (BATTERIE)
        ("énergie", {"Hans Müller"}),  # ÉNERGIE
        ("MÜLLER", {"Hans Müller"}),  # the organisation
        ("strasse", {"Hans Müller"}),  # Straße, case-folded
        ("Furniture", {"Li Na"}),  # what they seek
        ("ｄｅｓｉｇｎ", {"Li Na"}),  # full-width letters, as Chinese keyboards type them
    ],
)
async def test_search_by_a_word_in_organisation_offer_or_seek(
    app: App, clock: Clock, word: str, found: set[str]
) -> None:
    event, maria, _areas = await setup(app, clock, "zh_Hans")
    await maria.say("/partners")
    await maria.press(f"ptf|{event}")
    await maria.press(f"{event}|w")
    assert said("zh_Hans", "Search partners by word") in maria.text
    await maria.say(word)
    assert shown(maria) == found
    assert f"“{word}”" in maria.text


@pytest.mark.parametrize("locale", LOCALES)
async def test_nothing_matches_says_so_and_offers_to_clear(
    app: App, clock: Clock, locale: str
) -> None:
    event, maria, _areas = await setup(app, clock, locale)
    await maria.say("/partners")
    await maria.press(f"ptf|{event}")
    await maria.press(f"{event}|w")
    await maria.say("quantistico")
    assert said(locale, "No participants match this filter.") in maria.text
    assert [b.payload for b in maria.buttons()] == [f"ptf|{event}|x", f"ptf|{event}"]
    await maria.say("/partners")  # still filtered: the same answer, not an empty list
    assert said(locale, "No participants match this filter.") in maria.text
    await maria.press(f"{event}|x")
    assert len(shown(maria)) == 4


@pytest.mark.parametrize("locale", LOCALES)
async def test_the_search_question_takes_bad_input_and_commands_calmly(
    app: App, clock: Clock, locale: str
) -> None:
    event, maria, _areas = await setup(app, clock, locale)
    await maria.say("/partners")
    await maria.press(f"ptf|{event}")
    await maria.press(f"{event}|w")
    await maria.say("x" * 51)
    assert (
        said(
            locale,
            "That is {count} characters long; the limit is {maximum}. Please shorten it.",
            count="51",
            maximum="50",
        )
        in maria.text
    )
    assert said(locale, "Search partners by word") in maria.text, "asked again"
    await maria.say("/cancel")
    assert maria.text == said(locale, "Search cancelled.")
    await maria.say("Straße")  # no longer a search: the usual answer to stray text
    assert said(locale, "I didn't understand that. Here is what I can do:") in maria.text
    await maria.press_payload(f"ptf|{event}|w")
    await maria.say("/agenda")  # a command ends the question too
    await maria.say("Straße")
    assert said(locale, "I didn't understand that. Here is what I can do:") in maria.text


async def test_forged_filter_buttons_change_nothing(app: App, clock: Clock) -> None:
    event, maria, areas = await setup(app, clock, "en")
    other = await make_event(app.sessions, code="other")
    await maria.say("/partners")
    await maria.press(f"ptf|{event}")
    await maria.press(f"{event}|a")
    await maria.press(f"a|{areas['energy']}")
    before = shown(maria)
    for payload in (
        f"ptf|{event}|a|999999",
        f"ptf|{event}|a|\u00b2",
        f"ptf|{event}|c|XX",
        f"ptf|{event}|c|FR",  # a country, but nobody from there is at the event
        f"ptf|{event}|t|bogus",
        f"ptf|{event}|q",
        f"ptf|{other}",  # an event Maria did not join
        "ptf|abc",
    ):
        await maria.press_payload(payload)
        assert maria.text == said(
            "en", "That button is from an earlier message and no longer works."
        )
    await maria.say("/partners")
    assert shown(maria) == before == {"Wang Wei", "Luca Bianchi", "Hans Müller"}


async def test_every_filter_button_fits_telegram(app: App, clock: Clock) -> None:
    event, maria, _areas = await setup(app, clock, "zh_Hans")
    await maria.say("/partners")
    payloads: list[str] = []
    for step in (f"ptf|{event}", f"{event}|a", f"ptf|{event}", f"{event}|c", f"ptf|{event}"):
        await maria.press(step)
        payloads += [b.payload for b in maria.buttons()]
    await maria.press(f"{event}|t")
    payloads += [b.payload for b in maria.buttons()]
    assert all(len(p.encode()) <= MAX_PAYLOAD_BYTES for p in payloads)
    assert all(len(to_plain_text(r.text)) < 4096 for r in maria.transcript)

"""Forgiving where people differ, strict where it matters: countries, phones, invisible
characters, accurate explanations, stated limits, event codes and empty lines."""

from __future__ import annotations

import unicodedata
from dataclasses import replace

import pytest

from bot.app import App
from handlers.kernel.i18n import translator
from handlers.kernel.validation import Problem, Valid, check_phone, check_text, clean_text
from handlers.participant.countries import check_country
from tests.chat import Chat
from tests.events_support import make_event, said
from tests.flows import JOHN, MARIA, WANG, register
from tests.test_bad_input import at_name_step, stored

LANGS = {"it": "it", "en": "en", "zh_Hans": "zh"}

# RIGHT-TO-LEFT OVERRIDE, LEFT-TO-RIGHT ISOLATE … POP DIRECTIONAL ISOLATE, marks, zero-width
# space, word joiner, soft hyphen, BOM: each invisible, each able to disguise a name.
HIDDEN = ["\u202e", "\u2066", "\u2069", "\u200e", "\u200f", "\u200b", "\u2060", "\u00ad", "\ufeff"]


def sprinkled(text: str) -> str:
    """``text`` with an invisible character after each of its first few characters."""
    head = "".join(ch + HIDDEN[i % len(HIDDEN)] for i, ch in enumerate(text[: len(HIDDEN)]))
    return head + text[len(HIDDEN) :]


def has_format_characters(value: str) -> bool:
    return any(unicodedata.category(ch) == "Cf" for ch in value)


@pytest.mark.parametrize(
    "raw",
    ["Anna\u202eiBlu", "\u2066Mario\u2069 Rossi", "Ma\u200brio\u00ad Rossi", "\ufeffWang\u200f"],
)
def test_invisible_characters_are_stripped(raw: str) -> None:
    cleaned = clean_text(raw)
    assert not has_format_characters(cleaned)
    assert cleaned == "".join(ch for ch in raw if unicodedata.category(ch) != "Cf")


def test_emoji_sequences_keep_their_joiner() -> None:
    scientist = "👩\u200d🔬"
    assert clean_text(f"{scientist} Lab") == f"{scientist} Lab"
    assert clean_text("Lab\u200dRossi") == "LabRossi"  # between letters it only hides


def test_pasted_line_endings_are_line_breaks() -> None:
    checked = check_text(
        "First line\r\nsecond\u2028third", min_length=2, max_length=100, multiline=True
    )
    assert checked == Valid("First line\nsecond\nthird")


async def test_every_stored_field_is_free_of_invisible_characters(app: App) -> None:
    person = replace(
        JOHN,
        name=sprinkled("John O'Neill"),
        organisation=sprinkled("Acme Research"),
        country=sprinkled("Ireland"),
        city=sprinkled("Dublin"),
        email=sprinkled("john@acme.example"),
        website=sprinkled("acme.example"),
        profile=sprinkled(JOHN.profile),
        offer=sprinkled(JOHN.offer),
        seek=sprinkled(JOHN.seek),
    )
    chat = Chat(app.core, user="hidden", lang="en")
    await chat.say("/start")
    await chat.press("en")
    await chat.say(person.name)
    await chat.say(person.organisation)
    await chat.press(person.org_type)
    await chat.say(person.country)
    await chat.say(person.city)
    await chat.say(person.email)
    await chat.say(sprinkled("+353 1 234 5678"))
    await chat.say(person.website)
    for text in (person.profile, person.offer, person.seek):
        await chat.say(text)
    participant, state = await stored(app, "hidden")
    assert state.step == "spoken", chat.all_text[-500:]
    values = [
        participant.name, participant.organisation, participant.city, participant.email,
        participant.phone, participant.website, participant.profile, participant.offer,
        participant.seek,
    ]  # fmt: skip
    assert all(value and not has_format_characters(value) for value in values), values
    assert participant.name == "John O'Neill" and participant.country == "IE"
    assert participant.phone == "+353 1 234 5678"


@pytest.mark.parametrize("locale", LANGS)
@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("1234567", "Please write it in words: an answer made only of numbers can't be used."),
        ("!!! ???", "Please write it in words: an answer made only of punctuation can't be used."),
        ("🚀🚀 ✨", "Please use words: an answer made only of symbols or emoji can't be used."),
    ],
)
async def test_an_answer_without_letters_is_told_what_it_is(
    sqlite_app: App, locale: str, typed: str, message: str
) -> None:
    chat = await at_name_step(sqlite_app, f"noletters-{locale}", LANGS[locale])
    await chat.say("Maria Rossi")
    await chat.say(typed)  # the organisation
    assert chat.texts[0] == said(locale, message)
    participant, state = await stored(sqlite_app, f"noletters-{locale}")
    assert participant.organisation is None and state.step == "org"


@pytest.mark.parametrize(
    ("locale", "name_limit", "profile_limit"),
    [("it", "Da 2 a 100 caratteri.", "Da 10 a 1.000 caratteri."),
     ("en", "Between 2 and 100 characters.", "Between 10 and 1,000 characters."),
     ("zh_Hans", "2至100个字符。", "10至1,000个字符。")],
)  # fmt: skip
async def test_length_limits_are_stated_in_the_question(
    sqlite_app: App, locale: str, name_limit: str, profile_limit: str
) -> None:
    chat = await at_name_step(sqlite_app, f"limits-{locale}", LANGS[locale])
    assert name_limit in chat.text  # asked before any answer was refused
    person = {"it": MARIA, "en": JOHN, "zh_Hans": WANG}[locale]
    await chat.say(person.name)
    await chat.say(person.organisation)
    await chat.press(person.org_type)
    await chat.press("IT")
    await chat.say(person.city)
    await chat.say(person.email)
    await chat.press("^skip")
    await chat.press("^skip")
    assert profile_limit in chat.text


@pytest.mark.parametrize(
    ("typed", "region", "stored_as"),
    [
        ("+852 5123 4567", None, "+852 5123 4567"),
        ("+85251234567", "IT", "+852 5123 4567"),
        ("00852 5123 4567", None, "+852 5123 4567"),
        ("+39 333 123 4567", None, "+39 333 123 4567"),
        ("+86 138 0013 8000", None, "+86 138 0013 8000"),
        ("+39 (06) 1234-5678", None, "+39 06 1234 5678"),
    ],
)
def test_real_international_numbers_are_accepted(
    typed: str, region: str | None, stored_as: str
) -> None:
    assert check_phone(typed, region) == Valid(stored_as)


@pytest.mark.parametrize(
    ("typed", "region", "message", "values"),
    [
        ("51234567", "HK", "Please type the number with its country code. If it is a number in your country, that is {number}.", {"number": "+852 5123 4567"}),
        ("333 123 4567", "IT", "Please type the number with its country code. If it is a number in your country, that is {number}.", {"number": "+39 333 123 4567"}),
        ("12345", "IT", "Please type the number with its country code, starting with +: for example +39 for Italy or +86 for China.", {}),
        ("51234567", None, "Please type the number with its country code, starting with +: for example +39 for Italy or +86 for China.", {}),
        ("+39 12", None, "That number is too short for a phone number with the country code +{code}.", {"code": 39}),
        ("+852 5123 4567 8901 23", None, "That number is too long for a phone number with the country code +{code}.", {"code": 852}),
        ("+999 1234 5678", None, "{number} does not start with a country code in use. Please check it: +39 is Italy, +86 China.", {"number": "+99912345678"}),
        ("+852 0000 0000", None, "{number} is not a phone number in use with the country code +{code}. Please check the digits.", {"number": "+852 0000 0000", "code": 852}),
        ("call me", None, "A phone number has only digits, spaces and a leading +. Please type it with the country code, for example +39 06 1234 5678.", {}),
    ],
)  # fmt: skip
def test_wrong_numbers_are_told_what_is_wrong(
    typed: str, region: str | None, message: str, values: dict[str, object]
) -> None:
    assert check_phone(typed, region) == Problem(message, values)


@pytest.mark.parametrize("locale", LANGS)
async def test_a_hong_kong_number_without_its_code_gets_a_clear_answer(
    sqlite_app: App, locale: str
) -> None:
    chat = await at_name_step(sqlite_app, f"hk-{locale}", LANGS[locale])
    await chat.say("Chan Tai Man")
    await chat.say("HKUST")
    await chat.press("university")
    await chat.say("香港")
    await chat.say("Hong Kong")
    await chat.say("chan@ust.example")
    await chat.say("5123 4567")
    assert "+852 5123 4567" in chat.texts[0]
    participant, state = await stored(sqlite_app, f"hk-{locale}")
    assert participant.phone is None and state.step == "phone"
    await chat.say("+852 5123 4567")
    participant, state = await stored(sqlite_app, f"hk-{locale}")
    assert participant.phone == "+852 5123 4567" and state.step == "web"
    assert participant.country == "HK" and participant.time_zone == "Asia/Hong_Kong"
    assert said(locale, "Phone number saved: {phone}", phone="+852 5123 4567") in chat.text


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("Hong Kong", "HK"), ("香港", "HK"), ("HK", "HK"), ("hong-kong", "HK"),
        ("USA", "US"), ("U.S.A.", "US"), ("Stati Uniti", "US"), ("美国", "US"),
        ("UK", "GB"), ("Regno Unito", "GB"), ("英国", "GB"), ("England", "GB"),
        ("Cina", "CN"), ("中国", "CN"), ("中國", "CN"), ("PRC", "CN"), ("意大利", "IT"),
        ("Deutschland", "DE"), ("Germania", "DE"), ("德国", "DE"), ("España", "ES"),
        ("Schweiz", "CH"), ("Svizzera", "CH"), ("日本", "JP"), ("대한민국", "KR"),
        ("South Korea", "KR"), ("the Netherlands", "NL"), ("Olanda", "NL"), ("Mexico", "MX"),
        ("Cote d'Ivoire", "CI"), ("澳门", "MO"), ("Macau", "MO"), ("Türkiye", "TR"),
    ],
)  # fmt: skip
def test_countries_are_found_by_the_names_people_type(typed: str, code: str) -> None:
    assert check_country(typed) == Valid(code)


@pytest.mark.parametrize(
    ("locale", "suggestion"), [("it", "Italia"), ("en", "Italy"), ("zh_Hans", "意大利")]
)
def test_a_misspelt_country_gets_a_suggestion_in_the_readers_language(
    locale: str, suggestion: str
) -> None:
    checked = check_country("Itlay", translator(locale))
    assert isinstance(checked, Problem)
    assert checked.values["suggestion"] == suggestion
    assert suggestion in checked.render(translator(locale))


@pytest.mark.parametrize("locale", LANGS)
async def test_a_country_typed_in_chinese_is_understood_in_every_language(
    sqlite_app: App, locale: str
) -> None:
    chat = await at_name_step(sqlite_app, f"cn-{locale}", LANGS[locale])
    await chat.say("Anna Bianchi")
    await chat.say("Politecnico di Milano")
    await chat.press("university")
    await chat.say("法国")
    participant, state = await stored(sqlite_app, f"cn-{locale}")
    assert participant.country == "FR" and state.step == "city"


@pytest.mark.parametrize("locale", LANGS)
async def test_an_unknown_event_code_is_said_at_once(sqlite_app: App, locale: str) -> None:
    chat = Chat(sqlite_app.core, user=f"nocode-{locale}", lang=LANGS[locale])
    await chat.say("/start no-such-event")
    assert chat.texts[0] == said(
        locale,
        "There is no event with the code “{code}”. Please check the link.",
        code="no-such-event",
    )
    assert said(locale, "Welcome to Ponte!") in chat.text  # and registration starts
    await register_rest(chat, locale)
    assert "no-such-event" not in chat.text  # not said a second time at the end


async def register_rest(chat: Chat, locale: str) -> None:
    """Finish a registration whose /start was already sent (the language question is on)."""
    person = {"it": MARIA, "en": JOHN, "zh_Hans": WANG}[locale]
    await chat.press(person.locale)
    for text in (person.name, person.organisation):
        await chat.say(text)
    await chat.press(person.org_type)
    await chat.press("IT")
    for text in (person.city, person.email):
        await chat.say(text)
    await chat.press("^skip")
    for text in (person.website, person.profile, person.offer, person.seek):
        await chat.say(text)
    await chat.press(person.spoken[0])
    await chat.press("^done")
    await chat.press("no")
    await chat.press(person.areas[0])
    await chat.press("^done")
    await chat.press("agree")
    assert said(locale, "Registration complete. Welcome to Ponte!") in chat.text


@pytest.mark.parametrize("locale", LANGS)
async def test_a_good_event_code_is_confirmed_at_once_and_joined_after_registration(
    sqlite_app: App, locale: str
) -> None:
    await make_event(sqlite_app.sessions, code="itcn-2026")
    chat = Chat(sqlite_app.core, user=f"code-{locale}", lang=LANGS[locale])
    await chat.say("/start itcn-2026")
    message = "You will join this event as soon as your registration is complete."
    assert said(locale, message) in chat.texts[0]
    await register_rest(chat, locale)
    assert said(locale, "You are now registered for this event.") in chat.text


@pytest.mark.parametrize("typed", ["", "   ", "\u200b", "\u202e\u2066", "\n\n"])
async def test_an_empty_line_does_nothing(sqlite_app: App, typed: str) -> None:
    chat = await at_name_step(sqlite_app, "empty")
    await chat.say(typed)
    assert chat.last.replies == []
    _participant, state = await stored(sqlite_app, "empty")
    assert state.step == "name"
    registered = Chat(sqlite_app.core, user="empty-registered", lang="en")
    await register(registered, JOHN)
    await registered.say(typed)
    assert registered.last.replies == []

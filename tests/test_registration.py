"""Registration through the core, in all three languages, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.app import App, build_app
from bot.config import Settings
from handlers.kernel.terms import DEMO_PRIVACY_TERMS
from handlers.participant.consent import notice_version
from storage.models import ConsentRecord, ConversationState, Participant
from storage.repositories import ParticipantRepository
from tests.chat import Chat
from tests.events_support import Clock
from tests.flows import JOHN, MARIA, PEOPLE, WANG, Person, register


async def participant(app: App, user: str) -> Participant:
    async with app.sessions() as session:
        found = await session.scalar(select(Participant).where(Participant.external_id == user))
        assert found is not None, f"no participant {user}"
        return found


@pytest.mark.parametrize("locale", ["it", "en", "zh_Hans"])
async def test_registration_completes_in_each_language(app: App, locale: str) -> None:
    person: Person = PEOPLE[locale]
    chat = Chat(app.core, user=f"user-{locale}", lang=person.lang_hint)
    await register(chat, person, phone="393331234567")

    stored = await participant(app, chat.user)
    assert stored.registered_at is not None
    assert stored.locale == locale
    assert (stored.name, stored.organisation, stored.city) == (
        person.name,
        person.organisation,
        person.city,
    )
    assert stored.org_type == person.org_type
    assert stored.email == person.email
    assert stored.phone == "+393331234567"
    assert stored.website is not None and stored.website.startswith("https://")
    assert sorted(stored.languages_spoken or []) == sorted(person.spoken)
    assert stored.interpreter_needed is False
    expected_zone = {"IT": "Europe/Rome", "CN": "Asia/Shanghai"}.get(
        person.country, "Europe/Dublin"
    )
    assert stored.time_zone == expected_zone
    async with app.sessions() as session:
        codes = await ParticipantRepository(session).interest_codes(stored)
        consents = (await session.scalars(select(ConsentRecord))).all()
    assert sorted(codes) == sorted(person.areas)
    assert [(c.notice_version, c.locale) for c in consents] == [
        (notice_version(DEMO_PRIVACY_TERMS), locale)
    ]
    # The last replies: completion, the profile card with the user's values, the help.
    assert person.name in chat.text
    assert person.organisation in chat.text


async def test_first_language_is_guessed_and_can_be_changed(sqlite_app: App) -> None:
    chat = Chat(sqlite_app.core, user="guess", lang="zh-Hans-CN")
    await chat.say("/start")
    assert "Ponte" in chat.text
    assert "欢迎" in chat.text or any("\u4e00" <= ch <= "\u9fff" for ch in chat.text)
    await chat.press("it")
    assert (await participant(sqlite_app, "guess")).locale == "it"


async def test_every_step_can_go_back(sqlite_app: App) -> None:
    chat = Chat(sqlite_app.core, user="back", lang="en")
    await chat.say("/start")
    await chat.press("en")
    await chat.say("Anna Bianchi")
    await chat.press("^back")
    assert "full name" in chat.text
    await chat.press("^back")
    assert "language" in chat.text.lower()
    assert all(b.payload != "language|^back" for b in chat.buttons()), "no back on step 1"
    await chat.press("en")
    assert "full name" in chat.text


async def test_optional_fields_can_be_skipped(sqlite_app: App) -> None:
    chat = Chat(sqlite_app.core, user="skip", lang="en")
    await chat.say("/start")
    for answer in ("en",):
        await chat.press(answer)
    for text in ("Anna Bianchi", "Polimi"):
        await chat.say(text)
    await chat.press("university")
    await chat.press("IT")
    await chat.say("Milano")
    await chat.say("anna@polimi.example")
    await chat.press("^skip")
    assert "website" in chat.text
    await chat.press("^skip")
    assert "Describe your organisation" in chat.text
    stored = await participant(sqlite_app, "skip")
    assert stored.phone is None and stored.website is None


async def test_resume_after_restart_mid_registration(database_url: str) -> None:
    settings = Settings(database_url=database_url, _env_file=None)
    first = await build_app(settings)
    chat = Chat(first.core, user="resumer", lang="it")
    await chat.say("/start")
    await chat.press("it")
    await chat.say("Luca Verdi")
    await chat.say("INFN")
    await first.close()

    second = await build_app(settings)
    try:
        chat = Chat(second.core, user="resumer", lang="it")
        await chat.say("/start")
        assert "riprendiamo" in chat.text.lower() or "bentornat" in chat.text.lower()
        assert any(b.payload.startswith("type|") for b in chat.buttons()), chat.text
        stored = await participant(second, "resumer")
        assert (stored.name, stored.organisation) == ("Luca Verdi", "INFN")
    finally:
        await second.close()


async def test_cancel_pauses_and_start_resumes_same_step(sqlite_app: App) -> None:
    chat = Chat(sqlite_app.core, user="pauser", lang="en")
    await chat.say("/start")
    await chat.press("en")
    await chat.say("Anna Bianchi")
    await chat.say("/cancel")
    assert "/start" in chat.text
    await chat.say("/start")
    assert "organisation" in chat.text


async def test_language_switch_mid_registration_repeats_question(sqlite_app: App) -> None:
    chat = Chat(sqlite_app.core, user="switch", lang="en")
    await chat.say("/start")
    await chat.press("en")
    await chat.say("/language")
    await chat.press("setlang|zh_Hans")
    assert "中文" in chat.text
    assert any(b.payload == "name|^back" for b in chat.buttons())
    stored = await participant(sqlite_app, "switch")
    assert stored.locale == "zh_Hans"


async def test_help_works_at_any_step_and_keeps_the_step(sqlite_app: App) -> None:
    chat = Chat(sqlite_app.core, user="helper", lang="en")
    await chat.say("/start")
    await chat.press("en")
    await chat.say("/help")
    assert "/profile" in chat.text and "full name" in chat.text


async def test_registration_state_is_in_the_database(sqlite_app: App) -> None:
    chat = Chat(sqlite_app.core, user="stateful", lang="en")
    await chat.say("/start")
    await chat.press("en")
    async with sqlite_app.sessions() as session:
        state = await session.scalar(select(ConversationState))
        assert state is not None and (state.flow, state.step) == ("registration", "name")


async def test_two_people_register_independently(app: App) -> None:
    maria = Chat(app.core, user="maria", lang="it")
    wang = Chat(app.core, user="wang", lang="zh")
    await register(maria, MARIA)
    await register(wang, WANG)
    async with app.sessions() as session:
        registered = await session.scalar(
            select(func.count())
            .select_from(Participant)
            .where(Participant.registered_at.is_not(None))
        )
    assert registered == 2
    assert (await participant(app, "wang")).time_zone == "Asia/Shanghai"
    assert (await participant(app, "maria")).time_zone == "Europe/Rome"
    assert JOHN.organisation not in maria.all_text


async def test_every_time_stored_is_the_cores_clock(app: App, clock: Clock) -> None:
    # The system clock is a day or more from the tests' clock (years, in test_any_date.py):
    # any time taken from it would differ from these.
    chat = Chat(app.core, user="timed", lang="en")
    await chat.say("/start")
    first = clock.now
    clock.advance(hours=5)
    await register(chat, JOHN)
    registered = clock.now
    async with app.sessions() as session:
        person = await session.scalar(select(Participant).where(Participant.external_id == "timed"))
        assert person is not None
        state = await session.get(ConversationState, person.id)
        consent = await session.scalar(
            select(ConsentRecord).where(ConsentRecord.participant_id == person.id)
        )
    assert person.created_at == first
    assert person.registered_at == person.updated_at == registered
    assert state is not None and state.updated_at == registered
    assert consent is not None and consent.given_at == registered

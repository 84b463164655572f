"""/profile editing, /mydata export and /deleteme erasure."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from bot.app import App
from handlers.kernel.replies import Response
from handlers.kernel.terms import DEMO_PRIVACY_TERMS
from handlers.participant.consent import notice_version
from storage.models import ConsentRecord, ConversationState, Participant, ParticipantInterest
from tests.chat import Chat
from tests.events_support import Someone, add_people, make_event
from tests.flows import JOHN, MARIA, WANG, register


async def load(app: App, user: str) -> Participant | None:
    async with app.sessions() as session:
        return await session.scalar(select(Participant).where(Participant.external_id == user))


async def registered(app: App, user: str = "p1", person=MARIA) -> Chat:  # type: ignore[no-untyped-def]
    chat = Chat(app.core, user=user, lang=person.lang_hint)
    await register(chat, person)
    return chat


async def test_every_field_is_editable_from_profile(app: App) -> None:
    chat = await registered(app)
    await chat.say("/profile")
    assert MARIA.name in chat.text
    editable = [b.payload.split("|")[1] for b in chat.buttons() if b.payload.startswith("edit|")]
    assert set(editable) >= {
        "name", "org", "type", "country", "city", "tz", "email", "phone", "web",
        "profile", "offer", "seek", "spoken", "interp", "areas", "language",
    }  # fmt: skip

    await chat.press("edit|name")
    assert MARIA.name in chat.text  # shows the current value
    await chat.say("Maria Dell'Acqua")
    await chat.press("edit|type")
    await chat.press("university")
    await chat.press("edit|interp")
    await chat.press("yes")
    await chat.press("edit|web")
    await chat.press("^skip")  # "Remove" for an optional field
    await chat.press("edit|areas")
    await chat.press("energy")  # toggle off
    await chat.press("design")  # toggle on
    await chat.press("^done")
    await chat.press("edit|tz")
    await chat.say("Londra")

    participant = await load(app, chat.user)
    assert participant is not None
    assert participant.name == "Maria Dell'Acqua"
    assert participant.org_type == "university"
    assert participant.interpreter_needed is True
    assert participant.website is None
    assert participant.time_zone == "Europe/London"
    async with app.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(ParticipantInterest)
            .where(ParticipantInterest.participant_id == participant.id)
        )
    assert count == 2
    assert "Maria Dell'Acqua" in chat.all_text


async def test_toggles_edit_the_message_in_place(sqlite_app: App) -> None:
    chat = await registered(sqlite_app)
    await chat.say("/profile")
    await chat.press("edit|areas")
    await chat.press("design")
    assert [reply.edit for reply in chat.last.replies] == [True]
    assert any(b.label.startswith("✅") and b.payload.endswith("|design") for b in chat.buttons())


async def test_at_least_one_area_is_required(sqlite_app: App) -> None:
    chat = await registered(sqlite_app)
    await chat.say("/profile")
    await chat.press("edit|areas")
    for code in MARIA.areas:
        await chat.press(code)
    await chat.press("^done")
    async with sqlite_app.sessions() as session:
        state = await session.scalar(select(ConversationState))
        assert state is not None and (state.flow, state.step) == ("edit", "areas")


async def test_editing_can_be_cancelled(sqlite_app: App) -> None:
    chat = await registered(sqlite_app)
    await chat.say("/profile")
    await chat.press("edit|email")
    await chat.say("/cancel")
    await chat.press("edit|city")
    await chat.press("^cancel")
    participant = await load(sqlite_app, chat.user)
    assert participant is not None and participant.email == MARIA.email


async def test_changing_country_moves_a_guessed_time_zone(sqlite_app: App) -> None:
    chat = await registered(sqlite_app, person=WANG)
    await chat.say("/profile")
    await chat.press("edit|country")
    await chat.press("IT")
    participant = await load(sqlite_app, chat.user)
    assert participant is not None and participant.time_zone == "Europe/Rome"


async def test_language_can_be_changed_from_profile(sqlite_app: App) -> None:
    chat = await registered(sqlite_app, person=JOHN)
    await chat.say("/profile")
    await chat.press("edit|language")
    await chat.press("zh_Hans")
    participant = await load(sqlite_app, chat.user)
    assert participant is not None and participant.locale == "zh_Hans"


async def test_mydata_exports_everything_as_json(app: App) -> None:
    chat = await registered(app, person=WANG)
    await chat.say("/mydata")
    documents = [reply.document for reply in chat.last.replies if reply.document]
    assert len(documents) == 1
    document = documents[0]
    assert document.filename.endswith(".json") and document.mime_type == "application/json"
    data = json.loads(document.content.decode("utf-8"))["participant"]
    assert data["name"] == WANG.name
    assert data["organisation"] == WANG.organisation
    assert data["email"] == WANG.email
    assert sorted(data["interest_areas"]) == sorted(WANG.areas)
    assert data["consents"][0]["notice_version"] == notice_version(DEMO_PRIVACY_TERMS)
    assert data["registered_at"]


async def test_mydata_works_before_registration_is_complete(sqlite_app: App) -> None:
    chat = Chat(sqlite_app.core, user="early", lang="en")
    await chat.say("/start")
    await chat.press("en")
    await chat.say("Early Bird")
    await chat.say("/mydata")
    (document,) = [reply.document for reply in chat.last.replies if reply.document]
    assert json.loads(document.content)["participant"]["name"] == "Early Bird"


async def test_deleteme_asks_then_erases_everything(app: App) -> None:
    chat = await registered(app)
    await chat.say("/deleteme")
    await chat.press("erase|no")
    assert await load(app, chat.user) is not None
    await chat.say("/deleteme")
    await chat.press("erase|yes")
    assert await load(app, chat.user) is None
    async with app.sessions() as session:
        for model in (ConsentRecord, ParticipantInterest, ConversationState):
            assert await session.scalar(select(func.count()).select_from(model)) == 0, model
    # A stale confirmation afterwards erases nothing more (and, like every test, logs no error).
    await chat.press_payload("erase|yes")
    assert chat.last.replies


async def test_deleteme_during_registration_can_be_declined_and_resumed(sqlite_app: App) -> None:
    chat = Chat(sqlite_app.core, user="midway", lang="en")
    await chat.say("/start")
    await chat.press("en")
    await chat.say("/deleteme")
    await chat.say("maybe")  # neither yes nor no
    assert "Erase all your data?" in chat.text
    await chat.say("/cancel")
    assert "full name" in chat.text


async def test_declining_consent_keeps_the_user_at_consent(sqlite_app: App) -> None:
    third = Chat(sqlite_app.core, user="decliner3", lang="en")
    await register_until_consent(third)
    await third.press("decline")
    assert "consent" in third.text
    participant = await load(sqlite_app, "decliner3")
    assert participant is not None and participant.registered_at is None
    await third.press("agree")
    participant = await load(sqlite_app, "decliner3")
    assert participant is not None and participant.registered_at is not None


async def register_until_consent(chat: Chat) -> None:
    await chat.say("/start")
    await chat.press("en")
    for text in ("Ada Lovelace", "Analytical Engines Ltd"):
        await chat.say(text)
    await chat.press("other")
    await chat.press("IT")
    await chat.say("Torino")
    await chat.say("ada@example.com")
    await chat.press("^skip")
    await chat.press("^skip")
    for text in ("We design programmable calculating machines for science.", "Machines", "Users"):
        await chat.say(text)
    await chat.press("en")
    await chat.press("^done")
    await chat.press("yes")
    await chat.press("design")
    await chat.press("^done")


@pytest.mark.parametrize("command", ["/profile", "/mydata", "/help", "/language", "/cancel"])
async def test_commands_work_for_a_brand_new_user(sqlite_app: App, command: str) -> None:
    chat = Chat(sqlite_app.core, user=f"new{command}", lang="it")
    await chat.say(command)
    assert chat.last.replies


async def where(app: App, user: str) -> tuple[str, str | None]:
    async with app.sessions() as session:
        state = await session.scalar(
            select(ConversationState)
            .join(Participant, Participant.id == ConversationState.participant_id)
            .where(Participant.external_id == user)
        )
    assert state is not None
    return state.flow, state.step


async def leave_by(chat: Chat, way: str) -> None:
    """Leave the current step by a command, a navigation button or another field's button."""
    if way.startswith("/"):
        await chat.say(way)
    elif way.startswith("^"):
        await chat.press(way)
    else:
        await chat.press_payload(way)


async def test_toggles_cannot_be_left_with_no_area(sqlite_app: App) -> None:
    chat = await registered(sqlite_app, person=JOHN)
    await chat.say("/profile")
    await chat.press("edit|areas")
    for code in JOHN.areas:
        await chat.press(code)
    for way in ("^cancel", "/cancel", "/profile", "/start", "edit|name"):
        await leave_by(chat, way)
        assert "Please choose at least one interest area." in chat.text, way
        assert await where(sqlite_app, chat.user) == ("edit", "areas"), way
        assert chat.button("design"), "the toggles are shown again"
    await chat.press("design")
    await chat.press("^cancel")
    assert "Saved." in chat.text and "Your profile" in chat.text
    assert await where(sqlite_app, chat.user) == ("idle", None)
    participant = await load(sqlite_app, chat.user)
    assert participant is not None
    async with sqlite_app.sessions() as session:
        chosen = await session.scalars(
            select(ParticipantInterest.area_id).where(
                ParticipantInterest.participant_id == participant.id
            )
        )
        assert len(chosen.all()) == 1


async def test_leaving_toggles_reports_the_change_and_partners_see_it(app: App) -> None:
    event = await make_event(app.sessions)
    await add_people(
        app.sessions,
        event,
        [Someone("john", "John Smith", "IT", "en"), Someone("wang", "Wang Wei", "CN", "en")],
    )
    john = Chat(app.core, user="john", lang="en", channel="test")
    wang = Chat(app.core, user="wang", lang="en", channel="test")
    await wang.say("/partners")
    assert "Interests: Energy" in wang.text and "Design" not in wang.text
    await john.say("/profile")
    await john.press("edit|areas")
    await john.press("design")
    await john.press("design")
    await john.press("^cancel")
    assert "Nothing was changed." in john.text, "toggled on and off again"
    await john.press("edit|areas")
    await john.press("design")
    await john.press("^cancel")
    assert "Saved." in john.text and "Nothing was changed." not in john.text
    await wang.say("/partners")
    assert "Design" in wang.text, "the directory was refreshed"


def takes_keyboard_away(response: Response) -> bool:
    """A reply removes the contact keyboard (on one that Telegram can attach it to) and
    nothing shows it again."""
    removing = [reply for reply in response.replies if reply.remove_keyboard]
    return (
        bool(removing)
        and not removing[0].buttons
        and not any(reply.contact_button for reply in response.replies)
    )


@pytest.mark.parametrize(
    "way", ["/cancel", "^cancel", "/profile", "/start", "edit|name", "/deleteme"]
)
async def test_every_way_out_of_editing_the_phone_removes_its_keyboard(
    sqlite_app: App, way: str
) -> None:
    chat = await registered(sqlite_app, person=JOHN)
    await chat.say("/profile")
    await chat.press("edit|phone")
    assert any(reply.contact_button for reply in chat.last.replies)
    await leave_by(chat, way)
    if way == "/deleteme":
        assert not takes_keyboard_away(chat.last), "the user may still come back to the step"
        await chat.press("erase|yes")
    assert takes_keyboard_away(chat.last), way


@pytest.mark.parametrize("way", ["/cancel", "^back", "/deleteme"])
async def test_every_way_out_of_the_phone_question_removes_its_keyboard(
    sqlite_app: App, way: str
) -> None:
    chat = Chat(sqlite_app.core, user="phone", lang="en")
    await chat.say("/start")
    await chat.press("en")
    for text in ("Ada Lovelace", "Analytical Engines Ltd"):
        await chat.say(text)
    await chat.press("other")
    await chat.press("IT")
    await chat.say("Torino")
    await chat.say("ada@example.com")
    assert any(reply.contact_button for reply in chat.last.replies)
    await chat.say("/help")
    assert any(reply.contact_button for reply in chat.last.replies), "still at the step"
    await leave_by(chat, way)
    if way == "/deleteme":
        await chat.press("erase|yes")
    assert takes_keyboard_away(chat.last), way

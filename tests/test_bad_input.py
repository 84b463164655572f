"""Hostile and odd input: a clear answer and the same step, or stored exactly as typed."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from bot.app import App
from storage.models import ConversationState, Participant
from tests.chat import Chat
from tests.flows import JOHN, register


async def at_name_step(app: App, user: str, lang: str = "en") -> Chat:
    chat = Chat(app.core, user=user, lang=lang)
    await chat.say("/start")
    await chat.press({"it": "it", "en": "en", "zh": "zh_Hans"}[lang])
    return chat


async def stored(app: App, user: str) -> tuple[Participant, ConversationState]:
    async with app.sessions() as session:
        participant = await session.scalar(
            select(Participant).where(Participant.external_id == user)
        )
        assert participant is not None
        state = await session.get(ConversationState, participant.id)
        assert state is not None
        return participant, state


@pytest.mark.parametrize(
    "name",
    [
        "<b>Acme & Co</b>",
        "Robert'); DROP TABLE participants;--",
        "Giulia D'Alessandro",
        "欧阳 晓'明",
        "Zoë Ñandú-Łukasz",
    ],
)
async def test_odd_but_valid_names_are_stored_exactly(app: App, name: str) -> None:
    chat = await at_name_step(app, "odd")
    await chat.say(name)
    participant, state = await stored(app, "odd")
    assert participant.name == name
    assert state.step == "org"


@pytest.mark.parametrize(
    ("text", "explanation"),
    [
        ("x" * 5000, "5000 characters"),
        ("😀😀🎉", "only of symbols"),
        ("123 456", "only of numbers"),
        ("-- ...", "only of punctuation"),
        ("Mario\x00Rossi", "control characters"),
        ("M", "at least 2"),
    ],
)
async def test_bad_names_are_explained_and_the_step_kept(
    app: App, text: str, explanation: str
) -> None:
    chat = await at_name_step(app, "bad")
    await chat.say(text)
    assert explanation in chat.text.replace(",", "")
    assert "full name" in chat.text  # the question is asked again
    participant, state = await stored(app, "bad")
    assert participant.name is None
    assert state.step == "name"


async def test_html_in_a_name_is_escaped_in_every_reply(app: App) -> None:
    chat = Chat(app.core, user="html", lang="en")
    await register(chat, replace(JOHN, name="<i>Jo & Jo</i>"))
    await chat.say("/profile")
    raw = "\n".join(reply.text for reply in chat.transcript)
    for typed in ("<b>Acme & Co</b>", "<i>Jo & Jo</i>"):
        assert typed not in raw
    assert "&lt;b&gt;Acme &amp; Co&lt;/b&gt;" in raw
    assert "&lt;i&gt;Jo &amp; Jo&lt;/i&gt;" in raw
    participant, _ = await stored(app, "html")
    assert participant.organisation == "<b>Acme & Co</b>"


@pytest.mark.parametrize("locale", ["it", "en", "zh"])
async def test_explanations_are_localised(sqlite_app: App, locale: str) -> None:
    chat = await at_name_step(sqlite_app, f"loc-{locale}", lang=locale)
    await chat.say("x" * 5000)
    expected = {
        "it": "caratteri",
        "en": "characters",
        "zh": "字",
    }[locale]
    assert expected in chat.texts[0]
    assert "5000" in chat.texts[0].replace(",", "").replace(".", "").replace("\u202f", "")


@pytest.mark.parametrize(
    ("email", "ok"),
    [
        ("maria@example.com", True),
        ("MARIA@Example.COM", True),
        ("maria@", False),
        ("maria example.com", False),
        ("<script>@x.it", False),
        ("'; DROP TABLE x;--@example.com", False),
    ],
)
async def test_email_is_validated(sqlite_app: App, email: str, ok: bool) -> None:
    chat = await at_name_step(sqlite_app, "mail")
    await chat.say("Maria Rossi")
    await chat.say("ENEA")
    await chat.press("public_body")
    await chat.press("IT")
    await chat.say("Roma")
    await chat.say(email)
    participant, state = await stored(sqlite_app, "mail")
    if ok:
        assert participant.email is not None and state.step == "phone"
    else:
        assert participant.email is None and state.step == "email"
        assert "e-mail" in chat.text


@pytest.mark.parametrize(
    ("url", "stored_as"),
    [
        ("example.com", "https://example.com"),
        ("http://www.cnr.it/en", "http://www.cnr.it/en"),
        ("javascript:alert(1)", None),
        ("not a url", None),
        ("ftp://files.example.com", None),
    ],
)
async def test_website_is_validated(sqlite_app: App, url: str, stored_as: str | None) -> None:
    chat = await at_name_step(sqlite_app, "web")
    for text in ("Maria Rossi", "ENEA"):
        await chat.say(text)
    await chat.press("public_body")
    await chat.press("IT")
    await chat.say("Roma")
    await chat.say("maria@enea.example")
    await chat.press("^skip")
    await chat.say(url)
    participant, state = await stored(sqlite_app, "web")
    assert participant.website == stored_as
    assert state.step == ("profile" if stored_as else "web")


async def test_forged_and_stale_buttons_change_nothing(sqlite_app: App) -> None:
    chat = await at_name_step(sqlite_app, "forger")
    for payload in (
        "type|startup",
        "areas|energy",
        "edit|name",
        "erase|yes",
        "garbage",
        "name|^skip",
        "setlang|xx",
    ):
        await chat.press_payload(payload)
        participant, state = await stored(sqlite_app, "forger")
        assert state.step == "name", payload
        assert participant.org_type is None
    assert "earlier message" in chat.text


async def test_photos_and_stickers_get_a_hint(sqlite_app: App) -> None:
    chat = await at_name_step(sqlite_app, "photo")
    await chat.send_unsupported("photo")
    assert "text" in chat.texts[0]
    assert "full name" in chat.text


async def test_someone_elses_contact_is_refused(sqlite_app: App) -> None:
    chat = await at_name_step(sqlite_app, "contact")
    for text in ("Maria Rossi", "ENEA"):
        await chat.say(text)
    await chat.press("public_body")
    await chat.press("IT")
    await chat.say("Roma")
    await chat.say("maria@enea.example")
    await chat.share_contact("393330000000", owner="somebody-else")
    participant, state = await stored(sqlite_app, "contact")
    assert participant.phone is None and state.step == "phone"
    await chat.say("12ab")
    assert "phone" in chat.text
    await chat.say("+39 06 1234 5678")
    participant, state = await stored(sqlite_app, "contact")
    assert participant.phone == "+39 06 1234 5678" and state.step == "web"
    assert any(reply.remove_keyboard for reply in chat.last.replies)


async def test_unknown_country_is_explained(sqlite_app: App) -> None:
    chat = await at_name_step(sqlite_app, "country")
    for text in ("Maria Rossi", "ENEA"):
        await chat.say(text)
    await chat.press("public_body")
    await chat.say("Atlantis")
    assert "Atlantis" in chat.text
    await chat.say("Francia")
    participant, _ = await stored(sqlite_app, "country")
    assert participant.country == "FR" and participant.time_zone == "Europe/Paris"


async def test_unknown_command_is_answered(sqlite_app: App) -> None:
    chat = await at_name_step(sqlite_app, "cmd")
    await chat.say("/frobnicate now")
    assert "/frobnicate" in chat.text and "full name" in chat.text


@pytest.mark.parametrize("code", ["QQ", "XA", "EU", "ZZ", "it", "ITA", ""])
async def test_forged_country_buttons_are_refused(sqlite_app: App, code: str) -> None:
    chat = await at_name_step(sqlite_app, "forged-country")
    for text in ("Maria Rossi", "ENEA"):
        await chat.say(text)
    await chat.press("public_body")
    await chat.press_payload(f"country|{code}")
    assert "Please choose one of the options below." in chat.text
    participant, state = await stored(sqlite_app, "forged-country")
    assert participant.country is None and participant.time_zone is None
    assert state.step == "country"
    await chat.press_payload("country|FR")  # any known country, as if typed
    participant, state = await stored(sqlite_app, "forged-country")
    assert participant.country == "FR" and state.step == "city"

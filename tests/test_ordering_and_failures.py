"""One transaction per event, a user's events in order, failures contained."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, text

from bot.app import App
from handlers.core import APOLOGY
from handlers.kernel.i18n import translator
from storage.models import ConsentRecord, Participant
from tests.chat import Chat
from tests.flows import MARIA, register
from tests.test_profile_and_privacy import register_until_consent


async def test_double_tap_on_consent_records_it_once(app: App) -> None:
    chat = Chat(app.core, user="tapper", lang="en")
    await register_until_consent(chat)
    agree = chat.button("agree").payload
    await asyncio.gather(chat.press_payload(agree), chat.press_payload(agree))
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ConsentRecord)) == 1


async def test_a_users_events_are_handled_in_arrival_order(app: App) -> None:
    chat = Chat(app.core, user="burst", lang="en")
    await chat.say("/start")
    await chat.press("en")
    # Name, organisation, then the type button, sent without waiting for answers.
    await asyncio.gather(
        chat.say("Burst Person"),
        chat.say("Burst Lab"),
        chat.press_payload("type|investor"),
    )
    async with app.sessions() as session:
        participant = await session.scalar(select(Participant))
    assert participant is not None
    assert (participant.name, participant.organisation, participant.org_type) == (
        "Burst Person",
        "Burst Lab",
        "investor",
    )


async def test_many_users_at_once(app: App) -> None:
    chats = [Chat(app.core, user=f"crowd{i}", lang="it") for i in range(8)]
    await asyncio.gather(*(register(chat, MARIA) for chat in chats))
    async with app.sessions() as session:
        done = await session.scalar(
            select(func.count())
            .select_from(Participant)
            .where(Participant.registered_at.is_not(None))
        )
    assert done == len(chats)


@pytest.mark.expect_core_errors
async def test_a_failure_is_apologised_for_in_the_users_language(sqlite_app: App) -> None:
    chat = Chat(sqlite_app.core, user="unlucky", lang="it")
    await chat.say("/start")
    await chat.press("it")
    async with sqlite_app.engine.begin() as connection:
        await connection.execute(text("DROP TABLE participant_interests"))
    await chat.say("/mydata")  # needs the dropped table
    assert len(chat.last.replies) == 1
    apology = translator("it").gettext(APOLOGY)
    assert chat.text == apology != APOLOGY
    # Others are still served.
    other = Chat(sqlite_app.core, user="lucky", lang="en")
    await other.say("/start")
    assert "Welcome" in other.text

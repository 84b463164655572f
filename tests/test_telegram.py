"""Ponte on Telegram: the same behaviour on aiogram and python-telegram-bot, end to end.

Each test runs the real framework against the fake Bot API server over HTTP.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from handlers.core import APOLOGY
from handlers.kernel.i18n import translator
from handlers.kernel.menu import COMMANDS
from storage.models import ConsentRecord, ConversationState, Participant
from tests.events_support import make_event
from tests.flows import JOHN, MARIA, PEOPLE, WANG
from tests.telegram_world import (
    FRAMEWORKS,
    World,
    answer,
    register_on_telegram,
    running_bot,
    shows_step,
)

pytestmark = pytest.mark.parametrize("framework", FRAMEWORKS)


@pytest.fixture
async def world(framework: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    async with running_bot(framework, f"sqlite+aiosqlite:///{tmp_path / 'tg.db'}") as running:
        yield running


async def participant(world: World, user_id: int) -> Participant:
    async with world.app.sessions() as session:
        found = await session.scalar(
            select(Participant).where(Participant.external_id == str(user_id))
        )
    assert found is not None
    return found


def no_bad_requests(world: World) -> None:
    failures = [(c.method, c.status, c.response) for c in world.api.calls if c.status >= 400]
    assert not failures, failures


def all_texts_sent_as_html_without_previews(world: World) -> None:
    calls = world.api.calls_to("sendMessage") + world.api.calls_to("editMessageText")
    assert calls
    for call in calls:
        options = call.params.get("link_preview_options")
        if isinstance(options, str):
            options = json.loads(options)
        assert call.params.get("parse_mode") == "HTML", call.params
        assert options == {"is_disabled": True}, call.params


@pytest.mark.parametrize("locale", ["it", "en", "zh_Hans"])
async def test_registration_in_each_language(world: World, locale: str) -> None:
    person = PEOPLE[locale]
    user = world.user(first_name=person.name, language_code=person.lang_hint)
    await register_on_telegram(world, user, person)
    stored = await participant(world, user.id)
    assert stored.registered_at is not None and stored.locale == locale
    assert (stored.name, stored.organisation) == (person.name, person.organisation)
    assert stored.phone == "+393331234567"
    card = next(m for m in reversed(user.messages) if m.from_bot and person.name in (m.text or ""))
    assert person.organisation in (card.text or "")  # shown exactly, e.g. <b>Acme & Co</b>
    assert not user.keyboard, "the contact keyboard is removed after the phone step"
    no_bad_requests(world)
    all_texts_sent_as_html_without_previews(world)
    unanswered = [q for q in world.api.callback_queries.values() if not q.answered]
    assert not unanswered


async def test_a_name_with_html_is_sent_escaped(world: World) -> None:
    user = world.user(language_code="en")
    await answer(world, user, lambda: user.send_command("/start"), "language")
    await answer(world, user, lambda: user.press("language|en"), "name")
    await answer(world, user, lambda: user.send_text("<b>Acme & Co</b>"), "org")
    await answer(world, user, lambda: user.send_command("/deleteme"), "erase")
    no_bad_requests(world)
    assert (await participant(world, user.id)).name == "<b>Acme & Co</b>"


async def test_toggles_edit_the_message_in_place(world: World) -> None:
    user = world.user(language_code="it")
    await register_on_telegram(world, user, MARIA)
    await answer(world, user, lambda: user.send_command("/profile"), "edit")
    await answer(world, user, lambda: user.press("edit|areas"), "areas")
    before = len([m for m in user.messages if m.from_bot])
    edits = len(world.api.calls_to("editMessageText"))
    user.press("areas|design")
    await world.until(lambda: len(world.api.calls_to("editMessageText")) > edits, "an edit")
    assert len([m for m in user.messages if m.from_bot]) == before
    # Tapping the same toggle twice quickly and back: never "message is not modified".
    user.press("areas|design")
    user.press("areas|design")
    await world.until(
        lambda: all(q.answered for q in world.api.callback_queries.values()), "both taps answered"
    )
    no_bad_requests(world)


async def test_start_sets_localised_menus_and_descriptions(world: World) -> None:
    for code, locale in (("it", "it"), ("en", "en"), ("zh", "zh_Hans")):
        call = next(
            c for c in world.api.calls_to("setMyCommands") if c.params.get("language_code") == code
        )
        commands = call.params["commands"]
        names = [entry["command"] for entry in commands]
        assert names == [name for name, _ in COMMANDS]
        assert commands[0]["description"] == translator(locale).gettext(COMMANDS[0][1])
    languages = {c.params.get("language_code") for c in world.api.calls_to("setMyDescription")}
    assert {"it", "en", "zh", None} <= languages
    assert world.api.calls_to("setMyShortDescription")


async def test_language_switch_changes_the_chats_command_menu(world: World) -> None:
    user = world.user(language_code="en")
    await answer(world, user, lambda: user.send_command("/start"), "language")
    await answer(world, user, lambda: user.press("language|en"), "name")
    user.send_command("/language")
    await world.until(
        lambda: any(d.startswith("setlang|") for d in _last_buttons(user)), "language menu"
    )
    user.press("setlang|it")
    await world.until(
        lambda: any(
            "chat" in str(c.params.get("scope")) for c in world.api.calls_to("setMyCommands")
        ),
        "a chat-scoped menu",
    )
    call = [c for c in world.api.calls_to("setMyCommands") if "chat" in str(c.params.get("scope"))][
        -1
    ]
    assert call.params["commands"][0]["description"] == translator("it").gettext(COMMANDS[0][1])


def _last_buttons(user) -> list[str]:  # type: ignore[no-untyped-def]
    from tests.telegram_world import buttons_of

    for message in reversed(user.messages):
        if message.from_bot and message.reply_markup:
            return buttons_of(message)
    return []


async def test_deep_link_payload_reaches_the_core(world: World) -> None:
    await make_event(world.app.sessions, code="weekit2026")  # a known code is kept for later
    user = world.user(language_code="zh-hans")
    await answer(world, user, lambda: user.send_command("/start", "weekit2026"), "language")
    async with world.app.sessions() as session:
        state = await session.scalar(select(ConversationState))
    assert state is not None and state.data.get("start_payload") == "weekit2026"


async def test_blocked_and_unblocked_user(world: World) -> None:
    user = world.user(language_code="en")
    await answer(world, user, lambda: user.send_command("/start"), "language")
    user.block()
    await world.until(lambda: _active(world, user.id) is False, "marked inactive")
    user.unblock()
    await world.until(lambda: _active(world, user.id) is True, "marked active")
    # A send that fails with 403 marks the user too.
    world.api.inject(
        status=403, method="sendMessage", description="Forbidden: bot was blocked by the user"
    )
    user.send_text("hello")
    await world.until(lambda: _active(world, user.id) is False, "marked inactive after a 403")


_ACTIVE: dict[int, bool] = {}


def _active(world: World, user_id: int) -> bool | None:
    import sqlite3

    url = world.app.settings.database_url.removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(url) as db:
        row = db.execute(
            "SELECT active FROM participants WHERE external_id = ?", (str(user_id),)
        ).fetchone()
    return None if row is None else bool(row[0])


async def test_flood_control_and_server_errors_are_survived(world: World) -> None:
    user = world.user(language_code="en")
    world.api.inject(status=429, method="sendMessage", retry_after=1, times=1)
    await answer(world, user, lambda: user.send_command("/start"), "language")
    world.api.inject(status=502, method="sendMessage", times=2)
    await answer(world, user, lambda: user.press("language|en"), "name")
    statuses = [c.status for c in world.api.calls_to("sendMessage")]
    assert 429 in statuses and statuses.count(502) == 2


async def test_double_tap_on_confirm_has_one_effect(world: World) -> None:
    user = world.user(language_code="en")
    await register_on_telegram(world, user, JOHN)
    async with world.app.sessions() as session:
        await session.execute(text("DELETE FROM consent_records"))
        await session.execute(text("UPDATE participants SET registered_at = NULL"))
        await session.execute(
            text("UPDATE conversation_states SET flow = 'registration', step = 'consent'")
        )
        await session.commit()
    user.send_command("/start")
    await world.until(shows_step(user, "consent"), "the consent question")
    user.press("consent|agree")
    user.press("consent|agree")
    await world.until(
        lambda: (
            len(world.api.callback_queries)
            and all(q.answered for q in world.api.callback_queries.values())
        ),
        "answers",
    )
    # A press is answered after its transaction committed: both presses are counted below.
    async with world.app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ConsentRecord)) == 1


async def test_photos_get_a_hint_and_the_question_again(world: World) -> None:
    user = world.user(language_code="en")
    await answer(world, user, lambda: user.send_command("/start"), "language")
    await answer(world, user, lambda: user.press("language|en"), "name")
    count = len(user.messages)
    user.send_photo()
    await world.until(
        lambda: shows_step(user, "name")() and len(user.new_replies()) >= 2, "hint and question"
    )
    assert any("text" in (m.text or "") for m in user.messages[count:] if m.from_bot)


async def test_mydata_arrives_as_a_json_document(world: World) -> None:
    user = world.user(language_code="zh")
    await register_on_telegram(world, user, WANG)
    user.send_command("/mydata")
    await world.until(lambda: world.api.sent_documents(user.id), "a document")
    (document,) = world.api.sent_documents(user.id)
    assert document.file_name == "ponte-my-data.json"
    assert WANG.name.encode() in document.data


@pytest.mark.expect_core_errors
async def test_a_failing_update_is_apologised_for_and_others_are_served(world: World) -> None:
    user = world.user(language_code="it")
    await answer(world, user, lambda: user.send_command("/start"), "language")
    async with world.app.engine.begin() as connection:
        await connection.execute(text("DROP TABLE participant_interests"))
    count = len(user.messages)
    user.send_command("/mydata")
    apology = translator("it").gettext(APOLOGY)
    await world.until(lambda: any(m.text == apology for m in user.messages[count:]), "an apology")
    other = world.user(language_code="en")
    await answer(world, other, lambda: other.send_command("/start"), "language")


async def test_webhook_mode_checks_the_secret(framework: str, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hook.db'}"
    async with running_bot(framework, url, webhook=True) as world:
        hook = world.api.last_call("setWebhook")
        assert hook is not None and hook.params.get("secret_token") == "s3cret-token"
        target = str(hook.params["url"])
        user = world.user(language_code="it")
        await answer(world, user, lambda: user.send_command("/start"), "language")
        assert all(d.status == 200 for d in world.api.webhook_deliveries)

        forged = {
            "update_id": 999_999,
            "message": {
                "message_id": 1, "date": 1_700_000_000, "text": "/start",
                "chat": {"id": 4242, "type": "private", "first_name": "Mallory"},
                "from": {"id": 4242, "is_bot": False, "first_name": "Mallory"},
            },
        }  # fmt: skip
        for secret in (None, "wrong"):
            status = await world.api.post_update(target, forged, secret_token=secret)
            assert status in {401, 403}, status
        # An update posted after them with the secret is answered: had a forged one been
        # taken, it would have been handled by then too.
        later = world.user(language_code="it")
        await answer(world, later, lambda: later.send_command("/start"), "language")
        async with world.app.sessions() as session:
            ids = (await session.scalars(select(Participant.external_id))).all()
        assert sorted(ids) == sorted([str(user.id), str(later.id)]), "a forged update was processed"
    assert world.api.calls_to("deleteWebhook"), "the webhook is removed on stop"


async def test_shutdown_finishes_the_update_in_hand(framework: str, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'stop.db'}"
    async with running_bot(framework, url) as world:
        user = world.user(language_code="en")
        await answer(world, user, lambda: user.send_command("/start"), "language")
        world.api.set_latency(0.5, method="sendMessage")
        user.press("language|en")
        await world.until(
            lambda: world.api.calls_to("answerCallbackQuery"), "the press being handled"
        )
        await world.runtime.stop()
        assert shows_step(user, "name")(), (
            "the reply to the update in hand was sent before stopping"
        )
        world.api.set_latency(0.0)
        world.runtime.stop = _noop  # type: ignore[method-assign]


async def _noop() -> None:
    return None


async def test_unknown_update_types_are_ignored(world: World) -> None:
    user = world.user(language_code="en")
    chat = {"id": user.id, "type": "private", "first_name": "Test"}
    edited = {
        "message_id": 1,
        "date": 1,
        "edit_date": 2,
        "chat": chat,
        "from": user.user_dict,
        "text": "x",
    }
    world.api.enqueue_update({"edited_message": edited})
    await answer(world, user, lambda: user.send_command("/start"), "language")
    assert len([m for m in user.messages if m.from_bot]) == 2  # welcome and the question
    no_bad_requests(world)


async def test_leaving_the_phone_edit_by_a_command_removes_the_keyboard(world: World) -> None:
    user = world.user(language_code="en")
    await register_on_telegram(world, user, JOHN)
    await answer(world, user, lambda: user.send_command("/profile"), "edit")
    await answer(world, user, lambda: user.press("edit|phone"), "phone")
    await world.until(lambda: user.keyboard, "the contact keyboard")
    removals = len(removing_calls(world))
    await answer(world, user, lambda: user.send_command("/profile"), "edit")
    assert len(removing_calls(world)) == removals + 1
    assert not user.keyboard
    no_bad_requests(world)


def removing_calls(world: World) -> list[object]:
    """sendMessage calls whose reply_markup takes the reply keyboard away."""
    found = []
    for call in world.api.calls_to("sendMessage"):
        markup = call.params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        if isinstance(markup, dict) and markup.get("remove_keyboard") is True:
            found.append(call)
    return found

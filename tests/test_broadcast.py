"""Broadcasts through the core: segments, the preview and its problems, the confirmation
(once), the deliveries queued in chunks, the report, and rights against forged payloads."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import App
from storage.event_models import OutboxMessage
from tests.chat import Chat
from tests.events_support import Clock
from tests.organiser_support import CODE, ORGANISER, organiser_core, seed

TEXTS = {
    "it": "<b>Avviso</b>: la sessione sull'energia inizia alle 15.",
    "en": "<b>Notice</b>: the energy session starts at 3 pm.",
    "zh_Hans": "<b>通知</b>：能源分会下午三点开始。",
}


async def outbox_texts(app: App) -> dict[str, str]:
    async with app.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.topic.startswith("broadcast:"))
        )
        return {row.chat_id: row.payload["text"] for row in rows}


async def test_an_organiser_sends_in_three_languages_to_those_interested_in_energy(
    app: App, clock: Clock
) -> None:
    await seed(app)
    core = await organiser_core(app, clock, ORGANISER)
    boss = Chat(core, user=ORGANISER)
    await boss.say(f"/broadcast event={CODE} area=energy")
    assert "Send the text in English" in boss.text
    await boss.say(TEXTS["en"])
    await boss.press("write|it")
    await boss.say(TEXTS["it"])
    await boss.press("write|zh_Hans")
    await boss.say("<b>通知</b>：能源分会下午三点开始。<i>未关闭")
    assert "The tag <i> is opened but never closed." in boss.text
    assert not [b for b in boss.buttons() if "|send|" in b.payload]
    await boss.say(TEXTS["zh_Hans"])
    assert "3 participants" in boss.text
    assert [to for to in boss.texts if to.startswith("Notice")]
    send = next(b for b in boss.buttons() if "|send|" in b.payload)
    await boss.press_payload(send.payload)
    assert "Sending the announcement" in boss.text
    assert await outbox_texts(app) == {
        "anna": TEXTS["it"], "marco": TEXTS["it"], "wang": TEXTS["zh_Hans"],
    }  # fmt: skip
    again = await boss.press_payload(send.payload)
    assert again.notice is not None and "not sent twice" in again.notice.text
    assert len(await outbox_texts(app)) == 3

"""Broadcasts through the core: segments, the preview and its problems, the confirmation
(once), the deliveries queued in chunks, the report, and rights against forged payloads."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import App
from bot.broadcasting import queue_all
from handlers.kernel.markup import to_plain_text
from handlers.organiser.broadcast_texts import payloads
from storage.broadcast_segments import Segment
from storage.broadcasts import BroadcastRepository
from storage.event_models import OutboxMessage
from tests.chat import Chat
from tests.events_support import Clock
from tests.organiser_support import CODE, ORGANISER, many_registered, organiser_core, seed

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
    assert "通知：能源分会下午三点开始。" in boss.text  # the preview, as readers see it
    send = next(b for b in boss.buttons() if "|send|" in b.payload)
    await boss.press_payload(send.payload)
    assert "Sending the announcement" in boss.text
    assert await outbox_texts(app) == {
        "anna": TEXTS["it"], "marco": TEXTS["it"], "wang": TEXTS["zh_Hans"],
    }  # fmt: skip
    again = await boss.press_payload(send.payload)
    assert again.notice is not None and "not sent twice" in again.notice.text
    assert len(await outbox_texts(app)) == 3


async def test_bad_input_gets_a_clear_answer_and_sends_nothing(app: App, clock: Clock) -> None:
    await seed(app)
    core = await organiser_core(app, clock, ORGANISER, "1002")
    boss = Chat(core, user=ORGANISER)
    await boss.say("/broadcast country=DE")
    assert "Nobody matches these conditions" in boss.text
    await boss.say("/broadcast colour=red")
    assert "“colour=red” is not a condition" in boss.text
    await boss.say("/broadcast event=nosuch")
    assert "There is no event with the code “nosuch”." in boss.text
    await boss.say(f"/broadcast event={CODE}")
    await boss.say("   ")
    assert not boss.last.replies, "a blank line does nothing noisy (the core ignores it)"
    await boss.say("x" * 4097)
    assert "The text is 4,097 characters long; a message can have at most 4,096." in boss.text
    await boss.say("a < b")
    assert "A “<” that does not start a tag: write &lt; instead." in boss.text
    await boss.say(
        '<a href="https://example.org">programme</a> &amp; <tg-spoiler>more</tg-spoiler>'
    )
    send = next(b for b in boss.buttons() if "|send|" in b.payload)
    other = Chat(core, user="1002")  # another organiser: not their draft
    forged = await other.press_payload(send.payload)
    assert "no longer works" in "\n".join(to_plain_text(r.text) for r in forged.replies)
    await boss.say("/cancel")
    assert "nothing was sent" in boss.text
    after = await boss.press_payload(send.payload)
    assert after.notice is not None and "not sent twice" in after.notice.text
    assert await outbox_texts(app) == {}


async def test_queueing_resumes_after_a_crash_with_nobody_queued_twice(
    app: App, clock: Clock
) -> None:
    await seed(app)
    await many_registered(app, 30)  # Italian, no consent: not recipients
    async with app.sessions() as session, session.begin():
        repo = BroadcastRepository(session)
        broadcast = await repo.draft(None, TEXTS, {}, clock())
        assert await repo.start(broadcast, Segment(), clock()) == 6
        by_locale, fallback = payloads(TEXTS)
        assert await repo.queue_chunk(broadcast, by_locale, fallback, clock(), size=4) == 4
        broadcast_id = broadcast.id
    try:  # a crash in the middle of the next chunk: nothing of it stays
        async with app.sessions() as session, session.begin():
            repo = BroadcastRepository(session)
            again = await repo.get(broadcast_id)
            assert again is not None
            await repo.queue_chunk(again, by_locale, fallback, clock(), size=4)
            raise RuntimeError("crash")
    except RuntimeError:
        pass
    core = await organiser_core(app, clock)
    async with app.sessions() as session:
        assert await BroadcastRepository(session).needing_queueing() == [broadcast_id]
    assert await queue_all(core, broadcast_id) == 1
    texts = await outbox_texts(app)
    assert sorted(texts) == ["anna", "john", "li", "marco", "out", "wang"]
    async with app.sessions() as session:
        repo = BroadcastRepository(session)
        assert await repo.needing_queueing() == []
        stored = await repo.get(broadcast_id)
        assert stored is not None
        report = await repo.report(stored)
    assert (report.recipients, report.pending, report.waiting) == (6, 6, 0)
    assert await core.run_maintenance() == 0  # not finished: nothing sent yet

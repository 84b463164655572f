"""Stopping a broadcast and its progress edits, through the core: what is not on its way is
never sent, what a sender holds finishes, the report counts the stopped apart, and only the
organiser who drafted it (still an organiser) can stop it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import App
from bot.broadcasting import edit_progress, queue_all
from bot.sending.sender import LEASE
from handlers.core import Core
from handlers.kernel.markup import to_plain_text
from handlers.organiser.broadcast_control import progress_topic
from storage.broadcast_models import Broadcast
from storage.broadcasts import BroadcastRepository, Report, topic_of
from storage.event_models import OutboxMessage
from storage.organisers import OrganiserRepository
from storage.outbox import OutboxRepository, Priority
from tests.chat import Chat
from tests.events_support import Clock
from tests.organiser_support import ORGANISER, organiser_core, seed
from tests.test_broadcast import TEXTS

STALE = "That button is from an earlier message and no longer works."


async def rows(app: App, topic: str) -> list[OutboxMessage]:
    async with app.sessions() as session:
        found = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.topic.startswith(topic))
            .order_by(OutboxMessage.id)
        )
        return list(found)


async def stored(app: App, broadcast_id: int) -> tuple[Broadcast, Report]:
    async with app.sessions() as session:
        repo = BroadcastRepository(session)
        broadcast = await repo.get(broadcast_id)
        assert broadcast is not None
        return broadcast, await repo.report(broadcast)


async def take(app: App, clock: Clock, chat_id: str) -> int:
    """A sender takes the chat's next message (it is in its hands now)."""
    async with app.sessions() as session, session.begin():
        row = await OutboxRepository(session).lease_next("test", clock(), LEASE, chat_id=chat_id)
        assert row is not None
        return row.id


async def deliver(app: App, clock: Clock, message_id: int) -> None:
    async with app.sessions() as session, session.begin():
        await OutboxRepository(session).mark_sent(message_id, clock())


async def confirmed(core: Core, boss: Chat, message_ref: str | None = None) -> int:
    """``/broadcast`` to everyone (six recipients), in English, sent; returns its id."""
    await boss.say("/broadcast")
    await boss.press("write|")
    await boss.say(TEXTS["en"])
    send = next(b for b in boss.buttons() if "|send|" in b.payload)
    await boss.press_payload(send.payload, message_ref)
    assert "Sending the announcement" in boss.text
    return int(send.payload.rsplit("|", 1)[1])


async def test_a_stop_sends_nothing_more_and_the_report_counts_it(
    app: App, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(app)
    monkeypatch.setattr("storage.broadcasts.CHUNK", 2)
    core = await organiser_core(app, clock, ORGANISER, "1002")
    boss = Chat(core, user=ORGANISER)
    broadcast_id = await confirmed(core, boss)
    first = await rows(app, topic_of(broadcast_id))
    assert len(first) == 2  # the first chunk; four deliveries still waiting
    in_hand = await take(app, clock, first[0].chat_id)
    assert await core.run_timed("broadcast", [broadcast_id])  # a second chunk
    queued = await rows(app, topic_of(broadcast_id))
    await deliver(app, clock, await take(app, clock, queued[2].chat_id))
    # One delivered, one in a sender's hands, two queued, two waiting.
    stop = boss.button("stop|" + str(broadcast_id))
    other, outsider = Chat(core, user="1002"), Chat(core, user="john")
    for who, payload in ((other, f"bc|halt|{broadcast_id}"), (outsider, f"bc|halt|{broadcast_id}"),
                         (other, stop.payload), (outsider, stop.payload)):  # fmt: skip
        forged = await who.press_payload(payload)
        assert forged.notice is not None and forged.notice.text == STALE, payload
    assert (await stored(app, broadcast_id))[0].state == "sending"
    await boss.press_payload(stop.payload)
    assert "Stop the announcement? 5 messages are not sent yet." in boss.text
    assert [b.label for b in boss.buttons()] == ["Stop", "Keep sending"]
    await boss.press("keep|" + str(broadcast_id))
    assert boss.text == "Sending goes on." and boss.last.replies[0].edit
    await boss.press_payload(stop.payload)
    halted = await boss.press("halt|" + str(broadcast_id))
    assert halted.notice is not None and halted.notice.text == "Stopped."
    assert "Stopped: 4 messages will not be sent." in boss.text
    again = await boss.press_payload(f"bc|halt|{broadcast_id}")
    assert again.notice is not None and again.notice.text == "Already stopped."
    assert "already stopped; nothing changed" in boss.text
    assert await queue_all(core, broadcast_id) == 0  # nothing more is queued
    after = await rows(app, topic_of(broadcast_id))
    assert len(after) == 4
    assert [(m.id, m.sent_at is None) for m in after if not (m.last_error or "").startswith("stopped:")] == [
        (in_hand, True), (queued[2].id, False)
    ]  # fmt: skip
    broadcast, report = await stored(app, broadcast_id)
    assert broadcast.state == "stopped"
    assert (report.delivered, report.stopped, report.pending, report.not_queued) == (1, 4, 1, 2)
    assert await core.run_maintenance() == 0  # one still in a sender's hands: no report yet
    await deliver(app, clock, in_hand)  # it finishes normally
    assert await core.run_maintenance() == 1
    (final,) = await rows(app, "broadcast-report:")
    text = to_plain_text(final.payload["text"])
    assert "Announcement stopped" in text and "6 of 6" in text
    assert (
        "Delivered: 2" in text and "Not sent (stopped): 4" in text and "Still to send" not in text
    )
    assert await core.run_maintenance() == 0  # reported once
    late = await boss.press_payload(f"bc|stop|{broadcast_id}")
    assert late.notice is not None and late.notice.text == "Already stopped."
    assert [m.sent_at is not None for m in await rows(app, topic_of(broadcast_id))] == [True] * 4


async def test_an_organiser_removed_since_cannot_stop_and_one_finished_is_not_stopped(
    app: App, clock: Clock
) -> None:
    await seed(app)
    core = await organiser_core(app, clock, ORGANISER)
    async with app.sessions() as session, session.begin():
        await OrganiserRepository(session).add("test", "1003", ORGANISER, clock())
    added = Chat(core, user="1003")
    broadcast_id = await confirmed(core, added)
    async with app.sessions() as session, session.begin():
        await OrganiserRepository(session).remove("test", "1003")
    refused = await added.press_payload(f"bc|halt|{broadcast_id}")
    assert refused.notice is not None and refused.notice.text == STALE
    assert (await stored(app, broadcast_id))[1].stopped == 0
    for message in await rows(app, topic_of(broadcast_id)):
        await deliver(app, clock, message.id)
    assert await core.run_maintenance() == 1  # sent in full
    boss = Chat(core, user=ORGANISER)
    mine = await confirmed(core, boss)
    for message in await rows(app, topic_of(mine)):
        await deliver(app, clock, message.id)
    finished = await boss.press_payload(f"bc|halt|{mine}")
    assert finished.notice is not None and finished.notice.text == "Nothing to stop."
    assert "no longer being sent; there is nothing to stop" in boss.text
    _broadcast, report = await stored(app, mine)
    assert (report.delivered, report.stopped) == (6, 0)


async def test_the_progress_message_is_edited_as_deliveries_settle(app: App, clock: Clock) -> None:
    await seed(app)
    core = await organiser_core(app, clock, ORGANISER)
    boss = Chat(core, user=ORGANISER)
    unnamed = await confirmed(core, boss)  # a channel that cannot edit names no message
    assert (await stored(app, unnamed))[0].progress_ref is None
    broadcast_id = await confirmed(core, boss, message_ref="77")
    assert (await stored(app, broadcast_id))[0].progress_ref == "77"
    messages = await rows(app, topic_of(broadcast_id))
    await deliver(app, clock, messages[0].id)
    assert await edit_progress(core) == 1
    # Not within two seconds of "Send": the tap's own edit of the message may not be out yet.
    assert await rows(app, progress_topic(broadcast_id)) == []
    clock.advance(seconds=2)
    shown = []
    for delivered in ([], [messages[1]]):  # the one settled before, then one more
        for message in delivered:
            await deliver(app, clock, message.id)
        assert await edit_progress(core) == 1
        (edit,) = [m for m in await rows(app, progress_topic(broadcast_id)) if m.sent_at is None]
        assert (edit.chat_id, edit.priority, edit.payload["replaces"]) == (
            ORGANISER, Priority.NOTICE, "77"
        )  # fmt: skip
        shown.append(to_plain_text(edit.payload["text"]))
    assert len(await rows(app, progress_topic(broadcast_id))) == 1  # the older one withdrawn
    assert "1 of 6" in shown[0] and "2 of 6" in shown[1] and "Delivered: 2" in shown[1]
    (latest,) = await rows(app, progress_topic(broadcast_id))
    await deliver(app, clock, latest.id)
    assert await edit_progress(core) == 1
    assert len(await rows(app, progress_topic(broadcast_id))) == 1  # no change, no edit
    for message in messages[2:]:
        await deliver(app, clock, message.id)
    await edit_progress(core)
    final = (await rows(app, progress_topic(broadcast_id)))[-1]
    assert final.sent_at is None and final.payload["buttons"] == []
    assert "Announcement sent" in final.payload["text"]
    assert await edit_progress(core) == 0  # finished: the message is no longer edited


async def test_no_more_edits_once_the_progress_message_cannot_be_edited(
    app: App, clock: Clock
) -> None:
    await seed(app)
    core = await organiser_core(app, clock, ORGANISER)
    broadcast_id = await confirmed(core, Chat(core, user=ORGANISER), message_ref="77")
    clock.advance(seconds=2)
    messages = await rows(app, topic_of(broadcast_id))
    await deliver(app, clock, messages[0].id)
    await edit_progress(core)
    (edit,) = await rows(app, progress_topic(broadcast_id))
    async with app.sessions() as session, session.begin():  # the organiser deleted it
        await OutboxRepository(session).give_up(
            edit.id, "rejected: Bad Request: message to edit not found", clock()
        )
    await deliver(app, clock, messages[1].id)
    assert await edit_progress(core) == 1
    assert [m.id for m in await rows(app, progress_topic(broadcast_id))] == [edit.id]  # none queued
    assert (await stored(app, broadcast_id))[0].progress_ref is None
    assert await edit_progress(core) == 0

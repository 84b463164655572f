"""Broadcasts on Telegram (aiogram and python-telegram-bot, against the fake Bot API):
three languages to a few hundred people, some blocked and some answered 429; a crash in the
middle and the resume on a new process's worth of objects; forged payloads."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.sending.sender import CONCURRENCY, LEASE, RECORD_EVERY, OutboundSender
from handlers.organiser.broadcast_texts import payloads
from storage.broadcast_models import Broadcast
from storage.broadcast_segments import Segment
from storage.broadcasts import BroadcastRepository
from tests.broadcast_support import add_recipients
from tests.events_support import Clock, make_event
from tests.fake_bot_api import FakeBotApi, SimulatedUser
from tests.organiser_support import CODE
from tests.telegram_world import FRAMEWORKS, World, buttons_of, running_bot

pytestmark = pytest.mark.parametrize("framework", FRAMEWORKS)
BOSS, OTHER, STRANGER = 5001, 5002, 7007
TEXTS = {
    "it": "<b>Avviso</b>: la sessione sull'energia inizia alle 15.",
    "en": "<b>Notice</b>: the energy session starts at 3 pm.",
    "zh_Hans": "<b>通知</b>：能源分会下午三点开始。",
}
SHOWN = {"it": "Avviso: la sessione sull'energia inizia alle 15.",
         "en": "Notice: the energy session starts at 3 pm.",
         "zh_Hans": "通知：能源分会下午三点开始。"}  # fmt: skip


def received(api: FakeBotApi, people: dict[int, str]) -> dict[int, list[str]]:
    """What each recipient's chat shows from the bot."""
    return {uid: [m.text or "" for m in api.chat(uid).bot_messages] for uid in people}


async def report_of(world: World, broadcast_id: int):  # type: ignore[no-untyped-def]
    async with world.app.sessions() as session:
        repo = BroadcastRepository(session)
        broadcast = await repo.get(broadcast_id)
        assert broadcast is not None
        return await repo.report(broadcast)


async def latest_broadcast(world: World) -> int:
    async with world.app.sessions() as session:
        value = await session.scalar(select(func.max(Broadcast.id)))
        assert value is not None
        return int(value)


async def step(user: SimulatedUser, action: object, count: int = 1) -> list[str]:
    return [m.text or "" for m in await user.wait_for_reply(count, timeout=20)]


async def test_three_languages_to_hundreds_with_blocked_and_429s(
    framework: str, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bc.db'}"
    async with running_bot(framework, url, admin_ids=(BOSS,)) as world:
        api = world.api
        flood = api.enforce_limits(30)
        event_id = await make_event(world.app.sessions, code=CODE)
        people = await add_recipients(world.app.sessions, 240, event_id=event_id)
        for uid in people:
            api.user(uid, f"R{uid}")
        blocked = list(people)[5:240:40]  # six who blocked the bot, unknown to Ponte yet
        for uid in blocked:
            api.chat(uid).blocked = True
        for uid in list(people)[7:240:60]:  # four answered "retry after 1" once
            api.inject(status=429, method="sendMessage", retry_after=1, chat_id=uid)
        boss = api.user(BOSS, "Olga")
        boss.send_command("/broadcast", f"event={CODE} area=energy")
        assert "Send the text in English" in (await step(boss, None))[0]
        boss.send_text(TEXTS["en"])
        await world.until_message(boss, lambda m: "Send to 240 participants" in str(m.reply_markup))
        boss.press_data("bc|write|it")
        await step(boss, None)
        boss.send_text(TEXTS["it"])
        await world.until_message(boss, lambda m: "Check the announcement" in (m.text or ""))
        boss.press_data("bc|write|zh_Hans")
        await step(boss, None)
        boss.send_text("<b>通知</b>：能源分会<blink>下午三点</blink>开始。")
        problem = await world.until_message(boss, lambda m: "<blink>" in (m.text or ""))
        assert "Telegram does not accept the tag <blink>." in (problem.text or "")
        summary = await world.until_message(
            boss,
            lambda m: (
                "Check the announcement" in (m.text or "") and m.message_id > problem.message_id
            ),
        )
        assert not [d for d in buttons_of(summary) if d.startswith("bc|send|")]
        boss.send_text(TEXTS["zh_Hans"])
        summary = await world.until_message(
            boss, lambda m: any(d.startswith("bc|send|") for d in buttons_of(m))
        )
        assert "240 participants" in (summary.text or "")
        (send,) = [d for d in buttons_of(summary) if d.startswith("bc|send|")]
        boss.press(send, summary)
        await world.until_message(boss, lambda m: "Sending the announcement" in (m.text or ""))
        again = boss.press_data(send, summary)
        await world.until(lambda: again.answer_text, "the second tap's answer")
        assert "not sent twice" in str(again.answer_text)
        broadcast_id = await latest_broadcast(world)

        async def settled() -> None:
            while (await report_of(world, broadcast_id)).pending:  # noqa: ASYNC110
                await asyncio.sleep(0.2)

        await asyncio.wait_for(settled(), 90)
        await world.app.core.run_maintenance()  # the sweep that sends the report
        final = await world.until_message(boss, lambda m: "Announcement sent" in (m.text or ""), 20)
        report = await report_of(world, broadcast_id)
        got = received(api, people)
        assert all(len(texts) <= 1 for texts in got.values())
        assert sum(len(texts) for texts in got.values()) == report.delivered == 234
        assert (report.blocked, report.failed, report.uncertain) == (6, 0, 0)
        assert all(got[uid] == ([] if uid in blocked else [SHOWN[people[uid]]]) for uid in people)
        assert "Delivered: 234" in (final.text or "") and "Blocked the bot: 6" in (final.text or "")
        # Within Telegram's limits: the recipients met only the injected 429s.
        assert [chat for _, chat in flood.refused if int(chat) in people] == []
        async with world.app.sessions() as session:
            count = await BroadcastRepository(session).count(
                Segment(event_id=event_id), world.app.clock()
            )
        assert count == 234  # the blocked ones are skipped next time


FORGED = ["bc|new", "bc|pick|event", "bc|set|area|energy", "bc|clear", "bc|back", "bc|write|it",
          "bc|send|1", "bc|prog|1", "bc|drop|1", "bc|stop|1", "bc|halt|1", "bc|keep|1",
          "bc|send|99999999999999"]  # fmt: skip


async def test_broadcast_buttons_do_nothing_for_others(framework: str, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bc.db'}"
    async with running_bot(framework, url, admin_ids=(BOSS, OTHER)) as world:
        api = world.api
        event_id = await make_event(world.app.sessions, code=CODE)
        people = await add_recipients(world.app.sessions, 6, event_id=event_id)
        for uid in people:
            api.user(uid, f"R{uid}")
        boss = api.user(BOSS, "Olga")
        boss.send_command("/broadcast", "area=energy")
        await step(boss, None)
        boss.send_text(TEXTS["en"])
        await world.until_message(
            boss, lambda m: any(d.startswith("bc|send|") for d in buttons_of(m))
        )
        stranger, other = api.user(STRANGER, "Eve"), api.user(OTHER, "Otto")
        stranger.send_command("/nosuch")
        unknown = await step(stranger, None, 2)
        stranger.send_command("/broadcast", "area=energy")
        assert await step(stranger, None, 2) == [
            t.replace("/nosuch", "/broadcast") for t in unknown
        ]
        for who in (stranger, other):
            who.send_command("/nosuch")
            await step(who, None, 2)
            for payload in FORGED[1:] if who is other else FORGED:
                press = who.press_data(payload)
                await world.until(lambda p=press: p.answered, f"the answer to {payload}")  # type: ignore[misc]
                assert (
                    press.answer_text
                    == "That button is from an earlier message and no longer works."
                ), payload
        await asyncio.sleep(0.5)
        assert all(api.chat(uid).bot_messages == [] for uid in people)
        async with world.app.sessions() as session:
            draft = await session.get(Broadcast, 1)
            assert draft is not None and draft.state == "draft"


async def test_a_crash_in_the_middle_resumes_with_nobody_served_twice(
    framework: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bc.db'}"
    monkeypatch.setattr("storage.broadcasts.CHUNK", 40)
    clock = Clock(ticking=True)
    async with running_bot(framework, url, clock=clock) as first:
        event_id = await make_event(first.app.sessions, code=CODE)
        people = await add_recipients(first.app.sessions, 200, event_id=event_id)
        for uid in people:
            first.api.user(uid, f"R{uid}")
        first.api.set_latency(0.05, "sendMessage")
        async with first.app.sessions() as session, session.begin():
            repo = BroadcastRepository(session)
            broadcast = await repo.draft(None, TEXTS, {"event": CODE}, clock())
            await repo.start(broadcast, Segment(event_id=event_id), clock())
            by_locale, fallback = payloads(TEXTS)
            await repo.queue_chunk(broadcast, by_locale, fallback, clock())  # 40 of 200
            broadcast_id = broadcast.id
        first.app.core.outbox_ready.set()
        await first.until(
            lambda: sum(len(c.bot_messages) for c in map(first.api.chat, people)) >= 25,
            "25 sent",
            30,
        )
        # The crash: nothing in hand is settled, no outcome not yet written is written, and
        # the scheduler never queues the rest.
        monkeypatch.setattr(OutboundSender, "_settle", _nothing)
        monkeypatch.setattr(OutboundSender, "_record", _nothing_recorded)
        first.serving.scheduling.shutdown()
        first.serving.sender.cancel()
        await asyncio.gather(first.serving.sender, return_exceptions=True)
        first.serving.stopped = True
        await first.runtime.stop()
        monkeypatch.undo()
        before = {uid: len(first.api.chat(uid).bot_messages) for uid in people}
    clock.now += LEASE  # the next start comes after the dead sender's leases ran out
    async with running_bot(framework, url, clock=clock) as second:
        for uid in people:
            second.api.user(uid, f"R{uid}")

        async def settled() -> None:
            while (await report_of(second, broadcast_id)).pending:  # noqa: ASYNC110
                await asyncio.sleep(0.2)

        await asyncio.wait_for(settled(), 90)
        report = await report_of(second, broadcast_id)
        total = {uid: before[uid] + len(second.api.chat(uid).bot_messages) for uid in people}
    assert max(total.values()) == 1  # nobody twice
    arrived = sum(total.values())
    assert report.failed == report.blocked == 0
    assert report.delivered + report.uncertain == 200
    assert report.delivered <= arrived <= report.delivered + report.uncertain
    # At most the messages in hand, and those whose outcome waited to be written with others
    # (RECORD_EVERY: at the default 25 a second, one or two).
    assert report.uncertain <= CONCURRENCY + math.ceil(25 * RECORD_EVERY) + 1


def _nothing(*_args: object, **_kwargs: object) -> None:
    return None


async def _nothing_recorded(*_args: object, **_kwargs: object) -> None:
    return None


async def test_a_reply_and_a_reminder_overtake_the_broadcast_backlog(
    framework: str, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bc.db'}"
    async with running_bot(framework, url) as world:
        api = world.api
        event_id = await make_event(world.app.sessions, code=CODE)
        people = await add_recipients(world.app.sessions, 150, event_id=event_id)
        for uid in people:
            api.user(uid, f"R{uid}")
        async with world.app.sessions() as session, session.begin():
            repo = BroadcastRepository(session)
            broadcast = await repo.draft(None, TEXTS, {}, world.app.clock())
            await repo.start(broadcast, Segment(event_id=event_id), world.app.clock())
            by_locale, fallback = payloads(TEXTS)
            await repo.queue_chunk(broadcast, by_locale, fallback, world.app.clock())
        world.app.core.outbox_ready.set()

        def broadcast_sent() -> int:
            return sum(len(api.chat(uid).bot_messages) for uid in people)

        await world.until(lambda: broadcast_sent() >= 20, "the broadcast under way", 30)
        reader, writer = list(people)[-1], api.user(4242, "Walter")
        async with world.app.sessions() as session, session.begin():
            from sqlalchemy import select

            from storage.models import Participant
            from storage.outbox import OutboxRepository, Priority

            person = await session.scalar(
                select(Participant).where(Participant.chat_id == str(reader))
            )
            assert person is not None
            OutboxRepository(session).queue(
                person, {"text": "Reminder: your meeting starts in 15 minutes.", "buttons": []},
                world.app.clock(), priority=Priority.REMINDER, once=True,
            )  # fmt: skip
        world.app.core.outbox_ready.set()
        writer.send_command("/help")
        await world.until(lambda: api.chat(4242).bot_messages, "the reply", 10)
        await world.until(lambda: len(api.chat(reader).bot_messages) >= 1, "the reminder", 10)
        at_reply = broadcast_sent()
        assert at_reply < 150 - 25  # more than a second of broadcast still to go
        assert (api.chat(reader).bot_messages[0].text or "").startswith("Reminder")

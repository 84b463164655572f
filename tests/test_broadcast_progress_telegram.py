"""A broadcast on Telegram (aiogram and python-telegram-bot, against the fake Bot API) while
it goes out: the progress message counts up by itself and shows it finished; "Stop sending"
in the middle sends nothing more, and the report's numbers are what the server received;
forged stops change nothing."""

from __future__ import annotations

import asyncio
import re

import pytest

from bot.sending.sender import CONCURRENCY
from storage.broadcasts import Report
from tests.broadcast_support import add_recipients
from tests.events_support import make_event
from tests.fake_bot_api import SimulatedUser, StoredMessage
from tests.organiser_support import CODE
from tests.telegram_world import FRAMEWORKS, World, buttons_of, running_bot
from tests.test_broadcast_telegram import BOSS, OTHER, STRANGER, TEXTS, latest_broadcast, report_of

pytestmark = pytest.mark.parametrize("framework", FRAMEWORKS)
STALE = "That button is from an earlier message and no longer works."


@pytest.fixture(autouse=True)
def quick_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """Progress edits a few times a second instead of every few seconds."""
    monkeypatch.setattr("bot.scheduler.PROGRESS_SECONDS", 0.3)


async def confirmed(
    world: World, boss: SimulatedUser, count: int
) -> tuple[list[int], StoredMessage]:
    """``count`` recipients and a broadcast in English to them, confirmed by the boss;
    returns the recipients and the progress message (the confirmation, edited)."""
    api = world.api
    event_id = await make_event(world.app.sessions, code=CODE)
    people = list(await add_recipients(world.app.sessions, count, event_id=event_id))
    for uid in people:
        api.user(uid, f"R{uid}")
    boss.send_command("/broadcast", f"event={CODE} area=energy")
    await world.until_message(boss, lambda m: "Send the text in English" in (m.text or ""))
    boss.send_text(TEXTS["en"])
    summary = await world.until_message(
        boss, lambda m: any(d.startswith("bc|send|") for d in buttons_of(m))
    )
    (send,) = [d for d in buttons_of(summary) if d.startswith("bc|send|")]
    boss.press_data(send, summary)
    await world.until(lambda: "Sending the announcement" in (summary.text or ""), "progress")
    return people, summary


def counts(message: StoredMessage, total: int) -> list[int]:
    """The "N of TOTAL" the message showed, version after version."""
    versions = [edit["text"] or "" for edit in message.edits] + [message.text or ""]
    found = (re.search(rf"(\d+) of {total}\b", text) for text in versions)
    return [int(match.group(1)) for match in found if match]


def received(world: World, people: list[int]) -> int:
    return sum(len(world.api.chat(uid).bot_messages) for uid in people)


async def settled(world: World, broadcast_id: int) -> Report:
    async def wait() -> Report:
        while (report := await report_of(world, broadcast_id)).pending:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        return report

    return await asyncio.wait_for(wait(), 60)


async def test_the_progress_message_counts_up_by_itself_and_shows_it_finished(
    framework: str, database_url: str
) -> None:
    async with running_bot(framework, database_url, admin_ids=(BOSS,), outbound_rate=10) as world:
        boss = world.api.user(BOSS, "Olga")
        people, progress = await confirmed(world, boss, 40)
        await world.until(
            lambda: "Announcement sent" in (progress.text or ""), "the progress finished", 60
        )
        shown = counts(progress, 40)
        assert shown == sorted(shown) and shown[0] == 0 and shown[-1] == 40
        assert len(set(shown)) >= 3, shown  # numbers in between, edited without a tap
        assert [q.data for q in boss.queries if q.data and q.data.startswith("bc|prog|")] == []
        assert "Delivered: 40" in (progress.text or "") and buttons_of(progress) == []
        assert received(world, people) == 40
        edits = len(progress.edits)
        await asyncio.sleep(1.0)
        assert len(progress.edits) == edits  # finished: no more edits


async def test_a_stop_in_the_middle_sends_nothing_more(framework: str, database_url: str) -> None:
    # Slow enough (24 s for 120) that the forged presses before the stop cannot outlast the
    # broadcast on a loaded machine.
    async with running_bot(
        framework, database_url, admin_ids=(BOSS, OTHER), outbound_rate=5
    ) as world:
        api = world.api
        boss = api.user(BOSS, "Olga")
        people, progress = await confirmed(world, boss, 120)
        broadcast_id = await latest_broadcast(world)
        await world.until(lambda: len(set(counts(progress, 120))) >= 2, "a progress edit", 20)
        stop = f"bc|stop|{broadcast_id}"
        assert stop in buttons_of(progress)
        for who in (api.user(OTHER, "Otto"), api.user(STRANGER, "Eve")):
            who.send_command("/nosuch")
            await who.wait_for_reply(2)
            for payload in (stop, f"bc|halt|{broadcast_id}"):
                press = who.press_data(payload)
                await world.until(lambda p=press: p.answered, f"the answer to {payload}")  # type: ignore[misc]
                assert press.answer_text == STALE, payload
        assert (await report_of(world, broadcast_id)).stopped == 0
        boss.press_data(stop, progress)
        ask = await world.until_message(boss, lambda m: "Stop the announcement?" in (m.text or ""))
        assert re.search(r"\d+ messages are not sent yet", ask.text or ""), ask.text
        halt = boss.press_data(f"bc|halt|{broadcast_id}", ask)
        await world.until(lambda: (ask.text or "").startswith("Stopped:"), "the stop", 20)
        assert halt.answer_text == "Stopped."
        assert re.match(r"Stopped: \d+ messages will not be sent", ask.text or ""), ask.text
        at_stop = received(world, people)
        report = await settled(world, broadcast_id)
        await world.app.core.run_maintenance()  # the sweep that sends the report
        final = await world.until_message(
            boss, lambda m: "Announcement stopped" in (m.text or "") and m is not progress, 20
        )
        await world.until(lambda: "Announcement stopped" in (progress.text or ""), "the last edit")
        again = boss.press_data(f"bc|halt|{broadcast_id}", ask)
        await world.until(lambda: again.answered, "the second stop's answer")
        assert again.answer_text == "Already stopped."
        await asyncio.sleep(1.0)  # nothing more arrives
        got = received(world, people)
        assert all(len(api.chat(uid).bot_messages) <= 1 for uid in people)
        # At most the messages then in the sender's hands arrive after the stop.
        assert got == report.delivered and 0 < got < 120 and got <= at_stop + CONCURRENCY
        assert report.stopped == 120 - got and report.blocked == report.failed == 0
        assert report == await report_of(world, broadcast_id)
        for text in (final.text or "", progress.text or ""):
            assert f"Delivered: {got}" in text and f"Not sent (stopped): {120 - got}" in text
        assert buttons_of(progress) == []
        shown = counts(progress, 120)
        assert shown == sorted(shown) and shown[-1] == 120

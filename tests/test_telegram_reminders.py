"""Reminders on Telegram: sent by the real sender through aiogram and python-telegram-bot to
the fake Bot API, answered with their buttons; a recipient who blocked the bot is skipped."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.event_models import Meeting
from storage.models import Participant
from tests.chat import Chat
from tests.events_support import Clock, Someone, add_people, make_event
from tests.telegram_world import FRAMEWORKS, World, buttons_of, running_bot

FIRST_SLOT = datetime(2026, 12, 15, 8, 0, tzinfo=UTC)


def jump(world: World, moment: datetime) -> None:
    """Set the running bot's (ticking) clock to ``moment``."""
    clock = world.app.clock
    assert isinstance(clock, Clock)
    clock.started, clock.now = time.monotonic(), moment


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_reminders_reach_telegram_and_their_buttons_work(
    framework: str, tmp_path: Path
) -> None:
    async with running_bot(framework, f"sqlite+aiosqlite:///{tmp_path / 'r.db'}") as world:
        event = await make_event(world.app.sessions)
        maria = world.user(first_name="Maria", language_code="it")
        wang = world.user(first_name="Wang", language_code="zh-hans")
        li = world.user(first_name="Li", language_code="en")
        ids = await add_people(world.app.sessions, event, [
            Someone(str(maria.id), "Maria Rossi", "IT", "it", ("energy",), "a", "b", channel="telegram"),
            Someone(str(wang.id), "Wang Wei", "CN", "zh_Hans", ("energy",), "c", "d", channel="telegram"),
            Someone(str(li.id), "Li Na", "CN", "en", ("energy",), "e", "f", channel="telegram"),
        ])  # fmt: skip
        requester = Chat(world.app.core, user=str(maria.id), lang="it", channel="telegram")
        for invitee in (wang, li):
            await requester.press_payload(f"rqn|{ids[str(invitee.id)]}|{event}")
            await requester.press("note|send")
            invitation = await world.until_message(
                invitee, lambda m: "rq|" in " ".join(buttons_of(m))
            )
            invitee.press(
                next(d for d in buttons_of(invitation) if d.endswith("|a")), message=invitation
            )
            await world.until(
                lambda who=invitee: len(world.api.sent_documents(who.id)) == 1, "calendar file"
            )
        li.block()  # Li will not be reachable when the reminders go out
        async with world.app.sessions() as session:
            meetings = {
                m.second_id: m for m in (await session.scalars(select(Meeting))).unique().all()
            }
        with_wang, with_li = meetings[ids[str(wang.id)]], meetings[ids[str(li.id)]]
        assert with_wang.slot is not None and with_li.slot is not None

        jump(world, with_wang.slot.starts_at - timedelta(minutes=15))
        await world.serving.scheduling.sweep()
        for_maria = await world.until_message(
            maria, lambda m: f"at|{with_wang.id}|y" in buttons_of(m)
        )
        assert "Wang Wei" in (for_maria.text or "") and "tra 15 minuti" in (for_maria.text or "")
        for_wang = await world.until_message(
            wang, lambda m: f"at|{with_wang.id}|y" in buttons_of(m)
        )
        assert "15分钟后" in (for_wang.text or "")
        assert f"at|{with_wang.id}|l" in buttons_of(for_wang), "Running late, close to the start"

        maria.press(f"at|{with_wang.id}|y", message=for_maria)
        await world.until_message(
            maria, lambda m: "Wang Wei" in (m.text or "") and "✅" in (m.text or "")
        )
        wang.press(f"at|{with_wang.id}|n", message=for_wang)
        confirm = await world.until_message(wang, lambda m: f"at|{with_wang.id}|N" in buttons_of(m))
        wang.press(f"at|{with_wang.id}|N", message=confirm)
        await world.until_message(wang, lambda m: "已取消" in (m.caption or ""))
        await world.until_message(
            maria, lambda m: "Wang Wei" in (m.caption or "") and "annull" in (m.caption or "")
        )

        # Li blocked the bot: the first reminder that fails marks Li unreachable, and
        # nothing more is tried for Li.
        jump(world, with_li.slot.starts_at - timedelta(minutes=15))
        await world.serving.scheduling.sweep()

        async def li_inactive() -> bool:
            async with world.app.sessions() as session:
                return not (await session.get(Participant, ids[str(li.id)])).active  # type: ignore[union-attr]

        async with asyncio.timeout(10):
            while not await li_inactive():  # noqa: ASYNC110 - the database has no event to wait on
                await asyncio.sleep(0.05)
        failures = [(c.method, c.status) for c in world.api.calls if c.status >= 400]
        assert all(status == 403 for _method, status in failures), failures

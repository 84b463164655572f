"""``ponte broadcast``: previews, refusals that send nothing, queueing, and the report."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bot.app import build_app
from bot.cli import main
from bot.config import Settings
from bot.sending.sender import LEASE
from storage.broadcast_models import Broadcast
from storage.event_models import OutboxMessage
from storage.outbox import OutboxRepository
from tests.events_support import Clock
from tests.organiser_support import CODE
from tests.test_organiser_cli import database  # noqa: F401 - the seeded database fixture

EN = "<b>Notice</b>: the energy session starts at 3 pm."
ZH = "<b>通知</b>：能源分会下午三点开始。"


def outbox(url: str) -> list[OutboxMessage]:
    async def read() -> list[OutboxMessage]:
        app = await build_app(Settings(database_url=url, _env_file=None), clock=Clock())
        try:
            async with app.sessions() as session:
                return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        finally:
            await app.close()

    return asyncio.run(read())


def broadcasts(url: str) -> int:
    async def read() -> int:
        app = await build_app(Settings(database_url=url, _env_file=None), clock=Clock())
        try:
            async with app.sessions() as session:
                return int(await session.scalar(select(func.count(Broadcast.id))) or 0)
        finally:
            await app.close()

    return asyncio.run(read())


def test_refusals_send_nothing(database: str, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    segment = ["--segment", f"event={CODE}", "area=energy"]
    assert main(["broadcast", *segment, "--text-en", "<b>Notice", "--yes"]) == 2
    captured = capsys.readouterr()
    assert "The tag <b> is opened but never closed." in captured.out
    assert "nothing was sent" in captured.err
    assert (
        main(["broadcast", "--segment", "country=DE", "area=energy", "--text-en", EN, "--yes"]) == 2
    )
    assert "nobody matches" in capsys.readouterr().err
    assert main(["broadcast", "--segment", "colour=red", "--text-en", EN, "--yes"]) == 2
    assert "“colour=red” is not a condition" in capsys.readouterr().err
    assert main(["broadcast", *segment, "--text-en", EN]) == 2  # not at a terminal, no --yes
    assert "--yes" in capsys.readouterr().err
    assert main(["broadcast", *segment, "--text-en", " "]) == 2
    assert "The text is empty." in capsys.readouterr().out
    assert outbox(database) == [] and broadcasts(database) == 0


def test_queued_then_reported(database: str, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    argv = ["broadcast", "--segment", f"event={CODE}", "area=energy",
            "--text-en", EN, "--text-zh", ZH, "--yes", "--idle", "0.5"]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "Recipients: event: Italy–China Matchmaking Day; interest area: Energy" in captured.out
    assert "3 participants" in captured.out
    assert "Notice: the energy session starts at 3 pm." in captured.out
    assert "通知：能源分会下午三点开始。" in captured.out
    assert "is the bot running" in captured.err and "ponte broadcast --report 1" in captured.err
    assert "Still to send: 3" in captured.out
    queued = outbox(database)
    # Anna and Marco read Italian: no Italian text, so English; Wang reads Chinese.
    assert {m.chat_id: m.payload["text"] for m in queued} == {"anna": EN, "marco": EN, "wang": ZH}
    assert {(m.priority, m.once) for m in queued} == {(3, True)}

    async def deliver() -> None:  # what the running bot's sender records
        app = await build_app(Settings(database_url=database, _env_file=None), clock=Clock())
        try:
            async with app.sessions() as session, session.begin():
                repo = OutboxRepository(session)
                await repo.mark_sent(queued[0].id, Clock()())
                await repo.mark_sent(queued[1].id, Clock()())
                await repo.give_up(queued[2].id, "blocked: Forbidden", Clock()())
        finally:
            await app.close()

    asyncio.run(deliver())
    assert main(["broadcast", "--report", "1", "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert "已送达：2" in out and "已屏蔽机器人：1" in out and "待发送" not in out


def test_stop_from_the_command_line(database: str, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    argv = ["broadcast", "--segment", f"event={CODE}", "area=energy", "--text-en", EN, "--yes",
            "--idle", "0.3"]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    queued = outbox(database)

    async def take_one() -> None:  # a running bot's sender holds the first one
        app = await build_app(Settings(database_url=database, _env_file=None), clock=Clock())
        try:
            async with app.sessions() as session, session.begin():
                row = await OutboxRepository(session).lease_next(
                    queued[0].channel, queued[0].not_before, LEASE, chat_id=queued[0].chat_id
                )
                assert row is not None
        finally:
            await app.close()

    asyncio.run(take_one())
    assert main(["broadcast", "--stop", "1", "--idle", "0.3"]) == 0
    captured = capsys.readouterr()
    assert "broadcast 1 stopped: 2 messages will not be sent" in captured.out
    assert "Stopping the announcement" in captured.out and "Not sent (stopped): 2" in captured.out
    assert "Still to send: 1" in captured.out  # the one in hand goes on
    after = outbox(database)
    assert [m.sent_at is None for m in after] == [True, False, False]
    assert all((m.last_error or "").startswith("stopped:") for m in after[1:])
    assert main(["broadcast", "--stop", "1"]) == 2
    assert "broadcast 1 was already stopped; nothing was changed" in capsys.readouterr().err
    assert main(["broadcast", "--stop", "9"]) == 2
    assert "there is no broadcast 9" in capsys.readouterr().err
    assert [(m.sent_at, m.last_error) for m in outbox(database)] == [
        (m.sent_at, m.last_error) for m in after
    ]  # the refusals changed nothing

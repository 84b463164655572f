"""Transactions: SQLite writers queue without blocking the event loop; a turn is atomic."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import App
from handlers.core import APOLOGY
from handlers.kernel.i18n import translator
from storage.db import create_engine
from storage.models import ConversationState, Participant
from tests.chat import Chat


@pytest.fixture
async def sqlite_file(tmp_path: Path) -> AsyncIterator[tuple[Path, AsyncEngine]]:
    """A SQLite file with a one-row counter table, and an engine on it."""
    path = tmp_path / "shared.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        await connection.execute(text("INSERT INTO counter VALUES (0)"))
    try:
        yield path, engine
    finally:
        await engine.dispose()


async def test_sqlite_runs_on_aiosqlite_with_foreign_keys_and_wal(
    sqlite_file: tuple[Path, AsyncEngine],
) -> None:
    _, engine = sqlite_file
    assert engine.dialect.driver == "aiosqlite"
    async with engine.connect() as connection:
        assert await connection.scalar(text("PRAGMA foreign_keys")) == 1
        assert await connection.scalar(text("PRAGMA journal_mode")) == "wal"
        assert await connection.scalar(text("PRAGMA busy_timeout")) >= 1000


async def test_two_writers_that_read_first_both_succeed_one_after_the_other(
    sqlite_file: tuple[Path, AsyncEngine],
) -> None:
    """Each reads the counter, then writes it: with deferred transactions the second
    would read before the first commits, then fail with "database is locked"."""
    path, first = sqlite_file
    second = create_engine(f"sqlite+aiosqlite:///{path}")  # as another worker would
    first_has_read = asyncio.Event()
    second_has_read = asyncio.Event()

    async def increment(engine: AsyncEngine, read: asyncio.Event) -> None:
        async with engine.begin() as connection:
            n = await connection.scalar(text("SELECT n FROM counter"))
            read.set()
            if read is first_has_read:
                # Give the second writer every chance to read the same value meanwhile;
                # with BEGIN IMMEDIATE it cannot, and this times out.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(second_has_read.wait(), 0.5)
            await connection.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

    async def second_writer() -> None:
        await first_has_read.wait()
        await increment(second, second_has_read)

    try:
        await asyncio.gather(increment(first, first_has_read), second_writer())
        async with first.connect() as connection:
            assert await connection.scalar(text("SELECT n FROM counter")) == 2
    finally:
        await second.dispose()


async def test_a_writer_waiting_for_the_lock_leaves_the_loop_free(
    sqlite_file: tuple[Path, AsyncEngine],
) -> None:
    """While another connection holds SQLite's write lock, a transaction waits for it and
    other tasks keep running; once the lock is released, the waiting one goes ahead."""
    path, engine = sqlite_file
    holder = sqlite3.connect(path, isolation_level=None)
    waiting = asyncio.Event()

    def before_execute(*_args: Any) -> None:
        waiting.set()  # the writer's first statement, which has to wait for the lock

    async def writer() -> None:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE counter SET n = n + 10"))

    ticks = 0
    ticked = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while ticks < 5:
            await asyncio.sleep(0.01)
            ticks += 1
        ticked.set()

    event.listen(engine.sync_engine, "before_cursor_execute", before_execute)
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE counter SET n = n + 1")
        task = asyncio.create_task(writer())
        await waiting.wait()
        await asyncio.create_task(ticker())
        # A writer blocking the loop would have held it until SQLite gave up ("database is
        # locked"): the ticker could not have run, and the writer would be over by now.
        assert ticked.is_set() and not task.done()
        holder.execute("COMMIT")
        await task
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT n FROM counter")) == 11
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before_execute)
        holder.close()


REFUSE_STATE_UPDATES = {
    "sqlite": [
        "CREATE TRIGGER refuse BEFORE UPDATE ON conversation_states "
        "BEGIN SELECT RAISE(ABORT, 'refused'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$",
        "CREATE TRIGGER refuse BEFORE UPDATE ON conversation_states "
        "FOR EACH ROW EXECUTE FUNCTION refuse()",
    ],
}
ALLOW_STATE_UPDATES = {
    "sqlite": ["DROP TRIGGER refuse"],
    "postgresql": ["DROP TRIGGER refuse ON conversation_states", "DROP FUNCTION refuse()"],
}


async def _run(app: App, statements: list[str]) -> None:
    async with app.engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))


async def _stored(app: App, user: str) -> tuple[str | None, str | None]:
    async with app.sessions() as session:
        row = (
            await session.execute(
                select(Participant.name, ConversationState.step)
                .join(ConversationState)
                .where(Participant.external_id == user)
            )
        ).one()
    return row.name, row.step


@pytest.mark.expect_core_errors
async def test_a_turn_whose_last_write_fails_stores_none_of_its_writes(app: App) -> None:
    chat = Chat(app.core, user="atomic", lang="en")
    await chat.say("/start")
    await chat.press("en")
    before = await _stored(app, "atomic")
    dialect = app.engine.dialect.name
    await _run(app, REFUSE_STATE_UPDATES[dialect])
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(app.engine.sync_engine, "before_cursor_execute", record)
    try:
        await chat.say("Ada Lovelace")  # the name: written to the participant, then the step
    finally:
        event.remove(app.engine.sync_engine, "before_cursor_execute", record)
    assert chat.text == translator("en").gettext(APOLOGY)
    # The participant's row was updated before the refused one, and that was undone too.
    assert any(s.startswith("UPDATE participants") for s in statements)
    assert await _stored(app, "atomic") == before
    await _run(app, ALLOW_STATE_UPDATES[dialect])
    await chat.say("Ada Lovelace")
    name, step = await _stored(app, "atomic")
    assert name == "Ada Lovelace" and step != before[1]

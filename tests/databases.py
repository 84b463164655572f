"""Throw-away databases for tests: a SQLite file, or a fresh PostgreSQL database."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine

PG_ENV = "TEST_DATABASE_URL"
PG_SKIP_REASON = (
    f"{PG_ENV} is not set; set it (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test) "
    "to run the PostgreSQL tests"
)


def postgres_admin_url() -> str | None:
    """The PostgreSQL server tests may create databases on, from ``TEST_DATABASE_URL``."""
    url = os.environ.get(PG_ENV, "").strip()
    if not url:
        return None
    parsed = make_url(url)
    if parsed.drivername == "postgresql" or parsed.drivername == "postgres":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


@asynccontextmanager
async def temporary_database(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    """Yield the URL of an empty database of ``kind`` (``sqlite`` or ``postgresql``).

    PostgreSQL databases are created on the server named by ``TEST_DATABASE_URL`` and
    dropped afterwards, so the server outlives the run unchanged.
    """
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'ponte-test.db'}"
        return
    admin_url = postgres_admin_url()
    if admin_url is None:
        raise RuntimeError(PG_SKIP_REASON)
    name = f"ponte_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


class LockWatch:
    """Sees another transaction start waiting for a lock the test holds.

    Instead of sleeping and hoping the other side got as far as the lock, a test waits until
    it is seen there: on PostgreSQL a backend of the test's database waiting on a lock
    (``pg_stat_activity``); on SQLite, where the write lock is taken at ``BEGIN``, a
    connection opening or a transaction beginning after :meth:`mark` (the test holds the
    lock, so it waits there).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.begun = 0
        self._marked = 0
        if engine.dialect.name == "sqlite":
            # First in line, so each counts before it waits for the lock: a new connection
            # waits already while it is set up (its PRAGMAs), an open one at BEGIN.
            event.listen(engine.sync_engine, "connect", self._count, insert=True)
            event.listen(engine.sync_engine, "begin", self._count, insert=True)

    def _count(self, *_args: object) -> None:
        self.begun += 1

    def mark(self) -> None:
        """Count only transactions that begin from now on."""
        self._marked = self.begun

    async def until_waiting(self, seconds: float = 60.0) -> None:
        """Return once another transaction waits for the lock; fail after ``seconds``."""
        async with asyncio.timeout(seconds):
            while not await self._someone_waits():  # noqa: ASYNC110 (a database to poll)
                await asyncio.sleep(0.01)

    async def _someone_waits(self) -> bool:
        if self.engine.dialect.name == "sqlite":
            return self.begun > self._marked
        async with self.engine.connect() as connection:
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        return bool(waiting)

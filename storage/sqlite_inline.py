"""SQLite for the asyncio engine without a thread: statements run in the event loop's thread.

aiosqlite runs every call (cursor, execute, fetch, close, commit) on a worker thread and wakes
the event loop for each result: four to five hand-offs per statement, which cost far more CPU
than the statements themselves on a local file (docs/benchmarks.md). Ponte's transactions are
a handful of indexed statements, so running them in-line is both cheaper and quicker, and a
transaction no longer yields to other tasks half-way, so the one-writer gate is held briefly.

The loop must never wait long for SQLite's write lock. SQLite's own busy handler sleeps in the
calling thread — here, the event loop's, which may be the very thread that has to finish the
transaction holding the lock. So SQLite waits only briefly (``SQLITE_BUSY_TIMEOUT_MS``, set in
``storage.db``), and a statement refused with "database is locked" is tried again after an
*asynchronous* pause, for up to ``LOCK_WAIT_SECONDS``: meanwhile the loop serves everyone
else, including the holder of the lock. A refused statement has done nothing, so trying it
again is what SQLite's busy handler would have done.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.engine.interfaces import DBAPICursor, ExecutionContext
from sqlalchemy.util import await_only

LOCK_WAIT_SECONDS = 30.0
_FIRST_PAUSE, _LONGEST_PAUSE = 0.002, 0.1


async def _no_wait() -> None:
    """An awaitable that completes at once."""


def _locked(error: sqlite3.OperationalError) -> bool:
    text = str(error)
    return "database is locked" in text or "database table is locked" in text


def _run(statement: Callable[[], object]) -> None:
    # ``AsyncConnection.execute`` insists that the driver awaited something (it catches sync
    # drivers used by mistake); awaiting a finished coroutine satisfies it without yielding.
    await_only(_no_wait())
    deadline, pause = time.monotonic() + LOCK_WAIT_SECONDS, _FIRST_PAUSE
    while True:
        try:
            statement()
            return
        except sqlite3.OperationalError as error:
            if not _locked(error) or time.monotonic() >= deadline:
                raise
        await_only(asyncio.sleep(pause))
        pause = min(pause * 2, _LONGEST_PAUSE)


class _Cursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """What ``AsyncConnection`` calls on a result: rows are already fetched, nothing to do."""


class _Connection(sqlite3.Connection):
    def cursor(self, factory: Any = _Cursor) -> Any:
        return super().cursor(factory)


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """The standard ``sqlite3`` driver, accepted by ``create_async_engine``.

    Statements are run as ``DefaultDialect`` runs them, through :func:`_run`.
    """

    driver = "inline"
    is_async = True
    supports_statement_cache = True

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        if cls._is_url_file_db(url):
            return pool.AsyncAdaptedQueuePool
        return pool.StaticPool

    def do_execute(
        self,
        cursor: DBAPICursor,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None = None,
    ) -> None:
        _run(lambda: cursor.execute(statement, parameters))

    def do_execute_no_params(
        self, cursor: DBAPICursor, statement: str, context: ExecutionContext | None = None
    ) -> None:
        _run(lambda: cursor.execute(statement))

    def do_executemany(
        self,
        cursor: DBAPICursor,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None = None,
    ) -> None:
        _run(lambda: cursor.executemany(statement, parameters))

    def do_begin(self, dbapi_connection: Any) -> None:
        # Take the write lock up front: two deferred transactions that both read and then
        # write would otherwise fail with "database is locked" instead of waiting for each
        # other. Sent to the driver directly: through ``exec_driver_sql`` it cost a tenth of
        # a transaction. Needs the driver's own transaction handling off (``storage.db``).
        _run(lambda: dbapi_connection.execute("BEGIN IMMEDIATE"))

    def do_commit(self, dbapi_connection: Any) -> None:
        _run(lambda: dbapi_connection.commit())

    def create_connect_args(self, url: URL) -> Any:
        args, kwargs = super().create_connect_args(url)
        # Connections stay in the event loop's thread; the pool hands them out one at a time.
        kwargs["check_same_thread"] = False
        kwargs["factory"] = _Connection
        return args, kwargs


dialect = InlineSQLiteDialect

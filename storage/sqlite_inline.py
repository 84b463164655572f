"""SQLite for the asyncio engine without a thread: statements run in the event loop's thread.

aiosqlite runs every call (cursor, execute, fetch, close, commit) on a worker thread and wakes
the event loop for each result: four to five hand-offs per statement, which cost far more CPU
than the statements themselves on a local file (docs/benchmarks.md). Ponte's transactions are
a handful of indexed statements, so running them in-line is both cheaper and quicker, and a
transaction no longer yields to other tasks half-way, so the one-writer gate is held briefly.

The loop must never wait long: the busy timeout is kept short (another *process* holding
SQLite's write lock, such as ``ponte events import``, makes a statement fail with "database is
locked", which the core retries after an asynchronous pause), and the write-ahead log is
synced at checkpoints rather than at every commit (``synchronous=NORMAL``: a committed
transaction survives a crash of Ponte; only a power cut can take the last ones).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.engine.interfaces import DBAPICursor, ExecutionContext
from sqlalchemy.util import await_only


async def _no_wait() -> None:
    """An awaitable that completes at once."""


def _pass_through_the_loop() -> None:
    # ``AsyncConnection.execute`` insists that the driver awaited something (to catch sync
    # drivers used by mistake); awaiting a finished coroutine satisfies it without yielding.
    await_only(_no_wait())


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """The standard ``sqlite3`` driver, accepted by ``create_async_engine``."""

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
        _pass_through_the_loop()
        super().do_execute(cursor, statement, parameters, context)  # type: ignore[no-untyped-call]

    def do_execute_no_params(
        self, cursor: DBAPICursor, statement: str, context: ExecutionContext | None = None
    ) -> None:
        _pass_through_the_loop()
        super().do_execute_no_params(cursor, statement, context)  # type: ignore[no-untyped-call]

    def do_executemany(
        self,
        cursor: DBAPICursor,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None = None,
    ) -> None:
        _pass_through_the_loop()
        super().do_executemany(cursor, statement, parameters, context)  # type: ignore[no-untyped-call]

    def create_connect_args(self, url: URL) -> Any:
        args, kwargs = super().create_connect_args(url)
        # Connections stay in the event loop's thread; the pool hands them out one at a time.
        kwargs["check_same_thread"] = False
        return args, kwargs


dialect = InlineSQLiteDialect

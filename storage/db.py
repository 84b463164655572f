"""Engine and session factory creation."""

from __future__ import annotations

import asyncio
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event, make_url
from sqlalchemy.dialects import registry
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///ponte.db"


# SQLite URLs name aiosqlite, as SQLAlchemy's documentation does; Ponte serves them with its
# in-line driver instead (storage/sqlite_inline.py explains why).
registry.register("sqlite.inline", "storage.sqlite_inline", "InlineSQLiteDialect")
_SQLITE_ASYNC_DRIVERS = {"sqlite", "sqlite+aiosqlite", "sqlite+pysqlite"}
# How long SQLite itself waits for the write lock, in the event loop's thread, before the
# in-line driver takes over and waits asynchronously (storage/sqlite_inline.py).
SQLITE_BUSY_TIMEOUT_MS = 20


def create_engine(url: str = DEFAULT_DATABASE_URL, **kwargs: Any) -> AsyncEngine:
    """Create an async engine; on SQLite, turn on foreign keys and WAL with a busy timeout."""
    parsed = make_url(url)
    if parsed.drivername in _SQLITE_ASYNC_DRIVERS:
        parsed = parsed.set(drivername="sqlite+inline")
    if parsed.get_backend_name() == "postgresql":
        # Room for bursts (many users at once) without exhausting a small server.
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    engine = create_async_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin: the in-line dialect
    # begins them with BEGIN IMMEDIATE (storage/sqlite_inline.py).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # Cascading deletes (``/deleteme``) rely on SQLite enforcing foreign keys.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode, NORMAL syncs at checkpoints, not at each commit: a commit survives a crash
    # of the process, and the loop does not wait for the disk on every update.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Session factory; objects stay usable after commit so replies can be built from them."""
    return async_sessionmaker(engine, expire_on_commit=False)


_GATES: WeakKeyDictionary[AsyncEngine, asyncio.Semaphore] = WeakKeyDictionary()


def transaction_gate(sessions: async_sessionmaker[AsyncSession]) -> asyncio.Semaphore:
    """How many transactions this process runs at once on the sessions' database.

    SQLite has one writer at a time: queueing in Python keeps waits short and fair instead
    of spinning in SQLite's busy handler. PostgreSQL gets as many as the connection pool
    holds, so a burst of updates waits here, without a time-out, rather than failing with
    the pool's "connection timed out".
    """
    engine = sessions.kw.get("bind")
    if not isinstance(engine, AsyncEngine):
        raise TypeError("the session factory must be bound to an AsyncEngine")
    gate = _GATES.get(engine)
    if gate is None:
        pool = engine.sync_engine.pool
        size = getattr(pool, "size", lambda: 5)() + max(getattr(pool, "_max_overflow", 0), 0)
        gate = _GATES[engine] = asyncio.Semaphore(1 if engine.dialect.name == "sqlite" else size)
    return gate


def is_transient_conflict(error: BaseException) -> bool:
    """Whether a failed transaction may simply be tried again.

    PostgreSQL's serialization failures and deadlocks (SQLSTATE 40001, 40P01) and SQLite's
    "database is locked" are conflicts with another transaction, not bugs.
    """
    if not isinstance(error, DBAPIError):
        return False
    original = error.orig
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return state in {"40001", "40P01"} or "database is locked" in str(original)

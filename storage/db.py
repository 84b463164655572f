"""Engine and session factory creation."""

from __future__ import annotations

import asyncio
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event, make_url
from sqlalchemy.engine import Connection
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

# Room for bursts (many users at once) without exhausting a small server.
POSTGRES_POOL_SIZE = 10
POSTGRES_MAX_OVERFLOW = 20
# How long SQLite waits for another connection's write lock (another process: within one,
# transactions queue in ``transaction_gate``). aiosqlite runs the wait on its own thread,
# so the event loop goes on meanwhile.
SQLITE_BUSY_TIMEOUT_MS = 30_000

# Transactions each engine made by ``create_engine`` may run at once (``transaction_gate``).
_CONCURRENCY: WeakKeyDictionary[AsyncEngine, int] = WeakKeyDictionary()
_GATES: WeakKeyDictionary[AsyncEngine, asyncio.Semaphore] = WeakKeyDictionary()


def create_engine(url: str = DEFAULT_DATABASE_URL, **kwargs: Any) -> AsyncEngine:
    """Create an async engine; on SQLite, with foreign keys, WAL and ``BEGIN IMMEDIATE``."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        kwargs.setdefault("pool_size", POSTGRES_POOL_SIZE)
        kwargs.setdefault("max_overflow", POSTGRES_MAX_OVERFLOW)
    engine = create_async_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        # One writer at a time: queueing in Python keeps waits short and fair.
        _CONCURRENCY[engine] = 1
    else:
        _CONCURRENCY[engine] = kwargs.get("pool_size", 5) + max(kwargs.get("max_overflow", 10), 0)
    return engine


def _sqlite_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # SQLAlchemy, not the driver, begins transactions (``_sqlite_begin``); this also makes
    # SAVEPOINTs and DDL take part in the enclosing transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # Cascading deletes (``/deleteme``) rely on SQLite enforcing foreign keys.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode, NORMAL syncs at checkpoints, not at each commit: a commit survives a crash
    # of the process (not necessarily a power cut).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # Take the write lock up front: two deferred transactions that both read and then write
    # would otherwise fail with "database is locked" instead of waiting for each other.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Session factory; objects stay usable after commit so replies can be built from them."""
    return async_sessionmaker(engine, expire_on_commit=False)


def transaction_gate(sessions: async_sessionmaker[AsyncSession]) -> asyncio.Semaphore:
    """How many transactions this process runs at once on the sessions' database.

    SQLite has one writer at a time: queueing in Python keeps waits short and fair instead
    of waiting in SQLite's busy handler. PostgreSQL gets as many as the connection pool
    holds, so a burst of updates waits here, without a time-out, rather than failing with
    the pool's "connection timed out". The engine must come from :func:`create_engine`,
    which knows how it configured the pool.
    """
    engine = sessions.kw.get("bind")
    if not isinstance(engine, AsyncEngine) or engine not in _CONCURRENCY:
        raise TypeError("the session factory must be bound to an engine from create_engine")
    gate = _GATES.get(engine)
    if gate is None:
        gate = _GATES[engine] = asyncio.Semaphore(_CONCURRENCY[engine])
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

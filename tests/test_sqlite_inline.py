"""SQLite runs in the event loop's thread, yet waiting for its write lock never blocks the loop."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from sqlalchemy import text

from storage.db import create_engine


async def test_sqlite_urls_are_served_in_line_and_results_read_through_a_connection(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")
    try:
        assert engine.dialect.driver == "inline"
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (x INTEGER)"))
            await connection.execute(text("INSERT INTO t VALUES (1), (2)"))
        async with engine.connect() as connection:
            result = await connection.execute(text("SELECT sum(x) FROM t"))
            assert result.scalar() == 3
    finally:
        await engine.dispose()


async def test_a_writer_waits_for_the_lock_while_the_loop_keeps_serving(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'lock.db'}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (x INTEGER)"))
    ticks = 0

    async def holder() -> None:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t VALUES (1)"))
            await asyncio.sleep(0.4)  # holds SQLite's write lock across a real await

    async def waiter() -> float:
        await asyncio.sleep(0.05)
        started = time.monotonic()
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t VALUES (2)"))
        return time.monotonic() - started

    async def ticker() -> None:
        nonlocal ticks
        for _ in range(30):
            await asyncio.sleep(0.01)
            ticks += 1

    try:
        started = time.monotonic()
        _, waited, _ = await asyncio.gather(holder(), waiter(), ticker())
        # Blocking waits would have frozen the ticker for the holder's whole 0.4 s, or failed
        # with "database is locked" (the holder cannot commit while the loop is blocked).
        assert ticks == 30 and time.monotonic() - started < 1.0
        assert waited >= 0.3
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT x FROM t ORDER BY x"))
            assert rows.scalars().all() == [1, 2]
    finally:
        await engine.dispose()


async def test_another_process_holding_the_lock_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (x INTEGER)"))
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sqlite3, time\n"
        f"db = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
        "db.execute('BEGIN IMMEDIATE'); db.execute('INSERT INTO t VALUES (1)')\n"
        "print('locked', flush=True); time.sleep(0.5); db.execute('COMMIT')\n",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert (await holder.stdout.readline()).strip() == b"locked"
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t VALUES (2)"))
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT x FROM t ORDER BY x"))
            assert rows.scalars().all() == [1, 2]
    finally:
        await asyncio.wait_for(holder.wait(), 10)
        await engine.dispose()

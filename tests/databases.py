"""Throw-away databases for tests: a SQLite file, or a fresh PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

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

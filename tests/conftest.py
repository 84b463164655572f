"""Shared fixtures: a migrated database per test (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import App, build_app
from bot.config import Settings
from tests.databases import PG_SKIP_REASON, postgres_admin_url, temporary_database

DATABASE_KINDS = ["sqlite", "postgresql"]


@pytest.fixture(autouse=True)
def no_unhandled_errors(request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture):  # type: ignore[no-untyped-def]
    """Fail any test during which the core had to apologise for an exception.

    Tests that provoke one on purpose use ``@pytest.mark.expect_core_errors``.
    """
    yield
    if request.node.get_closest_marker("expect_core_errors"):
        return
    failures = [
        r
        for r in caplog.get_records("call")
        if r.name == "handlers.router" and r.levelname == "ERROR"
    ]
    assert not failures, f"the core failed while handling an event: {failures[0].getMessage()}"


@pytest.fixture(params=DATABASE_KINDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database; every test using it runs on SQLite and on PostgreSQL."""
    kind = request.param
    if kind == "postgresql" and postgres_admin_url() is None:
        pytest.skip(PG_SKIP_REASON)
    async with temporary_database(kind, tmp_path) as url:
        yield url


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> AsyncIterator[str]:
    """An empty SQLite database, for tests whose subject does not depend on the database."""
    async with temporary_database("sqlite", tmp_path) as url:
        yield url


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[App]:
    """Ponte, migrated and with its taxonomy loaded, on the parametrised database."""
    application = await build_app(Settings(database_url=database_url, _env_file=None))
    try:
        yield application
    finally:
        await application.close()


@pytest.fixture
async def sqlite_app(sqlite_url: str) -> AsyncIterator[App]:
    """Ponte on SQLite only."""
    application = await build_app(Settings(database_url=sqlite_url, _env_file=None))
    try:
        yield application
    finally:
        await application.close()

"""Shared fixtures: a migrated database per test (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
import time_machine
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import App, build_app
from bot.config import Settings
from bot.scheduler import Scheduling
from tests.databases import PG_SKIP_REASON, postgres_admin_url, temporary_database
from tests.events_support import Clock

DATABASE_KINDS = ["sqlite", "postgresql"]
WALL_CLOCK_VARIABLE = "PONTE_TEST_WALL_CLOCK"
"""Set to an ISO date to run the tests with the machine's clock moved there (tests/test_any_date.py)."""


@contextmanager
def system_clock_as_configured() -> Iterator[None]:
    """With ``PONTE_TEST_WALL_CLOCK`` set, the system clock reads that date (and ticks on)."""
    moved_to = os.environ.get(WALL_CLOCK_VARIABLE)
    if not moved_to:
        yield
        return
    with time_machine.travel(datetime.fromisoformat(moved_to), tick=True):
        yield


@pytest.fixture(autouse=True)
def wall_clock() -> Iterator[None]:
    """Every test runs under :func:`system_clock_as_configured`.

    Ponte takes "now" from its injected clock only, so moving the system clock must change
    nothing: this is how the suite proves that it passes on any date (tests/test_any_date.py).
    """
    with system_clock_as_configured():
        yield


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
        if r.name == "handlers.core" and r.levelname == "ERROR"
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
def clock() -> Clock:
    """The settable clock every test's Ponte runs on (never the wall clock)."""
    return Clock()


@pytest.fixture
async def app(database_url: str, clock: Clock) -> AsyncIterator[App]:
    """Ponte, migrated and with its taxonomy loaded, on the parametrised database."""
    settings = Settings(database_url=database_url, _env_file=None)
    application = await build_app(settings, clock=clock)
    try:
        yield application
    finally:
        await application.close()


@pytest.fixture
async def sqlite_app(sqlite_url: str, clock: Clock) -> AsyncIterator[App]:
    """Ponte on SQLite only."""
    application = await build_app(Settings(database_url=sqlite_url, _env_file=None), clock=clock)
    try:
        yield application
    finally:
        await application.close()


@pytest.fixture
async def scheduling(app: App) -> AsyncIterator[Scheduling]:
    """Ponte's scheduler on the test's app (and its clock), started and stopped around the test."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.start()
    scheduling = Scheduling(app, scheduler)
    try:
        yield scheduling
    finally:
        scheduling.shutdown()

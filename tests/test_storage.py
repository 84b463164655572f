"""Migrations match the models; the taxonomy file loads and syncs; the db command works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.engine import Connection

from storage import migrate
from storage.db import create_engine, create_sessionmaker
from storage.models import Base, InterestArea
from storage.taxonomy import TaxonomyError, read_taxonomy, sync_taxonomy

ROOT = Path(__file__).resolve().parent.parent


async def test_migrations_build_exactly_the_models_schema(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == migrate.head_revision()

        def differences(connection: Connection) -> list[object]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))

        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
        await migrate.upgrade(engine)  # idempotent
    finally:
        await engine.dispose()


def test_packaged_taxonomy_has_the_programmes_areas_in_three_languages() -> None:
    areas = read_taxonomy()
    assert len(areas) == 15
    for area in areas:
        assert {"it", "en", "zh_Hans"} <= set(area.names), area.code


async def test_taxonomy_sync_adds_renames_and_retires(sqlite_url: str, tmp_path: Path) -> None:
    engine = create_engine(sqlite_url)
    sessions = create_sessionmaker(engine)
    try:
        await migrate.upgrade(engine)
        first = tmp_path / "areas.toml"
        first.write_text(
            '[[area]]\ncode = "energy"\nen = "Energy"\nit = "Energia"\n\n'
            '[[area]]\ncode = "space"\nen = "Space"\n',
            encoding="utf-8",
        )
        async with sessions() as session, session.begin():
            await sync_taxonomy(session, read_taxonomy(first))
        first.write_text(
            '[[area]]\ncode = "energy"\nen = "Clean energy"\nzh_Hans = "清洁能源"\n',
            encoding="utf-8",
        )
        async with sessions() as session, session.begin():
            await sync_taxonomy(session, read_taxonomy(first))
        async with sessions() as session:
            rows = {a.code: a for a in (await session.scalars(select(InterestArea))).all()}
        assert rows["energy"].names == {"en": "Clean energy", "zh_Hans": "清洁能源"}
        assert rows["energy"].active and not rows["space"].active
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("", "no [[area]]"),
        ('[[area]]\ncode = "Bad Code"\nen = "x"\n', "lower-case"),
        ('[[area]]\ncode = "a"\nit = "x"\n', "English name"),
        ('[[area]]\ncode = "a"\nen = "x"\n[[area]]\ncode = "a"\nen = "y"\n', "twice"),
        ("[[area]\n", "cannot read"),
    ],
)
def test_a_broken_taxonomy_file_is_explained(tmp_path: Path, content: str, complaint: str) -> None:
    path = tmp_path / "areas.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(TaxonomyError, match=complaint.replace("[", r"\[")):
        read_taxonomy(path)


def test_db_upgrade_command(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert migrate.head_revision() in result.stdout


def test_invalid_configuration_is_explained(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "BOT_FRAMEWORK": "discord",
        "ADMIN_IDS": "12,abc",
        "WEBHOOK_LISTEN": "8080",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot", "db", "current"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "BOT_FRAMEWORK" in result.stderr and "ADMIN_IDS" in result.stderr
    assert "WEBHOOK_LISTEN" in result.stderr and "host:port" in result.stderr
    assert "Traceback" not in result.stderr

"""``ponte stats``, ``ponte export`` and ``ponte admins`` (in-process through ``main`` and
once as a subprocess)."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from PIL import Image

from bot.app import build_app
from bot.cli import main
from bot.config import Settings
from tests.events_support import Clock
from tests.organiser_support import CODE, DANGEROUS, participants_in_db, seed


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A seeded SQLite database that ``ponte`` uses, with the working folder in ``tmp_path``."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    async def prepare() -> None:
        app = await build_app(Settings(database_url=url, _env_file=None), clock=Clock())
        try:
            await seed(app)
        finally:
            await app.close()

    asyncio.run(prepare())
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("ADMIN_IDS", raising=False)
    monkeypatch.chdir(tmp_path)
    return url


def test_stats(database: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["stats", "--event", CODE]) == 0
    out = capsys.readouterr().out
    assert "Registered participants: 5" in out and "• China: 2" in out
    assert "<b>" not in out  # plain text on a terminal
    assert main(["stats", "--lang", "it", "--chart", str(tmp_path / "chart.png")]) == 0
    out = capsys.readouterr().out
    assert "Registrazioni: 6" in out and "• Francia: 1" in out
    image = Image.open(tmp_path / "chart.png")
    assert image.format == "PNG" and image.size == (900, 1100)
    assert main(["stats", "--event", "nope"]) == 2
    assert "there is no event with the code 'nope'" in capsys.readouterr().err


def test_exports(database: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    event_id = 1  # the only event of the seeded database
    assert main(["export", "participants", "--format", "csv", "--event", CODE, "-o", "p.csv"]) == 0
    assert "5 rows written to p.csv" in capsys.readouterr().err
    rows = list(csv.reader(io.StringIO((tmp_path / "p.csv").read_text("utf-8-sig"), newline="")))

    async def stored() -> list[tuple[int, str | None, str | None]]:
        app = await build_app(Settings(database_url=database, _env_file=None), clock=Clock())
        try:
            return [(p.id, p.name, p.city) for p in await participants_in_db(app, event_id)]
        finally:
            await app.close()

    expected = asyncio.run(stored())
    city = rows[0].index("City")
    got = [(int(r[0]), r[1], r[city]) for r in rows[1:]]
    assert [g[0] for g in got] == [e[0] for e in expected]
    for (_id, name, town), (_i, stored_name, stored_city) in zip(got, expected, strict=True):
        if stored_name == DANGEROUS["name"]:
            assert (name, town) == ("'" + DANGEROUS["name"], "'" + DANGEROUS["city"])
        else:
            assert (name, town) == (stored_name, stored_city)

    assert main(["export", "meetings", "--lang", "zh", "--output", "m.xlsx"]) == 0
    sheet = openpyxl.load_workbook(tmp_path / "m.xlsx").active
    assert sheet is not None and sheet["C1"].value == "状态" and sheet.max_row == 3

    assert main(["export", "feedback"]) == 0  # a dated name in the working folder
    (written,) = tmp_path.glob("ponte-feedback-*.xlsx")
    assert openpyxl.load_workbook(written).active is not None

    with pytest.raises(SystemExit) as refused:
        main(["export", "people"])
    assert refused.value.code == 2
    assert "invalid choice: 'people'" in capsys.readouterr().err


def test_admins(
    database: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADMIN_IDS", "7")
    assert main(["admins", "add", "abc"]) == 2
    assert "'abc' is not a user id" in capsys.readouterr().err
    assert main(["admins", "add", "42"]) == 0
    assert "42 is now an organiser" in capsys.readouterr().out
    assert main(["admins", "add", "42"]) == 0
    assert "42 is already an organiser" in capsys.readouterr().out
    assert main(["admins", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0] == "telegram\t7\t(ADMIN_IDS)"
    assert listed[1].startswith("telegram\t42\tadded ") and listed[1].endswith(" by cli")
    assert main(["admins", "remove", "7"]) == 2
    assert "7 is named in ADMIN_IDS" in capsys.readouterr().err
    assert main(["admins", "remove", "42"]) == 0
    assert main(["admins", "remove", "42"]) == 2
    assert "42 is not an organiser" in capsys.readouterr().err


def test_as_a_subprocess(database: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "export", "feedback", "--format", "csv", "--output", "-"],
        cwd=tmp_path,
        env={**os.environ, "DATABASE_URL": database},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = list(csv.DictReader(io.StringIO(done.stdout.decode("utf-8-sig"))))
    assert sorted(line["Participant"] for line in lines) == [
        "Anna D'Amico",
        "Marco Rossi",
        "王小明",
    ]


def test_a_console_user_made_an_organiser_uses_the_tools_in_the_console(
    database: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Organiser tools can be tried without Telegram: the console user's name is their id."""
    assert main(["admins", "add", "  ", "--channel", "console"]) == 2
    assert main(["admins", "add", "olga", "--channel", "console"]) == 0
    assert "olga is now an organiser" in capsys.readouterr().out

    def console(user: str, lines: str) -> str:
        command = [sys.executable, "-m", "bot", "console", "--user", user, "--no-start"]
        env = {**os.environ}
        env.pop("TELEGRAM_BOT_TOKEN", None)
        result = subprocess.run(command, input=lines, cwd=tmp_path, env=env, capture_output=True,
                                text=True, timeout=120, check=False)  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout

    shown = console("olga", "/help\n/stats\n")
    assert "/organiser: Organiser tools" in shown and "Registered participants:" in shown
    others = console("eve", "/help\n/stats\n")
    assert "/organiser" not in others and "I don't know the command /stats." in others

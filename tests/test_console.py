"""The console channel end to end: ``python -m bot console`` as a subprocess with piped input."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from handlers.kernel.i18n import SUPPORTED_LOCALES
from handlers.kernel.terms import DEMO_PRIVACY_TERMS
from handlers.participant.consent import notice_version
from handlers.participant.fields import native_language_name

# Answers by number: type 1 = Startup; country 1 = Italy, 2 = China; phone 2 = Skip;
# spoken languages 1..6 then 7 = Done; interpreter 2 = No; areas 1..15 then 16 = Done;
# consent 1 = I agree.
SCRIPTS = {
    "it": [
        "1", "Giulia D'Alessandro", "<b>Acme & Co</b>", "1", "1", "Napoli",
        "giulia@acme.example", "2", "acme.example",
        "Startup napoletana che sviluppa batterie al sodio per l'accumulo di energia.",
        "Batterie e prototipi", "Partner industriali in Cina",
        "1", "2", "7", "2", "1", "3", "16", "1",
    ],
    "en": [
        "2", "John O'Neill", "Dublin Imaging Lab", "5", "Ireland", "Dublin",
        "john@lab.example", "2", "https://lab.example",
        "We build artificial intelligence for medical imaging and want partners.",
        "AI models", "Hospitals in China",
        "2", "7", "2", "2", "4", "16", "1",
    ],
    "zh_Hans": [
        "3", "王小明", "北京智能科技有限公司", "2", "2", "北京",
        "wang@zhineng.cn", "2", "www.zhineng.cn",
        "我们是一家专注于储能电池和人工智能的公司，希望与意大利伙伴开展合作。",
        "储能技术与产品", "意大利的科研合作伙伴",
        "3", "2", "7", "1", "1", "2", "16", "1",
    ],
}  # fmt: skip
HINTS = {"it": "it-IT", "en": "en", "zh_Hans": "zh-hans"}


def run_console(
    tmp_path: Path, user: str, lines: list[str], lang: str | None = None, *extra: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'console.db'}"}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    command = [sys.executable, "-m", "bot", "console", "--user", user, "--save-dir", str(tmp_path)]
    if lang:
        command += ["--lang", lang]
    return subprocess.run(
        [*command, *extra],
        input="".join(f"{line}\n" for line in lines),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def registered(tmp_path: Path, user: str) -> tuple[object, ...] | None:
    with sqlite3.connect(tmp_path / "console.db") as db:
        return db.execute(
            "SELECT registered_at, locale, name, organisation FROM participants WHERE external_id = ?",
            (user,),
        ).fetchone()


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_piped_registration_in_each_language(tmp_path: Path, locale: str) -> None:
    script = SCRIPTS[locale]
    result = run_console(tmp_path, f"user-{locale}", script, HINTS[locale])
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    row = registered(tmp_path, f"user-{locale}")
    assert row is not None and row[0] is not None, result.stdout[-3000:]
    assert row[1] == locale
    assert (row[2], row[3]) == (script[1], script[2])
    if locale == "zh_Hans":
        assert_all_chinese(result.stdout, typed=script)


def assert_all_chinese(transcript: str, typed: list[str]) -> None:
    """Every line Ponte wrote is Chinese, apart from what the user typed and fixed tokens."""
    allowed = [*typed, "Ponte", "GDPR", "PIPL", "https://www.zhineng.cn", "wang@zhineng.cn"]
    # The privacy notice names its version and the (configured, here the demo's) controller.
    terms = DEMO_PRIVACY_TERMS
    allowed += [notice_version(terms), terms.controller, terms.contact]
    allowed += [native_language_name(code) for code in SUPPORTED_LOCALES]
    for line in transcript.splitlines():
        if line.startswith("user-zh_Hans ▸") or not line.strip():
            continue
        rest = line.removeprefix("Ponte ▸").removeprefix("Ponte 📬")
        for token in sorted(allowed, key=len, reverse=True):
            rest = rest.replace(token, "")
        rest = re.sub(r"/[a-z]+", "", rest)  # command names
        latin = re.findall(r"[A-Za-z]{2,}", rest)
        assert not latin, f"not Chinese: {line!r} ({latin})"


def test_quitting_and_coming_back_resumes_at_the_same_step(tmp_path: Path) -> None:
    first = run_console(tmp_path, "returner", ["2", "Anna Bianchi", "Politecnico di Milano"], "en")
    assert first.returncode == 0, first.stderr
    assert "Step 4 of 16" in first.stdout
    second = run_console(tmp_path, "returner", [], "en")
    assert second.returncode == 0, second.stderr
    assert "continue where you left off" in second.stdout
    assert "Step 4 of 16" in second.stdout


def test_choices_by_label_and_mydata_document(tmp_path: Path) -> None:
    result = run_console(tmp_path, "labels", ["English", "Anna Bianchi", "/mydata"], "it")
    assert result.returncode == 0, result.stderr
    saved = tmp_path / "labels-ponte-my-data.json"
    assert saved.exists(), result.stdout
    assert json.loads(saved.read_text(encoding="utf-8"))["participant"]["name"] == "Anna Bianchi"


def test_superscript_and_other_unicode_digits_are_not_choices(tmp_path: Path) -> None:
    result = run_console(tmp_path, "digits", ["\u00b2", "\u0663", "\uff11"])
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    # Each line is refused and the language question asked again: still at the first step.
    assert result.stdout.count("Please choose one of the options below.") == 3
    assert result.stdout.count("[1] Italiano") == 4


def test_end_of_input_exits_cleanly(tmp_path: Path) -> None:
    result = run_console(tmp_path, "silent", [])
    assert result.returncode == 0
    assert result.stderr == "" or "Traceback" not in result.stderr
    assert "Ponte" in result.stdout


def test_several_users_are_kept_apart(tmp_path: Path) -> None:
    run_console(tmp_path, "alice", ["2", "Alice Rossi"], "en")
    run_console(tmp_path, "bob", ["1", "Bob Verdi"], "it")
    with sqlite3.connect(tmp_path / "console.db") as db:
        rows = dict(
            db.execute(
                "SELECT external_id, name FROM participants WHERE channel = 'console'"
            ).fetchall()
        )
    assert rows == {"alice": "Alice Rossi", "bob": "Bob Verdi"}


def test_run_without_token_starts_the_console(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'run.db'}"}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        input="",
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Ponte" in result.stdout

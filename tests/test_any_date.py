"""The suite passes whatever the machine's clock says: years before and after the tests' own.

Tests run Ponte on a settable clock (``tests.events_support.NOW``); product code must never
read the system clock. Here the tests that depend most on time run again in a fresh pytest
with the system clock moved (``PONTE_TEST_WALL_CLOCK``, applied by ``tests/conftest.py``
through time-machine): any "now" taken from the system clock would show up as a message
never due, a request lapsed too early or a demo event in the wrong month.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import WALL_CLOCK_VARIABLE, system_clock_as_configured
from tests.events_support import NOW

ROOT = Path(__file__).resolve().parent.parent
CLOCK_SENSITIVE = [
    "tests/test_registration.py",
    "tests/test_matchmaking.py",
    "tests/test_request_answers.py",
    "tests/test_privacy.py",
    "tests/test_demo_and_cli.py",
    "tests/test_ics.py",
    "tests/test_scheduling_races.py",
    "tests/test_console_matchmaking.py",
    "tests/test_telegram_matchmaking.py",
    "tests/test_outbox_delivery.py",
    "tests/test_reminders.py",
    "tests/test_retention.py",
]


@pytest.mark.parametrize(
    "moved", [-timedelta(days=5 * 365 + 17), timedelta(days=3 * 365 + 101)], ids=["before", "after"]
)
def test_the_time_dependent_tests_pass_with_the_system_clock_moved(
    moved: timedelta, tmp_path: Path
) -> None:
    wall = NOW + moved
    environment = {**os.environ, WALL_CLOCK_VARIABLE: wall.isoformat()}
    environment.pop("TEST_DATABASE_URL", None)  # SQLite suffices: the clock is the subject
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CLOCK_SENSITIVE],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    summary = result.stdout.strip().splitlines()[-1:] or [result.stderr[-2000:]]
    assert result.returncode == 0, (
        f"with the system clock at {wall:%Y-%m-%d}:\n{result.stdout[-6000:]}"
    )
    assert " passed" in summary[0], summary


def test_the_wall_clock_setting_really_moves_the_system_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Without this, the test above could pass with a setting that silently did nothing.
    monkeypatch.setenv(WALL_CLOCK_VARIABLE, "2031-06-01T12:00:00+00:00")
    with system_clock_as_configured():
        assert datetime.now(UTC).date() == date(2031, 6, 1)
    assert datetime.now(UTC).year != 2031 or date.today() != date(2031, 6, 1)

"""Issue walk-through in the console: two people join the demo event, request and accept."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from icalendar import Calendar

from bot.events.demo import DEMO_CODE
from tests.test_console import SCRIPTS, run_console


def test_two_console_users_meet_at_the_demo_event(tmp_path: Path) -> None:
    maria = run_console(
        tmp_path, "maria", [*SCRIPTS["it"], f"/start {DEMO_CODE}", "/partners"], "it-IT"
    )
    assert maria.returncode == 0, maria.stderr
    assert f"/start {DEMO_CODE}" in maria.stderr, "the console tells a newcomer how to join"
    wang = run_console(tmp_path, "wang", [*SCRIPTS["zh_Hans"], f"/start {DEMO_CODE}"], "zh-hans")
    assert wang.returncode == 0, wang.stderr

    # Maria asks the Chinese participant who registered in the other console for a meeting.
    request = run_console(
        tmp_path, "maria", ["/partners", "🤝 Incontra 王小明", "Buongiorno, parliamo di batterie!"]
    )
    assert "王小明" in request.stdout and request.returncode == 0, request.stdout[-2000:]

    # Wang opens the console: the invitation is waiting, in Chinese; he accepts it.
    accept = run_console(tmp_path, "wang", ["✅ 接受"])
    assert "Ponte 📬" in accept.stdout and "Buongiorno, parliamo di batterie!" in accept.stdout
    assert "会谈已确认" in accept.stdout, accept.stdout[-3000:]

    # Maria's next session shows the confirmation, in Italian, with her own local time.
    confirmed = run_console(tmp_path, "maria", ["/agenda"])
    assert "Incontro confermato" in confirmed.stdout, confirmed.stdout[-3000:]
    calendars = {
        who: next(tmp_path.glob(f"{who}-ponte-meeting-*.ics")) for who in ("maria", "wang")
    }
    starts = {
        who: Calendar.from_ical(path.read_bytes()).walk("VEVENT")[0].decoded("DTSTART")
        for who, path in calendars.items()
    }
    assert starts["maria"] == starts["wang"], "both calendars hold the same moment"
    rome = starts["maria"].strftime("%H:%M")
    assert rome in confirmed.stdout  # Maria reads the time in Rome
    assert "Asia/Shanghai" not in confirmed.stdout


def test_console_users_live_through_their_reminders_on_a_fast_forwarded_clock(
    tmp_path: Path,
) -> None:
    """The reminders walk-through: two console users with a meeting at the demo event get
    their reminders in Italian and Chinese at their own local times, Ponte restarting
    (a new process) between every step; one cancels attendance and the other is told."""
    run_console(tmp_path, "maria", [*SCRIPTS["it"], f"/start {DEMO_CODE}"], "it-IT")
    run_console(tmp_path, "wang", [*SCRIPTS["zh_Hans"], f"/start {DEMO_CODE}"], "zh-hans")
    run_console(tmp_path, "maria", ["/partners", "🤝 Incontra 王小明", "Ciao!"])
    run_console(tmp_path, "wang", ["✅ 接受"])
    with sqlite3.connect(tmp_path / "console.db") as db:
        (start,) = db.execute(
            "SELECT s.starts_at FROM meetings m JOIN slots s ON s.id = m.slot_id"
        ).fetchone()
    starts = datetime.fromisoformat(start).replace(tzinfo=UTC)

    def at(moment: datetime) -> str:
        return moment.isoformat()

    # Each run starts a minute after the one before: time goes on between two sessions.

    day_before = at(starts - timedelta(hours=24))
    maria = run_console(tmp_path, "maria", [], None, "--no-start", "--at", day_before)
    assert "⏰ Il tuo incontro con 王小明 inizia tra 1 giorno" in maria.stdout, maria.stdout[-2000:]
    rome = starts.astimezone(ZoneInfo("Europe/Rome")).strftime("%H:%M")
    beijing = starts.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M")
    assert rome in maria.stdout and beijing in maria.stdout  # her time, and his
    wang = run_console(
        tmp_path,
        "wang",
        [],
        None,
        "--no-start",
        "--at",
        at(starts - timedelta(hours=23, minutes=59)),
    )
    assert "1天后开始" in wang.stdout and beijing in wang.stdout, wang.stdout[-2000:]
    # Started again: nobody is reminded twice.
    later = at(starts - timedelta(hours=23, minutes=58))
    again = run_console(tmp_path, "maria", [], None, "--no-start", "--at", later)
    assert "⏰" not in again.stdout

    soon = at(starts - timedelta(minutes=15))
    maria = run_console(tmp_path, "maria", [], None, "--no-start", "--at", soon)
    assert "tra 15 minuti" in maria.stdout, maria.stdout[-2000:]
    wang = run_console(
        tmp_path, "wang", ["✖ 我无法参加", "是的，取消"], None, "--no-start", "--at",
        at(starts - timedelta(minutes=14)),
    )  # fmt: skip
    assert "15分钟后开始" in wang.stdout and "已取消" in wang.stdout, wang.stdout[-2000:]
    told = run_console(
        tmp_path, "maria", [], None, "--no-start", "--at", at(starts - timedelta(minutes=13))
    )
    assert "王小明" in told.stdout and "annull" in told.stdout, told.stdout[-2000:]
    assert "⏰" not in told.stdout

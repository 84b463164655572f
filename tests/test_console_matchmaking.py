"""Issue walk-through in the console: two people join the demo event, request and accept."""

from __future__ import annotations

from pathlib import Path

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

"""The issue's walk-through in the console: a participant filters partners by a word,
requests a meeting, withdraws it from ``/requests``, and the other side (in Chinese) is told;
then a meeting with a demo participant moves to another time chosen among the offered ones."""

from __future__ import annotations

from pathlib import Path

from bot.events.demo import DEMO_CODE
from tests.events_support import said
from tests.test_console import SCRIPTS, run_console

MARIA, WANG = SCRIPTS["it"][1], SCRIPTS["zh_Hans"][1]  # the names they register with


def test_filter_request_withdraw_and_another_time_in_the_console(tmp_path: Path) -> None:
    run_console(tmp_path, "maria", [*SCRIPTS["it"], f"/start {DEMO_CODE}"], "it-IT")
    run_console(tmp_path, "wang", [*SCRIPTS["zh_Hans"], f"/start {DEMO_CODE}"], "zh-hans")

    search = run_console(
        tmp_path, "maria", ["/partners", "🔎 Filtra o cerca", "🔎 Cerca per parola", "储能技术"]
    )
    assert search.returncode == 0, search.stderr
    found = search.stdout.rsplit("«储能技术»", 1)[-1]
    assert "Filtro: «储能技术»" in search.stdout and WANG in found, search.stdout[-3000:]

    asked = run_console(tmp_path, "maria", ["/partners", f"🤝 Incontra {WANG}", "Ciao!"])
    assert asked.returncode == 0, asked.stderr
    withdrawn = run_console(tmp_path, "maria", ["/requests", f"↩ Ritira: {WANG}"])
    assert said("it", "You withdrew your request to {name}.", name=WANG) in withdrawn.stdout

    told = run_console(tmp_path, "wang", [])
    notice = said("zh_Hans", "{name} withdrew their meeting request to you.", name=MARIA)
    assert notice in told.stdout, told.stdout[-3000:]

    # A demo participant accepts at once; "another time" offers times, and one is chosen.
    demo = run_console(tmp_path, "maria", ["/partners", "✖ Togli il filtro"])
    meet = next(line.strip() for line in demo.stdout.splitlines() if "🤝 Incontra" in line
                and WANG not in line)  # fmt: skip
    label = meet.split("]", 1)[-1].strip() if "]" in meet else meet
    moved = run_console(tmp_path, "maria", ["/partners", label, "Ciao!", "↻ Altro orario", "2"])
    assert said("it", "Meeting moved to a new time") in moved.stdout, moved.stdout[-3000:]

"""Issue walk-through on Telegram: two people join by link, one requests, the other accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
from icalendar import Calendar

from tests.events_support import make_event
from tests.flows import MARIA, WANG
from tests.telegram_world import FRAMEWORKS, answer, buttons_of, register_on_telegram, running_bot


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_two_people_meet_through_telegram(framework: str, tmp_path: Path) -> None:
    async with running_bot(framework, f"sqlite+aiosqlite:///{tmp_path / 'meet.db'}") as world:
        await make_event(world.app.sessions, code="itcn-2027",
                         first_slot=_utc(2027, 1, 20, 8), deadline=_utc(2027, 1, 19, 17))  # fmt: skip
        maria = world.user(first_name="Maria", language_code="it")
        wang = world.user(first_name="Wang", language_code="zh-hans")
        await register_on_telegram(world, maria, MARIA)
        await register_on_telegram(world, wang, WANG)
        for user in (maria, wang):
            user.send_command("/start", "itcn-2027")
        await world.until(
            lambda: _said(maria, "/partners") and _said(wang, "/partners"), "both joined"
        )

        await answer(world, maria, lambda: maria.send_command("/partners"), "rqn")
        await answer(world, maria, lambda: maria.press(_button(maria, "rqn|")), "note")
        maria.send_text("Buongiorno! Parliamo di accumulo di energia.")
        invitation = await world.until_message(wang, lambda m: "rq|" in " ".join(buttons_of(m)))
        assert MARIA.name in (invitation.text or "")
        assert MARIA.email not in (invitation.text or ""), "no contact details before acceptance"
        wang.press(next(d for d in buttons_of(invitation) if d.endswith("|a")))

        await world.until(
            lambda: len(world.api.sent_documents(maria.id)) == 1, "Maria's calendar file"
        )
        await world.until(
            lambda: len(world.api.sent_documents(wang.id)) == 1, "Wang's calendar file"
        )
        rome = next(
            m.text
            for m in reversed(maria.messages)
            if m.from_bot and "mt|" in " ".join(buttons_of(m))
        )
        beijing = next(
            m.text
            for m in reversed(wang.messages)
            if m.from_bot and "mt|" in " ".join(buttons_of(m))
        )
        assert "09:00" in (rome or "") and "16:00" in (
            rome or ""
        )  # Rome, and Wang's time beside it
        assert "16:00" in (beijing or "") and "09:00" in (beijing or "")
        assert WANG.email in (rome or "") and MARIA.email in (beijing or "")
        for user in (maria, wang):
            (document,) = world.api.sent_documents(user.id)
            entry = Calendar.from_ical(document.data).walk("VEVENT")[0]
            assert entry.decoded("DTSTART") == _utc(2027, 1, 20, 8)
        failures = [(c.method, c.status) for c in world.api.calls if c.status >= 400]
        assert not failures, failures


def _utc(*parts: int):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime(*parts, tzinfo=UTC)


def _said(user, text: str) -> bool:  # type: ignore[no-untyped-def]
    return any(m.from_bot and text in (m.text or "") for m in user.messages)


def _button(user, prefix: str) -> str:  # type: ignore[no-untyped-def]
    for message in reversed(user.messages):
        for data in buttons_of(message):
            if data.startswith(prefix):
                return data
    raise AssertionError(f"no {prefix} button")

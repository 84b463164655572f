"""Through the fake Bot API, on both frameworks: a request withdrawn from ``/requests``, and
a meeting moved to another time chosen among the offered free ones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from icalendar import Calendar

from tests.events_support import Someone, add_people, make_event, said
from tests.fake_bot_api import SimulatedUser, StoredMessage
from tests.telegram_world import FRAMEWORKS, World, buttons_of, running_bot


async def two_people(world: World) -> tuple[SimulatedUser, SimulatedUser, dict[str, int], int]:
    """Maria (Italian) and Wang (Chinese), registered and at one event."""
    maria = world.user(first_name="Maria", language_code="it")
    wang = world.user(first_name="Wang", language_code="zh-hans")
    event = await make_event(world.app.sessions)
    ids = await add_people(
        world.app.sessions,
        event,
        [
            Someone(str(maria.id), "Maria Rossi", "IT", "it", channel="telegram"),
            Someone(str(wang.id), "Wang Wei", "CN", "zh_Hans", channel="telegram"),
        ],
    )
    return maria, wang, {"maria": ids[str(maria.id)], "wang": ids[str(wang.id)]}, event


def with_button(prefix: str, suffix: str = "") -> Callable[[StoredMessage], bool]:
    def check(message: StoredMessage) -> bool:
        return any(d.startswith(prefix) and d.endswith(suffix) for d in buttons_of(message))

    return check


def button(message: StoredMessage, prefix: str, suffix: str = "") -> str:
    return next(d for d in buttons_of(message) if d.startswith(prefix) and d.endswith(suffix))


async def maria_asks_wang(
    world: World, maria: SimulatedUser, wang: SimulatedUser, ids: dict[str, int], event: int
) -> StoredMessage:
    """Maria asks Wang for a meeting from /partners; returns Wang's invitation."""
    maria.send_command("/partners")
    listing = await world.until_message(maria, with_button("rqn|"))
    maria.press(f"rqn|{ids['wang']}|{event}", listing)
    question = await world.until_message(maria, with_button("note|"))
    maria.press("note|send", question)
    return await world.until_message(wang, with_button("rq|", "|a"))


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_withdrawing_a_request_from_the_list(framework: str, tmp_path: Path) -> None:
    async with running_bot(framework, f"sqlite+aiosqlite:///{tmp_path / 'rq.db'}") as world:
        maria, wang, ids, event = await two_people(world)
        invitation = await maria_asks_wang(world, maria, wang, ids, event)

        maria.send_command("/requests")
        listing = await world.until_message(maria, with_button("rqs|", "|w"))
        assert said("it", "Requests waiting for an answer") in listing.visible_text
        assert "Wang Wei" in listing.visible_text
        maria.press(button(listing, "rqs|", "|w"), listing)
        withdrawn = said("it", "You withdrew your request to {name}.", name="Wang Wei")
        await world.until(lambda: withdrawn in listing.visible_text, "the list, edited in place")
        assert not buttons_of(listing), "nothing is waiting any more"

        told = said("zh_Hans", "{name} withdrew their meeting request to you.", name="Maria Rossi")
        await world.until_message(wang, lambda m: told in m.visible_text)
        wang.press(button(invitation, "rq|", "|a"), invitation)
        gone = said("zh_Hans", "This request was withdrawn.")
        await world.until_message(wang, lambda m: gone in m.visible_text)
        failures = [(c.method, c.status) for c in world.api.calls if c.status >= 400]
        assert not failures, failures


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_choosing_another_time_among_free_ones(framework: str, tmp_path: Path) -> None:
    async with running_bot(framework, f"sqlite+aiosqlite:///{tmp_path / 'mt.db'}") as world:
        maria, wang, ids, event = await two_people(world)
        invitation = await maria_asks_wang(world, maria, wang, ids, event)
        wang.press(button(invitation, "rq|", "|a"), invitation)
        confirmed = await world.until_message(maria, with_button("mt|", "|r"))
        for user in (maria, wang):
            await world.until(lambda u=user: len(world.api.sent_documents(u.id)) == 1, "a file")

        maria.press(button(confirmed, "mt|", "|r"), confirmed)
        offer = await world.until_message(maria, with_button("mt|", "|k"))
        times = [d for d in buttons_of(offer) if "|s" in d]
        assert len(times) == 5, "the next five free times"
        assert "09:20" in offer.buttons[0], "08:20 UTC in Rome, the earliest free time"
        maria.press(times[1], offer)  # 08:40 UTC

        await world.until(lambda: len(world.api.sent_documents(wang.id)) == 2, "Wang's update")
        await world.until(lambda: len(world.api.sent_documents(maria.id)) == 2, "Maria's update")
        moved = said("zh_Hans", "Meeting moved to a new time")
        notice = await world.until_message(wang, lambda m: moved in m.visible_text)
        assert "16:40" in notice.visible_text, "Wang reads his own (Beijing) time"
        for user in (maria, wang):
            first, second = world.api.sent_documents(user.id)
            before = Calendar.from_ical(first.data).walk("VEVENT")[0]
            after = Calendar.from_ical(second.data).walk("VEVENT")[0]
            assert str(after["UID"]) == str(before["UID"])
            assert (int(before["SEQUENCE"]), int(after["SEQUENCE"])) == (0, 1)
            assert after.decoded("DTSTART") == datetime(2026, 12, 15, 8, 40, tzinfo=UTC)
        failures = [(c.method, c.status) for c in world.api.calls if c.status >= 400]
        assert not failures, failures

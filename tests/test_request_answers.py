"""Requests seen from the other side: the invitee's language, crossing requests, one answer
at a time, and one notice per side when a request lapses."""

from __future__ import annotations

import asyncio
import re

from sqlalchemy import func, select

from bot.app import App
from storage.event_models import Meeting, MeetingRequest
from storage.matchmaking import RequestRepository
from tests.chat import Chat
from tests.databases import LockWatch
from tests.events_support import (
    Clock,
    Someone,
    add_people,
    core_with_clock,
    inbox,
    make_event,
    said,
    text_of,
)

MARIA = Someone("maria", "Maria Rossi", "IT", "it", ("energy", "materials_nano"),
                "Sodium batteries", "Chinese manufacturers")  # fmt: skip
WANG = Someone("wang", "Wang Wei", "CN", "zh_Hans", ("energy",), "Battery manufacturing",
               "European sodium battery technology")  # fmt: skip
NOTE = "Buongiorno! Parliamo di batterie al sodio."


async def setup(app: App, clock: Clock) -> tuple[dict[str, int], dict[str, Chat], int]:
    event = await make_event(app.sessions)
    ids = await add_people(app.sessions, event, [MARIA, WANG])
    core = await core_with_clock(app.sessions, clock)
    chats = {p.user: Chat(core, user=p.user, lang=None, channel="test") for p in (MARIA, WANG)}
    return ids, chats, event


async def requests_and_meetings(app: App) -> tuple[list[MeetingRequest], int]:
    async with app.sessions() as session:
        requests = list((await session.scalars(select(MeetingRequest))).all())
        meetings = await session.scalar(select(func.count()).select_from(Meeting))
    return requests, int(meetings or 0)


async def test_the_invitation_is_in_the_invitees_language(app: App, clock: Clock) -> None:
    ids, chats, event = await setup(app, clock)
    await chats["maria"].press_payload(f"rqn|{ids['wang']}|{event}")
    await chats["maria"].say(NOTE)
    invitation = await inbox(app, "wang", clock.now)
    assert len(invitation) == 1
    text = text_of(invitation)
    # Everything but what Maria typed is Chinese: no Latin letter is left once it is removed.
    for typed in ("Maria Rossi Lab", "Maria Rossi", "Napoli", "Sodium batteries",
                  "Chinese manufacturers", NOTE):  # fmt: skip
        assert typed in text
        text = text.replace(typed, "")
    labels = " ".join(b.label for b in invitation[0].all_buttons())
    assert not re.search("[A-Za-z]", text + labels), text + labels
    assert "意大利" in text and "能源" in text  # Italy, and the energy area, in Chinese

    await chats["wang"].press_payload(f"rq|{(await requests_and_meetings(app))[0][0].id}|d")
    assert said("zh_Hans", "You declined the request from {name}.", name="Maria Rossi") in (
        chats["wang"].text
    )
    declined = text_of(await inbox(app, "maria", clock.now))
    kind = "{name} cannot take up your meeting request this time. Other participants may be a good match for you: see /partners."
    assert declined == said("it", kind, name="Wang Wei")


async def test_meeting_times_use_each_languages_punctuation(app: App, clock: Clock) -> None:
    ids, chats, event = await setup(app, clock)
    await chats["maria"].press_payload(f"rqn|{ids['wang']}|{event}")
    await chats["maria"].press("note|send")
    request = (await requests_and_meetings(app))[0][0]
    await chats["wang"].press_payload(f"rq|{request.id}|a")
    # Beijing 16:00, Rome 09:00: full-width brackets and no comma in Chinese, both times.
    assert "周二 16:00–16:20（北京时间）" in chats["wang"].text  # China's clock, unnested
    assert "Maria Rossi当地时间：2026年12月15日周二 09:00–09:20（意大利时间）" in chats["wang"].text
    confirmation = text_of(await inbox(app, "maria", clock.now))
    assert "15 dic 2026, 09:00–09:20 (Ora Italia)" in confirmation
    assert "15 dic 2026, 16:00–16:20 (Ora di Pechino)" in confirmation
    await chats["wang"].say("/agenda")
    assert "16:00–16:20 · Maria Rossi（Maria Rossi Lab）" in chats["wang"].text


async def test_asking_someone_who_already_asked_you_shows_their_request(
    app: App, clock: Clock
) -> None:
    ids, chats, event = await setup(app, clock)
    await chats["maria"].press_payload(f"rqn|{ids['wang']}|{event}")
    await chats["maria"].say(NOTE)
    await chats["wang"].press_payload(f"rqn|{ids['maria']}|{event}")
    text = chats["wang"].text
    assert (
        said("zh_Hans", "{name} has already asked you for a meeting: see their request.",
             name="Maria Rossi") in text
    )  # fmt: skip
    assert NOTE in text and said("zh_Hans", "Meeting request") in text
    requests, meetings = await requests_and_meetings(app)
    assert len(requests) == 1 and meetings == 0
    await chats["wang"].press(f"{requests[0].id}|a")
    requests, meetings = await requests_and_meetings(app)
    assert requests[0].status == "accepted" and meetings == 1


async def test_sending_a_request_to_someone_who_asked_meanwhile_accepts_theirs(
    app: App, clock: Clock
) -> None:
    ids, chats, event = await setup(app, clock)
    await chats["wang"].press_payload(f"rqn|{ids['maria']}|{event}")  # Wang writes a note…
    await chats["maria"].press_payload(f"rqn|{ids['wang']}|{event}")
    await chats["maria"].press("note|send")  # …while Maria's request arrives
    await chats["wang"].say("您好，期待与您交流。")
    assert (
        said("zh_Hans", "{name} had already asked you for a meeting, so we accepted their "
             "request for you.", name="Maria Rossi") in chats["wang"].text
    )  # fmt: skip
    assert said("zh_Hans", "Meeting confirmed") in chats["wang"].text
    requests, meetings = await requests_and_meetings(app)
    assert [(r.requester_id, r.status) for r in requests] == [(ids["maria"], "accepted")]
    assert meetings == 1
    assert said("it", "Meeting confirmed") in text_of(await inbox(app, "maria", clock.now))


async def test_crossing_requests_sent_at_once_make_one_meeting(app: App, clock: Clock) -> None:
    ids, chats, event = await setup(app, clock)
    await chats["maria"].press_payload(f"rqn|{ids['wang']}|{event}")
    await chats["wang"].press_payload(f"rqn|{ids['maria']}|{event}")
    await asyncio.gather(
        chats["maria"].press_payload("note|send"), chats["wang"].press_payload("note|send")
    )
    requests, meetings = await requests_and_meetings(app)
    assert len(requests) == 1 and requests[0].status == "accepted" and meetings == 1


async def test_an_answer_waits_for_a_concurrent_one_and_does_not_override_it(
    app: App, clock: Clock
) -> None:
    ids, chats, event = await setup(app, clock)
    await chats["maria"].press_payload(f"rqn|{ids['wang']}|{event}")
    await chats["maria"].press("note|send")
    request_id = (await requests_and_meetings(app))[0][0].id
    watch = LockWatch(app.engine)
    async with app.sessions() as session, session.begin():
        # Another answer (here the lapse sweep) holds the row while Wang declines.
        held = await RequestRepository(session).request(request_id, lock=True)
        assert held is not None
        watch.mark()
        decline = asyncio.create_task(chats["wang"].press_payload(f"rq|{request_id}|d"))
        await watch.until_waiting()
        assert not decline.done(), "the decline must wait for the row"
        held.status = "expired"
    await decline
    assert chats["wang"].text == said(
        "zh_Hans", "This request has lapsed: it was not answered in time."
    )
    requests, _ = await requests_and_meetings(app)
    assert requests[0].status == "expired"
    assert not await inbox(app, "maria", clock.now), "no decline after the request lapsed"


async def test_a_request_pressed_after_its_time_lapses_with_one_notice_each(
    app: App, clock: Clock
) -> None:
    ids, chats, event = await setup(app, clock)
    await chats["maria"].press_payload(f"rqn|{ids['wang']}|{event}")
    await chats["maria"].press("note|send")
    await inbox(app, "wang", clock.now)  # the invitation
    request_id = (await requests_and_meetings(app))[0][0].id
    clock.advance(hours=49)  # due, but the sweep has not run yet
    await chats["wang"].press_payload(f"rq|{request_id}|a")
    assert chats["wang"].text == said(
        "zh_Hans", "This request has lapsed: it was not answered in time."
    )
    assert not await inbox(app, "wang", clock.now), "Wang was told once, in the chat"
    told = await inbox(app, "maria", clock.now)
    assert text_of(told) == said(
        "it", "Your meeting request to {name} lapsed: it was not answered in time.",
        name="Wang Wei",
    )  # fmt: skip
    assert await chats["wang"].core.run_maintenance() == 0
    assert not await inbox(app, "maria", clock.now) and not await inbox(app, "wang", clock.now)
    requests, meetings = await requests_and_meetings(app)
    assert requests[0].status == "expired" and meetings == 0

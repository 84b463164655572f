"""Events, suggestions, requests, scheduling and meetings through the core."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from bot.app import App
from storage.event_models import (
    Booking,
    EventRegistration,
    Meeting,
    MeetingFeedback,
    MeetingRequest,
)
from tests.chat import Chat
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
from tests.flows import MARIA, register

PEOPLE = [
    Someone("maria", "Maria Rossi", "IT", "it", ("energy", "materials_nano"), "Sodium batteries", "Chinese manufacturers"),
    Someone("wang", "Wang Wei", "CN", "zh_Hans", ("energy", "artificial_intelligence"), "Battery manufacturing", "European sodium battery technology"),
    Someone("li", "Li Na", "CN", "en", ("design",), "Industrial design", "Furniture makers"),
    Someone("luca", "Luca Bianchi", "IT", "en", ("energy", "materials_nano"), "Materials testing", "Battery startups"),
]  # fmt: skip


async def setup(
    app: App, clock: Clock, **event_options: object
) -> tuple[dict[str, int], dict[str, Chat]]:
    event_id = await make_event(app.sessions, **event_options)  # type: ignore[arg-type]
    ids = await add_people(app.sessions, event_id, PEOPLE)
    core = await core_with_clock(app.sessions, clock)
    chats = {p.user: Chat(core, user=p.user, lang=p.locale, channel="test") for p in PEOPLE}
    return ids, chats


async def request_and_accept(
    app: App, chats: dict[str, Chat], ids: dict[str, int], a: str, b: str
) -> None:
    event = await event_id_of(app)
    await chats[a].press_payload(f"rqn|{ids[b]}|{event}")
    await chats[a].press("note|send")
    async with app.sessions() as session:
        request = await session.scalar(
            select(MeetingRequest).where(
                MeetingRequest.requester_id == ids[a], MeetingRequest.invitee_id == ids[b]
            )
        )
    assert request is not None
    await chats[b].press_payload(f"rq|{request.id}|a")


async def event_id_of(app: App) -> int:
    async with app.sessions() as session:
        value = await session.scalar(select(EventRegistration.event_id).limit(1))
    assert value is not None
    return int(value)


async def test_partners_are_ranked_and_show_no_contact_details(app: App, clock: Clock) -> None:
    ids, chats = await setup(app, clock)
    await chats["maria"].say("/partners")
    text = chats["maria"].text
    order = [text.index(name) for name in ("Wang Wei", "Li Na", "Luca Bianchi")]
    assert order == sorted(order), "other country first; shared areas and offer/seek next"
    for contact in ("wang@example.org", "+39 06", "https://wang.example.org"):
        assert contact not in text
    buttons = [b.payload for b in chats["maria"].buttons()]
    assert f"rqn|{ids['wang']}|{await event_id_of(app)}" in buttons


async def test_partners_are_paged(app: App, clock: Clock) -> None:
    event_id = await make_event(app.sessions)
    crowd = [Someone(f"p{i}", f"Person {i:02d}", "CN") for i in range(12)]
    await add_people(app.sessions, event_id, [PEOPLE[0], *crowd])
    chat = Chat(await core_with_clock(app.sessions, clock), user="maria", lang="it", channel="test")
    await chat.say("/partners")
    assert "1" in chat.text and "3" in chat.text
    await chat.press(f"{event_id}|1")
    assert chat.last.replies[0].edit
    await chat.press(f"{event_id}|2")
    assert sum(1 for b in chat.buttons() if b.payload.startswith("rqn|")) == 2


async def test_request_accept_schedules_the_earliest_common_slot(app: App, clock: Clock) -> None:
    ids, chats = await setup(app, clock)
    event = await event_id_of(app)
    await chats["maria"].press_payload(f"rqn|{ids['wang']}|{event}")
    await chats["maria"].say("Buongiorno! Parliamo di batterie al sodio.")
    assert "Wang Wei" in chats["maria"].text
    invitation = await inbox(app, "wang", clock.now)
    assert len(invitation) == 1
    assert "Maria Rossi" in text_of(invitation) and "batterie al sodio" in text_of(invitation)
    assert "maria@example.org" not in text_of(invitation), "no contact details before acceptance"
    accept = next(b.payload for b in invitation[0].all_buttons() if b.payload.endswith("|a"))

    await chats["wang"].press_payload(accept)
    async with app.sessions() as session:
        meeting = await session.scalar(select(Meeting))
        assert meeting is not None and meeting.status == "scheduled"
        assert meeting.slot is not None and meeting.slot.starts_at == datetime(
            2026, 12, 15, 8, 0, tzinfo=UTC
        )
    assert "maria@example.org" in chats["wang"].text, "contact details once accepted"
    assert (
        "16:00" in chats["wang"].text and "09:00" in chats["wang"].text
    )  # Beijing, and Rome beside it
    confirmation = await inbox(app, "maria", clock.now)
    assert "Wang Wei" in text_of(confirmation) and "09:00" in text_of(confirmation)
    calendars = [r.document for r in [*chats["wang"].last.replies, *confirmation] if r.document]
    assert len(calendars) == 2
    for document in calendars:
        calendar = Calendar.from_ical(document.content)
        assert calendar["METHOD"] == "PUBLISH"
        entry = calendar.walk("VEVENT")[0]
        assert str(entry["UID"]) == meeting.uid and int(entry["SEQUENCE"]) == 0
        assert entry.decoded("DTSTART") == datetime(2026, 12, 15, 8, 0, tzinfo=UTC)
        assert calendar.walk("VTIMEZONE"), "the event's time zone is included"


async def test_second_meeting_takes_the_next_slot_where_both_are_free(
    app: App, clock: Clock
) -> None:
    ids, chats = await setup(app, clock, places=1)
    await request_and_accept(app, chats, ids, "maria", "wang")
    await request_and_accept(app, chats, ids, "li", "luca")  # the only link is taken at 08:00
    await request_and_accept(app, chats, ids, "wang", "luca")  # both busy at 08:00 and 08:20
    async with app.sessions() as session:
        meetings = (await session.scalars(select(Meeting).order_by(Meeting.id))).all()
        starts = [m.slot.starts_at.strftime("%H:%M") for m in meetings if m.slot]
    assert starts == ["08:00", "08:20", "08:40"]


async def test_forged_stale_and_repeated_presses_change_nothing(app: App, clock: Clock) -> None:
    ids, chats = await setup(app, clock)
    await request_and_accept(app, chats, ids, "maria", "wang")
    async with app.sessions() as session:
        request = await session.scalar(select(MeetingRequest))
        meeting = await session.scalar(select(Meeting))
    assert request is not None and meeting is not None
    for chat, payload in (
        (chats["wang"], f"rq|{request.id}|a"),  # a second accept
        (chats["li"], f"rq|{request.id}|a"),  # somebody else's request
        (chats["li"], f"mt|{meeting.id}|x"),  # somebody else's meeting
        (chats["li"], "mt|999|x"),
        (chats["li"], "rq|abc|a"),
        (chats["li"], "mt|\u00b2|x"),  # a digit to str.isdigit(), not to int()
        (chats["li"], f"rqn|99999999999999999999|{await event_id_of(app)}"),  # beyond INTEGER
        (chats["li"], f"rqn|\u0661|{await event_id_of(app)}"),  # Arabic-Indic one
        (chats["maria"], f"fb|{meeting.id}|y"),  # before the meeting took place
        (chats["maria"], f"rqn|{ids['maria']}|{await event_id_of(app)}"),  # oneself
        (chats["maria"], f"rqn|{ids['wang']}|{await event_id_of(app)}"),  # twice
    ):
        await chat.press_payload(payload)
        assert chat.last.replies, payload
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Meeting)) == 1
        assert await session.scalar(select(func.count()).select_from(Booking)) == 2
        assert await session.scalar(select(func.count()).select_from(MeetingFeedback)) == 0
        assert (await session.get(Meeting, meeting.id)).status == "scheduled"  # type: ignore[union-attr]


async def test_pending_request_cap_and_deadline(app: App, clock: Clock) -> None:
    ids, chats = await setup(app, clock, max_pending=1)
    event = await event_id_of(app)
    await chats["maria"].press_payload(f"rqn|{ids['wang']}|{event}")
    await chats["maria"].press("note|send")
    await chats["maria"].press_payload(f"rqn|{ids['li']}|{event}")
    assert "1" in chats["maria"].text
    clock.now = datetime(2026, 12, 14, 18, 0, tzinfo=UTC)
    await chats["luca"].press_payload(f"rqn|{ids['li']}|{event}")
    assert "closed" in chats["luca"].text
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(MeetingRequest)) == 1


async def test_unanswered_requests_lapse_and_both_are_told(app: App, clock: Clock) -> None:
    ids, chats = await setup(app, clock)
    core = chats["maria"].core
    event = await event_id_of(app)
    await chats["maria"].press_payload(f"rqn|{ids['wang']}|{event}")
    await chats["maria"].press("note|send")
    await inbox(app, "wang", clock.now)  # the invitation
    clock.advance(hours=47)
    assert await core.run_maintenance() == 0
    clock.advance(hours=2)
    assert await core.run_maintenance() == 1
    assert said(
        "it", "Your meeting request to {name} lapsed: it was not answered in time.", name="Wang Wei"
    ) in text_of(await inbox(app, "maria", clock.now))
    assert await inbox(app, "wang", clock.now)
    request_id = (await _only_request(app)).id
    await chats["wang"].press_payload(f"rq|{request_id}|a")
    assert (
        said("zh_Hans", "This request has lapsed: it was not answered in time.")
        in chats["wang"].text
    )
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Meeting)) == 0


async def _only_request(app: App) -> MeetingRequest:
    async with app.sessions() as session:
        request = await session.scalar(select(MeetingRequest))
    assert request is not None
    return request


async def test_cancel_and_another_time_update_both_calendars(app: App, clock: Clock) -> None:
    ids, chats = await setup(app, clock)
    await request_and_accept(app, chats, ids, "maria", "wang")
    await inbox(app, "maria", clock.now)
    await inbox(app, "wang", clock.now)
    async with app.sessions() as session:
        meeting = await session.scalar(select(Meeting))
    assert meeting is not None
    await chats["maria"].press_payload(f"mt|{meeting.id}|r")
    assert not await inbox(app, "wang", clock.now), "offering times moves nothing"
    offered = [b.label for b in chats["maria"].buttons() if "|s" in b.payload]
    assert len(offered) == 5 and "09:20" in offered[0]  # Rome time of the next free slot
    await chats["maria"].press(chats["maria"].buttons()[0].payload)
    moved = await inbox(app, "wang", clock.now)
    assert "09:20" in chats["maria"].text
    ics = Calendar.from_ical(next(r.document for r in moved if r.document).content)  # type: ignore[union-attr]
    assert int(ics.walk("VEVENT")[0]["SEQUENCE"]) == 1
    await chats["wang"].press_payload(f"mt|{meeting.id}|x")
    assert not await inbox(app, "maria", clock.now), "cancelling asks first"
    await chats["wang"].press("xy")
    told = await inbox(app, "maria", clock.now)
    assert "Wang Wei" in text_of(told)
    cancellation = Calendar.from_ical(next(r.document for r in told if r.document).content)  # type: ignore[union-attr]
    assert cancellation["METHOD"] == "CANCEL"
    assert int(cancellation.walk("VEVENT")[0]["SEQUENCE"]) == 2
    assert str(cancellation.walk("VEVENT")[0]["UID"]) == meeting.uid
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Booking)) == 0
    await chats["maria"].press_payload(f"mt|{meeting.id}|x")
    assert chats["maria"].text == said("it", "This meeting was cancelled.")


async def test_no_free_slot_leaves_the_meeting_for_the_organisers(app: App, clock: Clock) -> None:
    ids, chats = await setup(app, clock, slots=1, places=1)
    await request_and_accept(app, chats, ids, "maria", "wang")
    await request_and_accept(app, chats, ids, "luca", "li")
    assert "organisers" in chats["li"].text
    async with app.sessions() as session:
        statuses = sorted((await session.scalars(select(Meeting.status))).all())
    assert statuses == ["scheduled", "unscheduled"]
    async with app.sessions() as session:
        waiting = await session.scalar(select(Meeting).where(Meeting.status == "unscheduled"))
    assert waiting is not None
    # No time yet: no calendar button, and a forged press explains instead of sending a file.
    assert not any(b.payload == f"mt|{waiting.id}|i" for b in chats["li"].buttons())
    await chats["li"].press_payload(f"mt|{waiting.id}|i")
    assert "organisers" in chats["li"].text
    assert all(reply.document is None for reply in chats["li"].last.replies)


async def test_after_the_slot_both_are_asked_whether_it_took_place(app: App, clock: Clock) -> None:
    ids, chats = await setup(app, clock)
    await request_and_accept(app, chats, ids, "maria", "wang")
    await inbox(app, "maria", clock.now)
    assert not await inbox(app, "maria", datetime(2026, 12, 15, 8, 21, tzinfo=UTC))
    question = await inbox(app, "maria", datetime(2026, 12, 15, 8, 26, tzinfo=UTC))
    assert "Wang Wei" in text_of(question)
    clock.now = datetime(2026, 12, 15, 8, 30, tzinfo=UTC)
    await chats["maria"].press_payload(
        next(b.payload for b in question[0].all_buttons() if b.payload.endswith("|n"))
    )
    async with app.sessions() as session:
        feedback = (await session.scalars(select(MeetingFeedback))).all()
    assert [(f.participant_id, f.took_place) for f in feedback] == [(ids["maria"], False)]


async def test_agenda_shows_both_local_times(app: App, clock: Clock) -> None:
    ids, chats = await setup(app, clock)
    await request_and_accept(app, chats, ids, "maria", "wang")
    await chats["maria"].say("/agenda")
    assert "09:00" in chats["maria"].text and "16:00" in chats["maria"].text
    await chats["wang"].say("/agenda")
    assert "16:00" in chats["wang"].text and "09:00" in chats["wang"].text


async def test_deleteme_cancels_meetings_and_tells_the_partner(app: App, clock: Clock) -> None:
    ids, chats = await setup(app, clock)
    await request_and_accept(app, chats, ids, "maria", "wang")
    await inbox(app, "maria", clock.now)
    await chats["wang"].say("/deleteme")
    await chats["wang"].press("erase|yes")
    told = await inbox(app, "maria", clock.now)
    assert "Wang Wei" in text_of(told)
    assert (
        Calendar.from_ical(next(r.document for r in told if r.document).content)["METHOD"]
        == "CANCEL"
    )  # type: ignore[union-attr]


async def test_joining_by_link_before_and_after_registration(app: App, clock: Clock) -> None:
    await make_event(app.sessions, code="week-2026")
    core = await core_with_clock(app.sessions, clock)
    newcomer = Chat(core, user="new", lang="it")
    await newcomer.say("/start week-2026")
    await register(newcomer, MARIA)  # /start again inside: the payload waits for registration
    assert "week-2026" not in newcomer.text
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(EventRegistration)) == 1
    await newcomer.say("/start week-2026")
    await newcomer.say("/start nope")
    assert "nope" in newcomer.text
    clock.now = datetime(2026, 12, 14, 18, 0, tzinfo=UTC)
    late = Chat(core, user="late", lang="en")
    await register(late, MARIA)
    await late.say("/start week-2026")
    assert (
        said("it", "Registration for this event closed on {date}.", date="14 dic 2026, 18:00")
        in late.text
    )


async def test_demo_participants_accept_at_once(app: App, clock: Clock) -> None:
    event_id = await make_event(app.sessions)
    ids = await add_people(
        app.sessions, event_id, [PEOPLE[0], Someone("demo-1", "Demo Person", "CN", channel="demo")]
    )
    chat = Chat(await core_with_clock(app.sessions, clock), user="maria", lang="en", channel="test")
    await chat.press_payload(f"rqn|{ids['demo-1']}|{event_id}")
    await chat.press("note|send")
    assert said("it", "Meeting confirmed") in chat.text
    assert any(r.document for r in chat.last.replies)


@pytest.mark.parametrize(
    ("before", "rome_before", "rome_after"),
    [
        # Last Sunday of March 2027: Rome moves from UTC+1 to UTC+2.
        (datetime(2027, 3, 27, 8, 0, tzinfo=UTC), "9:00", "10:00"),
        # Last Sunday of October 2026: Rome moves back from UTC+2 to UTC+1.
        (datetime(2026, 10, 24, 8, 0, tzinfo=UTC), "10:00", "9:00"),
    ],
)
async def test_times_follow_daylight_saving_in_rome_and_beijing(
    app: App, clock: Clock, before: datetime, rome_before: str, rome_after: str
) -> None:
    """The same 08:00 UTC slot, the Saturday before and the Monday after Rome changes its
    clocks: Rome's time moves by an hour, Beijing's (UTC+8 all year) stays 16:00."""
    clock.now = before - timedelta(days=7)
    event_id = await make_event(app.sessions, first_slot=before, slots=1, deadline=before, places=1)
    after_id = await make_event(app.sessions, code="after", first_slot=before + timedelta(days=2), slots=1,
                                deadline=before + timedelta(days=2), places=1)  # fmt: skip
    ids = await add_people(app.sessions, event_id, PEOPLE[:2])
    async with app.sessions() as session, session.begin():
        session.add_all(
            EventRegistration(event_id=after_id, participant_id=i, joined_at=clock.now)
            for i in ids.values()
        )
    core = await core_with_clock(app.sessions, clock)
    for locale in ("it", "en", "zh_Hans"):
        maria = Chat(core, user="maria", lang=locale, channel="test")
        await maria.say("/language")
        await maria.press(f"setlang|{locale}")
    chats = {
        "maria": Chat(core, user="maria", channel="test"),
        "wang": Chat(core, user="wang", channel="test"),
    }
    for event in (event_id, after_id):
        async with app.sessions() as session, session.begin():
            session.add(MeetingRequest(event_id=event, requester_id=ids["maria"], invitee_id=ids["wang"],
                                       status="pending", created_at=clock.now, expires_at=clock.now + timedelta(days=9)))  # fmt: skip
        async with app.sessions() as session:
            request = await session.scalar(
                select(MeetingRequest).where(MeetingRequest.event_id == event)
            )
        await chats["wang"].press_payload(f"rq|{request.id}|a")  # type: ignore[union-attr]

    def padded(clock_time: str) -> str:
        return clock_time.zfill(5)

    expected = {
        "it": (padded(rome_before), padded(rome_after), "16:00"),
        "en": (rome_before, rome_after, "4:00"),
        "zh_Hans": (padded(rome_before), padded(rome_after), "16:00"),
    }
    for locale, (saturday, monday, beijing) in expected.items():
        maria = Chat(core, user="maria", channel="test")
        await maria.press_payload(f"setlang|{locale}")
        await maria.say("/agenda")
        agenda = maria.text
        assert saturday in agenda and monday in agenda, (locale, agenda)
        assert agenda.count(beijing) == 2, (locale, agenda)  # Beijing's time does not move

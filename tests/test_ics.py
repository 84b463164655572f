"""Calendar files: what Apple Calendar, Google Calendar and Outlook need to update, not duplicate.

Each file is parsed back with icalendar and checked against RFC 5546 (METHOD:PUBLISH for a
confirmation or a change, METHOD:CANCEL for a cancellation) and RFC 5545.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from icalendar import Calendar
from icalendar import Event as CalendarEvent
from sqlalchemy import select

from bot.app import App
from handlers.kernel.i18n import translator
from handlers.matchmaking.ics import ORGANIZER, meeting_calendar
from storage.event_models import Meeting, MeetingRequest, Place, Slot
from tests.events_support import NOW, Someone, add_people, make_event

PEOPLE = [
    Someone("maria", "Maria Rossi", "IT", "it", email="maria@example.org"),
    Someone("wang", 'Wang "Bill", Wei; Jr.', "CN", "zh_Hans", email="wang@example.org"),
]


async def add_meeting(app: App, event_id: int, first: int, second: int, place: int = 0) -> int:
    """A meeting in the event's first slot at its ``place``-th place, created as the
    application creates one: without a UID of its own."""
    async with app.sessions() as session, session.begin():
        slot = await session.scalar(
            select(Slot).where(Slot.event_id == event_id).order_by(Slot.starts_at).limit(1)
        )
        seat = await session.scalar(
            select(Place).where(Place.event_id == event_id, Place.position == place)
        )
        assert slot is not None and seat is not None
        request = MeetingRequest(
            event_id=event_id, requester_id=first, invitee_id=second, status="accepted",
            created_at=NOW, expires_at=NOW + timedelta(days=2),
        )  # fmt: skip
        session.add(request)
        await session.flush()
        meeting = Meeting(
            request_id=request.id, event_id=event_id, first_id=first, second_id=second,
            slot_id=slot.id, place_id=seat.id, status="scheduled", sequence=0,
            created_at=NOW, updated_at=NOW,
        )  # fmt: skip
        session.add(meeting)
        await session.flush()
        return meeting.id


async def load(app: App, meeting_id: int) -> Meeting:
    async with app.sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
    assert meeting is not None
    return meeting


def entry_of(content: bytes) -> tuple[Calendar, CalendarEvent]:
    calendar = Calendar.from_ical(content)
    entries = calendar.walk("VEVENT")
    assert len(entries) == 1
    entry = entries[0]
    assert isinstance(entry, CalendarEvent)
    return calendar, entry


def calendar_for(meeting: Meeting, who: int, now: datetime) -> tuple[Calendar, CalendarEvent]:
    viewer = meeting.first if meeting.first_id == who else meeting.second
    document = meeting_calendar(meeting, viewer, translator(viewer.locale), now)
    assert document.mime_type == "text/calendar"
    return entry_of(document.content)


async def test_meeting_uids_are_uuids_and_never_change(app: App) -> None:
    event_id = await make_event(app.sessions)
    ids = await add_people(app.sessions, event_id, [*PEOPLE, Someone("li", "Li Na", "CN")])
    one = await add_meeting(app, event_id, ids["maria"], ids["wang"])
    two = await add_meeting(app, event_id, ids["li"], ids["maria"], place=1)
    first, second = await load(app, one), await load(app, two)
    assert UUID(first.uid).version == 4 and UUID(second.uid).version == 4
    assert first.uid != second.uid
    async with app.sessions() as session, session.begin():
        changed = await session.get(Meeting, one)
        assert changed is not None
        changed.sequence += 1
        changed.status = "cancelled"
    assert (await load(app, one)).uid == first.uid


async def test_a_confirmation_is_published_without_attendees(app: App) -> None:
    event_id = await make_event(app.sessions)
    ids = await add_people(app.sessions, event_id, PEOPLE)
    meeting = await load(app, await add_meeting(app, event_id, ids["maria"], ids["wang"]))
    now = datetime(2026, 12, 1, 10, 0, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    for who in (ids["maria"], ids["wang"]):
        calendar, entry = calendar_for(meeting, who, now)
        assert calendar["METHOD"] == "PUBLISH" and calendar["VERSION"] == "2.0"
        assert str(entry["UID"]) == meeting.uid
        assert int(entry["SEQUENCE"]) == 0
        assert entry["DTSTAMP"].to_ical() == b"20261201T020005Z", "RFC 5545: DTSTAMP in UTC"
        assert "ORGANIZER" in entry and str(entry["ORGANIZER"]) == ORGANIZER
        assert "ATTENDEE" not in entry, "RFC 5546 3.2.1: a PUBLISH has no attendees"
        assert entry["STATUS"] == "CONFIRMED" and entry["SUMMARY"]
        start = entry.decoded("DTSTART")
        assert start == datetime(2026, 12, 15, 8, 0, tzinfo=UTC)
        assert entry["DTSTART"].params["TZID"] == "Europe/Rome"
        assert entry.decoded("DTEND") - start == timedelta(minutes=20)
        assert [str(zone["TZID"]) for zone in calendar.walk("VTIMEZONE")] == ["Europe/Rome"]
    _, for_wang = calendar_for(meeting, ids["wang"], now)
    assert "Maria Rossi" in str(for_wang["SUMMARY"])


async def test_a_change_raises_the_sequence_and_a_cancellation_names_its_recipient(
    app: App,
) -> None:
    event_id = await make_event(app.sessions)
    ids = await add_people(app.sessions, event_id, PEOPLE)
    meeting_id = await add_meeting(app, event_id, ids["maria"], ids["wang"])
    later = NOW + timedelta(hours=3)
    async with app.sessions() as session, session.begin():
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        meeting.sequence += 1  # what "another time" does
    _, moved = calendar_for(await load(app, meeting_id), ids["maria"], later)
    assert int(moved["SEQUENCE"]) == 1 and moved.decoded("DTSTAMP") == later

    async with app.sessions() as session, session.begin():
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        meeting.sequence += 1
        meeting.status = "cancelled"
    cancelled = await load(app, meeting_id)
    for who, email, name in (
        (ids["maria"], "maria@example.org", "Maria Rossi"),
        (ids["wang"], "wang@example.org", PEOPLE[1].name),
    ):
        calendar, entry = calendar_for(cancelled, who, later + timedelta(minutes=1))
        assert calendar["METHOD"] == "CANCEL"
        assert entry["STATUS"] == "CANCELLED", "RFC 5546 3.2.5: the whole event is cancelled"
        assert str(entry["UID"]) == cancelled.uid and int(entry["SEQUENCE"]) == 2
        assert str(entry["ORGANIZER"]) == ORGANIZER and "DTSTAMP" in entry
        attendee = entry["ATTENDEE"]
        assert not isinstance(attendee, list), "only the recipient, not the partner"
        assert str(attendee) == f"mailto:{email}" and attendee.params["CN"] == name

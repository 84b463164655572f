"""Event files: reading, checking, importing, updating, exporting and listing events."""

from __future__ import annotations

from argparse import Namespace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from bot.app import App
from bot.events.commands import run_events
from bot.events.files import (
    EventFileError,
    export_event,
    import_event,
    list_events,
    read_event_file,
    write_event_yaml,
)
from storage.event_models import (
    Booking,
    Event,
    EventRegistration,
    Meeting,
    MeetingRequest,
    Place,
    Slot,
)
from storage.models import Participant
from tests.events_support import NOW, slot_and_place

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


def base_event(**changes: Any) -> dict[str, Any]:
    """A small valid online event in Rome, as a YAML document."""
    document: dict[str, Any] = {
        "code": "test-event",
        "name": {"en": "Test day", "it": "Giornata di prova", "zh_Hans": "测试日"},
        "mode": "online",
        "time_zone": "Europe/Rome",
        "meeting_minutes": 20,
        "sessions": [{"date": "2026-12-15", "start": "09:00", "end": "10:00"}],
        "links": [{"label": "Room 1", "url": "https://meeting.tencent.com/dm/test-1"}],
    }
    document.update(changes)
    return document


def write_yaml(tmp_path: Path, document: dict[str, Any], name: str = "event.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


async def count(app: App, model: type[Slot] | type[Place], event_code: str) -> int:
    async with app.sessions() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(model).join(Event).where(Event.code == event_code)
            )
            or 0
        )


@pytest.mark.parametrize(
    ("name", "code", "slots", "places", "deadline"),
    [
        ("event.yaml", "itcn-week-2026", 19, 9, datetime(2026, 11, 10, 17, 0, tzinfo=UTC)),
        ("event.csv", "roadshow-ai-2026", 11, 4, datetime(2026, 4, 20, 16, 0, tzinfo=UTC)),
    ],
)
async def test_examples_import(
    app: App, name: str, code: str, slots: int, places: int, deadline: datetime
) -> None:
    spec = read_event_file(EXAMPLES / name)
    async with app.sessions() as session, session.begin():
        result = await import_event(session, spec, NOW)
    assert result.created and result.slots_created == slots and result.places_created == places
    async with app.sessions() as session:
        event = await session.scalar(select(Event).where(Event.code == code))
        assert event is not None
        assert event.registration_deadline == deadline
        assert event.names["en"] and event.names["it"] and event.names["zh_Hans"]
    assert await count(app, Slot, code) == slots
    assert await count(app, Place, code) == places


async def test_reimport_changes_nothing(app: App) -> None:
    spec = read_event_file(EXAMPLES / "event.yaml")
    for _ in range(2):
        async with app.sessions() as session, session.begin():
            result = await import_event(session, spec, NOW)
    assert not result.created
    assert (result.slots_created, result.slots_kept, result.slots_removed) == (0, 19, 0)
    assert (result.places_created, result.places_kept, result.places_removed) == (0, 9, 0)
    assert await count(app, Slot, "itcn-week-2026") == 19


async def test_slots_follow_daylight_saving_time(app: App, tmp_path: Path) -> None:
    sessions = [
        {"date": day, "start": "09:00", "end": "09:20"}
        for day in ("2026-03-28", "2026-03-29", "2026-10-24", "2026-10-25")
    ]
    sessions.append({"date": "2026-10-25", "start": "02:30", "end": "03:30"})  # ambiguous
    path = write_yaml(tmp_path, base_event(sessions=sessions, end_date="2026-10-25"))
    async with app.sessions() as session, session.begin():
        await import_event(session, read_event_file(path), NOW)
    async with app.sessions() as session:
        starts = list(await session.scalars(select(Slot.starts_at).order_by(Slot.starts_at)))
    expected = [
        datetime(2026, 3, 28, 8, 0, tzinfo=UTC),  # CET, UTC+1
        datetime(2026, 3, 29, 7, 0, tzinfo=UTC),  # CEST from 02:00 that Sunday, UTC+2
        datetime(2026, 10, 24, 7, 0, tzinfo=UTC),  # still CEST
        # 02:30 occurs twice on 25 Oct: the first (CEST) is taken; 03:30 is CET, so the
        # session lasts two real hours: six 20-minute slots from 00:30Z to 02:30Z.
        *(datetime(2026, 10, 25, 0, 30, tzinfo=UTC) + timedelta(minutes=20 * i) for i in range(6)),
        datetime(2026, 10, 25, 8, 0, tzinfo=UTC),  # CET again
    ]
    assert starts == expected


async def test_shanghai_has_no_daylight_saving_time(tmp_path: Path) -> None:
    days = ("2026-03-29", "2026-10-25")
    document = base_event(
        time_zone="Asia/Shanghai",
        sessions=[{"date": d, "start": "16:00", "end": "16:20"} for d in days],
    )
    spec = read_event_file(write_yaml(tmp_path, document))
    assert [s.starts_at.hour for s in spec.slots] == [8, 8]


def test_spring_forward_gap_is_refused(tmp_path: Path) -> None:
    document = base_event(sessions=[{"date": "2026-03-29", "start": "02:30", "end": "04:00"}])
    with pytest.raises(EventFileError) as error:
        read_event_file(write_yaml(tmp_path, document))
    message = str(error.value)
    assert "event.yaml" in message and "session on 2026-03-29 02:30–04:00" in message
    assert "does not exist in Europe/Rome" in message


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"code": "itcn 2026!"}, "code: 'itcn 2026!' is not a valid event code"),
        ({"code": "x" * 65}, "is not a valid event code"),
        ({"mode": "virtual"}, "mode: 'virtual' is not a mode; use one of in_person, online"),
        ({"time_zone": "Europe/Atlantis"}, "time_zone: 'Europe/Atlantis' is not an IANA"),
        (
            {"links": [{"label": "Room 1", "url": "ftp://meeting.example/1"}]},
            "link 'Room 1' (links #1): 'ftp://meeting.example/1' is not a web link",
        ),
        ({"links": ["meeting.tencent.com/dm/1"]}, "is not a web link; write a full address"),
        (
            {
                "sessions": [
                    {"date": "2026-12-15", "start": "09:00", "end": "10:00"},
                    {"date": "2026-12-15", "start": "09:40", "end": "11:00"},
                ]
            },
            "sessions #1) and session on 2026-12-15 09:40–11:00 (sessions #2) overlap",
        ),
        ({"meeting_minutes": 200}, "meeting_minutes must be between 5 and 120, not 200"),
        ({"mode": "in_person"}, "city and venue: an event in mode in_person needs both"),
        ({"mode": "hybrid", "city": "Napoli", "venue": "CdS"}, "needs at least one table"),
        ({"links": []}, "needs at least one meeting link"),
        ({"name": {"it": "Solo italiano"}}, "the English name (en) is required"),
        ({"meting_minutes": 20}, "'meting_minutes': unknown key"),
        (
            {"sessions": [{"date": "2026-02-30", "start": "09:00", "end": "10:00"}]},
            "sessions #1: '2026-02-30' is not a date",
        ),
        (
            {"sessions": [{"date": "2026-12-15", "start": "09:00", "end": "09:10"}]},
            "too short for one 20-minute meeting",
        ),
        ({"registration_deadline": "2027-01-01 18:00"}, "after the last meeting ends"),
    ],
)
def test_invalid_files_are_explained(
    tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    with pytest.raises(EventFileError) as error:
        read_event_file(write_yaml(tmp_path, base_event(**changes)))
    assert expected in str(error.value)
    assert str(error.value).startswith(str(tmp_path / "event.yaml"))


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (["code,a b"], "code: 'a b' is not a valid event code"),
        (["session,2026-12-15,09:00"], "row 3: a session row is: session, date, start, end"),
        (["meeting_minutes,twenty"], "row 3 (meeting_minutes): write a whole number"),
        (["mode,online,hybrid"], "row 3: 'mode' takes one value"),
        (["colour,blue"], "row 3: unknown field 'colour'"),
        (["mode,online", "mode,hybrid"], "row 4: 'mode' was already given in row 3"),
        (["session,2026-03-29,02:00,03:00"], "session on 2026-03-29 02:00–03:00 (row 3)"),
    ],
)
def test_invalid_csv_rows_are_named(tmp_path: Path, rows: list[str], expected: str) -> None:
    base = ["code,csv-test", "name_en,CSV test", "mode,online", "time_zone,Europe/Rome"]
    base += ["meeting_minutes,20", "session,15/12/2026,9:00,10:00"]
    base += ["link,Room 1,https://meeting.tencent.com/dm/x"]
    replaced = {row.split(",")[0] for row in rows}
    lines = ["field,value", "# a comment", *rows]
    lines += [row for row in base if row.split(",")[0] not in replaced]
    path = tmp_path / "event.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(EventFileError) as error:
        read_event_file(path)
    assert expected in str(error.value) and "event.csv" in str(error.value)


def test_csv_with_semicolons_and_day_first_dates(tmp_path: Path) -> None:
    path = tmp_path / "evento.csv"
    path.write_text(
        '\ufeffcode;csv-test\nname_en;"Matchmaking; online"\nmode;online\n'
        "time_zone;Europe/Rome\nmeeting_minutes;30\nsession;15/12/2026;9:00;10:00\n"
        "link;https://meeting.tencent.com/dm/x\n",
        encoding="utf-8",
    )
    spec = read_event_file(path)
    assert spec.names == {"en": "Matchmaking; online"}
    assert [s.starts_at for s in spec.slots] == [
        datetime(2026, 12, 15, 8, 0, tzinfo=UTC),
        datetime(2026, 12, 15, 8, 30, tzinfo=UTC),
    ]
    assert spec.places[0].label == "Link 1"
    assert spec.registration_deadline == datetime(2026, 12, 14, 18, 0)  # the default


async def add_meeting(app: App, event_code: str, slot_index: int, status: str) -> int:
    """A meeting between two new participants in the event's ``slot_index``-th slot."""
    async with app.sessions() as session, session.begin():
        event, slot, place = await slot_and_place(session, event_code, slot_index)
        assert place is not None
        people = [
            Participant(
                channel="test",
                external_id=f"p{slot_index}-{n}",
                chat_id="c",
                locale="en",
                created_at=NOW,
                updated_at=NOW,
            )
            for n in range(2)
        ]
        session.add_all(people)
        await session.flush()
        request = MeetingRequest(
            event_id=event.id,
            requester_id=people[0].id,
            invitee_id=people[1].id,
            status="accepted",
            created_at=NOW,
            expires_at=datetime(2030, 1, 1, tzinfo=UTC),
        )
        session.add(request)
        await session.flush()
        meeting = Meeting(
            request_id=request.id,
            event_id=event.id,
            first_id=people[0].id,
            second_id=people[1].id,
            slot_id=slot.id,
            place_id=place.id,
            status=status,
            uid=f"meeting-{slot_index}@test",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(meeting)
        await session.flush()
        return meeting.id


async def test_slots_in_use_are_not_removed(app: App, tmp_path: Path) -> None:
    two_sessions = [
        {"date": "2026-12-15", "start": "09:00", "end": "10:00"},
        {"date": "2026-12-16", "start": "09:00", "end": "10:00"},
    ]
    async with app.sessions() as session, session.begin():
        await import_event(
            session, read_event_file(write_yaml(tmp_path, base_event(sessions=two_sessions))), NOW
        )
    meeting_id = await add_meeting(app, "test-event", 0, "scheduled")
    shorter = read_event_file(write_yaml(tmp_path, base_event(sessions=two_sessions[1:])))
    with pytest.raises(EventFileError) as error:
        async with app.sessions() as session, session.begin():
            await import_event(session, shorter, NOW)
    message = str(error.value)
    assert "cannot remove slot 2026-12-15 09:00 (Europe/Rome)" in message
    assert "1 meeting(s) are booked there" in message
    assert "2026-12-15 09:20" not in message  # free slots are not named
    assert await count(app, Slot, "test-event") == 6

    renamed = base_event(sessions=two_sessions, links=["https://meeting.tencent.com/dm/new"])
    with pytest.raises(EventFileError, match="link 'Room 1'"):
        async with app.sessions() as session, session.begin():
            await import_event(session, read_event_file(write_yaml(tmp_path, renamed)), NOW)

    async with app.sessions() as session, session.begin():
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None
        meeting.status = "cancelled"
    async with app.sessions() as session, session.begin():
        result = await import_event(session, shorter, NOW)
    assert (result.slots_created, result.slots_kept, result.slots_removed) == (0, 3, 3)
    async with app.sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None and meeting.slot_id is None  # ON DELETE SET NULL


async def test_export_round_trip(app: App, tmp_path: Path) -> None:
    original = read_event_file(EXAMPLES / "event.yaml")
    async with app.sessions() as session, session.begin():
        await import_event(session, original, NOW)
    async with app.sessions() as session:
        exported = await export_event(session, "itcn-week-2026")
    path = tmp_path / "exported.yaml"
    path.write_text(write_event_yaml(exported), encoding="utf-8")
    again = read_event_file(path)
    assert [(s.starts_at, s.ends_at) for s in again.slots] == [
        (s.starts_at, s.ends_at) for s in original.slots
    ]
    for name in ("code", "names", "mode", "city", "venue", "time_zone", "starts_on", "ends_on"):
        assert getattr(again, name) == getattr(original, name), name
    assert again.places == original.places
    assert again.registration_deadline == original.registration_deadline
    assert (again.meeting_minutes, again.break_minutes) == (20, 5)
    # Sessions are rebuilt from the slots: same days and starts, ending with the last meeting.
    assert [(s.day, s.start) for s in again.sessions] == [
        (s.day, s.start) for s in original.sessions
    ]
    assert [f"{s.end:%H:%M}" for s in again.sessions] == ["12:20", "16:00", "12:20"]
    async with app.sessions() as session, session.begin():
        result = await import_event(session, again, NOW)
    assert (result.slots_created, result.slots_removed, result.places_created) == (0, 0, 0)


async def test_unknown_event_cannot_be_exported(app: App) -> None:
    async with app.sessions() as session:
        with pytest.raises(LookupError, match="no event with the code 'nope'"):
            await export_event(session, "nope")


async def test_list_events(app: App) -> None:
    async with app.sessions() as session, session.begin():
        assert await list_events(session) == []
        for name in ("event.yaml", "event.csv"):
            await import_event(session, read_event_file(EXAMPLES / name), NOW)
    await add_meeting(app, "roadshow-ai-2026", 0, "scheduled")  # adds two participants
    async with app.sessions() as session, session.begin():
        event = await session.scalar(select(Event).where(Event.code == "roadshow-ai-2026"))
        assert event is not None
        for person in await session.scalars(select(Participant)):
            session.add(
                EventRegistration(event_id=event.id, participant_id=person.id, joined_at=NOW)
            )
    async with app.sessions() as session:
        events = await list_events(session)
    assert [e.code for e in events] == ["roadshow-ai-2026", "itcn-week-2026"]  # by date
    roadshow, week = events
    assert (roadshow.slots, roadshow.places, roadshow.participants) == (11, 4, 2)
    assert (week.slots, week.places, week.participants) == (19, 9, 0)
    assert week.mode == "hybrid" and week.time_zone == "Europe/Rome"
    assert week.name.startswith("China–Italy Science")
    assert (week.starts_on, week.ends_on) == (date(2026, 11, 12), date(2026, 11, 13))


async def book(app: App, meeting_id: int, participant_id: int) -> None:
    """Seat ``participant_id`` in the slot of ``meeting_id``, as scheduling does."""
    async with app.sessions() as session, session.begin():
        meeting = await session.get(Meeting, meeting_id)
        assert meeting is not None and meeting.slot_id is not None
        slot = await session.get(Slot, meeting.slot_id)
        assert slot is not None
        session.add(
            Booking(meeting_id=meeting_id, slot_id=slot.id, participant_id=participant_id,
                    starts_at=slot.starts_at, ends_at=slot.ends_at)
        )  # fmt: skip


async def test_an_import_that_would_overlap_a_persons_meetings_is_refused_in_one_line(
    app: App, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = base_event(code="other-event", name={"en": "Other day"})
    for document in (base_event(), other):
        assert await run_events(app.settings, Namespace(
            events_command="import", file=write_yaml(tmp_path, document, f"{document['code']}.yaml")
        )) == 0  # fmt: skip
    first = await add_meeting(app, "test-event", 0, "scheduled")  # 09:00–09:20
    second = await add_meeting(app, "other-event", 1, "scheduled")  # 09:20–09:40
    async with app.sessions() as session:
        person = await session.scalar(select(Meeting.first_id).where(Meeting.id == first))
    assert person is not None
    await book(app, first, person)
    await book(app, second, person)  # the same person, right after: no overlap
    capsys.readouterr()

    # 25-minute meetings keep the 09:00 slot but end it at 09:25, into the 09:20 meeting.
    longer = write_yaml(tmp_path, base_event(meeting_minutes=25), "longer.yaml")
    status = await run_events(app.settings, Namespace(events_command="import", file=longer))
    error = capsys.readouterr().err
    assert status == 2, error
    assert "nothing was changed" in error and "Traceback" not in error
    assert len(error.strip().splitlines()) == 1
    async with app.sessions() as session:
        slot = await session.scalar(
            select(Slot).join(Meeting, Meeting.slot_id == Slot.id).where(Meeting.id == first)
        )
    assert slot is not None and slot.ends_at - slot.starts_at == timedelta(minutes=20)

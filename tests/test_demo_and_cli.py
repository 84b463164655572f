"""The demo event, event links and QR codes, and ``ponte events`` as a subprocess."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import segno
import yaml
from sqlalchemy import func, select

from bot.app import App
from bot.events.commands import offer_demo
from bot.events.demo import DEMO_CHANNEL, DEMO_CODE, seed_demo
from bot.events.links import deep_link, normalise_username, write_qr_png
from storage.event_models import Event, EventRegistration, Meeting, MeetingRequest, Place, Slot
from storage.models import ConsentRecord, Participant, ParticipantInterest
from tests.events_support import Clock, Someone, add_people, make_event, slot_and_place

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "event.yaml"
ROME = ZoneInfo("Europe/Rome")


@pytest.mark.parametrize(
    ("today", "utc_hour"), [(date(2026, 6, 1), 7), (date(2026, 12, 1), 8)]
)  # summer time in Rome (UTC+2), then winter time (UTC+1); Beijing is always UTC+8
async def test_seed_demo_on_empty_database(app: App, today: date, utc_hour: int) -> None:
    async with app.sessions() as session, session.begin():
        event = await seed_demo(session, today)
        assert event is not None and event.code == DEMO_CODE
    first_day = today + timedelta(days=21)
    async with app.sessions() as session:
        event = await session.scalar(select(Event).where(Event.code == DEMO_CODE))
        assert event is not None
        assert event.mode == "online" and event.time_zone == "Europe/Rome"
        assert set(event.names) == {"en", "it", "zh_Hans"}
        assert (event.starts_on, event.ends_on) == (first_day, first_day + timedelta(days=1))
        deadline = datetime.combine(first_day - timedelta(days=1), time(18), ROME)
        assert event.registration_deadline == deadline.astimezone(UTC)
        slots = list(await session.scalars(select(Slot).order_by(Slot.starts_at)))
        assert len(slots) == 14  # 09:00-12:00, 20 min + 5 min break: 7 a morning
        assert slots[0].starts_at == datetime.combine(first_day, time(utc_hour), UTC)
        assert slots[0].starts_at.astimezone(ZoneInfo("Asia/Shanghai")).hour == utc_hour + 8
        assert all(s.ends_at - s.starts_at == timedelta(minutes=20) for s in slots)
        places = list(await session.scalars(select(Place).order_by(Place.position)))
        assert len(places) == 6 and {p.kind for p in places} == {"link"}
        assert all((p.url or "").startswith("https://meeting.tencent.com/dm/") for p in places)

        people = list(await session.scalars(select(Participant).order_by(Participant.id)))
        assert [p.external_id for p in people] == [f"demo-{n}" for n in range(1, 9)]
        assert {p.channel for p in people} == {DEMO_CHANNEL}
        assert [p.country for p in people] == ["IT"] * 4 + ["CN"] * 4
        assert {p.time_zone for p in people[:4]} == {"Europe/Rome"}
        assert {p.time_zone for p in people[4:]} == {"Asia/Shanghai"}
        assert all(p.registered_at and p.profile and p.offer and p.seek for p in people)
        assert all(p.chat_id == p.external_id and p.languages_spoken for p in people)
        for person in people:
            areas = await session.scalar(
                select(func.count()).where(ParticipantInterest.participant_id == person.id)
            )
            consents = await session.scalar(
                select(func.count()).where(ConsentRecord.participant_id == person.id)
            )
            assert areas and areas >= 2 and consents == 1
        registered = await session.scalar(
            select(func.count()).where(EventRegistration.event_id == event.id)
        )
        assert registered == 8

    async with app.sessions() as session, session.begin():
        assert await seed_demo(session, today) is None
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Event)) == 1
        assert await session.scalar(select(func.count()).select_from(Participant)) == 8


async def _event_times(app: App, code: str) -> tuple[date, date, datetime, list[datetime]]:
    async with app.sessions() as session:
        event = await session.scalar(select(Event).where(Event.code == code))
        assert event is not None
        slots = await session.scalars(
            select(Slot.starts_at).where(Slot.event_id == event.id).order_by(Slot.starts_at)
        )
        return event.starts_on, event.ends_on, event.registration_deadline, list(slots)


async def _book_with_demo_person(app: App, person: int, slot_index: int, status: str) -> int:
    """A real user's meeting with a demo participant in the demo's ``slot_index``-th slot."""
    async with app.sessions() as session, session.begin():
        event, slot, place = await slot_and_place(session, DEMO_CODE, slot_index)
        demo = await session.scalar(
            select(Participant.id).where(Participant.external_id == f"demo-{slot_index + 1}")
        )
        assert place is not None and demo is not None
        request = MeetingRequest(
            event_id=event.id, requester_id=person, invitee_id=demo, status="accepted",
            created_at=app.clock(), expires_at=slot.starts_at,
        )  # fmt: skip
        session.add(request)
        await session.flush()
        meeting = Meeting(
            request_id=request.id, event_id=event.id, first_id=person, second_id=demo,
            slot_id=slot.id, place_id=place.id, status=status,
            created_at=app.clock(), updated_at=app.clock(),
        )  # fmt: skip
        session.add(meeting)
        await session.flush()
        return meeting.id


async def test_a_stale_demo_moves_forward_and_keeps_real_meetings(app: App, clock: Clock) -> None:
    seeded = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)  # the demo is on 22-23 March, winter time
    clock.now = seeded
    await offer_demo(app)
    real_event = await make_event(app.sessions, code="itcn-2026")
    demo_event = await _event_times(app, DEMO_CODE)
    async with app.sessions() as session:
        demo_id = await session.scalar(select(Event.id).where(Event.code == DEMO_CODE))
    ids = await add_people(app.sessions, demo_id, [Someone("anna", "Anna Bianchi")])
    await add_people(app.sessions, real_event, [Someone("bruno", "Bruno Neri")])
    met = await _book_with_demo_person(app, ids["anna"], 0, "scheduled")
    called_off = await _book_with_demo_person(app, ids["anna"], 1, "cancelled")
    real_before = await _event_times(app, "itcn-2026")

    deadline = datetime(2026, 3, 21, 17, 0, tzinfo=UTC)  # 18:00 in Rome
    clock.now = deadline - timedelta(seconds=1)
    await offer_demo(app)
    assert await _event_times(app, DEMO_CODE) == demo_event, "not stale yet"

    returning = datetime(2026, 4, 20, 6, 30, tzinfo=UTC)  # a month later, in summer time
    clock.now = returning
    await offer_demo(app)
    starts_on, ends_on, new_deadline, slots = await _event_times(app, DEMO_CODE)
    first = date(2026, 5, 11)  # three weeks after the return
    assert (starts_on, ends_on) == (first, first + timedelta(days=1))
    assert new_deadline == datetime.combine(first - timedelta(days=1), time(18), ROME)
    assert new_deadline > returning, "a newcomer can join and ask for meetings again"
    old_slots = demo_event[3]
    assert slots[:2] == old_slots[:2], "slots with meetings stay where they were"
    moved = slots[2:]
    assert len(moved) == len(old_slots)
    assert [s.astimezone(ROME).time() for s in moved] == [
        s.astimezone(ROME).time() for s in old_slots
    ], "the same local times, although Rome is now on summer time"
    assert [s.astimezone(ROME).date() for s in moved] == [
        s.astimezone(ROME).date() + timedelta(days=50) for s in old_slots
    ]
    assert moved[0] == datetime(2026, 5, 11, 7, 0, tzinfo=UTC)  # 09:00 in Rome (UTC+2)
    async with app.sessions() as session:
        kept = {m.id: m.slot for m in await session.scalars(select(Meeting))}
        assert kept[met] is not None and kept[met].starts_at == old_slots[0]
        assert kept[called_off] is not None and kept[called_off].starts_at == old_slots[1]
        demo_people = await session.scalar(
            select(func.count()).where(Participant.channel == DEMO_CHANNEL)
        )
        assert demo_people == 8
    assert await _event_times(app, "itcn-2026") == real_before, "real events are not touched"

    clock.now = returning + timedelta(days=1)
    await offer_demo(app)
    assert (await _event_times(app, DEMO_CODE))[0] == first, "moved once, not again"

    await _book_with_demo_person(app, ids["anna"], 2, "scheduled")  # in the moved grid
    clock.now = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    await offer_demo(app)
    starts_on, _, _, again = await _event_times(app, DEMO_CODE)
    assert starts_on == date(2026, 6, 22)
    assert again[:3] == [*old_slots[:2], moved[0]], "every slot with a meeting stays"
    assert [s.astimezone(ROME).date() for s in again[3:]] == [
        s.astimezone(ROME).date() + timedelta(days=42) for s in moved
    ], "only the current grid moves, once"


async def test_an_event_under_the_demo_code_without_demo_people_is_left_alone(
    app: App, clock: Clock
) -> None:
    await make_event(app.sessions, code=DEMO_CODE)
    before = await _event_times(app, DEMO_CODE)
    clock.now = datetime(2027, 6, 1, tzinfo=UTC)
    await offer_demo(app)
    assert await _event_times(app, DEMO_CODE) == before


def test_deep_links() -> None:
    assert deep_link("PonteBot", "itcn-2026") == "https://t.me/PonteBot?start=itcn-2026"
    assert deep_link("@PonteBot", "A_b-9") == "https://t.me/PonteBot?start=A_b-9"
    assert normalise_username("https://t.me/PonteBot") == "PonteBot"
    with pytest.raises(ValueError, match="not a valid event code"):
        deep_link("PonteBot", "no spaces")
    with pytest.raises(ValueError, match="not a Telegram bot username"):
        deep_link("a b", "itcn")


def read_png(path: Path) -> tuple[int, int, list[list[int]]]:
    """Decode a 1-bit greyscale PNG (what segno writes): width, height, rows of 0/1."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat, header = 8, b"", b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert (depth, colour) == (1, 0), "expected 1-bit greyscale"
    raw = zlib.decompress(idat)
    stride = (width + 7) // 8
    rows: list[list[int]] = []
    previous = bytearray(stride)
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        kind, current = line[0], bytearray(line[1:])
        for i in range(stride):
            left = current[i - 1] if i else 0
            up, corner = previous[i], previous[i - 1] if i else 0
            if kind == 1:
                current[i] = (current[i] + left) & 0xFF
            elif kind == 2:
                current[i] = (current[i] + up) & 0xFF
            elif kind == 3:
                current[i] = (current[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                best = min(
                    (abs(p - left), 0, left), (abs(p - up), 1, up), (abs(p - corner), 2, corner)
                )
                current[i] = (current[i] + best[2]) & 0xFF
        rows.append([(current[x // 8] >> (7 - x % 8)) & 1 for x in range(width)])
        previous = current
    return width, height, rows


def assert_qr_of(path: Path, url: str, scale: int) -> None:
    """The PNG shows exactly the QR code of ``url`` (dark modules black, four-module border)."""
    width, height, pixels = read_png(path)
    matrix = segno.make_qr(url, error="m").matrix
    size = len(matrix) + 8
    assert width == height == size * scale
    modules = [[1 - pixels[y * scale][x * scale] for x in range(size)] for y in range(size)]
    expected = [[0] * size for _ in range(4)]
    expected += [[0] * 4 + [1 if cell else 0 for cell in row] + [0] * 4 for row in matrix]
    expected += [[0] * size for _ in range(4)]
    assert modules == expected


def test_write_qr_png(tmp_path: Path) -> None:
    url = deep_link("PonteBot", "itcn-week-2026")
    path = write_qr_png(url, tmp_path / "qr" / "week.png", scale=3)
    assert_qr_of(path, url, scale=3)


def ponte(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m bot ARGS`` on a SQLite database in ``tmp_path``."""
    environment = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"}
    for name in ("TELEGRAM_BOT_TOKEN", "BOT_USERNAME", "LOG_LEVEL"):
        environment.pop(name, None)
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_events_commands(tmp_path: Path) -> None:
    imported = ponte(tmp_path, "events", "import", str(EXAMPLE))
    assert imported.returncode == 0, imported.stderr
    assert "event itcn-week-2026 created: slots 19 new" in imported.stdout
    assert "/start itcn-week-2026" in imported.stdout
    again = ponte(tmp_path, "events", "import", str(EXAMPLE))
    assert "updated: slots 0 new, 19 kept, 0 removed" in again.stdout

    listed = ponte(tmp_path, "events", "list")
    assert listed.returncode == 0, listed.stderr
    line = next(row for row in listed.stdout.splitlines() if row.startswith("itcn-week-2026"))
    assert "hybrid" in line and "Europe/Rome" in line and " 19 " in line

    exported = ponte(tmp_path, "events", "export", "itcn-week-2026")
    assert exported.returncode == 0, exported.stderr
    document = yaml.safe_load(exported.stdout)
    assert document["code"] == "itcn-week-2026" and len(document["sessions"]) == 3
    to_file = ponte(tmp_path, "events", "export", "itcn-week-2026", "--output", "week.yaml")
    assert to_file.returncode == 0 and (tmp_path / "week.yaml").read_text() == exported.stdout

    qr = ponte(
        tmp_path, "events", "qr", "itcn-week-2026", "--output", "x.png", BOT_USERNAME="PonteBot"
    )
    assert qr.returncode == 0, qr.stderr
    assert "https://t.me/PonteBot?start=itcn-week-2026" in qr.stdout
    assert_qr_of(tmp_path / "x.png", "https://t.me/PonteBot?start=itcn-week-2026", scale=10)
    flag = ponte(tmp_path, "events", "qr", "itcn-week-2026", "--username", "@OtherBot")
    assert flag.returncode == 0 and (tmp_path / "itcn-week-2026.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("events", "import", "bad.yaml"), "bad.yaml: time_zone: 'Mars/Olympus' is not an IANA"),
        (("events", "import", "missing.yaml"), "missing.yaml: cannot read the file"),
        (("events", "export", "nope"), "there is no event with the code 'nope'"),
        (("events", "qr", "itcn-week-2026"), "set BOT_USERNAME"),
        (("events", "qr", "nope", "--username", "PonteBot"), "no event with the code 'nope'"),
    ],
)
def test_events_command_mistakes(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("Europe/Rome", "Mars/Olympus")
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    if args[1] == "qr":
        assert ponte(tmp_path, "events", "import", str(EXAMPLE)).returncode == 0
    result = ponte(tmp_path, *args)
    assert result.returncode == 2
    assert result.stderr.startswith("ponte: ") and message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_console_seeds_the_demo_and_says_how_to_join(tmp_path: Path) -> None:
    result = ponte(tmp_path, "console", "--user", "newcomer")
    assert result.returncode == 0, result.stderr
    assert "Demo event: type /start itcn-demo to join it." in result.stderr.splitlines()
    assert "itcn-demo" not in result.stdout
    listed = ponte(tmp_path, "events", "list")
    assert "itcn-demo" in listed.stdout and " 8 " in listed.stdout

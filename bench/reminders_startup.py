"""Start-up with 50,000 pending reminders: how long the first sweep takes, and what it holds.

Issue #13: the database is the source of truth and the scheduler holds only the reminders
planned within ``storage.reminders.HORIZON`` (two hours), so start-up should cost about
the same with 50,000 reminders planned over the next weeks as with none. Two databases are
built: one with the event and its people but no meetings, one with ``--meetings`` meetings
(four reminders each: 24 h and 15 min before, for both sides) spread over ``--days`` days,
08:00–18:00 in Rome, planned by ``ReminderRepository.plan_meeting``. Each is then opened by
a fresh Python process, as Ponte starts: ``build_app``, then the start-up sweep
(``Scheduling.sweep()``: the maintenance run that plans and spreads, then ``reload()``
into APScheduler jobs), with Ponte's clock at 08:00 on the first day. The child reports
the sweep's time, the jobs it holds, the sweep's peak of Python allocations
(``tracemalloc``) and the process's resident memory before and after (``/proc``).

Run from the repository root, by hand (never by pytest)::

    python -m bench.reminders_startup                         # SQLite
    TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        python -m bench.reminders_startup --database postgresql

The benchmark makes its own databases and drops them afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func, insert, select

from bench.telegram_report import machine
from bot.app import build_app
from bot.config import Settings
from bot.scheduler import REMINDER_PREFIX, Scheduling
from storage.event_models import Booking, Event, Meeting, MeetingRequest, Place, Slot
from storage.models import Participant
from storage.reminder_models import PENDING, Reminder
from storage.reminders import ReminderRepository
from tests.databases import temporary_database
from tests.events_support import Clock

START = datetime(2027, 3, 1, 7, 0, tzinfo=UTC)  # 08:00 in Rome, the first day's morning
PLANNED = START - timedelta(days=3)
SLOTS_PER_DAY = 30  # 20 minutes each, 08:00-18:00 in Rome
PLACES = 40
PLAN_BATCH = 500


async def populate(url: str, people: int, meetings: int, days: int) -> int:
    """An event over ``days`` days with ``people`` people and ``meetings`` meetings (each
    person in one at most), planned; returns how many reminders are pending."""
    app = await build_app(Settings(database_url=url, _env_file=None), clock=lambda: PLANNED)
    try:
        async with app.sessions() as session, session.begin():
            event = Event(
                code="weeks", names={"en": "Weeks of meetings"}, mode="online",
                time_zone="Europe/Rome", starts_on=START.date(),
                ends_on=(START + timedelta(days=days)).date(), registration_deadline=START,
                meeting_minutes=20, max_pending_requests=10, request_ttl_hours=48,
                created_at=PLANNED,
                # Agendas off: exactly four reminders a meeting, so the count is the one asked.
                reminder_policy={"offsets": [1440, 15], "digest": None, "quiet": None},
            )  # fmt: skip
            session.add(event)
            await session.flush()
            starts = [
                START + timedelta(days=d, minutes=20 * s)
                for d in range(days)
                for s in range(SLOTS_PER_DAY)
            ]
            await session.execute(insert(Slot), [
                {"event_id": event.id, "starts_at": s, "ends_at": s + timedelta(minutes=20)}
                for s in starts
            ])  # fmt: skip
            await session.execute(insert(Place), [
                {"event_id": event.id, "kind": "link", "label": f"Room {i}",
                 "url": f"https://meeting.tencent.com/dm/weeks-{i}", "position": i}
                for i in range(PLACES)
            ])  # fmt: skip
            await session.execute(insert(Participant), [
                {"channel": "telegram", "external_id": str(100 + i), "chat_id": str(100 + i),
                 "locale": ("it", "en", "zh_Hans")[i % 3], "time_zone": "Europe/Rome",
                 "name": f"Person {i}", "active": True, "registered_at": PLANNED,
                 "created_at": PLANNED, "updated_at": PLANNED}
                for i in range(people)
            ])  # fmt: skip
            if meetings == 0:
                return 0
            ids = list((await session.scalars(select(Participant.id))).all())
            slots = list(
                await session.execute(select(Slot.id, Slot.starts_at).order_by(Slot.starts_at))
            )
            places = list((await session.scalars(select(Place.id).order_by(Place.id))).all())
            pairs = [  # (first, second, slot, place): everyone in one meeting
                (ids[2 * n], ids[2 * n + 1], slots[n % len(slots)], places[n // len(slots)])
                for n in range(meetings)
            ]
            await session.execute(insert(MeetingRequest), [
                {"event_id": event.id, "requester_id": a, "invitee_id": b, "status": "accepted",
                 "created_at": PLANNED, "expires_at": PLANNED + timedelta(days=2),
                 "answered_at": PLANNED}
                for a, b, _, _ in pairs
            ])  # fmt: skip
            requests = list(
                await session.scalars(select(MeetingRequest.id).order_by(MeetingRequest.id))
            )
            await session.execute(insert(Meeting), [
                {"request_id": r, "event_id": event.id, "first_id": a, "second_id": b,
                 "slot_id": slot.id, "place_id": place, "status": "scheduled",
                 "uid": f"weeks-{r}@ponte", "sequence": 0, "created_at": PLANNED,
                 "updated_at": PLANNED}
                for r, (a, b, slot, place) in zip(requests, pairs, strict=True)
            ])  # fmt: skip
            rows = (await session.execute(select(Meeting.id, Meeting.first_id,
                                                 Meeting.second_id, Meeting.slot_id))).all()  # fmt: skip
            begins = {slot.id: slot.starts_at for slot in slots}
            await session.execute(insert(Booking), [
                {"meeting_id": m, "slot_id": s, "participant_id": p, "starts_at": begins[s],
                 "ends_at": begins[s] + timedelta(minutes=20)}
                for m, a, b, s in rows for p in (a, b)
            ])  # fmt: skip
        meeting_ids = [row[0] for row in rows]
        for first_index in range(0, len(meeting_ids), PLAN_BATCH):
            batch = meeting_ids[first_index : first_index + PLAN_BATCH]
            async with app.sessions() as session, session.begin():
                repo = ReminderRepository(session)
                found = await session.scalars(select(Meeting).where(Meeting.id.in_(batch)))
                for meeting in found.unique().all():
                    await repo.plan_meeting(meeting, PLANNED)
        async with app.sessions() as session:
            pending = await session.scalar(
                select(func.count()).select_from(Reminder).where(Reminder.state == PENDING)
            )
        return int(pending or 0)
    finally:
        await app.close()


def rss_mib() -> float:
    """The process's resident memory now."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


async def measure(url: str) -> dict[str, Any]:
    """In a fresh process: build the app, run the start-up sweep, report."""
    clock = Clock(now=START, ticking=True)
    opened = time.perf_counter()
    app = await build_app(Settings(database_url=url, _env_file=None), clock=clock)
    built = time.perf_counter() - opened
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.start(paused=True)  # jobs are held, not run: what start-up builds is measured
    scheduling = Scheduling(app, scheduler)
    before = rss_mib()
    tracemalloc.start()
    started = time.perf_counter()
    await scheduling.sweep()
    sweep = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    jobs = [j for j in scheduler.get_jobs() if j.id.startswith(REMINDER_PREFIX)]
    started = time.perf_counter()
    await scheduling.reload()  # the next minute's sweep, everything already in place
    again = time.perf_counter() - started
    after = rss_mib()
    scheduling.shutdown()
    await app.close()
    return {"build": built, "sweep": sweep, "again": again, "jobs": len(jobs),
            "peak_mib": peak / 2**20, "rss_before": before, "rss_after": after}  # fmt: skip


async def child(url: str) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.reminders_startup", "--child", url,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), timeout=600)
    if process.returncode != 0:
        raise RuntimeError(f"the measuring process failed ({process.returncode})")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def main_async(args: argparse.Namespace) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')} · {machine()}")
    print("| pending reminders | start-up sweep + reload | next reload | APScheduler jobs "
          "| sweep's peak Python allocations | RSS after build_app → after sweep | "
          "build_app |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for meetings in (0, args.meetings):
        with tempfile.TemporaryDirectory(prefix="ponte-bench-") as folder:
            async with temporary_database(args.database, Path(folder)) as url:
                made = time.perf_counter()
                pending = await populate(url, 2 * args.meetings, meetings, args.days)
                print(f"  ({pending:,} pending planned in {time.perf_counter() - made:.0f} s)",
                      file=sys.stderr)  # fmt: skip
                r = await child(url)
        print(
            f"| {pending:,} | {r['sweep'] * 1000:.0f} ms | {r['again'] * 1000:.0f} ms "
            f"| {r['jobs']:,} | {r['peak_mib']:.1f} MiB "
            f"| {r['rss_before']:.0f} → {r['rss_after']:.0f} MiB | {r['build'] * 1000:.0f} ms |",
            flush=True,
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reminders_startup", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--meetings", type=int, default=12_500, help="four reminders each")
    parser.add_argument("--days", type=int, default=28, help="the days they are spread over")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.meetings > args.days * SLOTS_PER_DAY * PLACES:
        parser.error("--meetings: more than the event's slots and places hold")
    if args.child:
        print(json.dumps(asyncio.run(measure(args.child))))
        return 0
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

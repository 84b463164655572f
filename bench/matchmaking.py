"""Matchmaking benchmarks, run by hand (never by pytest).

1. Suggestions: ``/partners`` through the core for participants of an event with 20,000
   participants; latency p50/p95 (target: p95 at most 50 ms).
2. Accepts: 1,000 meeting requests accepted concurrently on PostgreSQL; accepts per second,
   and a check that no slot, place or person is booked twice.

    python -m bench.matchmaking suggestions [--participants 20000] [--calls 200] [--database URL]
    python -m bench.matchmaking accepts [--accepts 1000] --database postgresql+asyncpg://...

Databases given with --database must be empty and disposable: the benchmark creates its own
database on that server (PostgreSQL) or a temporary file (SQLite) and drops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from bot.app import build_app
from bot.config import Settings
from handlers.core import Core
from handlers.kernel.incoming import ButtonPress, CommandMessage, Sender
from storage.event_models import (
    Booking,
    Event,
    EventRegistration,
    Meeting,
    MeetingRequest,
    Place,
    Slot,
)
from storage.models import ConsentRecord, InterestArea, Participant, ParticipantInterest
from tests.databases import temporary_database

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WORDS_IT = [
    "batterie",
    "idrogeno",
    "solare",
    "biotecnologie",
    "farmaci",
    "robotica",
    "sensori",
    "materiali",
    "grafene",
    "design",
]
WORDS_EN = [
    "battery",
    "hydrogen",
    "solar",
    "biotech",
    "drugs",
    "robotics",
    "sensors",
    "materials",
    "graphene",
    "design",
    "investors",
]
WORDS_ZH = [
    "储能电池",
    "氢能",
    "光伏",
    "生物技术",
    "药物",
    "机器人",
    "传感器",
    "新材料",
    "石墨烯",
    "设计",
]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def populate(core: Core, participants: int, slots: int, places: int) -> tuple[int, list[int]]:
    """An online event with ``participants`` registered people; returns event id and people ids."""
    rng = random.Random(42)
    async with core.sessions() as session, session.begin():
        area_ids = list((await session.scalars(select(InterestArea.id))).all())
        event = Event(
            code="bench", names={"en": "Benchmark day"}, mode="online", time_zone="Europe/Rome",
            starts_on=NOW.date(), ends_on=NOW.date(), registration_deadline=NOW + timedelta(days=30),
            meeting_minutes=20, max_pending_requests=10_000, request_ttl_hours=48, created_at=NOW,
        )  # fmt: skip
        session.add(event)
        await session.flush()
        first = NOW + timedelta(days=14)
        await session.execute(insert(Slot), [
            {"event_id": event.id, "starts_at": first + timedelta(minutes=20 * i),
             "ends_at": first + timedelta(minutes=20 * (i + 1))} for i in range(slots)
        ])  # fmt: skip
        await session.execute(insert(Place), [
            {"event_id": event.id, "kind": "link", "label": f"Room {i}",
             "url": f"https://meeting.tencent.com/dm/bench-{i}", "position": i} for i in range(places)
        ])  # fmt: skip
        rows = []
        for i in range(participants):
            country = "CN" if i % 3 == 0 else "IT"
            words = WORDS_ZH if country == "CN" else (WORDS_IT if i % 2 else WORDS_EN)
            rows.append({
                "channel": "bench", "external_id": f"b{i}", "chat_id": f"b{i}",
                "locale": "zh_Hans" if country == "CN" else "it", "time_zone": "Europe/Rome",
                "name": f"Person {i}", "organisation": f"Org {i}", "org_type": "startup",
                "country": country, "city": "Roma", "email": f"p{i}@example.org",
                "profile": "Profile text", "offer": " ".join(rng.sample(words, 3)),
                "seek": " ".join(rng.sample(words, 3)), "languages_spoken": ["en"],
                "interpreter_needed": False, "active": True, "registered_at": NOW,
                "created_at": NOW, "updated_at": NOW,
            })  # fmt: skip
        await session.execute(insert(Participant), rows)
        ids = list(
            (
                await session.scalars(select(Participant.id).where(Participant.channel == "bench"))
            ).all()
        )
        await session.execute(insert(EventRegistration), [
            {"event_id": event.id, "participant_id": pid, "joined_at": NOW} for pid in ids
        ])  # fmt: skip
        await session.execute(insert(ParticipantInterest), [
            {"participant_id": pid, "area_id": area} for pid in ids for area in rng.sample(area_ids, 3)
        ])  # fmt: skip
        await session.execute(insert(ConsentRecord), [
            {"participant_id": pid, "purpose": "profile_sharing", "notice_version": "bench",
             "locale": "en", "given_at": NOW} for pid in ids
        ])  # fmt: skip
        return event.id, ids


async def bench_suggestions(url: str, participants: int, calls: int) -> None:
    app = await build_app(Settings(database_url=url, _env_file=None))
    try:
        started = time.perf_counter()
        event_id, _ = await populate(app.core, participants, slots=24, places=8)
        print(f"populated {participants} participants in {time.perf_counter() - started:.1f} s")
        core = Core(app.sessions, clock=lambda: NOW)
        await core.load_taxonomy()
        rng = random.Random(7)
        latencies: list[float] = []
        for index in range(calls + 20):
            who = f"b{rng.randrange(participants)}"
            sender = Sender("bench", who, who, "it")
            page = rng.randrange(3)
            incoming = (
                CommandMessage(sender, "partners")
                if page == 0
                else ButtonPress(sender, f"pt|{event_id}|{page}")
            )
            t0 = time.perf_counter()
            response = await core.handle(incoming)
            elapsed = (time.perf_counter() - t0) * 1000
            assert response.replies and "rqn|" in str(response.replies[-1].buttons), response
            if index >= 20:  # warm-up excluded
                latencies.append(elapsed)
        print(
            f"/partners with {participants} participants ({app.engine.dialect.name}), {calls} calls: "
            f"p50 {statistics.median(latencies):.1f} ms, p95 {percentile(latencies, 0.95):.1f} ms, "
            f"max {max(latencies):.1f} ms"
        )
    finally:
        await app.close()


async def bench_accepts(url: str, accepts: int) -> None:
    app = await build_app(Settings(database_url=url, _env_file=None))
    try:
        people = accepts // 2 + 10
        event_id, ids = await populate(app.core, people, slots=40, places=20)
        async with app.sessions() as session, session.begin():
            await session.execute(insert(MeetingRequest), [
                {"event_id": event_id, "requester_id": ids[i], "invitee_id": ids[(i + step) % people],
                 "status": "pending", "created_at": NOW, "expires_at": NOW + timedelta(days=2)}
                for i in range(people) for step in (1, 2)
            ][:accepts])  # fmt: skip
            requests = (
                await session.execute(select(MeetingRequest.id, MeetingRequest.invitee_id))
            ).all()
            rows = await session.execute(select(Participant.id, Participant.external_id))
            external: dict[int, str] = {row.id: row.external_id for row in rows}
        core = Core(app.sessions, clock=lambda: NOW)
        await core.load_taxonomy()
        presses = [
            ButtonPress(Sender("bench", external[invitee], external[invitee], "en"), f"rq|{rid}|a")
            for rid, invitee in requests
        ]
        started = time.perf_counter()
        responses = await asyncio.gather(*(core.handle(press) for press in presses))
        elapsed = time.perf_counter() - started
        answers = Counter(r.replies[0].text[:60] if r.replies else "" for r in responses)
        async with app.sessions() as session:
            meetings = await session.scalar(select(func.count()).select_from(Meeting))
            scheduled = (
                await session.execute(
                    select(Meeting.slot_id, Meeting.place_id).where(Meeting.status == "scheduled")
                )
            ).all()
            bookings = (
                await session.execute(select(Booking.slot_id, Booking.participant_id))
            ).all()
        assert meetings == len(presses), (meetings, len(presses), answers.most_common(3))
        assert len(set(scheduled)) == len(scheduled), "double-booked place"
        assert len(set(bookings)) == len(bookings), "double-booked person"
        print(
            f"{len(presses)} concurrent accepts ({app.engine.dialect.name}): {elapsed:.2f} s, "
            f"{len(presses) / elapsed:.0f} accepts/s; {len(scheduled)} scheduled, "
            f"{meetings - len(scheduled)} left for the organisers; no double booking"
        )
    finally:
        await app.close()


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("which", choices=["suggestions", "accepts"])
    parser.add_argument("--participants", type=int, default=20_000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--accepts", type=int, default=1_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        async with temporary_database(args.database, Path(folder)) as url:
            if args.which == "suggestions":
                await bench_suggestions(url, args.participants, args.calls)
            else:
                await bench_accepts(url, args.accepts)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))

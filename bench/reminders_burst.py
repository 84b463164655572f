"""2,000 meetings at the same 09:00: are all their reminders on time, within Telegram's limits?

Issue #13's burst. One event, one slot at 09:00 in Rome, ``--meetings`` meetings in it (one
place each, both sides booked), half the readers in Rome and the Chinese third in Beijing,
on the default policy (24 h and 15 min before, the 08:00 agenda in each reader's zone, quiet
hours 22:00–07:00). The reminders are planned by ``ReminderRepository.plan_meeting`` as when
the meetings were scheduled; then the real pieces run as ``bot.serving`` puts them together:
the scheduler (``bot.scheduler.start_scheduler``: the minute sweep that spreads bursts, and
one APScheduler job per reminder) and the outbox sender (``OutboundSender`` with
``TelegramChannel`` over the aiogram transport), against a fake Bot API that, like
Telegram, answers 429 with ``retry_after`` to a message beyond 30 a second overall or one a
second in a chat (:class:`LimitedBotApi`).

Ponte runs on a clock of its own that ticks at real speed. Each burst (the reminders due at
one instant: the 24-hour ones, each zone's agenda, the 15-minute ones) is a phase: the clock
is set ``--margin`` seconds before the planner would start sending it (at 20 a second, 4,000
reminders start 200 s ahead), so a phase takes a few real minutes and nobody waits 24 hours.
Every message is timed as it reaches the fake server, in Ponte's time, against its
reminder's nominal due time: it is inside its window when it is not after it and not more
than ``storage.reminders.max_lead`` before it (10 minutes for the 15-minute reminder, an
hour for the 24-hour one, half an hour for the agenda).

Run from the repository root, by hand (never by pytest)::

    python -m bench.reminders_burst                      # SQLite, all four bursts (~12 min)
    python -m bench.reminders_burst --phases 15m         # only the 15-minute burst (~4 min)
    TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        python -m bench.reminders_burst --database postgresql

Everything listens on 127.0.0.1 only; every phase has a time limit; the benchmark makes its
own database (a temporary SQLite file, or a database on the server ``TEST_DATABASE_URL``
names) and drops it afterwards. Exit status 1 when a reminder was late, early, missing or
sent twice, or the fake server answered 429.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from bench.reminders_world import (
    PLANNED,
    Arrival,
    LimitedBotApi,
    populate,
)
from bench.telegram_report import machine
from bot.app import App, build_app
from bot.channels.telegram.aiogram_runtime import AiogramTransport, build_bot
from bot.channels.telegram.delivery import TelegramChannel
from bot.config import Settings
from bot.scheduler import Scheduling, start_scheduler
from bot.sending.sender import OutboundSender
from storage.models import Participant
from storage.reminder_models import BEFORE, DROPPED, PENDING, Reminder
from storage.reminders import DEFAULT_RATE, max_lead
from tests.databases import temporary_database
from tests.events_support import Clock
from tests.fake_bot_api import DEFAULT_TOKEN

PHASE_SLACK = 60.0  # seconds of Ponte time after the nominal instant before a phase gives up


# --- the phases ---------------------------------------------------------------------------


@dataclass
class Expected:
    """A planned reminder, as the benchmark checks it."""

    id: int
    chat_id: int
    kind: str
    offset: int
    due: datetime
    send_at: datetime | None = None  # as the planner left it
    claimed: datetime | None = None  # when the scheduler's job claimed it

    @property
    def lead(self) -> timedelta:
        return max_lead(self.kind, self.offset)


@dataclass
class Phase:
    """The reminders due at one instant."""

    name: str
    due: datetime
    reminders: list[Expected]
    arrivals: list[Arrival] = field(default_factory=list)
    too_many: int = 0
    failed: int = 0
    real_seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process's: Ponte, the fake server and the harness


def phase_name(reminders: Sequence[Expected], zones: dict[int, str]) -> str:
    first = reminders[0]
    if first.kind == BEFORE:
        return "24 h before" if first.offset == 1440 else f"{first.offset} min before"
    return f"08:00 agenda, {zones[first.chat_id]}"


def phase_key(name: str) -> str:
    """The ``--phases`` word for a phase."""
    if name.startswith("24 h"):
        return "24h"
    if name.startswith("08:00"):
        return "agenda"
    return name.split()[0] + "m"


async def planned_phases(app: App) -> list[Phase]:
    """The pending reminders grouped by nominal due time, earliest first."""
    async with app.sessions() as session:
        rows = (
            await session.execute(
                select(
                    Reminder.id, Participant.chat_id, Participant.time_zone, Reminder.kind,
                    Reminder.offset_minutes, Reminder.due_at,
                )
                .join(Participant, Participant.id == Reminder.participant_id)
                .where(Reminder.state == PENDING)
                .order_by(Reminder.due_at, Reminder.id)
            )
        ).all()  # fmt: skip
    by_due: dict[datetime, list[Expected]] = defaultdict(list)
    zones: dict[int, str] = {}
    for rid, chat, zone, kind, offset, stored in rows:
        due = stored.replace(tzinfo=UTC) if stored.tzinfo is None else stored
        by_due[due].append(Expected(rid, int(chat), kind, offset, due))
        zones[int(chat)] = zone or "Europe/Rome"
    return [Phase(phase_name(r, zones), due, r) for due, r in sorted(by_due.items())]


async def run_phase(
    phase: Phase, clock: Clock, api: LimitedBotApi, scheduling: Scheduling, margin: float
) -> None:
    """Set Ponte's clock shortly before the burst would start and wait until it is over."""
    burst = timedelta(seconds=len(phase.reminders) / DEFAULT_RATE)
    start = phase.due - min(burst + timedelta(seconds=margin), phase.reminders[0].lead)
    clock.now, clock.started = start, time.monotonic()
    arrivals, too_many, failed = len(api.arrivals), api.too_many, api.failed
    began, cpu = time.perf_counter(), time.process_time()
    await scheduling.sweep()  # as the minute sweep would have, up to two hours ahead
    chats = {r.chat_id for r in phase.reminders}
    deadline = phase.due + timedelta(seconds=PHASE_SLACK)

    def arrived() -> int:
        return sum(1 for a in api.arrivals[arrivals:] if a.chat_id in chats)

    while arrived() < len(phase.reminders) and clock() < deadline:
        with contextlib.suppress(TimeoutError):
            await api.wait_for(lambda: arrived() >= len(phase.reminders), timeout=10.0)
        late = (clock() - phase.due).total_seconds()
        print(f"    {arrived():>5} of {len(phase.reminders)} arrived; "
              f"{-late:6.1f} s to the nominal time", flush=True)  # fmt: skip
    await asyncio.sleep(2.0)  # a message sent twice would come now
    phase.arrivals = [a for a in api.arrivals[arrivals:] if a.chat_id in chats]
    phase.too_many, phase.failed = api.too_many - too_many, api.failed - failed
    phase.real_seconds = time.perf_counter() - began
    phase.cpu_seconds = time.process_time() - cpu


@dataclass
class Figures:
    reminders: int
    delivered: int
    twice: int
    in_window: int
    late: int
    worst_late: float
    earliest: float
    rate: float
    spread: float
    job_lag: tuple[float, float]  # p50, max seconds from planned send to claim
    sender_lag: tuple[float, float]  # p50, max seconds from claim to arrival


def figures(phase: Phase) -> Figures:
    """Each reminder against its arrival: in its window, late, early, missing, twice."""
    count = Counter(a.chat_id for a in phase.arrivals)
    first: dict[int, Arrival] = {}
    for arrival in phase.arrivals:
        first.setdefault(arrival.chat_id, arrival)
    in_window = late = 0
    worst_late, earliest = 0.0, 0.0
    for reminder in phase.reminders:
        if reminder.chat_id not in first:
            continue
        ahead = (reminder.due - first[reminder.chat_id].at).total_seconds()
        earliest = max(earliest, ahead)
        if ahead < 0:
            late += 1
            worst_late = max(worst_late, -ahead)
        elif ahead <= reminder.lead.total_seconds():
            in_window += 1
    job_lag = [
        (r.claimed - r.send_at).total_seconds()
        for r in phase.reminders
        if r.claimed is not None and r.send_at is not None
    ]
    sender_lag = [
        (first[r.chat_id].at - r.claimed).total_seconds()
        for r in phase.reminders
        if r.claimed is not None and r.chat_id in first
    ]
    times = sorted(a.at for a in phase.arrivals)
    span = (times[-1] - times[0]).total_seconds() if len(times) > 1 else 0.0
    return Figures(
        reminders=len(phase.reminders),
        delivered=len(first),
        twice=sum(n - 1 for n in count.values()),
        in_window=in_window,
        late=late,
        worst_late=worst_late,
        earliest=earliest,
        rate=(len(times) - 1) / span if span else math.nan,
        spread=span,
        job_lag=median_max(job_lag),
        sender_lag=median_max(sender_lag),
    )


def median_max(values: list[float]) -> tuple[float, float]:
    return (statistics.median(values), max(values)) if values else (math.nan, math.nan)


def aware(moment: datetime | None) -> datetime | None:
    """SQLite gives naive UTC back."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


async def record_claims(app: App, phases: Sequence[Phase]) -> None:
    """When each reminder was planned to go and when its job claimed it."""
    async with app.sessions() as session:
        rows = await session.execute(select(Reminder.id, Reminder.send_at, Reminder.settled_at))
        times = {rid: (aware(send_at), aware(settled)) for rid, send_at, settled in rows.all()}
    for phase in phases:
        for reminder in phase.reminders:
            reminder.send_at, reminder.claimed = times[reminder.id]


def report(phases: Sequence[Phase]) -> bool:
    """The table; whether every reminder of every phase was delivered once, in its window."""
    print()
    print("| burst | reminders | delivered | in window | late (worst) | earliest before due "
          "| sent twice | 429s | rate | first → last | job lag p50 (max) | sender lag p50 (max) "
          "| real time | CPU per reminder |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    ok = True
    for phase in phases:
        f = figures(phase)
        share = 100.0 * f.in_window / f.reminders
        print(
            f"| {phase.name} | {f.reminders:,} | {f.delivered:,} | {share:.1f} % "
            f"| {f.late} ({f.worst_late:.2f} s) | {f.earliest:.0f} s | {f.twice} "
            f"| {phase.too_many} | {f.rate:.1f}/s | {f.spread:.0f} s "
            f"| {f.job_lag[0]:.2f} s ({f.job_lag[1]:.2f} s) "
            f"| {f.sender_lag[0]:.2f} s ({f.sender_lag[1]:.2f} s) | {phase.real_seconds:.0f} s "
            f"| {1000 * phase.cpu_seconds / f.reminders:.0f} ms |"
        )
        ok = ok and f.in_window == f.reminders and not f.twice and not phase.too_many
        ok = ok and not phase.failed
    return ok


async def skip(phases: Sequence[Phase], app: App) -> None:
    """Drop the reminders of the bursts not run: overdue, they would go out at once."""
    ids = [r.id for p in phases for r in p.reminders]
    if ids:
        async with app.sessions() as session, session.begin():
            await session.execute(
                update(Reminder).where(Reminder.id.in_(ids)).values(state=DROPPED, note="skipped")
            )


# --- the command line ---------------------------------------------------------------------


async def run(args: argparse.Namespace, url: str) -> bool:
    clock = Clock(now=PLANNED, ticking=True)
    app = await build_app(Settings(database_url=url, _env_file=None), clock=clock)
    stack = contextlib.AsyncExitStack()
    async with stack:
        stack.push_async_callback(app.close)
        api = LimitedBotApi(clock, args.limit)
        await stack.enter_async_context(api)
        started = time.perf_counter()
        await populate(app, api, args.meetings)
        everything = await planned_phases(app)
        phases = [p for p in everything if phase_key(p.name) in args.phases]
        await skip([p for p in everything if p not in phases], app)
        total = sum(len(p.reminders) for p in phases)
        print(f"{args.meetings:,} meetings at 09:00 in Rome planned in "
              f"{time.perf_counter() - started:.1f} s ({app.engine.dialect.name}); "
              f"{total:,} reminders in {len(phases)} bursts")  # fmt: skip
        # The pieces bot.serving starts: the scheduler and the outbox sender on Telegram.
        clock.now, clock.started = phases[0].due - timedelta(hours=3), time.monotonic()
        scheduling = start_scheduler(app)
        stack.callback(scheduling.shutdown)
        bot = build_bot(DEFAULT_TOKEN, api.base_url)
        stack.push_async_callback(bot.session.close)
        stop = asyncio.Event()
        sender = asyncio.create_task(
            OutboundSender(app.core, TelegramChannel(AiogramTransport(bot))).run(stop)
        )

        async def stop_sender() -> None:
            stop.set()
            await asyncio.wait([sender], timeout=15)

        stack.push_async_callback(stop_sender)
        for phase in phases:
            print(f"  {phase.name}: {len(phase.reminders):,} due at "
                  f"{phase.due:%Y-%m-%d %H:%M} UTC", flush=True)  # fmt: skip
            await run_phase(phase, clock, api, scheduling, args.margin)
        await record_claims(app, phases)
        return report(phases)


async def main_async(args: argparse.Namespace) -> int:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')} · {machine()}")
    print(f"fake Bot API limits: {args.limit} messages/s overall, 1/s per chat")
    with tempfile.TemporaryDirectory(prefix="ponte-bench-") as folder:
        async with temporary_database(args.database, Path(folder)) as url:
            ok = await run(args, url)
    print("load at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    print("\nevery reminder once, in its window, no 429" if ok else "\nFAILED: see the table")
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reminders_burst", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--meetings", type=int, default=2000, help="meetings at 09:00")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--phases", default="24h,agenda,15m",
        help="comma-separated bursts to run, of: 24h, agenda, 15m",
    )  # fmt: skip
    parser.add_argument("--limit", type=int, default=30, help="the fake server's messages/s")
    parser.add_argument(
        "--margin", type=float, default=20.0,
        help="seconds of Ponte time before a burst's first planned send that a phase starts",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.phases = set(args.phases.split(","))
    if args.meetings <= 0 or not args.phases <= {"24h", "agenda", "15m"}:
        parser.error("--meetings must be positive; --phases of 24h, agenda, 15m")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())

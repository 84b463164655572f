"""Time-driven work with APScheduler, for every channel: the maintenance sweep, reminders
and the progress messages of broadcasts on their way.

The database says what is due: jobs carry only an id, have stable ids (so reloading or a
restart cannot duplicate them) and decide what to do by the application's clock, never the
scheduler's. The scheduler holds only the reminders planned within the next
:data:`storage.reminders.HORIZON`; each sweep (every minute, and at once when a turn moved a
meeting) reloads that window from the database, so a restart rebuilds it and 50,000 reminders
planned weeks ahead cost nothing in memory.

APScheduler counts in wall-clock time and Ponte's clock may be another (a test's, a demo's
fast-forwarded one): a job is given the *delay* until its reminder is due by Ponte's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from apscheduler.job import Job
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.app import App
from bot.broadcasting import edit_progress
from bot.broadcasting import resume as resume_broadcasts
from bot.clock import system_clock
from bot.retention import erase_past_retention
from handlers.core import Core
from handlers.matchmaking.reminders import REMINDER_JOB
from storage.db import transaction_gate
from storage.reminders import HORIZON, ReminderRepository

log = logging.getLogger(__name__)

MAINTENANCE_SECONDS = 60
MAINTENANCE_JOB = "ponte-maintenance"
REMINDER_PREFIX = "ponte-reminder-"
RELOAD_DEBOUNCE = 0.2  # seconds: one reload for a burst of changed meetings
PROGRESS_SECONDS = 5.0  # between two edits of a broadcast's progress message
PROGRESS_JOB = "ponte-broadcast-progress"


def reminder_job_id(second: datetime) -> str:
    """The stable APScheduler job id of the reminders planned for one second (by Ponte's
    clock): one job and one transaction per second of a burst, not one per reminder."""
    return f"{REMINDER_PREFIX}{second.astimezone(UTC):%Y%m%dT%H%M%S}"


def job_second(send_at: datetime) -> datetime:
    """The second whose job sends a reminder planned at ``send_at``: the first whole second
    at or after it, because a job claims only what is planned for its moment or earlier (a
    job at the second's start would leave the rest of that second for the next sweep)."""
    second = send_at.replace(microsecond=0)
    return second if second == send_at else second + timedelta(seconds=1)


@dataclass
class Scheduling:
    """Ponte's scheduler and the reminder jobs it runs."""

    app: App
    scheduler: AsyncIOScheduler
    horizon: timedelta = HORIZON
    _running: set[str] = field(default_factory=set)
    _watcher: asyncio.Task[None] | None = None
    _retention_checked: date | None = None

    async def sweep(self) -> None:
        """The maintenance sweep (requests lapse, reminders are planned and spread), then
        the reminders due within the horizon are (re)loaded."""
        try:
            await self.app.core.run_maintenance()
        except Exception:
            log.exception("maintenance sweep failed; it runs again in a minute")
        await self._retention()
        await self._broadcasts()
        await self.reload()

    async def _retention(self) -> None:
        """Once a day, erase those whose retention period has ended (the privacy notice)."""
        today = self.app.clock().date()
        if self._retention_checked == today:
            return
        try:
            await erase_past_retention(self.app.core)
        except Exception:
            log.exception("could not erase data past its retention period; trying again soon")
        else:
            self._retention_checked = today

    async def _broadcasts(self) -> None:
        """Queue the deliveries of broadcasts being sent (a confirmation, or a crash)."""
        try:
            await resume_broadcasts(self.app.core)
        except Exception:
            log.exception("could not queue broadcasts; trying again at the next sweep")

    async def progress(self) -> None:
        """Edit the progress messages of broadcasts on their way (nothing when none is)."""
        try:
            await edit_progress(self.app.core)
        except Exception:
            log.exception("could not edit the broadcasts' progress; trying again shortly")

    async def reload(self) -> int:
        """Make the scheduler's reminder jobs those the database plans within the horizon;
        returns how many jobs were added, moved or removed."""
        now = self.app.clock()
        try:
            async with (
                transaction_gate(self.app.sessions),
                self.app.sessions() as session,
                session.begin(),
            ):
                due = await ReminderRepository(session).due_within(now, self.horizon)
        except Exception:
            log.exception("could not read the reminders; trying again at the next sweep")
            return 0
        wanted: dict[str, tuple[datetime, list[int]]] = {}
        for reminder in due:
            second = job_second(reminder.send_at)
            job_id = reminder_job_id(second)
            wanted.setdefault(job_id, (second, []))[1].append(reminder.id)
        changes = 0
        for job in self.scheduler.get_jobs():
            if job.id.startswith(REMINDER_PREFIX) and job.id not in wanted:
                with contextlib.suppress(Exception):  # it may have just run
                    job.remove()
                changes += 1
        wall = system_clock()
        for job_id, (second, ids) in wanted.items():
            if job_id in self._running:
                continue  # what it has not claimed yet is loaded again once it is done
            run_at = wall + max(second - now, timedelta(0))
            current: Job | None = self.scheduler.get_job(job_id)
            if (
                current is not None
                and list(current.args) == [job_id, ids]
                and _same_time(current.next_run_time, run_at)
            ):
                continue
            self.scheduler.add_job(
                self._fire,
                DateTrigger(run_date=run_at),
                args=[job_id, ids],
                id=job_id,
                name=job_id,
                replace_existing=True,
                misfire_grace_time=None,  # late (a busy loop) is better than never
                coalesce=True,
            )
            changes += 1
        return changes

    async def _fire(self, job_id: str, reminder_ids: list[int]) -> None:
        self._running.add(job_id)
        try:
            await self.app.core.run_timed(REMINDER_JOB, reminder_ids)
        except Exception:
            # Still pending in the database: the next sweep schedules them again.
            log.exception("reminders %s could not be sent; they are tried again", reminder_ids)
        finally:
            self._running.discard(job_id)

    async def watch(self) -> None:
        """Reload whenever a turn changed what is due (a meeting moved or was cancelled)."""
        changed = self.app.core.schedule_changed
        while True:
            await changed.wait()
            await asyncio.sleep(RELOAD_DEBOUNCE)
            changed.clear()
            await self.app.core.run_maintenance()
            await self._broadcasts()
            await self.reload()

    async def settle(self) -> None:
        """Wait until every reminder job due by now has run (tests and benchmarks bound
        the wait with ``asyncio.timeout``)."""
        while True:
            wall = system_clock()
            waiting = [
                job
                for job in self.scheduler.get_jobs()
                if job.id.startswith(REMINDER_PREFIX)
                and job.next_run_time is not None
                and job.next_run_time <= wall
            ]
            if not waiting and not self._running:
                return
            await asyncio.sleep(0.01)

    def shutdown(self) -> None:
        """Stop running jobs (those planned stay in the database for the next start)."""
        if self._watcher is not None:
            self._watcher.cancel()
        with contextlib.suppress(Exception):
            self.scheduler.shutdown(wait=False)


async def send_due(core: Core) -> bool:
    """Send every reminder due by the core's clock, in one transaction; whether anything was
    queued. For channels without a running scheduler (the console, between two lines)."""
    async with transaction_gate(core.sessions), core.sessions() as session, session.begin():
        due = await ReminderRepository(session).due_within(core.clock(), timedelta(0))
    return bool(due) and await core.run_timed(REMINDER_JOB, [d.id for d in due])


def _same_time(scheduled: datetime | None, wanted: datetime) -> bool:
    return scheduled is not None and abs(scheduled - wanted) < timedelta(seconds=0.5)


def start_scheduler(app: App) -> Scheduling:
    """Start the scheduler with Ponte's jobs, rebuilt from the database at every start.

    The sweep runs every minute and once at start (a job without a trigger runs at once),
    so nothing that fell due while Ponte was down waits a whole interval: reminders whose
    meeting has not started yet are sent then, the others dropped and logged. Every
    :data:`PROGRESS_SECONDS` the progress messages of broadcasts on their way are edited.
    """
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduling = Scheduling(app, scheduler)
    scheduler.add_job(
        scheduling.sweep,
        "interval",
        seconds=MAINTENANCE_SECONDS,
        id=MAINTENANCE_JOB,
        replace_existing=True,
        coalesce=True,
        max_instances=1,
    )
    scheduler.add_job(scheduling.sweep, id=f"{MAINTENANCE_JOB}-at-start", replace_existing=True)
    scheduler.add_job(
        scheduling.progress,
        "interval",
        seconds=PROGRESS_SECONDS,
        id=PROGRESS_JOB,
        replace_existing=True,
        coalesce=True,
        max_instances=1,
    )
    scheduler.start()
    scheduling._watcher = asyncio.create_task(scheduling.watch(), name="ponte-schedule-watch")
    return scheduling

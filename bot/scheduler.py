"""Time-driven work with APScheduler, for every channel.

The database says what is due: jobs carry no data, have stable ids (so a restart cannot
duplicate them) and decide what to do by the application's clock, never the scheduler's.
"""

from __future__ import annotations

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import App

MAINTENANCE_SECONDS = 60
MAINTENANCE_JOB = "ponte-maintenance"


def start_scheduler(app: App) -> AsyncIOScheduler:
    """Start the scheduler with Ponte's jobs, rebuilt at every start.

    The maintenance sweep (requests that lapse) runs every minute and once at start (a job
    without a trigger runs at once), so nothing that fell due while Ponte was down waits a
    whole interval.
    """
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        app.core.run_maintenance,
        "interval",
        seconds=MAINTENANCE_SECONDS,
        id=MAINTENANCE_JOB,
        replace_existing=True,
        coalesce=True,
        max_instances=1,
    )
    scheduler.add_job(
        app.core.run_maintenance, id=f"{MAINTENANCE_JOB}-at-start", replace_existing=True
    )
    scheduler.start()
    return scheduler

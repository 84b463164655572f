"""The application's one clock.

Product code never asks the system for the time: the core, the senders, the scheduler and the
command line are handed a :data:`Clock` when the application is put together, so that tests
(and a demo) can run at any date and move time on as they need.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware."""


def system_clock() -> datetime:
    """The real time, in UTC: the clock Ponte runs on outside tests."""
    return datetime.now(UTC)


def travelling_clock(start: datetime) -> Clock:
    """A clock that reads ``start`` now and then moves on with real time: a demo can live
    through a day of reminders by starting Ponte again at a later ``start``."""
    if start.tzinfo is None:
        raise ValueError("give the start with a time zone (or as UTC)")
    began = system_clock()

    def now() -> datetime:
        return start + (system_clock() - began)

    return now

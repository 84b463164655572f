"""Every flow Ponte runs, in the order the core looks them up: add a flow here."""

from __future__ import annotations

from handlers.kernel.flow_router import FlowRouter
from handlers.matchmaking import (
    agenda,
    erasure,
    events,
    leaving,
    meetings,
    partners,
    reminders,
    requests,
    waiting,
)
from handlers.organiser import admins, broadcast, exports, rights, stats
from handlers.participant import language, privacy, profile, registration
from storage.reminders import DEFAULT_RATE as DEFAULT_REMINDER_RATE


def default_routers(*, reminder_rate: float = DEFAULT_REMINDER_RATE) -> list[FlowRouter]:
    """Every flow Ponte runs, each from its module's ``setup()``: add a flow here.

    ``reminder_rate``: reminders per second that bursts are spread to (below the channel's
    sending rate, so that replies and notices still get through during a burst)."""
    return [
        registration.setup(),
        profile.setup(),
        language.setup(),
        privacy.setup(),
        partners.setup(),
        requests.setup(),
        waiting.setup(),
        meetings.setup(),
        agenda.setup(),
        reminders.setup(reminder_rate),
        events.setup(),
        leaving.setup(),
        erasure.setup(),
        rights.setup(),
        stats.setup(),
        exports.setup(),
        admins.setup(),
        broadcast.setup(),
    ]

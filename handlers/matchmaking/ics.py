"""Calendar files (.ics) for meetings, made with the icalendar library.

One stable UID per meeting and a SEQUENCE that grows with every change, so calendar apps
update the entry they already have. Confirmations and changes are METHOD:PUBLISH (RFC 5546
3.2.1: an ORGANIZER and no ATTENDEE, nothing to answer); a cancellation is METHOD:CANCEL
with STATUS:CANCELLED (3.2.5), naming its recipient as the ATTENDEE it is cancelled for.
Times are written in the event's time zone with its VTIMEZONE included.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Timezone, vCalAddress, vText
from icalendar import Event as CalendarEvent

from handlers.kernel.i18n import N_, Translator, event_name
from handlers.kernel.replies import Document
from storage.event_models import Meeting
from storage.models import Participant
from storage.reminder_policy import ReminderPolicy

SUMMARY = N_("Meeting with {name} ({organisation})")
PRODUCT_ID = "-//Ponte//Italy-China matchmaking//EN"
ORGANIZER = "mailto:noreply@ponte.invalid"


@lru_cache(maxsize=64)
def vtimezone(time_zone: str, year: int) -> Timezone:
    """The VTIMEZONE of ``time_zone``, covering the years around ``year``.

    Building one walks the zone's transitions, so one per zone and year is kept and shared
    by every calendar: it is only ever serialised, never changed.
    """
    return Timezone.from_tzinfo(
        ZoneInfo(time_zone),
        tzid=time_zone,
        first_date=date(year - 1, 1, 1),
        last_date=date(year + 2, 1, 1),
    )


def meeting_calendar(
    meeting: Meeting, viewer: Participant, t: Translator, now: datetime
) -> Document:
    """The .ics file of ``meeting`` for ``viewer``: an invitation, an update or a cancellation."""
    cancelled = meeting.status == "cancelled"
    partner = meeting.partner_of(viewer.id)
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    entry = CalendarEvent()
    entry.add("uid", meeting.uid)
    entry.add("sequence", meeting.sequence)
    entry.add("dtstamp", now.astimezone(UTC))
    entry.add(
        "summary",
        t.gettext(SUMMARY).format(name=partner.name or "", organisation=partner.organisation or ""),
    )
    entry.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    organizer = vCalAddress(ORGANIZER)
    organizer.params["cn"] = vText("Ponte")
    entry.add("organizer", organizer)
    if cancelled and viewer.email:
        # Only the recipient: RFC 5546 lets a cancellation go to each attendee separately,
        # and the partner's address must not travel again (they may have erased their data).
        attendee = vCalAddress(f"mailto:{viewer.email}")
        attendee.params["cn"] = vText(viewer.name or viewer.email)
        entry.add("attendee", attendee)
    if meeting.slot is not None:
        zone = ZoneInfo(meeting.event.time_zone)
        entry.add("dtstart", meeting.slot.starts_at.astimezone(zone))
        entry.add("dtend", meeting.slot.ends_at.astimezone(zone))
    if meeting.place is not None:
        entry.add("location", meeting.place.url or meeting.place.label)
        if meeting.place.url:
            entry.add("url", meeting.place.url)
    entry.add("description", event_name(meeting.event.names, viewer.locale))
    if meeting.slot is not None and not cancelled:
        # The calendar reminds too, at the event's first reminder (24 hours by default).
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", entry["summary"])
        policy = ReminderPolicy.from_json(meeting.event.reminder_policy)
        alarm.add("trigger", -timedelta(minutes=policy.first_offset))
        entry.add_component(alarm)
    if meeting.slot is not None:
        calendar.add_component(vtimezone(meeting.event.time_zone, meeting.slot.starts_at.year))
    calendar.add_component(entry)
    return Document(
        filename=f"ponte-meeting-{meeting.id}.ics",
        content=calendar.to_ical(),
        mime_type="text/calendar",
    )

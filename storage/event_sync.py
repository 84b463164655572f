"""Events in and out of the database: import a checked spec, export one, list them all."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, selectinload

from storage.event_models import Event, EventRegistration, Meeting, Place, Slot
from storage.event_spec import (
    BREAK_MINUTES,
    EventFileError,
    EventSpec,
    PlaceSpec,
    SessionSpec,
    utc_to_local,
)
from storage.reminder_policy import ReminderPolicy
from storage.reminders import ReminderRepository


class UnknownEventError(LookupError):
    """There is no event with the code asked for."""

    def __init__(self, code: str) -> None:
        super().__init__(f"there is no event with the code {code!r}")
        self.code = code


@dataclass(frozen=True)
class ImportResult:
    """What an import did: the event, and slots and places created, kept and removed."""

    code: str
    event_id: int
    created: bool
    slots_created: int
    slots_kept: int
    slots_removed: int
    places_created: int
    places_kept: int
    places_removed: int

    def summary(self) -> str:
        """One line for organisers."""
        verb = "created" if self.created else "updated"
        return (
            f"event {self.code} {verb}: slots {self.slots_created} new, {self.slots_kept} kept, "
            f"{self.slots_removed} removed; tables/rooms/links {self.places_created} new, "
            f"{self.places_kept} kept, {self.places_removed} removed"
        )


@dataclass(frozen=True)
class EventSummary:
    """One line of ``ponte events list``."""

    code: str
    name: str
    mode: str
    starts_on: date
    ends_on: date
    time_zone: str
    slots: int
    places: int
    participants: int


async def _load(session: AsyncSession, code: str) -> Event | None:
    return await session.scalar(
        select(Event)
        .where(Event.code == code)
        .options(selectinload(Event.slots), selectinload(Event.places))
        .execution_options(populate_existing=True)
    )


async def import_event(session: AsyncSession, spec: EventSpec, now: datetime) -> ImportResult:
    """Create the event ``spec`` describes (created at ``now``), or update the event with its
    code.

    Slots are matched by start time and places by label: new ones are added, changed ones
    updated in place, and ones no longer in the spec removed, unless a meeting that is not
    cancelled uses them; then nothing changes and :class:`EventFileError` names them.
    The caller commits.
    """
    event = await _load(session, spec.code)
    created = event is None
    if event is None:
        event = Event(code=spec.code, slots=[], places=[], created_at=now)
        session.add(event)
    wanted_slots = {slot.starts_at: slot.ends_at for slot in spec.slots}
    wanted_places = {place.label: (position, place) for position, place in enumerate(spec.places)}
    stale_slots = [slot for slot in event.slots if slot.starts_at not in wanted_slots]
    stale_places = [place for place in event.places if place.label not in wanted_places]
    if not created:
        await _refuse_if_used(session, event, stale_slots, stale_places)

    event.names = dict(spec.names)
    event.mode, event.city, event.venue = spec.mode, spec.city, spec.venue
    event.time_zone, event.starts_on, event.ends_on = spec.time_zone, spec.starts_on, spec.ends_on
    event.registration_deadline = spec.registration_deadline_utc
    event.meeting_minutes = spec.meeting_minutes
    event.max_pending_requests = spec.max_pending_requests
    event.request_ttl_hours = spec.request_ttl_hours
    policy_changed = not created and event.reminder_policy != spec.reminders.to_json()
    event.reminder_policy = spec.reminders.to_json()

    existing_slots = {slot.starts_at: slot for slot in event.slots}
    for slot in stale_slots:
        event.slots.remove(slot)
    for starts_at, ends_at in wanted_slots.items():
        if starts_at in existing_slots:
            existing_slots[starts_at].ends_at = ends_at
        else:
            event.slots.append(Slot(starts_at=starts_at, ends_at=ends_at))
    existing_places = {place.label: place for place in event.places}
    for place in stale_places:
        event.places.remove(place)
    for label, (position, spec_place) in wanted_places.items():
        row = existing_places.get(label)
        if row is None:
            row = Place(label=label)
            event.places.append(row)
        row.kind, row.url, row.position = spec_place.kind, spec_place.url, position
    await session.flush()
    if policy_changed:
        await _replan_reminders(session, event.id, now)
    kept_slots = len(wanted_slots.keys() & existing_slots.keys())
    kept_places = len(wanted_places.keys() & existing_places.keys())
    return ImportResult(
        code=spec.code,
        event_id=event.id,
        created=created,
        slots_created=len(wanted_slots) - kept_slots,
        slots_kept=kept_slots,
        slots_removed=len(stale_slots),
        places_created=len(wanted_places) - kept_places,
        places_kept=kept_places,
        places_removed=len(stale_places),
    )


async def _replan_reminders(session: AsyncSession, event_id: int, now: datetime) -> None:
    """The event's reminder policy changed: plan its upcoming meetings' reminders again."""
    reminders = ReminderRepository(session)
    meetings = await session.scalars(
        select(Meeting)
        .join(Slot, Slot.id == Meeting.slot_id)
        .where(Meeting.event_id == event_id, Meeting.status == "scheduled", Slot.starts_at > now)
    )
    for meeting in meetings.unique().all():
        await session.refresh(meeting)
        await reminders.plan_meeting(meeting, now)


async def _refuse_if_used(
    session: AsyncSession, event: Event, slots: Sequence[Slot], places: Sequence[Place]
) -> None:
    """Raise :class:`EventFileError` if a live meeting uses any of ``slots`` or ``places``."""
    if not slots and not places:
        return
    slot_ids = {slot.id for slot in slots}
    place_ids = {place.id for place in places}
    rows = (
        await session.execute(
            select(Meeting.slot_id, Meeting.place_id).where(
                Meeting.event_id == event.id,
                Meeting.status != "cancelled",
                or_(Meeting.slot_id.in_(slot_ids), Meeting.place_id.in_(place_ids)),
            )
        )
    ).all()
    if not rows:
        return
    zone = ZoneInfo(event.time_zone)
    used_slots = {slot_id for slot_id, _ in rows} & slot_ids
    used_places = {place_id for _, place_id in rows} & place_ids
    names = [
        f"slot {utc_to_local(slot.starts_at, zone):%Y-%m-%d %H:%M} ({event.time_zone})"
        for slot in slots
        if slot.id in used_slots
    ]
    names += [f"{place.kind} {place.label!r}" for place in places if place.id in used_places]
    raise EventFileError(
        f"event {event.code}: cannot remove {', '.join(names)}: {len(rows)} meeting(s) are "
        "booked there; keep them in the file, or move or cancel those meetings first "
        "(nothing was changed)"
    )


async def export_event(session: AsyncSession, code: str) -> EventSpec:
    """The spec of the event with ``code``; :func:`bot.events.files.write_event_yaml`
    turns it into a file that imports back to the same event.

    Sessions are rebuilt from the slots: runs of slots on one local day separated by the
    most common gap (the break), each ending when its last meeting ends.
    Raises :class:`UnknownEventError`.
    """
    event = await _load(session, code)
    if event is None:
        raise UnknownEventError(code)
    zone = ZoneInfo(event.time_zone)
    sessions, break_minutes = _sessions_from_slots(event.slots, zone)
    return EventSpec(
        code=event.code,
        names={str(k): str(v) for k, v in event.names.items()},
        mode=event.mode,
        time_zone=event.time_zone,
        starts_on=event.starts_on,
        ends_on=event.ends_on,
        registration_deadline=utc_to_local(event.registration_deadline, zone),
        meeting_minutes=event.meeting_minutes,
        sessions=sessions,
        places=tuple(PlaceSpec(p.kind, p.label, p.url) for p in event.places),
        city=event.city,
        venue=event.venue,
        break_minutes=break_minutes,
        max_pending_requests=event.max_pending_requests,
        request_ttl_hours=event.request_ttl_hours,
        reminders=ReminderPolicy.from_json(event.reminder_policy),
    )


def _sessions_from_slots(
    slots: Sequence[Slot], zone: ZoneInfo
) -> tuple[tuple[SessionSpec, ...], int]:
    ordered = sorted(slots, key=lambda slot: slot.starts_at)
    pairs = list(pairwise(ordered))

    def local_day(moment: datetime) -> date:
        return utc_to_local(moment, zone).date()

    def gap(first: Slot, second: Slot) -> float:
        return (second.starts_at - first.ends_at).total_seconds() / 60

    gaps = Counter(
        int(gap(a, b))
        for a, b in pairs
        if local_day(a.starts_at) == local_day(b.starts_at)
        and gap(a, b).is_integer()
        and BREAK_MINUTES[0] <= gap(a, b) <= BREAK_MINUTES[1]
    )
    pause = min(gaps, key=lambda g: (-gaps[g], g)) if gaps else 0
    runs: list[list[Slot]] = [ordered[:1]] if ordered else []
    for a, b in pairs:
        if local_day(a.starts_at) == local_day(b.starts_at) and gap(a, b) == pause:
            runs[-1].append(b)
        else:
            runs.append([b])
    sessions = [
        SessionSpec(
            day=local_day(run[0].starts_at),
            start=utc_to_local(run[0].starts_at, zone).time(),
            end=utc_to_local(run[-1].ends_at, zone).time(),  # when its last meeting ends
        )
        for run in runs
    ]
    return tuple(sessions), pause


async def list_events(session: AsyncSession) -> list[EventSummary]:
    """Every event with its numbers of slots, places and registered participants."""

    async def counts(
        column: InstrumentedAttribute[int], key: InstrumentedAttribute[int]
    ) -> dict[int, int]:
        rows = await session.execute(select(key, func.count(column)).group_by(key))
        return {int(event_id): int(count) for event_id, count in rows.all()}

    slots = await counts(Slot.id, Slot.event_id)
    places = await counts(Place.id, Place.event_id)
    people = await counts(EventRegistration.participant_id, EventRegistration.event_id)
    events = (await session.scalars(select(Event).order_by(Event.starts_on, Event.code))).all()
    return [
        EventSummary(
            code=event.code,
            name=str(event.names.get("en") or next(iter(event.names.values()), "")),
            mode=event.mode,
            starts_on=event.starts_on,
            ends_on=event.ends_on,
            time_zone=event.time_zone,
            slots=slots.get(event.id, 0),
            places=places.get(event.id, 0),
            participants=people.get(event.id, 0),
        )
        for event in events
    ]

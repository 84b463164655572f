"""An event as organisers describe it: dataclasses checked on construction.

Times in a spec are local wall-clock times in the event's IANA time zone; the meeting slots
they generate are computed in UTC. A local time that does not exist (the hour skipped when
clocks go forward) is an error; a local time that occurs twice (the hour repeated when clocks
go back) is taken at its first occurrence (``fold=0``, still on summer time).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property, lru_cache
from itertools import pairwise
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, available_timezones

from storage.event_models import EVENT_MODES
from storage.reminder_policy import ReminderPolicy

CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
NAME_LOCALES = ("it", "en", "zh_Hans")
PLACE_KINDS = ("table", "room", "link")
MEETING_MINUTES = (5, 120)
BREAK_MINUTES = (0, 120)
MAX_PENDING_REQUESTS = (1, 100)
REQUEST_TTL_HOURS = (1, 720)
DEFAULT_DEADLINE_TIME = time(18, 0)
MAX_LABEL, MAX_URL, MAX_NAME, MAX_CITY, MAX_VENUE = 200, 400, 300, 200, 300


class EventFileError(ValueError):
    """An event description is wrong; the message names the file, the field or row, and the fix."""


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_time_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone known to this system (``Europe/Rome``…)."""
    return name in _known_zones() or name == "UTC"


def local_to_utc(local: datetime, zone: ZoneInfo, what: str) -> datetime:
    """Convert a naive local time in ``zone`` to aware UTC.

    Raises :class:`EventFileError` naming ``what`` when the time falls in a spring-forward
    gap; an ambiguous time (autumn) is taken at its first occurrence (``fold=0``).
    """
    aware = local.replace(tzinfo=zone, fold=0)
    utc = aware.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != local:
        raise EventFileError(
            f"{what}: {local:%Y-%m-%d %H:%M} does not exist in {zone.key} (the clocks go "
            "forward at that hour); choose a time outside the skipped hour"
        )
    return utc


def utc_to_local(moment: datetime, zone: ZoneInfo) -> datetime:
    """The naive local wall-clock time of the aware ``moment`` in ``zone``."""
    return moment.astimezone(zone).replace(tzinfo=None)


def default_registration_deadline(first_day: date) -> datetime:
    """The default deadline: the day before the first session, at 18:00 local time."""
    return datetime.combine(first_day - timedelta(days=1), DEFAULT_DEADLINE_TIME)


def check_url(url: str, what: str) -> None:
    """Raise unless ``url`` is an absolute http(s) URL without spaces."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or re.search(r"\s", url):
        raise EventFileError(
            f"{what}: {url!r} is not a web link; write a full address starting with https://"
        )
    if len(url) > MAX_URL:
        raise EventFileError(f"{what}: the link is longer than {MAX_URL} characters")


def check_code(code: str) -> None:
    """Raise unless ``code`` can be an event code (and so a Telegram start parameter)."""
    if not isinstance(code, str) or not CODE_PATTERN.match(code):
        raise EventFileError(
            f"code: {code!r} is not a valid event code; use 1–64 letters, digits, '_' or '-' "
            "(it becomes part of the t.me link)"
        )


def _check_range(value: int, bounds: tuple[int, int], what: str) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise EventFileError(f"{what} must be between {low} and {high}, not {value}")


@dataclass(frozen=True)
class SessionSpec:
    """A block of meetings on one day, from ``start`` to ``end`` in the event's local time."""

    day: date
    start: time
    end: time
    where: str = field(default="", compare=False)  # e.g. "row 12", for error messages

    def describe(self) -> str:
        """How error messages name this session."""
        text = f"session on {self.day.isoformat()} {self.start:%H:%M}–{self.end:%H:%M}"
        return f"{text} ({self.where})" if self.where else text


@dataclass(frozen=True)
class PlaceSpec:
    """A table or room on site (``kind`` ``table``/``room``) or an online meeting ``link``."""

    kind: str
    label: str
    url: str | None = None
    where: str = field(default="", compare=False)

    def describe(self) -> str:
        """How error messages name this place."""
        text = f"{self.kind} {self.label!r}"
        return f"{text} ({self.where})" if self.where else text


@dataclass(frozen=True)
class SlotTime:
    """One generated meeting slot, in UTC, with the session that produced it."""

    starts_at: datetime
    ends_at: datetime
    session: SessionSpec


@dataclass(frozen=True)
class EventSpec:
    """A complete, checked event description (every default already resolved).

    Construction raises :class:`EventFileError` on any inconsistency, so a spec that exists
    is importable. ``registration_deadline`` is a naive local time in ``time_zone``.
    """

    code: str
    names: dict[str, str]
    mode: str
    time_zone: str
    starts_on: date
    ends_on: date
    registration_deadline: datetime
    meeting_minutes: int
    sessions: tuple[SessionSpec, ...]
    places: tuple[PlaceSpec, ...]
    city: str | None = None
    venue: str | None = None
    break_minutes: int = 0
    max_pending_requests: int = 10
    request_ttl_hours: int = 48
    reminders: ReminderPolicy = field(default_factory=ReminderPolicy)

    def __post_init__(self) -> None:
        self._check_identity()
        self._check_places()
        _check_range(self.meeting_minutes, MEETING_MINUTES, "meeting_minutes")
        _check_range(self.break_minutes, BREAK_MINUTES, "break_minutes")
        _check_range(self.max_pending_requests, MAX_PENDING_REQUESTS, "max_pending_requests")
        _check_range(self.request_ttl_hours, REQUEST_TTL_HOURS, "request_ttl_hours")
        self._check_dates()
        slots = self.slots  # computes and checks every slot
        deadline = self.registration_deadline_utc
        if deadline > slots[-1].ends_at:
            raise EventFileError(
                "registration_deadline: it is after the last meeting ends; choose an earlier time"
            )

    @property
    def zone(self) -> ZoneInfo:
        """The event's time zone."""
        return ZoneInfo(self.time_zone)

    @property
    def registration_deadline_utc(self) -> datetime:
        """The registration deadline as aware UTC."""
        if self.registration_deadline.tzinfo is not None:
            raise EventFileError(
                "registration_deadline: write it in the event's local time, without an offset"
            )
        return local_to_utc(self.registration_deadline, self.zone, "registration_deadline")

    @cached_property
    def slots(self) -> tuple[SlotTime, ...]:
        """Every meeting slot, in time order, in UTC.

        Each session's start and end are converted to UTC and the slots step through that
        interval by ``meeting_minutes + break_minutes`` of real time; a slot must end by the
        session's end. Raises :class:`EventFileError` on gaps, empty sessions and overlaps.
        """
        zone = self.zone
        meeting = timedelta(minutes=self.meeting_minutes)
        step = meeting + timedelta(minutes=self.break_minutes)
        slots: list[SlotTime] = []
        for session in self.sessions:
            what = session.describe()
            if session.end <= session.start:
                raise EventFileError(f"{what}: the end must be later than the start")
            begin = local_to_utc(datetime.combine(session.day, session.start), zone, what)
            finish = local_to_utc(datetime.combine(session.day, session.end), zone, what)
            moment, count = begin, 0
            while moment + meeting <= finish:
                slots.append(SlotTime(moment, moment + meeting, session))
                moment, count = moment + step, count + 1
            if count == 0:
                raise EventFileError(
                    f"{what}: too short for one {self.meeting_minutes}-minute meeting; "
                    "make it longer or the meetings shorter"
                )
        slots.sort(key=lambda slot: slot.starts_at)
        for earlier, later in pairwise(slots):
            if later.starts_at < earlier.ends_at:
                first, second = earlier.session.describe(), later.session.describe()
                detail = f"{first} and {second} overlap" if first != second else f"{first} repeats"
                raise EventFileError(f"{detail}; sessions must not share any time")
        return tuple(slots)

    def _check_identity(self) -> None:
        check_code(self.code)
        unknown = sorted(set(self.names) - set(NAME_LOCALES))
        if unknown:
            raise EventFileError(f"name: unknown language {unknown[0]!r}; use it, en and zh_Hans")
        if not self.names.get("en", "").strip():
            raise EventFileError("name: the English name (en) is required")
        for locale, text in self.names.items():
            if not text.strip() or len(text) > MAX_NAME:
                raise EventFileError(
                    f"name ({locale}): give a name of 1–{MAX_NAME} characters, or leave it out"
                )
        if self.mode not in EVENT_MODES:
            raise EventFileError(
                f"mode: {self.mode!r} is not a mode; use one of {', '.join(EVENT_MODES)}"
            )
        if not is_time_zone(self.time_zone):
            raise EventFileError(
                f"time_zone: {self.time_zone!r} is not an IANA time zone; write one such as "
                "Europe/Rome or Asia/Shanghai"
            )
        for key, value, limit in (("city", self.city, MAX_CITY), ("venue", self.venue, MAX_VENUE)):
            if value is not None and (not value.strip() or len(value) > limit):
                raise EventFileError(f"{key}: give 1–{limit} characters, or leave it out")
        if self.mode in ("in_person", "hybrid") and not (self.city and self.venue):
            raise EventFileError(
                f"city and venue: an event in mode {self.mode} needs both; add them"
            )

    def _check_places(self) -> None:
        seen: dict[str, PlaceSpec] = {}
        for place in self.places:
            what = place.describe()
            if place.kind not in PLACE_KINDS:
                raise EventFileError(f"{what}: the kind must be table, room or link")
            if not place.label.strip() or len(place.label) > MAX_LABEL:
                raise EventFileError(f"{what}: give a label of 1–{MAX_LABEL} characters")
            if place.label in seen:
                raise EventFileError(
                    f"{what}: the label is also used by {seen[place.label].describe()}; "
                    "every table, room and link needs its own label"
                )
            seen[place.label] = place
            if place.kind == "link":
                if place.url is None:
                    raise EventFileError(f"{what}: a link needs its url")
                check_url(place.url, what)
            elif place.url is not None:
                check_url(place.url, what)
        on_site = any(p.kind in ("table", "room") for p in self.places)
        online = any(p.kind == "link" for p in self.places)
        if self.mode in ("in_person", "hybrid") and not on_site:
            raise EventFileError(
                f"tables/rooms: an event in mode {self.mode} needs at least one table or room"
            )
        if self.mode in ("online", "hybrid") and not online:
            raise EventFileError(
                f"links: an event in mode {self.mode} needs at least one meeting link "
                "(Tencent Meeting works in mainland China; Zoom and Google Meet do not)"
            )
        if self.mode == "in_person" and online:
            raise EventFileError("links: an in_person event has no meeting links; use hybrid")
        if self.mode == "online" and on_site:
            raise EventFileError("tables/rooms: an online event has no tables; use hybrid")

    def _check_dates(self) -> None:
        if not self.sessions:
            raise EventFileError("sessions: add at least one session (date, start, end)")
        if self.ends_on < self.starts_on:
            raise EventFileError("end_date: it is before start_date")
        for session in self.sessions:
            if not self.starts_on <= session.day <= self.ends_on:
                raise EventFileError(
                    f"{session.describe()}: the day is outside the event's dates "
                    f"{self.starts_on.isoformat()}–{self.ends_on.isoformat()}"
                )

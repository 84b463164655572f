"""An event's reminder policy, and when each reminder is due under it.

Pure date arithmetic, no database: the event file is checked with it, and the planner in
:mod:`storage.reminders` uses it. Every instant is aware UTC; "local" always means the
reader's own time zone, so quiet hours are the reader's night, not the event's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_OFFSETS = (24 * 60, 15)  # minutes before the slot starts
DEFAULT_DIGEST = time(8, 0)
DEFAULT_QUIET = (time(22, 0), time(7, 0))
STARTING_SOON = 60
"""Minutes: a reminder this close to the meeting is "starting soon" and ignores quiet hours."""
OFFSET_BOUNDS = (1, 14 * 24 * 60)
MAX_OFFSETS = 4

_OFFSET = re.compile(r"^\s*(\d+)\s*(m|min|h|d)\s*$", re.IGNORECASE)
_CLOCK = re.compile(r"^\s*(\d{1,2})[:.](\d{2})\s*$")
_UNITS = {"m": 1, "min": 1, "h": 60, "d": 24 * 60}
OFF = ("off", "none", "no", "")


class PolicyError(ValueError):
    """A reminder setting is malformed; the message says what to write instead."""


@dataclass(frozen=True)
class ReminderPolicy:
    """When an event's participants are reminded.

    ``offsets``: minutes before each slot, largest first. ``digest``: the local time of the
    morning agenda on days with meetings (``None``: no digest). ``quiet``: the reader's night
    as (start, end) local times (``None``: no quiet hours); only reminders at most
    :data:`STARTING_SOON` minutes ahead are sent in it.
    """

    offsets: tuple[int, ...] = DEFAULT_OFFSETS
    digest: time | None = DEFAULT_DIGEST
    quiet: tuple[time, time] | None = DEFAULT_QUIET

    def __post_init__(self) -> None:
        if not self.offsets:
            raise PolicyError("reminder_offsets: give at least one, such as 24h, 15m")
        if len(self.offsets) > MAX_OFFSETS:
            raise PolicyError(f"reminder_offsets: at most {MAX_OFFSETS} reminders per meeting")
        low, high = OFFSET_BOUNDS
        for minutes in self.offsets:
            if not low <= minutes <= high:
                raise PolicyError(
                    f"reminder_offsets: {minutes} minutes is outside 1 minute to 14 days"
                )
        if len(set(self.offsets)) != len(self.offsets):
            raise PolicyError("reminder_offsets: each offset only once")
        object.__setattr__(self, "offsets", tuple(sorted(self.offsets, reverse=True)))
        if self.quiet is not None and self.quiet[0] == self.quiet[1]:
            raise PolicyError("quiet_hours: the start and the end must differ, or write off")

    @property
    def first_offset(self) -> int:
        """The earliest reminder, in minutes before the slot (a calendar alarm uses it)."""
        return self.offsets[0]

    def to_json(self) -> dict[str, Any]:
        """The policy as stored on the event."""
        return {
            "offsets": list(self.offsets),
            "digest": _clock_text(self.digest) if self.digest else None,
            "quiet": [_clock_text(t) for t in self.quiet] if self.quiet else None,
        }

    @classmethod
    def from_json(cls, stored: Mapping[str, Any] | None) -> ReminderPolicy:
        """The stored policy (``None``: the defaults)."""
        if not stored:
            return cls()
        quiet = stored.get("quiet")
        return cls(
            offsets=tuple(int(m) for m in stored.get("offsets") or DEFAULT_OFFSETS),
            digest=parse_clock(stored["digest"], "digest_time") if stored.get("digest") else None,
            quiet=(parse_clock(quiet[0], "quiet_hours"), parse_clock(quiet[1], "quiet_hours"))
            if quiet
            else None,
        )

    def in_quiet_hours(self, moment: datetime, zone: ZoneInfo) -> bool:
        """Whether ``moment`` falls in the reader's quiet hours."""
        if self.quiet is None:
            return False
        start, end = self.quiet
        clock = moment.astimezone(zone).time()
        if start < end:
            return start <= clock < end
        return clock >= start or clock < end

    def reminder_due(self, starts_at: datetime, offset: int, zone: ZoneInfo) -> datetime | None:
        """When the reminder ``offset`` minutes before ``starts_at`` is due for a reader in
        ``zone``; ``None`` when quiet hours leave no moment for it.

        A reminder that would ring in the reader's night (and is not "starting soon") moves
        to the end of the night, if that is still before the "starting soon" reminder; else
        to the start of the night, before it (the evening before).
        """
        due = starts_at - timedelta(minutes=offset)
        if offset <= STARTING_SOON or not self.in_quiet_hours(due, zone):
            return due
        night_start, night_end = self._night_around(due, zone)
        soonest = starts_at - timedelta(minutes=min(self.offsets[-1], STARTING_SOON))
        if night_end < soonest:
            return night_end
        before = night_start - timedelta(minutes=1)
        return before if before < starts_at else None

    def digest_due(self, day: date, zone: ZoneInfo) -> datetime | None:
        """When the morning agenda of the reader's local ``day`` is due (aware UTC)."""
        if self.digest is None:
            return None
        due = local_moment(day, self.digest, zone)
        if self.in_quiet_hours(due, zone):
            _, due = self._night_around(due, zone)
        return due

    def _night_around(self, moment: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The quiet period that contains ``moment`` (which must be in one), in UTC."""
        assert self.quiet is not None
        start, end = self.quiet
        local_day = moment.astimezone(zone).date()
        if start < end:
            return local_moment(local_day, start, zone), local_moment(local_day, end, zone)
        if moment.astimezone(zone).time() >= start:
            return (
                local_moment(local_day, start, zone),
                local_moment(local_day + timedelta(days=1), end, zone),
            )
        return (
            local_moment(local_day - timedelta(days=1), start, zone),
            local_moment(local_day, end, zone),
        )


def local_moment(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of the local wall-clock ``day`` ``clock`` in ``zone``.

    A clock time skipped by a spring-forward change is taken an hour later (as the clocks
    read after the change); a repeated one at its first occurrence.
    """
    aware = datetime.combine(day, clock, tzinfo=zone)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != aware.replace(tzinfo=None):
        aware = aware + timedelta(hours=1)
    return aware.astimezone(UTC)


def parse_offsets(text: str | Iterable[str] | None) -> tuple[int, ...]:
    """``"24h, 15m"`` (or a list of such) as minutes; raises :class:`PolicyError`."""
    if text is None:
        return DEFAULT_OFFSETS
    parts = text.split(",") if isinstance(text, str) else [str(p) for p in text]
    minutes: list[int] = []
    for part in parts:
        match = _OFFSET.match(part)
        if match is None:
            raise PolicyError(
                f"reminder_offsets: {part.strip()!r} is not a time before the meeting; write "
                "it like 24h, 2d or 15m"
            )
        minutes.append(int(match[1]) * _UNITS[match[2].lower()])
    return tuple(minutes)


def format_offsets(offsets: Iterable[int]) -> str:
    """Minutes as the event file writes them (``"24h, 15m"``)."""
    parts = []
    for minutes in offsets:
        if minutes % (24 * 60) == 0 and minutes >= 48 * 60:
            parts.append(f"{minutes // (24 * 60)}d")
        elif minutes % 60 == 0:
            parts.append(f"{minutes // 60}h")
        else:
            parts.append(f"{minutes}m")
    return ", ".join(parts)


def parse_clock(text: str, what: str) -> time:
    """``"08:00"`` as a time; raises :class:`PolicyError` naming ``what``."""
    match = _CLOCK.match(str(text))
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise PolicyError(f"{what}: {text!r} is not a time of day; write it like 08:00")
    return time(int(match[1]), int(match[2]))


def parse_quiet(text: str | None) -> tuple[time, time] | None:
    """``"22:00-07:00"`` (or ``off``) as quiet hours; raises :class:`PolicyError`."""
    if text is None:
        return DEFAULT_QUIET
    if str(text).strip().lower() in OFF:
        return None
    start, dash, end = str(text).replace("–", "-").partition("-")
    if not dash:
        raise PolicyError(f"quiet_hours: {text!r} is not a period; write it like 22:00-07:00")
    return parse_clock(start, "quiet_hours"), parse_clock(end, "quiet_hours")


def parse_digest(text: str | None) -> time | None:
    """``"08:00"`` (or ``off``) as the digest time; raises :class:`PolicyError`."""
    if text is None:
        return DEFAULT_DIGEST
    if str(text).strip().lower() in OFF:
        return None
    return parse_clock(text, "digest_time")


def _clock_text(value: time) -> str:
    return f"{value:%H:%M}"

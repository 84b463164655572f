"""Event files: read an event from YAML or CSV, write it back as YAML (:mod:`bot.events.writing`),
and import it.

The file formats are described in ``docs/events.md``. Reading checks everything and raises
:class:`EventFileError` naming the file, the field or row, and what to fix; the checked
result is an :class:`EventSpec`. :func:`import_event`, :func:`export_event` and
:func:`list_events` (in :mod:`storage.event_sync`) move specs in and out of the database.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, ClassVar

import yaml  # type: ignore[import-untyped]

from bot.events.writing import PLACE_KINDS, write_event_yaml
from storage.event_spec import (
    EventFileError,
    EventSpec,
    PlaceSpec,
    SessionSpec,
    check_code,
    default_registration_deadline,
)
from storage.event_sync import (
    EventSummary,
    ImportResult,
    UnknownEventError,
    export_event,
    import_event,
    list_events,
)
from storage.reminder_policy import (
    PolicyError,
    ReminderPolicy,
    parse_digest,
    parse_offsets,
    parse_quiet,
)

__all__ = [
    "EventFileError",
    "EventSpec",
    "EventSummary",
    "ImportResult",
    "PlaceSpec",
    "SessionSpec",
    "UnknownEventError",
    "export_event",
    "import_event",
    "list_events",
    "read_event_file",
    "write_event_yaml",
]

SINGLE_FIELDS = (
    "code", "mode", "city", "venue", "time_zone", "start_date", "end_date",
    "registration_deadline", "meeting_minutes", "break_minutes", "max_pending_requests",
    "request_ttl_hours", "reminder_offsets", "digest_time", "quiet_hours",
)  # fmt: skip
_CLOCK = re.compile(r"^\d{1,2}[:.]\d{2}(?::\d{2})?$")
_DAY_FIRST = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


class _Loader(yaml.SafeLoader):  # type: ignore[misc]
    """``SafeLoader`` that reads ``9:30``/``10:30`` as text, not YAML 1.1 base-60 integers."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {
        first: [("tag:yaml.org,2002:str", _CLOCK), *resolvers] if first.isdigit() else resolvers
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def _locale(key: str) -> str:
    """``zh``, ``zh-hans``, ``zh_Hans``… → ``zh_Hans``; others as written."""
    folded = key.strip().lower().replace("-", "_")
    return "zh_Hans" if folded in ("zh", "zh_hans") else folded


@dataclass
class _Draft:
    """What a file says, before checking; each value remembers where it was written."""

    source: str
    values: dict[str, tuple[str, Any]] = field(default_factory=dict)
    names: dict[str, tuple[str, Any]] = field(default_factory=dict)
    sessions: list[tuple[str, Any, Any, Any]] = field(default_factory=list)
    places: list[tuple[str, str, Any, Any]] = field(default_factory=list)

    def fail(self, where: str, problem: str) -> EventFileError:
        return EventFileError(f"{self.source}: {where}: {problem}")

    def text(self, key: str) -> str | None:
        where, value = self.values.get(key, ("", None))
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.fail(where, "write plain text here")
        return str(value).strip()

    def integer(self, key: str, default: int | None) -> int:
        where, value = self.values.get(key, (key, None))
        if (value is None or value == "") and default is None:
            raise self.fail(where, "missing; add it (a whole number)")
        if value is None or value == "":
            return default or 0
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(where, f"write a whole number, not {value!r}")
        return value

    def day(self, where: str, value: Any) -> date:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str):
            text = value.strip()
            match = _DAY_FIRST.match(text)
            try:
                if match:
                    return date(int(match[3]), int(match[2]), int(match[1]))
                return date.fromisoformat(text)
            except ValueError:
                pass
        raise self.fail(where, f"{value!r} is not a date; write it as 2025-11-13 (or 13/11/2025)")

    def clock(self, where: str, value: Any) -> time:
        if isinstance(value, time):
            return value
        if isinstance(value, str) and _CLOCK.match(value.strip()):
            try:
                parts = [int(part) for part in re.split(r"[:.]", value.strip())] + [0]
                return time(parts[0], parts[1], parts[2])
            except ValueError:
                pass
        raise self.fail(where, f"{value!r} is not a time of day; write it as 09:30")

    def moment(self, key: str) -> datetime | None:
        where, value = self.values.get(key, ("", None))
        if value is None or value == "":
            return None
        if isinstance(value, date) and not isinstance(value, datetime):
            raise self.fail(where, "give the time too, as 2025-11-12 18:00")
        written = value
        if isinstance(value, str):
            day, _, clock = value.strip().replace("T", " ").partition(" ")
            try:
                value = datetime.combine(self.day(where, day), self.clock(where, clock.strip()))
            except EventFileError:
                value = None
        if not isinstance(value, datetime):
            raise self.fail(
                where, f"write a local date and time as 2025-11-12 18:00, not {written!r}"
            )
        if value.tzinfo is not None:
            raise self.fail(where, "write the event's local time, without a UTC offset")
        return value

    def reminders(self) -> ReminderPolicy:
        """The event's reminder policy (the defaults for what is not given)."""
        try:
            offsets = self.policy_value("reminder_offsets")
            return ReminderPolicy(
                offsets=parse_offsets(
                    offsets if isinstance(offsets, list) or offsets is None else str(offsets)
                ),
                digest=parse_digest(self.policy_text("digest_time")),
                quiet=parse_quiet(self.policy_text("quiet_hours")),
            )
        except PolicyError as exc:
            key = str(exc).partition(":")[0]
            where = self.values.get(key, (f"'{key}'", None))[0]
            raise self.fail(where, str(exc).partition(": ")[2]) from None

    def policy_value(self, key: str) -> Any:
        value = self.values.get(key, ("", None))[1]
        return None if value == "" else value

    def policy_text(self, key: str) -> str | None:
        value = self.policy_value(key)
        if isinstance(value, bool):
            return "off" if value is False else None  # YAML reads a bare "off" as false
        if isinstance(value, time):
            return f"{value:%H:%M}"
        return None if value is None else str(value)

    def label(self, where: str, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
            raise self.fail(where, "give a label (such as 'Table 1')")
        return str(value).strip()

    def build(self) -> EventSpec:
        """Convert and check everything: the :class:`EventSpec`, or an error naming the spot."""
        try:
            check_code(self.text("code") or "")
        except EventFileError as exc:
            raise EventFileError(f"{self.source}: {exc}") from None
        if not self.sessions:
            raise self.fail("sessions", "add at least one session (date, start, end)")
        sessions = tuple(
            SessionSpec(self.day(w, d), self.clock(w, s), self.clock(w, e), where=w)
            for w, d, s, e in self.sessions
        )
        places: list[PlaceSpec] = []
        for where, kind, label, url in self.places:
            if url is not None and not isinstance(url, str):
                raise self.fail(where, "the url must be text starting with https://")
            places.append(PlaceSpec(kind, self.label(where, label), url, where=where))
        names: dict[str, str] = {}
        for locale, (where, value) in self.names.items():
            if value is not None and not isinstance(value, str):
                raise self.fail(where, "write the name as text")
            if value and value.strip():
                names[locale] = value.strip()
        first_day, last_day = min(s.day for s in sessions), max(s.day for s in sessions)
        starts, ends = (self.values.get(k, ("", None)) for k in ("start_date", "end_date"))
        try:
            return EventSpec(
                code=self.text("code") or "",
                names=names,
                mode=(self.text("mode") or "").lower(),
                time_zone=self.text("time_zone") or "",
                starts_on=self.day(*starts) if starts[1] not in (None, "") else first_day,
                ends_on=self.day(*ends) if ends[1] not in (None, "") else last_day,
                registration_deadline=self.moment("registration_deadline")
                or default_registration_deadline(first_day),
                meeting_minutes=self.integer("meeting_minutes", None),
                sessions=sessions,
                places=tuple(places),
                city=self.text("city"),
                venue=self.text("venue"),
                break_minutes=self.integer("break_minutes", 0),
                max_pending_requests=self.integer("max_pending_requests", 10),
                request_ttl_hours=self.integer("request_ttl_hours", 48),
                reminders=self.reminders(),
            )
        except EventFileError as exc:
            if str(exc).startswith(self.source):
                raise
            raise EventFileError(f"{self.source}: {exc}") from None


def read_event_file(path: Path | str) -> EventSpec:
    """Read and check an event file (``.yaml``/``.yml`` or ``.csv``, see ``docs/events.md``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".csv"):
        raise EventFileError(f"{path}: unknown file type; use a .yaml, .yml or .csv file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EventFileError(f"{path}: cannot read the file ({exc})") from exc
    draft = _read_csv(str(path), text) if suffix == ".csv" else _read_yaml(str(path), text)
    return draft.build()


def _read_yaml(source: str, text: str) -> _Draft:
    try:
        document = yaml.load(text, Loader=_Loader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as exc:
        raise EventFileError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise EventFileError(f"{source}: expected 'key: value' lines (see docs/events.md)")
    draft = _Draft(source)
    for key, value in document.items():
        where = f"'{key}'"
        if key in SINGLE_FIELDS:
            draft.values[key] = (where, value)
        elif key == "name":
            if isinstance(value, str):
                value = {"en": value}
            if not isinstance(value, dict):
                raise draft.fail(where, "give the names as en:, it: and zh_Hans: lines")
            for locale, text_value in value.items():
                draft.names[_locale(str(locale))] = (f"'name.{locale}'", text_value)
        elif key == "sessions":
            for index, item in enumerate(_items(draft, where, value), start=1):
                at = f"sessions #{index}"
                if not isinstance(item, dict) or not {"date", "start", "end"} <= set(item):
                    raise draft.fail(at, "write each session as date:, start: and end:")
                draft.sessions.append((at, item["date"], item["start"], item["end"]))
        elif key in PLACE_KINDS:
            kind = PLACE_KINDS[key]
            if isinstance(value, int) and not isinstance(value, bool) and kind != "link":
                _numbered(draft, where, kind, value)
                continue
            for index, item in enumerate(_items(draft, where, value), start=1):
                at = f"{key} #{index}"
                if kind == "link" and isinstance(item, str):
                    item = {"label": f"Link {index}", "url": item}
                if isinstance(item, dict):
                    draft.places.append((at, kind, item.get("label"), item.get("url")))
                else:
                    draft.places.append((at, kind, item, None))
        else:
            known = ", ".join(("name", *SINGLE_FIELDS, "sessions", *PLACE_KINDS))
            raise draft.fail(where, f"unknown key; the keys are {known}")
    return draft


def _items(draft: _Draft, where: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise draft.fail(where, "write a list, one '- ' line per entry")
    return value


def _numbered(draft: _Draft, where: str, kind: str, count: int) -> None:
    if not 1 <= count <= 500:
        raise draft.fail(where, "give between 1 and 500, or list the labels")
    for number in range(1, count + 1):
        draft.places.append((where, kind, f"{kind.capitalize()} {number}", None))


def _read_csv(source: str, text: str) -> _Draft:
    first = next((s for s in text.splitlines() if s.strip() and not s.startswith("#")), "")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    draft = _Draft(source)
    seen_header = False
    for number, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1):
        cells = [cell.strip() for cell in row]
        while cells and not cells[-1]:
            cells.pop()
        if not cells or cells[0].startswith("#"):
            continue
        key, values, where = cells[0].lower(), cells[1:], f"row {number}"
        if not seen_header and key == "field":
            seen_header = True
            continue
        seen_header = True
        if key == "session":
            if len(values) != 3:
                raise draft.fail(where, "a session row is: session, date, start, end")
            draft.sessions.append((where, values[0], values[1], values[2]))
            continue
        if key in ("table", "room", "link"):
            if key != "link" and len(values) != 1:
                raise draft.fail(where, f"a {key} row is: {key}, label")
            if key == "link" and len(values) == 1:
                values = [f"Link {sum(p[1] == 'link' for p in draft.places) + 1}", values[0]]
            if key == "link" and len(values) != 2:
                raise draft.fail(where, "a link row is: link, label, url")
            draft.places.append((where, key, values[0], values[1] if key == "link" else None))
            continue
        if len(values) > 1:
            raise draft.fail(
                where, f"'{cells[0]}' takes one value; put text with commas in double quotes"
            )
        value = values[0] if values else None
        if key in ("tables", "rooms"):
            if not (value and value.isdigit()):
                raise draft.fail(where, f"write how many {key}, or one '{key[:-1]}' row each")
            _numbered(draft, where, PLACE_KINDS[key], int(value))
        elif key.startswith("name_") or key == "name":
            draft.names[_locale(key[5:] or "en")] = (f"{where} ({cells[0]})", value)
        elif key in SINGLE_FIELDS:
            if key in draft.values:
                raise draft.fail(where, f"'{key}' was already given in {draft.values[key][0]}")
            draft.values[key] = (f"{where} ({key})", value)
        else:
            known = ", ".join(("name_en", "name_it", "name_zh_Hans", *SINGLE_FIELDS))
            raise draft.fail(
                where, f"unknown field {cells[0]!r}; use {known}, session, table, room or link"
            )
    return draft

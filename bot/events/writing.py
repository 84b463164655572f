"""Writing an event back as a YAML file that reading (:mod:`bot.events.files`) accepts."""

from __future__ import annotations

from typing import Any

import yaml  # type: ignore[import-untyped]

from storage.event_spec import EventSpec
from storage.reminder_policy import format_offsets

PLACE_KINDS = {"tables": "table", "rooms": "room", "links": "link"}
"""The event file's key for each kind of meeting place."""


class _Quoted(str):
    """A string written in double quotes (times, so other YAML readers keep them text)."""


class _Dumper(yaml.SafeDumper):  # type: ignore[misc]
    """``SafeDumper`` that quotes :class:`_Quoted` strings and never writes ``&id`` aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


_Dumper.add_representer(
    _Quoted, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, '"')
)


def write_event_yaml(spec: EventSpec) -> str:
    """The YAML file of ``spec``; reading it back gives the same event."""
    document: dict[str, Any] = {"code": spec.code, "name": dict(spec.names), "mode": spec.mode}
    if spec.city:
        document["city"] = spec.city
    if spec.venue:
        document["venue"] = spec.venue
    document |= {
        "time_zone": spec.time_zone,
        "start_date": spec.starts_on,
        "end_date": spec.ends_on,
        "registration_deadline": _Quoted(f"{spec.registration_deadline:%Y-%m-%d %H:%M}"),
        "meeting_minutes": spec.meeting_minutes,
        "break_minutes": spec.break_minutes,
        "max_pending_requests": spec.max_pending_requests,
        "request_ttl_hours": spec.request_ttl_hours,
        "reminder_offsets": format_offsets(spec.reminders.offsets),
        "digest_time": _Quoted(f"{spec.reminders.digest:%H:%M}")
        if spec.reminders.digest
        else "off",
        "quiet_hours": _Quoted("-".join(f"{t:%H:%M}" for t in spec.reminders.quiet))
        if spec.reminders.quiet
        else "off",
        "sessions": [
            {"date": s.day, "start": _Quoted(f"{s.start:%H:%M}"), "end": _Quoted(f"{s.end:%H:%M}")}
            for s in spec.sessions
        ],
    }
    for key, kind in PLACE_KINDS.items():
        places = [p for p in spec.places if p.kind == kind]
        if places and kind == "link":
            document[key] = [{"label": p.label, "url": p.url} for p in places]
        elif places:
            document[key] = [p.label for p in places]
    body = str(
        yaml.dump(
            document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, indent=2
        )
    )
    return (
        "# Ponte event file (format: docs/events.md). Dates and times are local to time_zone.\n"
        + body
    )

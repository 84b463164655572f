"""``/export``: participants, meetings and feedback as XLSX or CSV, in the reader's language.

The same tables are written by ``ponte export`` (``bot/organiser/commands.py``), so the chat
and the command line can never disagree on what an export holds.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.context import Turn
from handlers.kernel.flow_router import FlowRouter, Outcome
from handlers.kernel.i18n import N_, Translator, event_name
from handlers.kernel.markup import fmt
from handlers.kernel.replies import Button, Document
from handlers.organiser.rights import organisers_only
from handlers.organiser.scope import EventScope, find_scope
from handlers.organiser.tables import FORMATS, MIME_TYPES, Cell, Table, to_csv, to_xlsx
from handlers.participant.countries import country_name
from handlers.participant.form import ORG_TYPES
from storage.event_models import Meeting
from storage.models import Participant
from storage.statistics import StatisticsRepository

EXPORT = "export"
BUTTON = "xport"
KINDS = ("participants", "meetings", "feedback")
USAGE = N_(
    "Use /export participants, /export meetings or /export feedback, then optionally csv or "
    "xlsx and an event code, e.g. /export participants xlsx itcn-2026."
)
MEETING_STATUSES = {
    "scheduled": N_("Scheduled"),
    "unscheduled": N_("Waiting for a free slot"),
    "cancelled": N_("Cancelled"),
}


class UnknownKind(ValueError):
    """Not one of :data:`KINDS`."""


@dataclass(frozen=True, slots=True)
class Export:
    """A finished export: what to call the file, its type and its bytes."""

    filename: str
    mime_type: str
    content: bytes
    rows: int


async def build_export(
    session: AsyncSession,
    kind: str,
    file_format: str,
    scope: EventScope,
    t: Translator,
    now: datetime,
) -> Export:
    """The ``kind`` export (of the scope's event, or of everyone) as ``file_format``."""
    if kind not in KINDS:
        raise UnknownKind(kind)
    return write_export(await build_table(session, kind, scope, t), kind, file_format, scope, now)


def write_export(
    table: Table, kind: str, file_format: str, scope: EventScope, now: datetime
) -> Export:
    """The file of a built table (no database: it may run in a thread)."""
    content = to_xlsx([table]) if file_format == "xlsx" else to_csv(table)
    suffix = f"-{scope.code}" if scope.code else ""
    filename = f"ponte-{kind}{suffix}-{now:%Y%m%d}.{file_format}"
    return Export(filename, MIME_TYPES[file_format], content, len(table.rows))


async def build_table(session: AsyncSession, kind: str, scope: EventScope, t: Translator) -> Table:
    """The table of ``kind`` in the reader's language."""
    repo = StatisticsRepository(session)
    if kind == "participants":
        return await _participants(repo, scope, t)
    if kind == "meetings":
        return await _meetings(repo, scope, t)
    return await _feedback(repo, scope, t)


def _yes_no(value: bool | None, t: Translator) -> str | None:
    if value is None:
        return None
    return t.gettext("yes") if value else t.gettext("no")


async def _participants(repo: StatisticsRepository, scope: EventScope, t: Translator) -> Table:
    people = await repo.participants(scope.event_id)
    areas = await repo.interests_of(scope.event_id)
    events = await repo.events_of(scope.event_id)
    headers = (
        "ID", t.gettext("Name"), t.gettext("Organisation"), t.gettext("Type"),
        t.gettext("Country code"), t.gettext("Country"), t.gettext("City"), t.gettext("E-mail"),
        t.gettext("Phone"), t.gettext("Website"), t.gettext("Language"), t.gettext("Time zone"),
        t.gettext("Languages for meetings"), t.gettext("Needs an interpreter"),
        t.gettext("Interest areas"), t.gettext("Events"), t.gettext("Registered (UTC)"),
        t.gettext("Profile"), t.gettext("Offers"), t.gettext("Seeks"), t.gettext("Reachable"),
    )  # fmt: skip
    rows: list[tuple[Cell, ...]] = []
    for p in people:
        area_names = [event_name(a.names, t.code) for a in areas.get(p.id, [])]
        rows.append(
            (
                p.id, p.name, p.organisation, _org_type(p, t), p.country,
                country_name(p.country, t) or None, p.city, p.email, p.phone, p.website,
                t.language_name(p.locale), p.time_zone,
                ", ".join(t.language_name(code) for code in p.languages_spoken or []) or None,
                _yes_no(p.interpreter_needed, t), "; ".join(area_names) or None,
                ", ".join(events.get(p.id, [])) or None, p.registered_at, p.profile, p.offer,
                p.seek, _yes_no(p.active, t),
            )
        )  # fmt: skip
    return Table(t.gettext("Participants"), headers, rows)


async def _meetings(repo: StatisticsRepository, scope: EventScope, t: Translator) -> Table:
    headers = (
        "ID", t.gettext("Event"), t.gettext("Status"), t.gettext("Starts (UTC)"),
        t.gettext("Place"), t.gettext("Requested by"), t.gettext("Organisation"),
        t.gettext("Country"), t.gettext("Invited"), t.gettext("Organisation"),
        t.gettext("Country"), t.gettext("Requested (UTC)"), t.gettext("Accepted (UTC)"),
        t.gettext("Took place, says the first"), t.gettext("Took place, says the second"),
        t.gettext("Held"),
    )  # fmt: skip
    rows: list[tuple[Cell, ...]] = []
    for row in await repo.meetings(scope.event_id):
        m: Meeting = row.meeting
        first, second = row.feedback.get(m.first_id), row.feedback.get(m.second_id)
        answers = [a for a in (first, second) if a is not None]
        held = any(answers) if answers else None
        rows.append(
            (
                m.id, m.event.code, t.gettext(MEETING_STATUSES.get(m.status, m.status)),
                m.slot.starts_at if m.slot else None, m.place.label if m.place else None,
                m.first.name, m.first.organisation, country_name(m.first.country, t) or None,
                m.second.name, m.second.organisation, country_name(m.second.country, t) or None,
                row.requested_at, row.accepted_at, _yes_no(first, t), _yes_no(second, t),
                _yes_no(held, t),
            )
        )  # fmt: skip
    return Table(t.gettext("Meetings"), headers, rows)


async def _feedback(repo: StatisticsRepository, scope: EventScope, t: Translator) -> Table:
    headers = (
        t.gettext("Meeting"), t.gettext("Event"), t.gettext("Participant"),
        t.gettext("Organisation"), t.gettext("Took place"), t.gettext("Answered (UTC)"),
    )  # fmt: skip
    rows: list[tuple[Cell, ...]] = []
    for answer, meeting in await repo.feedback(scope.event_id):
        person = meeting.first if answer.participant_id == meeting.first_id else meeting.second
        rows.append(
            (
                meeting.id, meeting.event.code, person.name, person.organisation,
                _yes_no(answer.took_place, t), answer.answered_at,
            )
        )  # fmt: skip
    return Table(t.gettext("Feedback"), headers, rows)


def _org_type(p: Participant, t: Translator) -> str | None:
    return t.gettext(ORG_TYPES[p.org_type]) if p.org_type in ORG_TYPES else p.org_type


# --- the chat ---------------------------------------------------------------------------


async def on_export(turn: Turn, args: str) -> Outcome:
    """``/export KIND [csv|xlsx] [CODE]``; without arguments, the choices as buttons."""
    words = args.split()
    t = turn.t
    if not words:
        rows = [
            (
                Button(t.gettext(label) + " · Excel", f"{BUTTON}|{kind}|xlsx|"),
                Button(t.gettext(label) + " · CSV", f"{BUTTON}|{kind}|csv|"),
            )
            for kind, label in (
                ("participants", N_("Participants")),
                ("meetings", N_("Meetings")),
                ("feedback", N_("Feedback")),
            )
        ]
        turn.say(t.gettext("Which list would you like?"), tuple(rows))
        return None
    kind, rest = words[0].lower(), words[1:]
    formats = [w.lower() for w in rest if w.lower() in FORMATS]
    codes = [w for w in rest if w.lower() not in FORMATS]
    if kind not in KINDS or len(formats) > 1 or len(codes) > 1:
        turn.say(
            fmt(t.gettext("I cannot export “{what}”."), what=args[:60]) + "\n" + t.gettext(USAGE)
        )
        return None
    scope = await find_scope(turn, codes[0] if codes else None)
    if scope is not None:
        await _send(turn, kind, formats[0] if formats else "xlsx", scope)
    return None


async def on_export_button(turn: Turn, value: str) -> Outcome:
    """``xport|KIND|FORMAT|EVENT_ID`` (every part re-checked; an empty id: every event)."""
    kind, _, rest = value.partition("|")
    file_format, _, event_id = rest.partition("|")
    if kind not in KINDS or file_format not in FORMATS:
        turn.say(turn.t.gettext(USAGE))
        return None
    scope = await find_scope(turn, None, event_id=event_id)
    if scope is not None:
        await _send(turn, kind, file_format, scope)
    return None


async def _send(turn: Turn, kind: str, file_format: str, scope: EventScope) -> None:
    t = turn.t
    table = await build_table(turn.session, kind, scope, t)
    now = turn.now

    async def write() -> None:
        # After the commit, in a thread: a workbook of thousands of rows takes seconds.
        export = await asyncio.to_thread(write_export, table, kind, file_format, scope, now)
        caption = t.ngettext("{count} row", "{count} rows", export.rows).format(
            count=t.number(export.rows)
        )
        turn.say(
            scope.heading(t) + "\n" + caption,
            document=Document(export.filename, export.content, export.mime_type),
        )

    turn.defer(write)


def setup() -> FlowRouter:
    """``/export`` and its buttons, for organisers only."""
    router = FlowRouter("exports")
    router.command(EXPORT, organisers_only(on_export))
    router.button(BUTTON, organisers_only(on_export_button))
    return router

"""``/agenda``: one's meetings by day, in one's own time zone."""

from __future__ import annotations

from handlers.kernel.context import Turn
from handlers.kernel.flow_router import FlowRouter
from handlers.kernel.i18n import N_, Translator
from handlers.kernel.markup import bold, escape, fmt
from handlers.kernel.replies import Button
from handlers.kernel.timefmt import day, time_range
from handlers.matchmaking.meetings import MEETING, offsets_differ
from storage.meetings import MeetingRepository
from storage.reminder_models import Attendance
from storage.reminders import ReminderRepository

ATTENDANCE_LABELS = {
    "confirmed": N_("✅ will be there"),
    "declined": N_("✖ cannot make it"),
}


async def agenda(turn: Turn) -> None:
    """``/agenda``: one's meetings by day, in one's own time zone."""
    t = turn.t
    me = turn.participant
    meetings = await MeetingRepository(turn.session).meetings_of(me.id)
    if not meetings:
        turn.say(
            t.gettext(
                "You have no meetings yet. Use /partners to find partners and request meetings."
            )
        )
        return
    answers = await ReminderRepository(turn.session).attendance(m.id for m in meetings)
    lines = [bold(t.gettext("Your agenda"))]
    rows: list[tuple[Button, ...]] = []
    current_day = None
    mine = me.time_zone or meetings[0].event.time_zone
    for meeting in meetings:
        partner = meeting.partner_of(me.id)
        if meeting.slot is not None:
            heading = day(meeting.slot.starts_at, t, mine)
            if heading != current_day:
                lines.append("\n" + bold(escape(heading)))
                current_day = heading
            slot_time = time_range(meeting.slot.starts_at, meeting.slot.ends_at, t, mine)
        else:
            if current_day != "":
                lines.append("\n" + bold(escape(t.gettext("Time to be arranged"))))
                current_day = ""
            slot_time = "…"
        place = meeting.place.url or meeting.place.label if meeting.place else ""
        line = fmt(
            t.gettext("{time} · <b>{name}</b> ({organisation})"),
            time=slot_time,
            name=partner.name or "",
            organisation=partner.organisation or "",
        )
        if place:
            line += f"\n   {escape(place)}"
        theirs = partner.time_zone or mine
        if meeting.slot is not None and offsets_differ(meeting.slot.starts_at, mine, theirs):
            line += "\n   " + fmt(
                t.gettext("{name}'s time: {time}"),
                name=partner.name or "",
                time=time_range(meeting.slot.starts_at, meeting.slot.ends_at, t, theirs),
            )
        if meeting.slot is not None:
            line += "\n   " + attendance_line(t, partner.name or "", *(
                answers.get((meeting.id, who)) for who in (me.id, partner.id)
            ))  # fmt: skip
        lines.append(line)
        label = f"{slot_time} {partner.name or ''}"[:60]
        rows.append((Button(label, f"{MEETING}|{meeting.id}|v"),))
    turn.say("\n".join(lines), tuple(rows))


def attendance_line(
    t: Translator, partner_name: str, mine: Attendance | None, theirs: Attendance | None
) -> str:
    """Who said they will come: ``You: ✅ will be there · Wang Wei: not answered yet``."""

    def state(answer: Attendance | None) -> str:
        if answer is None:
            return t.gettext("not answered yet")
        label = t.gettext(ATTENDANCE_LABELS.get(answer.status, answer.status))
        if answer.late_minutes:
            label += " " + t.ngettext(
                "(about {count} minute late)", "(about {count} minutes late)", answer.late_minutes
            ).format(count=answer.late_minutes)
        return label

    return fmt(
        t.gettext("You: {mine} · {name}: {theirs}"),
        mine=state(mine),
        name=partner_name,
        theirs=state(theirs),
    )


async def _agenda_command(turn: Turn, _args: str) -> None:
    await agenda(turn)


def setup() -> FlowRouter:
    """``/agenda`` (its buttons open a meeting: :mod:`handlers.matchmaking.meetings`)."""
    router = FlowRouter("agenda")
    router.command("agenda", _agenda_command, registered=True)
    return router

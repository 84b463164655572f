"""Meetings: confirmation with a calendar file, cancel, another time, and "did it happen?"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from handlers.kernel.context import Turn
from handlers.kernel.flow_router import STALE_BUTTON, FlowRouter
from handlers.kernel.i18n import N_, Translator, event_name
from handlers.kernel.markup import bold, escape, fmt
from handlers.kernel.notify import notify, reader, reply_to_payload
from handlers.kernel.replies import Button, Reply
from handlers.kernel.timefmt import day, time_range, zone, zone_label
from handlers.kernel.validation import parse_id
from handlers.matchmaking.ics import meeting_calendar
from storage.event_models import Meeting
from storage.matchmaking import RequestRepository
from storage.meetings import FeedbackRepository, MeetingRepository
from storage.models import Participant
from storage.outbox import OutboxRepository
from storage.reminders import ReminderRepository

MEETING = "mt"
FEEDBACK = "fb"
FEEDBACK_DELAY = timedelta(minutes=5)
OTHER_TIMES = 5
"""How many free times "Another time" offers."""

Build = Callable[[Translator, Participant], list[Reply]]


def tell(turn: Turn, person: Participant, build: Build, *, topic: str | None = None) -> None:
    """Show ``person`` what ``build`` writes, in their language: directly if they are the one
    acting, else through the outbox."""
    if person.id == turn.participant.id:
        turn.response.replies.extend(build(turn.t, person))
        return
    for reply in build(reader(person), person):
        notify(turn, person, reply, topic=topic)


def when_text(meeting: Meeting, viewer: Participant, t: Translator) -> str:
    """The meeting's day and time for ``viewer``, with the partner's time when it differs."""
    if meeting.slot is None:
        return escape(t.gettext("Time to be arranged by the organisers"))
    start, end = meeting.slot.starts_at, meeting.slot.ends_at
    mine = viewer.time_zone or meeting.event.time_zone
    # The punctuation is in the messages: Chinese uses full-width brackets and no comma.
    text = fmt(
        t.gettext("{day}, {time} ({zone})"),
        day=day(start, t, mine),
        time=time_range(start, end, t, mine),
        zone=zone_label(mine, t),
    )
    partner = meeting.partner_of(viewer.id)
    theirs = partner.time_zone or meeting.event.time_zone
    if offsets_differ(start, mine, theirs):
        text += "\n" + fmt(
            t.gettext("For {name}: {day}, {time} ({zone})"),
            name=partner.name or "",
            day=day(start, t, theirs),
            time=time_range(start, end, t, theirs),
            zone=zone_label(theirs, t),
        )
    return text


def offsets_differ(moment: datetime, first: str, second: str) -> bool:
    """Whether two zones show different clock times at ``moment``."""
    return moment.astimezone(zone(first)).utcoffset() != moment.astimezone(zone(second)).utcoffset()


def meeting_text(meeting: Meeting, viewer: Participant, t: Translator, headline: str) -> str:
    """Everything about the meeting for ``viewer``, contact details included (it is accepted)."""
    return "\n".join([bold(escape(headline)), *meeting_details(meeting, viewer, t)])


def meeting_details(meeting: Meeting, viewer: Participant, t: Translator) -> list[str]:
    """The lines under a meeting's headline: partner, time, place, contact details."""
    partner = meeting.partner_of(viewer.id)
    lines = [bold(escape(partner.name or "")) + " · " + escape(partner.organisation or "")]
    lines.append(when_text(meeting, viewer, t))
    if meeting.place is not None:
        if meeting.place.url:
            lines.append(fmt(t.gettext("Online: {link}"), link=meeting.place.url))
        elif meeting.event.venue:
            lines.append(
                fmt(
                    t.gettext("Where: {place}, {venue}"),
                    place=meeting.place.label,
                    venue=meeting.event.venue,
                )
            )
        else:
            lines.append(fmt(t.gettext("Where: {place}"), place=meeting.place.label))
    contacts = [c for c in (partner.email, partner.phone, partner.website) if c]
    if contacts:
        lines.append(fmt(t.gettext("Contact: {contacts}"), contacts=" · ".join(contacts)))
    return lines


def meeting_buttons(meeting: Meeting, t: Translator) -> tuple[tuple[Button, ...], ...]:
    """Cancel, another time, and a calendar file once the meeting has a time."""
    calendar = Button(t.gettext("📅 Calendar file"), f"{MEETING}|{meeting.id}|i")
    another = Button(t.gettext("↻ Another time"), f"{MEETING}|{meeting.id}|r")
    return (
        (calendar, another) if meeting.slot_id is not None else (another,),
        (Button(t.gettext("✖ Cancel meeting"), f"{MEETING}|{meeting.id}|x"),),
    )


def confirmation(turn: Turn, meeting: Meeting, headline: str) -> Build:
    """The message and calendar file that tell one side about a (re)scheduled meeting."""

    def build(t: Translator, person: Participant) -> list[Reply]:
        text = meeting_text(meeting, person, t, t.gettext(headline))
        calendar = meeting_calendar(meeting, person, t, turn.now)
        return [
            Reply(text, meeting_buttons(meeting, t)),
            Reply(escape(t.gettext("Add it to your calendar:")), document=calendar),
        ]

    return build


async def announce_scheduled(turn: Turn, meeting: Meeting, headline: str) -> None:
    """Tell both sides, plan the reminders and the "did it take place?" question."""
    for person in (meeting.first, meeting.second):
        tell(turn, person, confirmation(turn, meeting, headline))
    await _plan_feedback(turn, meeting)
    await follow_with_reminders(turn, meeting)


async def follow_with_reminders(turn: Turn, meeting: Meeting) -> None:
    """Move or drop the meeting's reminders at once, in the turn that changed it."""
    await ReminderRepository(turn.session).plan_meeting(meeting, turn.now)
    turn.schedule_changed = True


async def _plan_feedback(turn: Turn, meeting: Meeting) -> None:
    outbox = OutboxRepository(turn.session)
    topic = f"feedback:{meeting.id}"
    await outbox.withdraw(topic)
    if meeting.slot is None:
        return
    for person in (meeting.first, meeting.second):
        t = reader(person)
        partner = meeting.partner_of(person.id)
        question = Reply(
            fmt(t.gettext("Did your meeting with {name} take place?"), name=partner.name or "")
            + "\n"
            + when_text(meeting, person, t),
            (
                (
                    Button(t.gettext("Yes"), f"{FEEDBACK}|{meeting.id}|y"),
                    Button(t.gettext("No"), f"{FEEDBACK}|{meeting.id}|n"),
                ),
            ),
        )
        due = meeting.slot.ends_at + FEEDBACK_DELAY
        queued = outbox.queue(
            person, reply_to_payload(question), turn.now, topic=topic, not_before=due
        )
        turn.outbox_written = turn.outbox_written or queued


async def on_meeting_button(turn: Turn, value: str) -> None:
    """``mt|<id>|<action>``: ``v`` details, ``i`` calendar file, ``x`` cancel (asks first),
    ``xy`` cancel confirmed, ``k`` keep it, ``r`` other times, ``s<slot id>`` move there.

    The payload is untrusted: the meeting must exist, involve the presser and be open.
    """
    t = turn.t
    meeting_id, _, action = value.partition("|")
    repo = MeetingRepository(turn.session)
    number = parse_id(meeting_id)
    meeting = await repo.meeting(number, lock=True) if number is not None else None
    slot_id = parse_id(action[1:]) if action.startswith("s") else None
    if (
        meeting is None
        or not meeting.involves(turn.participant.id)
        or (action not in {"v", "i", "r", "x", "xy", "k"} and slot_id is None)
    ):
        turn.say(t.gettext(STALE_BUTTON))
        return
    if meeting.status == "cancelled":
        turn.say(t.gettext("This meeting was cancelled."))
        return
    partner = meeting.partner_of(turn.participant.id).name or ""
    if action == "v":
        headline = t.gettext("Meeting")
        turn.say(meeting_text(meeting, turn.participant, t, headline), meeting_buttons(meeting, t))
    elif action == "i" and meeting.slot is None:
        turn.say(escape(t.gettext("Time to be arranged by the organisers")))  # no time: no file
    elif action == "i":
        turn.say(
            escape(t.gettext("Add it to your calendar:")),
            document=meeting_calendar(meeting, turn.participant, t, turn.now),
        )
    elif action == "x":
        ask_to_cancel(turn, meeting)
    elif action == "xy":
        await cancel(turn, meeting, repo)
    elif action == "k":
        turn.say(
            fmt(t.gettext("Your meeting with {name} stays as it is."), name=partner), edit=True
        )
    elif action == "r":
        await offer_times(turn, meeting, repo)
    elif slot_id is not None:
        await move_to(turn, meeting, repo, slot_id)


def ask_to_cancel(turn: Turn, meeting: Meeting) -> None:
    """Cancelling cannot be undone (the slot goes to others): ask first."""
    t = turn.t
    partner = meeting.partner_of(turn.participant.id)
    turn.say(
        bold(fmt(t.gettext("Cancel your meeting with {name}?"), name=partner.name or ""))
        + "\n"
        + when_text(meeting, turn.participant, t)
        + "\n"
        + fmt(
            t.gettext("{name} will be told, and the time will be free for other meetings."),
            name=partner.name or "",
        ),
        (
            (Button(t.gettext("✖ Yes, cancel it"), f"{MEETING}|{meeting.id}|xy"),),
            (Button(t.gettext("No, keep the meeting"), f"{MEETING}|{meeting.id}|k"),),
        ),
    )


async def cancel(turn: Turn, meeting: Meeting, repo: MeetingRepository) -> None:
    """Cancel and tell both sides, each with a cancellation for their calendar."""
    await repo.cancel(meeting, turn.now)
    await OutboxRepository(turn.session).withdraw(f"feedback:{meeting.id}")
    await follow_with_reminders(turn, meeting)
    canceller = turn.participant

    def build(t: Translator, person: Participant) -> list[Reply]:
        partner = meeting.partner_of(person.id)
        if person.id == canceller.id:
            text = fmt(t.gettext("Your meeting with {name} is cancelled."), name=partner.name or "")
        else:
            text = fmt(t.gettext("{name} cancelled your meeting."), name=partner.name or "")
        return [
            Reply(
                text + "\n" + when_text(meeting, person, t),
                document=meeting_calendar(meeting, person, t, turn.now),
            )
        ]

    for person in (meeting.first, meeting.second):
        tell(turn, person, build)


async def cancel_for_partner(
    turn: Turn, meeting: Meeting, message: str = N_("{name} cancelled your meeting.")
) -> None:
    """Cancel a meeting because the user leaves (an event, or Ponte): only the partner is
    told, in their language, with ``message`` (``{name}`` is the user, ``{event}`` the
    event) and a cancellation for their calendar."""
    partner = meeting.partner_of(turn.participant.id)
    await MeetingRepository(turn.session).cancel(meeting, turn.now)
    await OutboxRepository(turn.session).withdraw(f"feedback:{meeting.id}")
    await follow_with_reminders(turn, meeting)
    t = reader(partner)
    event = event_name(meeting.event.names, t.code)
    text = fmt(t.gettext(message), name=turn.participant.name or "", event=event)
    calendar = meeting_calendar(meeting, partner, t, turn.now)
    notify(turn, partner, Reply(text + "\n" + when_text(meeting, partner, t), document=calendar))


async def cancel_everything_of(turn: Turn) -> None:
    """Before erasure: cancel the user's meetings still to come (partners told) and withdraw
    requests. A meeting already over is not cancelled: it took place or it did not, and a
    partner told of a cancellation after the fact (a year on, when the retention period
    ends) would only be puzzled. It goes with the person's other data."""
    me = turn.participant.id
    for meeting in await MeetingRepository(turn.session).meetings_of(me):
        if _still_to_come(meeting, turn.now):
            await cancel_for_partner(turn, meeting)
    await RequestRepository(turn.session).withdraw_pending_requests(me, turn.now)


def _still_to_come(meeting: Meeting, now: datetime) -> bool:
    """Whether the meeting has not ended: its slot's end, or (not scheduled yet) the end of
    its event's last day, a day late so that every time zone has seen it."""
    if meeting.slot is not None:
        return meeting.slot.ends_at > now
    return meeting.event.ends_on >= now.date() - timedelta(days=1)


async def offer_times(
    turn: Turn, meeting: Meeting, repo: MeetingRepository, *, before: str = ""
) -> None:
    """The next few times when both sides and a table or link are free, as buttons."""
    t = turn.t
    me = turn.participant
    partner = meeting.partner_of(me.id)
    slots = await repo.free_times(meeting, turn.now, OTHER_TIMES)
    lead = before + "\n\n" if before else ""
    if not slots:
        turn.say(
            lead
            + t.gettext(
                "There is no other time when you are both free; the meeting stays as it is."
            )
        )
        return
    mine = me.time_zone or meeting.event.time_zone
    rows = tuple(
        (
            Button(
                f"{day(slot.starts_at, t, mine)} · {time_range(slot.starts_at, slot.ends_at, t, mine)}",
                f"{MEETING}|{meeting.id}|s{slot.id}",
            ),
        )
        for slot in slots
    )
    keep = Button(t.gettext("Keep the current time"), f"{MEETING}|{meeting.id}|k")
    text = fmt(
        t.gettext(
            "Choose another time for your meeting with {name}. You are both free at these times ({zone}):"
        ),
        name=partner.name or "",
        zone=zone_label(mine, t),
    )
    if meeting.slot_id is None:
        turn.say(lead + bold(text), rows)
        return
    now = escape(t.gettext("Currently:")) + "\n" + when_text(meeting, me, t)
    turn.say(lead + bold(text) + "\n\n" + now, (*rows, (keep,)))


async def move_to(turn: Turn, meeting: Meeting, repo: MeetingRepository, slot_id: int) -> None:
    """Move the meeting to the chosen slot if it is still free for both; both are told and
    get an updated calendar file. If it was taken meanwhile, the times free now are offered."""
    had_time = meeting.slot_id is not None
    slot = await repo.slot(slot_id)
    if slot is None or slot.event_id != meeting.event_id:
        turn.say(turn.t.gettext(STALE_BUTTON))
        return
    if slot.id == meeting.slot_id:
        partner = meeting.partner_of(turn.participant.id).name or ""
        turn.say(fmt(turn.t.gettext("Your meeting with {name} stays as it is."), name=partner))
        return
    if not await repo.move(meeting, slot, turn.now):
        await offer_times(
            turn, meeting, repo, before=turn.t.gettext("That time is no longer free.")
        )
        return
    headline = N_("Meeting moved to a new time") if had_time else N_("Meeting confirmed")
    await announce_scheduled(turn, meeting, headline)


async def on_feedback_button(turn: Turn, value: str) -> None:
    """``fb|<id>|y`` or ``|n``: store whether the meeting took place."""
    t = turn.t
    meeting_id, _, answer = value.partition("|")
    repo = MeetingRepository(turn.session)
    number = parse_id(meeting_id)
    meeting = await repo.meeting(number) if number is not None else None
    if (
        meeting is None
        or not meeting.involves(turn.participant.id)
        or answer not in {"y", "n"}
        or meeting.status != "scheduled"
        or meeting.slot is None
        or meeting.slot.ends_at > turn.now
    ):
        turn.say(t.gettext(STALE_BUTTON))
        return
    await FeedbackRepository(turn.session).record_feedback(
        meeting, turn.participant.id, answer == "y", turn.now
    )
    turn.say(
        t.gettext("Thank you! The organisers will use this to plan better meetings."), edit=True
    )


def setup() -> FlowRouter:
    """The buttons on meeting messages and on "did it take place?" questions."""
    router = FlowRouter("meetings")
    router.button(MEETING, on_meeting_button, registered=True)
    router.button(FEEDBACK, on_feedback_button, registered=True)
    return router

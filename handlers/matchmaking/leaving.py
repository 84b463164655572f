"""Leaving an event: its meetings are cancelled and its requests withdrawn, everyone told.

``/events`` shows a "Leave" button per event; leaving asks first, saying what will be
cancelled. Partners hear of it in their own language through the outbox, with a calendar
cancellation for each meeting.
"""

from __future__ import annotations

from handlers.kernel.context import Turn
from handlers.kernel.flow_router import STALE_BUTTON, FlowRouter
from handlers.kernel.i18n import N_, event_name
from handlers.kernel.markup import bold, escape, fmt
from handlers.kernel.notify import notify, reader
from handlers.kernel.replies import Button, Reply
from handlers.kernel.validation import parse_id
from handlers.matchmaking.events import LEAVE
from handlers.matchmaking.lapsing import request_topic
from handlers.matchmaking.meetings import cancel_for_partner
from storage.event_models import Event
from storage.matchmaking import EventRepository, RequestRepository
from storage.meetings import MeetingRepository


async def on_leave_button(turn: Turn, value: str) -> None:
    """``evl|<event id>`` asks; ``|y`` leaves; ``|n`` stays (the id is untrusted)."""
    t = turn.t
    event_text, _, answer = value.partition("|")
    event_id = parse_id(event_text)
    events = EventRepository(turn.session)
    event = await events.event(event_id) if event_id is not None else None
    if event is None or answer not in {"", "y", "n"}:
        turn.say(t.gettext(STALE_BUTTON))
        return
    name = event_name(event.names, t.code)
    if not await events.is_registered(turn.participant.id, event.id):
        turn.say(
            fmt(t.gettext("You are not registered for {event}."), event=name), edit=bool(answer)
        )
    elif answer == "":
        await ask_to_leave(turn, event)
    elif answer == "n":
        turn.say(
            fmt(t.gettext("Your registration for {event} stays as it is."), event=name), edit=True
        )
    else:
        await leave(turn, event)


async def ask_to_leave(turn: Turn, event: Event) -> None:
    """Say what leaving will cancel, and ask."""
    t = turn.t
    me = turn.participant.id
    meetings = len(await MeetingRepository(turn.session).meetings_of(me, event.id))
    requests = len(await RequestRepository(turn.session).pending_at_event(me, event.id))
    lines = [bold(fmt(t.gettext("Leave {event}?"), event=event_name(event.names, t.code)))]
    if meetings:
        lines.append(
            fmt(
                t.ngettext(
                    "{count} meeting there will be cancelled.",
                    "{count} meetings there will be cancelled.",
                    meetings,
                ),
                count=meetings,
            )
        )
    if requests:
        lines.append(
            fmt(
                t.ngettext(
                    "{count} request waiting for an answer there will be withdrawn.",
                    "{count} requests waiting for an answer there will be withdrawn.",
                    requests,
                ),
                count=requests,
            )
        )
    if meetings or requests:
        lines.append(escape(t.gettext("The people concerned will be told.")))
    lines.append(escape(t.gettext("You can join again later with the event's link.")))
    turn.say(
        "\n".join(lines),
        (
            (Button(t.gettext("Yes, leave the event"), f"{LEAVE}|{event.id}|y"),),
            (Button(t.gettext("No, stay"), f"{LEAVE}|{event.id}|n"),),
        ),
    )


async def leave(turn: Turn, event: Event) -> None:
    """Cancel the user's meetings at the event, withdraw their requests there (the other
    sides told), then take them out of it."""
    me = turn.participant
    for meeting in await MeetingRepository(turn.session).meetings_of(me.id, event.id):
        await cancel_for_partner(
            turn, meeting, N_("{name} has left {event}, so your meeting is cancelled.")
        )
    requests = RequestRepository(turn.session)
    for request in await requests.pending_at_event(me.id, event.id):
        requests.withdraw(request, turn.now)
        other = request.invitee if request.requester_id == me.id else request.requester
        rt = reader(other)
        notice = fmt(
            rt.gettext("{name} has left {event}: the meeting request between you is withdrawn."),
            name=me.name or "",
            event=event_name(event.names, rt.code),
        )
        notify(turn, other, Reply(notice), topic=request_topic(request))
    await EventRepository(turn.session).leave(me.id, event.id)
    turn.profiles_changed = True  # partner lists must forget the user at once
    t = turn.t
    turn.say(
        fmt(t.gettext("You have left {event}."), event=event_name(event.names, t.code)),
        edit=True,
    )


def setup() -> FlowRouter:
    """The "Leave" buttons that ``/events`` shows."""
    router = FlowRouter("leaving")
    router.button(LEAVE, on_leave_button, registered=True)
    return router

"""Joining events by link (``/start <code>``) and ``/events``."""

from __future__ import annotations

from handlers.kernel.context import START_PAYLOAD, Turn
from handlers.kernel.flow_router import FlowRouter
from handlers.kernel.i18n import N_, Translator, event_name, place
from handlers.kernel.markup import bold, escape, fmt
from handlers.kernel.replies import Button
from handlers.kernel.timefmt import date_range, when
from storage.event_models import Event
from storage.matchmaking import EventRepository

LEAVE = "evl"
"""``evl|<event id>`` asks whether to leave the event (:mod:`handlers.matchmaking.leaving`)."""
MODES = {"in_person": N_("In person"), "online": N_("Online"), "hybrid": N_("In person and online")}


def event_summary(event: Event, t: Translator) -> str:
    """Name, dates, mode and place of an event, as markup."""
    lines = [bold(escape(event_name(event.names, t.code)))]
    lines.append(escape(date_range(event.starts_on, event.ends_on, t)))
    where = t.gettext(MODES.get(event.mode, MODES["online"]))
    if event.mode != "online" and event.city:
        where = f"{where} · " + (place(t, event.city, event.venue) if event.venue else event.city)
    lines.append(escape(where))
    return "\n".join(lines)


async def join_pending_event(turn: Turn) -> None:
    """After ``/start <code>`` (or registration that followed it): join the event.

    A newcomer is told at once whether the code names an event they can join; a good code
    is kept until registration is complete, a bad one is forgotten.
    """
    if not turn.registered:
        await _check_pending_event(turn)
        return
    data = dict(turn.state.data)  # a new dict: the JSON column is saved only when replaced
    code = data.pop(START_PAYLOAD, None)
    turn.state.data = data
    if code:
        await join_by_code(turn, str(code))


async def _check_pending_event(turn: Turn) -> None:
    code = turn.state.data.get(START_PAYLOAD)
    if not code:
        return
    t = turn.t
    event = await EventRepository(turn.session).event_by_code(str(code))
    if event is not None and turn.now < event.registration_deadline:
        turn.say(
            event_summary(event, t)
            + "\n\n"
            + t.gettext("You will join this event as soon as your registration is complete.")
        )
        return
    turn.state.data = {k: v for k, v in turn.state.data.items() if k != START_PAYLOAD}
    if event is None:
        turn.say(_no_such_event(t, str(code)))
    else:
        turn.say(_closed(event, turn))


def _no_such_event(t: Translator, code: str) -> str:
    return fmt(
        t.gettext("There is no event with the code “{code}”. Please check the link."), code=code
    )


def _closed(event: Event, turn: Turn) -> str:
    t = turn.t
    return (
        event_summary(event, t)
        + "\n\n"
        + fmt(
            t.gettext("Registration for this event closed on {date}."),
            date=when(event.registration_deadline, t, turn.participant.time_zone),
        )
    )


async def join_by_code(turn: Turn, code: str) -> None:
    """Register the (registered) participant into the event with ``code``."""
    t = turn.t
    repo = EventRepository(turn.session)
    event = await repo.event_by_code(code)
    if event is None:
        turn.say(_no_such_event(t, code))
        return
    if turn.now >= event.registration_deadline:
        turn.say(_closed(event, turn))
        return
    joined = await repo.join(turn.participant, event, turn.now)
    turn.profiles_changed = turn.profiles_changed or joined
    status = (
        t.gettext("You are now registered for this event.")
        if joined
        else t.gettext("You are already registered for this event.")
    )
    turn.say(
        event_summary(event, t)
        + "\n\n"
        + status
        + "\n"
        + t.gettext("Use /partners to see suggested partners and /agenda for your meetings.")
    )


async def list_my_events(turn: Turn) -> None:
    """``/events``: the events the participant joined."""
    t = turn.t
    events = await EventRepository(turn.session).events_of(turn.participant)
    if not events:
        turn.say(
            t.gettext(
                "You have not joined any event yet. Organisers share a link or QR code for "
                "each event: open it to join."
            )
        )
        return
    leave = t.gettext("Leave: {event}")
    rows = tuple(
        (Button(leave.format(event=event_name(event.names, t.code))[:60], f"{LEAVE}|{event.id}"),)
        for event in events
    )
    turn.say("\n\n".join(event_summary(event, t) for event in events), rows)


async def _events_command(turn: Turn, _args: str) -> None:
    await list_my_events(turn)


def setup() -> FlowRouter:
    """``/events`` and joining the event a deep link names."""
    router = FlowRouter("events")
    router.command("events", _events_command, registered=True)
    router.on_start_payload(join_pending_event)
    return router

"""Erasing a participant's matchmaking traces: their meetings, requests and notices."""

from __future__ import annotations

from handlers.kernel.context import Turn
from handlers.kernel.flow_router import FlowRouter
from handlers.kernel.notify import payload_to_reply
from handlers.matchmaking.lapsing import request_topic
from handlers.matchmaking.meetings import FEEDBACK, MEETING, cancel_everything_of
from handlers.matchmaking.requests import ANSWER
from storage.repositories import PersonalData


async def forget_participant(turn: Turn) -> None:
    """Before erasure: drop notices that carry the person's data, then cancel their meetings
    and withdraw their requests (partners are told)."""
    await forget_in_outbox(turn)
    await cancel_everything_of(turn)


async def forget_in_outbox(turn: Turn) -> None:
    """Delete messages for other people, sent or not, that carry the erased person's data.

    Messages addressed to the person go with them (foreign-key cascade). An outbox row names
    only its recipient, so a message is recognised by what it refers to: a button or calendar
    file of one of the person's requests or meetings, or the topic of a plain notice about
    one of their requests (a decline, a lapse, "no time left"). Never by the name in a text:
    another person with the same or a shorter name would lose their notices. Unsent
    cancellations are kept: they take the meeting out of the partner's calendar.
    """
    me = turn.participant
    stored = PersonalData(turn.session)
    requests = await stored.requests(me.id)
    meetings = await stored.meetings(me.id)
    buttons = tuple(
        [f"{ANSWER}|{request.id}|" for request in requests]
        + [f"{kind}|{meeting.id}|" for meeting in meetings for kind in (MEETING, FEEDBACK)]
    )
    calendars = [f"UID:{meeting.uid}".encode() for meeting in meetings]
    partners = {r.requester_id for r in requests} | {r.invitee_id for r in requests}
    partners.discard(me.id)
    topics = {request_topic(request) for request in requests}
    doomed = []
    for row in await stored.outbox_of(partners):
        reply = payload_to_reply(row.payload)
        calendar = reply.document.content if reply.document else b""
        if row.sent_at is None and b"METHOD:CANCEL" in calendar:
            continue
        if (
            row.topic in topics
            or any(button.payload.startswith(buttons) for button in reply.all_buttons())
            or any(uid in calendar for uid in calendars)
        ):
            doomed.append(row.id)
    await stored.delete_outbox(doomed)


def setup() -> FlowRouter:
    """The matchmaking part of ``/deleteme``."""
    router = FlowRouter("erasure")
    router.before_erase(forget_participant)
    return router

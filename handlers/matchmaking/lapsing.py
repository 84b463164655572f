"""Requests not answered in time lapse; each side is told once, through the outbox.

Also the outbox topic of plain notices about a request, which erasure uses to find them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.i18n import N_
from handlers.kernel.markup import fmt
from handlers.kernel.notify import reader, reply_to_payload
from handlers.kernel.replies import Reply
from storage.event_models import MeetingRequest
from storage.matchmaking import RequestRepository
from storage.models import Participant
from storage.outbox import OutboxRepository


async def expire_due(session: AsyncSession, now: datetime) -> int:
    """Let unanswered requests lapse and tell both sides; returns how many lapsed."""
    repo = RequestRepository(session)
    lapsed = await repo.expired_requests(now)
    for request in lapsed:
        lapse(session, request, now)
    return len(lapsed)


def lapse(
    session: AsyncSession,
    request: MeetingRequest,
    now: datetime,
    *,
    present: Participant | None = None,
) -> bool:
    """Mark the request lapsed and tell each side once: ``present`` (the one pressing a
    button on it, if any) is answered directly by the caller, so nothing is queued for them.
    Returns whether anything was queued."""
    request.status = "expired"
    outbox = OutboxRepository(session)
    queued = False
    for person, other, message in (
        (
            request.requester,
            request.invitee,
            N_("Your meeting request to {name} lapsed: it was not answered in time."),
        ),
        (
            request.invitee,
            request.requester,
            N_("The meeting request from {name} lapsed: it was not answered in time."),
        ),
    ):
        if present is not None and person.id == present.id:
            continue
        t = reader(person)
        reply = Reply(fmt(t.gettext(message), name=other.name or ""))
        queued = (
            outbox.queue(person, reply_to_payload(reply), now, topic=request_topic(request))
            or queued
        )
    return queued


def request_topic(request: MeetingRequest) -> str:
    """The outbox topic of plain notices about ``request``: how erasure finds them."""
    return f"request:{request.id}"

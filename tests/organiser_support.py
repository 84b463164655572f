"""A seeded event for the organiser tools' tests: people, requests, meetings and feedback."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert, select

from bot.app import App
from handlers.core import Core
from storage.event_models import Meeting, MeetingFeedback, MeetingRequest
from storage.models import Participant
from tests.events_support import NOW, Clock, Someone, add_people, make_event, slot_and_place

CODE = "itcn-2026"
ORGANISER = "1001"
"""The organiser's user id (named in the core's configured organisers)."""

DANGEROUS = {
    "name": '=HYPERLINK("http://evil.example","click")',
    "organisation": "+SUM(A1:A9)",
    "city": "@SUM(1+1)",
    "profile": "-2+3",
    "offer": "\tleading tab",
    "seek": "@@mention",
}
"""Values a spreadsheet would run as formulas, given to John (who typed them, say)."""


@dataclass
class Seeded:
    """What the seeded database holds, by user name."""

    event_id: int
    ids: dict[str, int]


async def seed(app: App) -> Seeded:
    """Five people at the event (two Italian, two Chinese, one Irish), one outside it; four
    requests (two accepted); two meetings, one held and one missed by the feedback."""
    event_id = await make_event(app.sessions, code=CODE)
    ids = await add_people(
        app.sessions,
        event_id,
        [
            Someone("anna", "Anna D'Amico", "IT", "it", ("energy",)),
            Someone("marco", "Marco Rossi", "IT", "it", ("energy", "artificial_intelligence")),
            Someone("wang", "王小明", "CN", "zh_Hans", ("energy",)),
            Someone("li", "李华", "CN", "zh_Hans", ("artificial_intelligence",)),
            Someone("john", "John", "IE", "en", ("health_biomedicine",)),
        ],
    )
    ids |= await add_people(app.sessions, None, [Someone("out", "Outsider", "FR", "en")])
    async with app.sessions() as session, session.begin():
        for key, value in DANGEROUS.items():
            john = await session.get(Participant, ids["john"])
            assert john is not None
            setattr(john, key, value)
        anna = await session.get(Participant, ids["anna"])
        assert anna is not None
        anna.city = "Città di Castello"
        wang = await session.get(Participant, ids["wang"])
        assert wang is not None
        wang.city, wang.organisation = "北京", "北京智能科技有限公司"

        def request(a: str, b: str, status: str) -> MeetingRequest:
            return MeetingRequest(
                event_id=event_id, requester_id=ids[a], invitee_id=ids[b], status=status,
                created_at=NOW - timedelta(hours=5), expires_at=NOW + timedelta(hours=43),
                answered_at=None if status == "pending" else NOW - timedelta(hours=4),
            )  # fmt: skip

        held, missed = request("anna", "wang", "accepted"), request("marco", "li", "accepted")
        session.add_all([held, missed, request("john", "anna", "declined")])
        session.add(request("wang", "marco", "pending"))
        await session.flush()
        _event, slot, place = await slot_and_place(session, CODE, 0)
        first = Meeting(
            request_id=held.id, event_id=event_id, first_id=ids["anna"], second_id=ids["wang"],
            slot_id=slot.id, place_id=place.id, status="scheduled", created_at=NOW, updated_at=NOW,
        )  # fmt: skip
        second = Meeting(
            request_id=missed.id, event_id=event_id, first_id=ids["marco"], second_id=ids["li"],
            status="unscheduled", created_at=NOW, updated_at=NOW,
        )  # fmt: skip
        session.add_all([first, second])
        await session.flush()
        session.add_all(
            [
                MeetingFeedback(meeting_id=first.id, participant_id=ids["anna"], took_place=True, answered_at=NOW),
                MeetingFeedback(meeting_id=first.id, participant_id=ids["wang"], took_place=True, answered_at=NOW),
                MeetingFeedback(meeting_id=second.id, participant_id=ids["marco"], took_place=False, answered_at=NOW),
            ]
        )  # fmt: skip
    return Seeded(event_id, ids)


async def organiser_core(app: App, clock: Clock, *organisers: str) -> Core:
    """A core on the test channel whose configured organisers are ``organisers``."""
    core = Core(
        app.sessions, clock=clock, organisers=frozenset(("test", user) for user in organisers)
    )
    await core.load_taxonomy()
    return core


async def participants_in_db(app: App, event_id: int) -> list[Participant]:
    """The registered participants of the event, by id."""
    from storage.event_models import EventRegistration

    async with app.sessions() as session:
        rows = await session.scalars(
            select(Participant)
            .join(EventRegistration, EventRegistration.participant_id == Participant.id)
            .where(EventRegistration.event_id == event_id)
            .order_by(Participant.id)
        )
        return list(rows)


async def many_registered(app: App, count: int) -> None:
    """``count`` registered Italian participants, inserted in one statement (fast)."""
    rows = [
        dict(
            channel="test",
            external_id=f"bulk{i}",
            chat_id=f"bulk{i}",
            locale="it",
            name=f"Persona {i}",
            country="IT",
            org_type="sme",
            registered_at=NOW,
            created_at=NOW,
            updated_at=NOW,
        )
        for i in range(count)
    ]
    async with app.sessions() as session, session.begin():
        await session.execute(insert(Participant), rows)

"""The person's data beyond the profile: /mydata exports it, /deleteme leaves none behind."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update

from bot.app import App
from handlers.core import Core
from handlers.kernel.notify import payload_to_reply
from handlers.kernel.replies import Reply
from storage.event_models import EventRegistration, Meeting, MeetingRequest, OutboxMessage
from storage.models import Participant
from tests.chat import Chat
from tests.events_support import Clock, Someone, add_people, core_with_clock, make_event

PEOPLE = [
    Someone("maria", "Maria Rossi", "IT", "it", ("energy",), "Sodium batteries", "Manufacturers"),
    Someone("wang", "Wang Wei", "CN", "zh_Hans", ("energy",), "Manufacturing", "Batteries"),
    Someone("li", "Li Na", "CN", "en", ("energy",), "Industrial design", "Batteries"),
    Someone("luca", "Luca Bianchi", "IT", "en", ("energy",), "Materials testing", "Startups"),
    Someone("zhao", "Zhao Lei", "CN", "en", ("energy",), "Power electronics", "Batteries"),
]  # fmt: skip
FIRST_SLOT = datetime(2026, 12, 15, 8, 0, tzinfo=UTC)


async def world(app: App, clock: Clock) -> tuple[int, dict[str, int], dict[str, Chat]]:
    event = await make_event(app.sessions, first_slot=FIRST_SLOT)
    ids = await add_people(app.sessions, event, PEOPLE)
    core = await core_with_clock(app.sessions, clock)
    return event, ids, {p.user: chat_on(core, p) for p in PEOPLE}


def chat_on(core: Core, person: Someone) -> Chat:
    return Chat(core, user=person.user, lang=person.locale, channel="test")


async def ask(chats: dict[str, Chat], ids: dict[str, int], event: int, a: str, b: str,
              note: str | None = None) -> int:  # fmt: skip
    """``a`` asks ``b`` for a meeting; returns the request's id."""
    await chats[a].press_payload(f"rqn|{ids[b]}|{event}")
    if note is None:
        await chats[a].press("note|send")
    else:
        await chats[a].say(note)
    return await request_id(chats[a], ids[a], ids[b])


async def request_id(chat: Chat, requester: int, invitee: int) -> int:
    async with chat.core.sessions() as session:
        found = await session.scalar(
            select(MeetingRequest.id).where(
                MeetingRequest.requester_id == requester, MeetingRequest.invitee_id == invitee
            )
        )
    assert found is not None
    return int(found)


async def outbox(app: App, participant_id: int | None = None) -> list[tuple[OutboxMessage, Reply]]:
    """Every outbox row (of one recipient), sent or not, with the reply it holds."""
    async with app.sessions() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if participant_id is not None:
            query = query.where(OutboxMessage.participant_id == participant_id)
        rows = (await session.scalars(query)).all()
    return [(row, payload_to_reply(row.payload)) for row in rows]


def everything_in(replies: list[tuple[OutboxMessage, Reply]]) -> str:
    parts = []
    for _row, reply in replies:
        parts.append(reply.text)
        parts += [b.label for b in reply.all_buttons()]
        if reply.document is not None:
            parts.append(reply.document.content.decode("utf-8"))
    return "\n".join(parts)


async def exported(chat: Chat) -> dict[str, Any]:
    await chat.say("/mydata")
    (document,) = [reply.document for reply in chat.last.replies if reply.document]
    data: dict[str, Any] = json.loads(document.content)
    return data


async def test_mydata_holds_events_requests_meetings_and_feedback(app: App, clock: Clock) -> None:
    event, ids, chats = await world(app, clock)
    sent = await ask(chats, ids, event, "maria", "wang", "Parliamo di batterie al sodio.")
    await chats["wang"].press_payload(f"rq|{sent}|a")
    await ask(chats, ids, event, "li", "maria", "Li's words for Maria only.")
    async with app.sessions() as session:
        meeting = await session.scalar(select(Meeting).where(Meeting.request_id == sent))
    assert meeting is not None and meeting.slot_id is not None
    clock.advance(days=15)  # after the meeting's slot
    await chats["maria"].press_payload(f"fb|{meeting.id}|y")

    data = await exported(chats["maria"])
    raw = json.dumps(data, ensure_ascii=False)

    (joined,) = data["events"]
    assert joined["code"] == "itcn-2026" and joined["name"] == "Giornata di matchmaking Italia–Cina"
    assert joined["starts_on"] == "2026-12-15" and joined["joined_at"].endswith("+00:00")

    to_wang, from_li = data["meeting_requests"]
    assert to_wang["direction"] == "sent" and to_wang["status"] == "accepted"
    assert to_wang["note"] == "Parliamo di batterie al sodio."
    assert to_wang["partner"] == {"name": "Wang Wei", "organisation": "Wang Wei Lab"}
    assert from_li["direction"] == "received" and from_li["status"] == "pending"
    assert from_li["partner"] == {"name": "Li Na", "organisation": "Li Na Lab"}
    assert "note" not in from_li and "Li's words" not in raw, "another person's words"

    (met,) = data["meetings"]
    assert met["id"] == meeting.id and met["status"] == "scheduled"
    assert met["starts_at"] == "2026-12-15T08:00:00+00:00"
    assert met["ends_at"] == "2026-12-15T08:20:00+00:00"
    assert met["place"]["kind"] == "link" and met["place"]["url"].startswith("https://")
    assert met["partner"] == {"name": "Wang Wei", "organisation": "Wang Wei Lab"}

    (answer,) = data["meeting_feedback"]
    assert answer["meeting_id"] == meeting.id and answer["took_place"] is True
    assert answer["answered_at"].endswith("+00:00")
    for contact in ("wang@example.org", "li@example.org", "wang.example.org"):
        assert contact not in raw, "partners' contact details are theirs"


async def test_deleteme_leaves_nothing_of_the_person_in_the_outbox(app: App, clock: Clock) -> None:
    event, ids, chats = await world(app, clock)
    note = "Nota riservata di Maria"
    await ask(chats, ids, event, "wang", "maria")  # an invitation addressed to Maria
    await ask(chats, ids, event, "maria", "li", note)  # Maria's card and note for Li
    from_luca = await ask(chats, ids, event, "luca", "maria")
    await chats["maria"].press_payload(f"rq|{from_luca}|d")  # a plain notice to Luca
    to_zhao = await ask(chats, ids, event, "maria", "zhao")
    await chats["zhao"].press_payload(f"rq|{to_zhao}|a")  # a meeting: invitation, question…
    await ask(chats, ids, event, "luca", "wang", "Luca's own note")  # nothing to do with Maria
    async with app.sessions() as session, session.begin():
        # Li's invitation was delivered: the stored copy must go too.
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.participant_id == ids["li"])
            .values(sent_at=clock.now)
        )
    before = await outbox(app)
    assert note in everything_in(before) and "Maria Rossi" in everything_in(before)

    await chats["maria"].say("/deleteme")
    await chats["maria"].press("erase|yes")

    assert await outbox(app, ids["maria"]) == []
    assert await outbox(app, ids["li"]) == []
    assert await outbox(app, ids["luca"]) == []
    (for_wang,) = await outbox(app, ids["wang"])
    assert "Luca Bianchi" in for_wang[1].text and "Luca's own note" in for_wang[1].text
    (for_zhao,) = await outbox(app, ids["zhao"])
    row, cancellation = for_zhao
    assert row.sent_at is None and cancellation.document is not None
    assert b"METHOD:CANCEL" in cancellation.document.content, "the partner's calendar is fixed"
    assert note not in everything_in(await outbox(app))
    async with app.sessions() as session:
        noted = await session.scalar(
            select(func.count()).select_from(MeetingRequest).where(MeetingRequest.note == note)
        )
        involved = await session.scalar(
            select(func.count())
            .select_from(MeetingRequest)
            .where(
                or_(
                    MeetingRequest.requester_id == ids["maria"],
                    MeetingRequest.invitee_id == ids["maria"],
                )
            )
        )
    assert noted == 0 and involved == 0


async def test_partners_pages_skip_people_erased_or_gone_since_the_index_was_built(
    app: App, clock: Clock
) -> None:
    event, ids, chats = await world(app, clock)
    await chats["maria"].say("/partners")
    assert "Wang Wei" in chats["maria"].text and "Luca Bianchi" in chats["maria"].text
    # Another process (its own core, so its own directory) erases Wang; the organisers
    # remove Luca from the event.
    elsewhere = chat_on(await core_with_clock(app.sessions, clock), PEOPLE[1])
    await elsewhere.say("/deleteme")
    await elsewhere.press("erase|yes")
    async with app.sessions() as session, session.begin():
        luca = await session.scalar(select(Participant.id).where(Participant.external_id == "luca"))
        await session.execute(
            delete(EventRegistration).where(
                EventRegistration.event_id == event, EventRegistration.participant_id == luca
            )
        )

    await chats["maria"].press_payload(f"pt|{event}|0")
    page = chats["maria"].text
    assert "Li Na" in page and "Zhao Lei" in page
    assert "Wang Wei" not in page and "Luca Bianchi" not in page
    offered = {b.payload for b in chats["maria"].buttons()}
    assert f"rqn|{ids['li']}|{event}" in offered
    assert not offered & {f"rqn|{ids[gone]}|{event}" for gone in ("wang", "luca")}


async def test_deleteme_keeps_notices_about_someone_with_a_similar_name(
    app: App, clock: Clock
) -> None:
    people = [
        Someone("wei", "Wei", "CN", "en", ("energy",), "Manufacturing", "Batteries"),
        Someone("wangwei", "Wang Wei", "CN", "en", ("energy",), "Power electronics", "Batteries"),
        Someone("luca", "Luca Bianchi", "IT", "en", ("energy",), "Materials testing", "Startups"),
    ]
    event = await make_event(app.sessions, first_slot=FIRST_SLOT)
    ids = await add_people(app.sessions, event, people)
    core = await core_with_clock(app.sessions, clock)
    chats = {p.user: chat_on(core, p) for p in people}
    await ask(chats, ids, event, "wei", "luca")  # Wei and Luca are partners
    to_wang_wei = await ask(chats, ids, event, "luca", "wangwei")
    await chats["wangwei"].press_payload(f"rq|{to_wang_wei}|d")  # a plain notice to Luca

    await chats["wei"].say("/deleteme")
    await chats["wei"].press("erase|yes")

    # "Wang Wei" contains "Wei", but the notice is about Wang Wei's request, not Wei's.
    notices = [reply.text for row, reply in await outbox(app, ids["luca"]) if row.sent_at is None]
    assert any("Wang Wei" in text and "cannot take up" in text for text in notices), notices

"""Requests in view: ``/requests`` (withdraw, accept, decline), partners one already meets,
leaving an event, cancelling only once confirmed, and choosing another time among free ones.

Each runs with the acting participant in Italian, English and Chinese; the partners read
what they are told in their own languages.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from bot.app import App
from handlers.kernel.i18n import event_name, translator
from storage.event_models import Booking, Event, EventRegistration, Meeting, MeetingRequest, Slot
from storage.reminder_models import DROPPED, PENDING, Reminder
from tests.chat import Chat
from tests.events_support import (
    Clock,
    Someone,
    add_people,
    core_with_clock,
    inbox,
    make_event,
    said,
    text_of,
)

LOCALES = ["it", "en", "zh_Hans"]


def people(locale: str) -> list[Someone]:
    """Maria speaks ``locale``; Wang Chinese, Li English, Luca Italian."""
    return [
        Someone("maria", "Maria Rossi", "IT", locale, ("energy",), "Sodium batteries", "Chinese manufacturers"),
        Someone("wang", "Wang Wei", "CN", "zh_Hans", ("energy",), "Battery manufacturing", "European technology"),
        Someone("li", "Li Na", "CN", "en", ("design",), "Industrial design", "Furniture makers"),
        Someone("luca", "Luca Bianchi", "IT", "it", ("energy",), "Materials testing", "Battery startups"),
    ]  # fmt: skip


async def setup(
    app: App, clock: Clock, locale: str, **options: object
) -> tuple[int, dict[str, int], dict[str, Chat]]:
    event = await make_event(app.sessions, **options)  # type: ignore[arg-type]
    ids = await add_people(app.sessions, event, people(locale))
    core = await core_with_clock(app.sessions, clock)
    chats = {p.user: Chat(core, user=p.user, lang=p.locale) for p in people(locale)}
    return event, ids, chats


async def ask(chats: dict[str, Chat], ids: dict[str, int], event: int, a: str, b: str) -> None:
    await chats[a].press_payload(f"rqn|{ids[b]}|{event}")
    await chats[a].press("note|send")


async def request_of(app: App, ids: dict[str, int], a: str, b: str) -> MeetingRequest:
    async with app.sessions() as session:
        request = await session.scalar(
            select(MeetingRequest).where(
                MeetingRequest.requester_id == ids[a], MeetingRequest.invitee_id == ids[b]
            )
        )
    assert request is not None
    return request


async def meeting_of(app: App, ids: dict[str, int], a: str, b: str) -> Meeting:
    async with app.sessions() as session:
        meeting = await session.scalar(
            select(Meeting).where(Meeting.first_id == ids[a], Meeting.second_id == ids[b])
        )
    assert meeting is not None
    return meeting


async def meet(
    app: App, chats: dict[str, Chat], ids: dict[str, int], event: int, a: str, b: str
) -> Meeting:
    await ask(chats, ids, event, a, b)
    await chats[b].press_payload(f"rq|{(await request_of(app, ids, a, b)).id}|a")
    return await meeting_of(app, ids, a, b)


@pytest.mark.parametrize("locale", LOCALES)
async def test_requests_lists_both_sides_and_withdrawing_tells_the_invitee(
    app: App, clock: Clock, locale: str
) -> None:
    event, ids, chats = await setup(app, clock, locale)
    maria = chats["maria"]
    await maria.say("/requests")
    assert maria.text == said(
        locale,
        "No requests are waiting for an answer. Use /partners to find partners and request meetings.",
    )
    await ask(chats, ids, event, "maria", "wang")
    await ask(chats, ids, event, "li", "maria")
    await inbox(app, "wang", clock.now)  # the invitation
    sent, received = (
        await request_of(app, ids, "maria", "wang"),
        await request_of(app, ids, "li", "maria"),
    )

    await maria.say("/requests")
    text = maria.text
    for heading in ("Requests waiting for an answer", "Received", "Sent"):
        assert said(locale, heading) in text
    assert text.index("Li Na") < text.index(said(locale, "Sent")) < text.index("Wang Wei")
    payloads = [b.payload for b in maria.buttons()]
    assert payloads == [f"rqs|{received.id}|a", f"rqs|{received.id}|d", f"rqs|{sent.id}|w"]

    await maria.press(f"{sent.id}|w")
    reply = maria.last.replies[0]
    assert reply.edit, "the list is shown again in place"
    assert said(locale, "You withdrew your request to {name}.", name="Wang Wei") in maria.text
    assert [b.payload for b in maria.buttons()] == payloads[:2], "only Li's request is left"
    assert text_of(await inbox(app, "wang", clock.now)) == said(
        "zh_Hans", "{name} withdrew their meeting request to you.", name="Maria Rossi"
    )
    assert (await request_of(app, ids, "maria", "wang")).status == "withdrawn"

    # The invitation Wang still has no longer works; a second withdrawal is explained.
    await chats["wang"].press_payload(f"rq|{sent.id}|a")
    assert chats["wang"].text == said("zh_Hans", "This request was withdrawn.")
    await maria.press_payload(f"rqs|{sent.id}|w")
    assert maria.text == said(locale, "This request was withdrawn.")
    # Nobody else may withdraw or answer from the list.
    await chats["luca"].press_payload(f"rqs|{received.id}|w")
    await chats["luca"].press_payload(f"rqs|{received.id}|a")
    assert (await request_of(app, ids, "li", "maria")).status == "pending"

    # Withdrawn is not final: Maria may ask Wang again, in the same request.
    await ask(chats, ids, event, "maria", "wang")
    again = await request_of(app, ids, "maria", "wang")
    assert (again.id, again.status) == (sent.id, "pending")


@pytest.mark.parametrize("locale", LOCALES)
async def test_declining_from_the_list_shows_the_rest_and_accepting_schedules(
    app: App, clock: Clock, locale: str
) -> None:
    event, ids, chats = await setup(app, clock, locale)
    await ask(chats, ids, event, "li", "maria")
    await ask(chats, ids, event, "luca", "maria")
    li, luca = (
        await request_of(app, ids, "li", "maria"),
        await request_of(app, ids, "luca", "maria"),
    )
    maria = chats["maria"]
    await maria.say("/requests")
    await maria.press(f"{li.id}|d")
    assert maria.last.replies[0].edit
    assert said(locale, "You declined the request from {name}.", name="Li Na") in maria.text
    assert "Luca Bianchi" in maria.text and [b.payload for b in maria.buttons()] == [
        f"rqs|{luca.id}|a",
        f"rqs|{luca.id}|d",
    ]
    assert "Maria Rossi" in text_of(await inbox(app, "li", clock.now))  # told kindly
    await maria.press(f"{luca.id}|a")
    assert said(locale, "Meeting confirmed") in maria.text
    assert (await meeting_of(app, ids, "luca", "maria")).status == "scheduled"
    await maria.say("/requests")
    assert not maria.last.replies[0].buttons


@pytest.mark.parametrize("locale", LOCALES)
async def test_partners_show_meetings_and_requests_under_way(
    app: App, clock: Clock, locale: str
) -> None:
    event, ids, chats = await setup(app, clock, locale)
    meeting = await meet(app, chats, ids, event, "maria", "wang")
    await ask(chats, ids, event, "maria", "li")
    await ask(chats, ids, event, "luca", "maria")
    maria = chats["maria"]
    await maria.say("/partners")
    by_payload = {b.payload: b.label for b in maria.buttons()}
    assert by_payload[f"mt|{meeting.id}|v"] == said(
        locale, "✅ Meeting confirmed: {name}", name="Wang Wei"
    )
    assert by_payload["rqs|all"] == said(locale, "⏳ Request sent: {name}", name="Li Na")
    assert by_payload[f"rqn|{ids['luca']}|{event}"] == said(
        locale, "📩 {name} asked to meet you", name="Luca Bianchi"
    )
    assert not any(
        said(locale, "🤝 Meet {name}", name="Wang Wei") == b for b in by_payload.values()
    )
    await maria.press("rqs|all")
    assert said(locale, "Requests waiting for an answer") in maria.text


@pytest.mark.parametrize("locale", LOCALES)
async def test_leaving_an_event_cancels_its_meetings_and_requests_and_tells_everyone(
    app: App, clock: Clock, locale: str
) -> None:
    event, ids, chats = await setup(app, clock, locale)
    meeting = await meet(app, chats, ids, event, "maria", "wang")
    await ask(chats, ids, event, "maria", "li")
    await ask(chats, ids, event, "luca", "maria")
    for user in ("wang", "li", "luca"):
        await inbox(app, user, clock.now)
    maria = chats["maria"]
    await maria.say("/events")
    await maria.press(f"evl|{event}")
    t = translator(locale)
    one = t.ngettext(
        "{count} meeting there will be cancelled.", "{count} meetings there will be cancelled.", 1
    )
    two = t.ngettext(
        "{count} request waiting for an answer there will be withdrawn.",
        "{count} requests waiting for an answer there will be withdrawn.",
        2,
    )
    assert one.format(count=1) in maria.text and two.format(count=2) in maria.text
    await maria.press("n")
    assert maria.last.replies[0].edit
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(EventRegistration)) == 4

    await maria.say("/events")
    await maria.press(f"evl|{event}")
    await maria.press("y")
    async with app.sessions() as session:
        names = (await session.get(Event, event)).names  # type: ignore[union-attr]
        assert await session.get(EventRegistration, (event, ids["maria"])) is None
        assert (await session.get(Meeting, meeting.id)).status == "cancelled"  # type: ignore[union-attr]
        assert await session.scalar(select(func.count()).select_from(Booking)) == 0
        statuses = (await session.scalars(select(MeetingRequest.status))).all()
        reminders = (
            await session.scalars(select(Reminder.state).where(Reminder.meeting_id == meeting.id))
        ).all()
    assert sorted(statuses) == ["accepted", "withdrawn", "withdrawn"]
    assert reminders and set(reminders) == {DROPPED}, "the meeting's reminders go with it"
    assert maria.text == said(locale, "You have left {event}.", event=event_name(names, locale))

    told = await inbox(app, "wang", clock.now)
    assert said(
        "zh_Hans",
        "{name} has left {event}, so your meeting is cancelled.",
        name="Maria Rossi",
        event="中意对接日",
    ) in text_of(told)
    calendar = Calendar.from_ical(next(r.document for r in told if r.document).content)  # type: ignore[union-attr]
    assert calendar["METHOD"] == "CANCEL"
    for user, reader in (("li", "en"), ("luca", "it")):
        assert text_of(await inbox(app, user, clock.now)) == said(
            reader,
            "{name} has left {event}: the meeting request between you is withdrawn.",
            name="Maria Rossi",
            event=event_name(names, reader),
        )
    await chats["wang"].say("/partners")
    assert "Maria Rossi" not in chats["wang"].text, "partner lists forget her at once"
    await maria.press_payload(f"evl|{event}|y")  # again: she is no longer there
    assert maria.text == said(
        locale, "You are not registered for {event}.", event=event_name(names, locale)
    )


@pytest.mark.parametrize("locale", LOCALES)
async def test_cancel_meeting_asks_first(app: App, clock: Clock, locale: str) -> None:
    event, ids, chats = await setup(app, clock, locale)
    meeting = await meet(app, chats, ids, event, "wang", "maria")
    await inbox(app, "wang", clock.now)
    maria = chats["maria"]
    await maria.press_payload(f"mt|{meeting.id}|x")
    assert said(locale, "Cancel your meeting with {name}?", name="Wang Wei") in maria.text
    assert [b.payload for b in maria.buttons()] == [f"mt|{meeting.id}|xy", f"mt|{meeting.id}|k"]
    await maria.press("k")
    assert maria.text == said(locale, "Your meeting with {name} stays as it is.", name="Wang Wei")
    assert (await meeting_of(app, ids, "wang", "maria")).status == "scheduled"
    assert not await inbox(app, "wang", clock.now)
    await maria.press_payload(f"mt|{meeting.id}|x")
    await maria.press("xy")
    assert said(locale, "Your meeting with {name} is cancelled.", name="Wang Wei") in maria.text
    assert (await meeting_of(app, ids, "wang", "maria")).status == "cancelled"
    assert said("zh_Hans", "{name} cancelled your meeting.", name="Maria Rossi") in text_of(
        await inbox(app, "wang", clock.now)
    )


@pytest.mark.parametrize("locale", LOCALES)
async def test_another_time_offers_only_times_free_for_both(
    app: App, clock: Clock, locale: str
) -> None:
    event, ids, chats = await setup(app, clock, locale, places=1)
    meeting = await meet(app, chats, ids, event, "maria", "wang")  # 08:00 UTC
    await meet(app, chats, ids, event, "li", "luca")  # 08:20: the only link is taken
    await meet(app, chats, ids, event, "wang", "luca")  # 08:40: Wang is busy
    for user in ("maria", "wang"):
        await inbox(app, user, clock.now)
    async with app.sessions() as session:
        slots = {
            s.starts_at.strftime("%H:%M"): s.id
            for s in (await session.scalars(select(Slot).where(Slot.event_id == event))).all()
        }
    maria = chats["maria"]
    await maria.press_payload(f"mt|{meeting.id}|r")
    offered = [b.payload for b in maria.buttons()]
    assert offered == [f"mt|{meeting.id}|s{slots[t]}" for t in ("09:00", "09:20", "09:40")] + [
        f"mt|{meeting.id}|k"
    ]
    labels = " ".join(b.label for b in maria.buttons())
    assert "10:00" in labels and "10:40" in labels, "in Maria's time (Rome)"
    assert not await inbox(app, "wang", clock.now), "nothing moves before a choice"

    # A time that is not free (forged, or taken meanwhile) is refused with what is free now.
    await maria.press_payload(f"mt|{meeting.id}|s{slots['08:20']}")
    assert said(locale, "That time is no longer free.") in maria.text
    assert len([b for b in maria.buttons() if "|s" in b.payload]) == 3
    await maria.press_payload(f"mt|{meeting.id}|s999999")
    await chats["li"].press_payload(f"mt|{meeting.id}|s{slots['09:20']}")  # not Li's meeting
    assert (await meeting_of(app, ids, "maria", "wang")).slot_id == slots["08:00"]

    await maria.press(f"s{slots['09:20']}")
    moved = await meeting_of(app, ids, "maria", "wang")
    assert (moved.slot_id, moved.sequence, moved.status) == (slots["09:20"], 1, "scheduled")
    assert said(locale, "Meeting moved to a new time") in maria.text and "10:20" in maria.text
    told = await inbox(app, "wang", clock.now)
    assert said("zh_Hans", "Meeting moved to a new time") in text_of(told)
    assert "17:20" in text_of(told), "in Wang's time (Beijing)"
    entry = Calendar.from_ical(next(r.document for r in told if r.document).content).walk("VEVENT")[
        0
    ]  # type: ignore[union-attr]
    assert int(entry["SEQUENCE"]) == 1 and str(entry["UID"]) == meeting.uid
    assert entry.decoded("DTSTART") == datetime(2026, 12, 15, 9, 20, tzinfo=UTC)
    async with app.sessions() as session:
        seats = (
            await session.scalars(select(Booking.slot_id).where(Booking.meeting_id == meeting.id))
        ).all()
    assert seats == [slots["09:20"], slots["09:20"]]
    async with app.sessions() as session:
        due = (
            await session.scalars(
                select(Reminder.starts_at).where(
                    Reminder.meeting_id == meeting.id, Reminder.state == PENDING
                )
            )
        ).all()
    assert due and set(due) == {datetime(2026, 12, 15, 9, 20, tzinfo=UTC)}, "reminders move too"


async def test_another_time_when_nothing_is_free(app: App, clock: Clock) -> None:
    event, ids, chats = await setup(app, clock, "it", slots=1)
    meeting = await meet(app, chats, ids, event, "maria", "wang")
    await chats["maria"].press_payload(f"mt|{meeting.id}|r")
    assert chats["maria"].text == said(
        "it", "There is no other time when you are both free; the meeting stays as it is."
    )


async def test_the_longest_list_of_requests_fits_one_message(app: App, clock: Clock) -> None:
    event = await make_event(app.sessions)
    crowd = [
        Someone(f"p{i}", f"{i}" + "名" * 99, "CN", "zh_Hans", organisation="机" * 150)
        for i in range(16)
    ]
    me = Someone("maria", "M" * 100, "IT", "it", organisation="O" * 150)
    ids = await add_people(app.sessions, event, [me, *crowd])
    core = await core_with_clock(app.sessions, clock)
    maria = Chat(core, user="maria", lang="it")
    for person in crowd[:8]:
        await maria.press_payload(f"rqn|{ids[person.user]}|{event}")
        await maria.press("note|send")
    for person in crowd[8:]:
        chat = Chat(core, user=person.user, lang="zh-hans")
        await chat.press_payload(f"rqn|{ids['maria']}|{event}")
        await chat.say("注" * 300)
    await maria.say("/requests")
    (reply,) = maria.last.replies
    assert len(reply.text) < 4096 and len(maria.text) < 4096
    assert len(reply.all_buttons()) == 6 * 2 + 6
    more = translator("it").ngettext(
        "…and {count} more request, listed once these are answered.",
        "…and {count} more requests, listed once these are answered.",
        2,
    )
    assert maria.text.count(more.format(count=2)) == 2, "two more each way"

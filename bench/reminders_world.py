"""The world of ``bench.reminders_burst``: a fake Bot API with Telegram's limits, and an
event whose meetings all start at the same 09:00, with their reminders planned."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from bot.app import App
from storage.event_models import Booking, Event, Meeting, MeetingRequest, Place, Slot
from storage.models import Participant
from storage.reminders import ReminderRepository
from tests.events_support import Clock
from tests.fake_bot_api import DEFAULT_TOKEN, ApiError, CallRecord, FakeBotApi

SLOT = datetime(2026, 12, 15, 8, 0, tzinfo=UTC)  # 09:00 in Rome, 16:00 in Beijing
PLANNED = SLOT - timedelta(days=7)  # when the meetings were scheduled
FIRST_CHAT = 5_000_001
SENDS = {"sendmessage", "senddocument", "editmessagetext", "sendphoto"}
PLAN_BATCH = 250  # meetings planned per transaction


# --- the fake Bot API, with Telegram's limits ---------------------------------------------


@dataclass
class Arrival:
    """A message as it reached the fake server."""

    chat_id: int
    at: datetime  # Ponte's clock
    text: str


class LimitedBotApi(FakeBotApi):
    """The fake server, answering like Telegram's flood control and timing every message.

    A message beyond ``per_second`` in the last second (all chats) or sooner than
    ``per_chat`` seconds after the previous one to its chat gets 429 with ``retry_after``
    (whole seconds, as Telegram gives them); it is not delivered and does not count.
    """

    def __init__(self, clock: Clock, per_second: int = 30, per_chat: float = 1.0) -> None:
        super().__init__(DEFAULT_TOKEN)
        self.clock, self.per_second, self.per_chat = clock, per_second, per_chat
        self.recent: deque[float] = deque()
        self.last_in_chat: dict[str, float] = {}
        self.arrivals: list[Arrival] = []
        self.too_many = 0
        self.failed = 0

    def _over_limit(self, chat: str) -> float:
        """Seconds this message would have to wait; 0 when it may go (and is counted)."""
        now = time.monotonic()
        while self.recent and now - self.recent[0] >= 1.0:
            self.recent.popleft()
        wait_all = self.recent[0] + 1.0 - now if len(self.recent) >= self.per_second else 0.0
        wait_chat = self.last_in_chat.get(chat, -math.inf) + self.per_chat - now
        wait = max(wait_all, wait_chat)
        if wait <= 0:
            self.recent.append(now)
            self.last_in_chat[chat] = now
        return wait

    async def execute(
        self,
        method: str,
        raw: dict[str, Any],
        *,
        http_method: str = "POST",
        via: str = "http",
        encoding: str = "",
    ) -> tuple[CallRecord, ApiError | None]:
        arrived = self.clock()
        chat = str(raw.get("chat_id", ""))
        if method.lower() in SENDS:
            wait = self._over_limit(chat)
            if wait > 0:
                self.too_many += 1
                # Taken by the very next call, this one: nothing awaits in between.
                self.inject(
                    status=429, method=method, retry_after=math.ceil(wait), chat_id=int(chat)
                )
        record, error = await super().execute(
            method, raw, http_method=http_method, via=via, encoding=encoding
        )
        if error is not None:
            self.failed += 1
        elif record.method == "sendMessage":
            self.arrivals.append(Arrival(int(chat), arrived, str(raw.get("text", ""))))
        return record, error


# --- the event ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    chat_id: int
    locale: str
    zone: str


def people(count: int) -> list[Person]:
    """Readers in Italian, English and Chinese; the Chinese ones in Beijing."""
    locales = ("it", "en", "zh_Hans")
    return [
        Person(
            FIRST_CHAT + i,
            locales[i % 3],
            "Asia/Shanghai" if locales[i % 3] == "zh_Hans" else "Europe/Rome",
        )
        for i in range(count)
    ]


async def populate(app: App, api: FakeBotApi, meetings: int) -> None:
    """The event, its slot and places, the people, and their scheduled meetings, planned."""
    readers = people(2 * meetings)
    for person in readers:
        api.user(person.chat_id, first_name=f"Reader {person.chat_id}", language_code="en")
    async with app.sessions() as session, session.begin():
        event = Event(
            code="burst", names={"en": "Burst day", "it": "Giornata", "zh_Hans": "对接日"},
            mode="online", time_zone="Europe/Rome", starts_on=SLOT.date(), ends_on=SLOT.date(),
            registration_deadline=PLANNED, meeting_minutes=20, max_pending_requests=10,
            request_ttl_hours=48, created_at=PLANNED,
        )  # fmt: skip
        session.add(event)
        await session.flush()
        slot = Slot(event_id=event.id, starts_at=SLOT, ends_at=SLOT + timedelta(minutes=20))
        session.add(slot)
        await session.flush()
        await session.execute(insert(Place), [
            {"event_id": event.id, "kind": "link", "label": f"Room {i + 1}",
             "url": f"https://meeting.tencent.com/dm/burst-{i + 1}", "position": i}
            for i in range(meetings)
        ])  # fmt: skip
        await session.execute(insert(Participant), [
            {"channel": "telegram", "external_id": str(p.chat_id), "chat_id": str(p.chat_id),
             "locale": p.locale, "time_zone": p.zone, "name": f"Person {p.chat_id}",
             "organisation": f"Org {p.chat_id}", "org_type": "startup",
             "country": "CN" if p.zone == "Asia/Shanghai" else "IT", "city": "Roma",
             "email": f"p{p.chat_id}@example.org", "profile": "Profile", "offer": "Sensors",
             "seek": "Partners", "languages_spoken": ["en"], "interpreter_needed": False,
             "active": True, "registered_at": PLANNED, "created_at": PLANNED,
             "updated_at": PLANNED}
            for p in readers
        ])  # fmt: skip
        ids = list((await session.scalars(select(Participant.id).order_by(Participant.id))).all())
        places = list((await session.scalars(select(Place.id).order_by(Place.position))).all())
        await session.execute(insert(MeetingRequest), [
            {"event_id": event.id, "requester_id": ids[2 * i], "invitee_id": ids[2 * i + 1],
             "status": "accepted", "created_at": PLANNED, "expires_at": PLANNED + timedelta(days=2),
             "answered_at": PLANNED}
            for i in range(meetings)
        ])  # fmt: skip
        requests = list(
            (await session.scalars(select(MeetingRequest.id).order_by(MeetingRequest.id))).all()
        )
        for i, request_id in enumerate(requests):
            session.add(
                Meeting(
                    request_id=request_id, event_id=event.id, first_id=ids[2 * i],
                    second_id=ids[2 * i + 1], slot_id=slot.id, place_id=places[i],
                    status="scheduled", created_at=PLANNED, updated_at=PLANNED,
                )
            )  # fmt: skip
        await session.flush()
        meeting_ids = list((await session.scalars(select(Meeting.id).order_by(Meeting.id))).all())
        await session.execute(insert(Booking), [
            {"meeting_id": mid, "slot_id": slot.id, "participant_id": ids[2 * i + side],
             "starts_at": SLOT, "ends_at": SLOT + timedelta(minutes=20)}
            for i, mid in enumerate(meeting_ids) for side in (0, 1)
        ])  # fmt: skip
    for first in range(0, len(meeting_ids), PLAN_BATCH):
        batch = meeting_ids[first : first + PLAN_BATCH]
        async with app.sessions() as session, session.begin():
            repo = ReminderRepository(session)
            rows = await session.scalars(select(Meeting).where(Meeting.id.in_(batch)))
            for meeting in rows.unique().all():
                await repo.plan_meeting(meeting, PLANNED)

"""Events, their meeting slots and places, registrations, meeting requests and meetings.

What must never happen is a constraint here, not only a check in code: a slot's table or
link used twice, a person booked twice at overlapping times, one request turned into two
meetings.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import uuid4

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models import Base, Participant


def new_meeting_uid() -> str:
    """A calendar UID unique across every Ponte installation and database (RFC 7986: a UUID).

    A UID derived from a row id repeats when a database is re-created or a second Ponte
    runs, and a calendar app would then overwrite one meeting with another.
    """
    return str(uuid4())


EVENT_MODES = ("in_person", "online", "hybrid")


class Event(Base):
    """A matchmaking event with its own time zone, mode and meeting grid."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    names: Mapped[dict[str, Any]] = mapped_column(JSON)
    mode: Mapped[str] = mapped_column(String(16))
    city: Mapped[str | None] = mapped_column(String(200))
    venue: Mapped[str | None] = mapped_column(String(300))
    time_zone: Mapped[str] = mapped_column(String(64))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    registration_deadline: Mapped[datetime]
    meeting_minutes: Mapped[int] = mapped_column(Integer)
    max_pending_requests: Mapped[int] = mapped_column(Integer, default=10)
    request_ttl_hours: Mapped[int] = mapped_column(Integer, default=48)
    # storage.reminder_policy.ReminderPolicy as JSON; NULL means the defaults.
    reminder_policy: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]

    slots: Mapped[list[Slot]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="Slot.starts_at"
    )
    places: Mapped[list[Place]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="Place.position"
    )


class Slot(Base):
    """One meeting time of an event (UTC); slots of an event never overlap."""

    __tablename__ = "slots"
    __table_args__ = (
        UniqueConstraint("event_id", "starts_at"),
        # The target of bookings' copy of the slot's times (see Booking). An index, not a
        # constraint: SQLite adds an index in place, while a constraint would rebuild the
        # table, and dropping the old one would cascade to its bookings.
        Index("ix_slots_id_starts_at_ends_at", "id", "starts_at", "ends_at", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]

    event: Mapped[Event] = relationship(back_populates="slots")


class Place(Base):
    """Where a meeting happens: a table or room on site, or an online meeting link."""

    __tablename__ = "places"
    __table_args__ = (UniqueConstraint("event_id", "label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "table", "room" or "link"
    label: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(400))
    position: Mapped[int] = mapped_column(Integer, default=0)

    event: Mapped[Event] = relationship(back_populates="places")


class EventRegistration(Base):
    """A participant taking part in an event."""

    __tablename__ = "event_registrations"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    joined_at: Mapped[datetime]

    event: Mapped[Event] = relationship(lazy="joined")


class MeetingRequest(Base):
    """One participant asking another for a meeting at an event; at most one per pair."""

    __tablename__ = "meeting_requests"
    __table_args__ = (
        UniqueConstraint("event_id", "requester_id", "invitee_id"),
        # The maintenance sweep, every minute: due pending requests without reading them all.
        Index("ix_meeting_requests_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    requester_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    invitee_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    note: Mapped[str | None] = mapped_column(Text)
    # pending → accepted | declined | expired | withdrawn
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]

    requester: Mapped[Participant] = relationship(foreign_keys=[requester_id], lazy="joined")
    invitee: Mapped[Participant] = relationship(foreign_keys=[invitee_id], lazy="joined")
    event: Mapped[Event] = relationship(lazy="joined")


class Meeting(Base):
    """An accepted request and, once scheduled, its slot and place.

    ``sequence`` grows with every change so calendar files replace the previous version;
    ``uid`` never changes.
    """

    __tablename__ = "meetings"
    __table_args__ = (UniqueConstraint("slot_id", "place_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("meeting_requests.id", ondelete="CASCADE"), unique=True
    )
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    # Indexed: a person's meetings (/agenda, /mydata, /deleteme and its cascade).
    first_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    second_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    slot_id: Mapped[int | None] = mapped_column(ForeignKey("slots.id", ondelete="SET NULL"))
    place_id: Mapped[int | None] = mapped_column(ForeignKey("places.id", ondelete="SET NULL"))
    # scheduled | unscheduled (no free slot yet) | cancelled
    status: Mapped[str] = mapped_column(String(16), index=True)
    uid: Mapped[str] = mapped_column(String(120), unique=True, default=new_meeting_uid)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    slot: Mapped[Slot | None] = relationship(lazy="joined")
    place: Mapped[Place | None] = relationship(lazy="joined")
    first: Mapped[Participant] = relationship(foreign_keys=[first_id], lazy="joined")
    second: Mapped[Participant] = relationship(foreign_keys=[second_id], lazy="joined")
    event: Mapped[Event] = relationship(lazy="joined")

    def partner_of(self, participant_id: int) -> Participant:
        """The other side of the meeting."""
        return self.second if participant_id == self.first_id else self.first

    def involves(self, participant_id: int) -> bool:
        """Whether ``participant_id`` is one of the two sides."""
        return participant_id in (self.first_id, self.second_id)


class Booking(Base):
    """A person's seat in a slot.

    The slot's times are copied here so the database itself can refuse a person two
    bookings at overlapping times, across events too: the unique key covers equal starts
    everywhere, and migration 0003 adds the overlap check (an exclusion constraint on
    PostgreSQL, triggers on SQLite) that a model cannot express portably. The composite
    foreign key keeps the copy equal to the slot when an import changes a slot's end.
    """

    __tablename__ = "bookings"
    __table_args__ = (
        UniqueConstraint("participant_id", "starts_at"),
        ForeignKeyConstraint(
            ["slot_id", "starts_at", "ends_at"],
            ["slots.id", "slots.starts_at", "slots.ends_at"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    slot_id: Mapped[int] = mapped_column(Integer)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]


class MeetingFeedback(Base):
    """After the slot: did the meeting take place? (no-show data for organisers)."""

    __tablename__ = "meeting_feedback"

    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    took_place: Mapped[bool] = mapped_column(Boolean)
    answered_at: Mapped[datetime]


def _unsent_index(name: str, *columns: Any) -> Index:
    """An index of the outbox rows not yet sent (partial, on both databases)."""
    unsent = text("sent_at IS NULL")
    return Index(name, *columns, sqlite_where=unsent, postgresql_where=unsent)


# What a message's priority defaults to (``storage.outbox.Priority.NOTICE``).
DEFAULT_PRIORITY = 2


class OutboxMessage(Base):
    """A message for someone other than the person who acted, written in the same
    transaction as the change it reports, and delivered by the channel's sender.

    ``not_before`` schedules it (after-meeting questions); ``topic`` lets a change withdraw
    what no longer applies (a cancelled meeting's question); ``sent_at`` marks it handled
    (delivered, or given up with ``last_error`` saying why). ``priority`` and ``deadline``
    order the due messages (``storage.outbox.Priority``); ``once`` messages are sent at most
    once, so one whose lease ran out unsettled is given up as uncertain instead of sent
    again; ``leased_until`` is set while a sender holds the message and cleared when it is
    settled, so an expired lease is told apart from a scheduled retry.
    """

    __tablename__ = "outbox"
    # Delivered messages stay (``/deleteme`` scrubs them), so the sender's queries read only
    # these indexes of the unsent ones: the next due message in priority and deadline order,
    # whether a priority has anything due at all (so ten thousand queued broadcast parts, or
    # reminders queued for later, are never read through to find one notice), the earliest
    # due time, a chat's pending retries, and the leases in hand (the first of them,
    # ``ix_outbox_unsent_order``, is on an expression and follows the class). Without them each message
    # sent scanned every queued one and the history (bench/outbox.py).
    __table_args__ = (
        _unsent_index("ix_outbox_unsent_priority_due", "channel", "priority", "not_before"),
        _unsent_index("ix_outbox_unsent_due", "channel", "not_before", "id"),
        _unsent_index("ix_outbox_unsent_chat", "channel", "chat_id", "id"),
        Index(
            "ix_outbox_leased",
            "leased_until",
            sqlite_where=text("leased_until IS NOT NULL"),
            postgresql_where=text("leased_until IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(32), index=True)
    chat_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    topic: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    not_before: Mapped[datetime] = mapped_column(index=True)
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(
        SmallInteger, default=DEFAULT_PRIORITY, server_default=text(str(DEFAULT_PRIORITY))
    )
    deadline: Mapped[datetime | None]
    once: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    leased_until: Mapped[datetime | None]


# The order due messages are sent in, within a priority: by deadline (a message queued
# without one is due by its ``not_before``), then first queued first.
OUTBOX_DEADLINE = func.coalesce(OutboxMessage.deadline, OutboxMessage.not_before)
_unsent_index(
    "ix_outbox_unsent_order",
    OutboxMessage.channel,
    OutboxMessage.priority,
    OUTBOX_DEADLINE,
    OutboxMessage.id,
)

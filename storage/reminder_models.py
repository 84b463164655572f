"""Reminders before meetings, morning agendas, and each side's attendance answer.

The database is the source of truth for every reminder: a row per reader and reminder,
planned when the meeting gets its time and moved or dropped when the meeting changes.
``key`` names a reminder for good (the same meeting, reader and offset always have the same
key), so planning again updates the row instead of adding a second one.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.event_models import Event, Meeting
from storage.models import Base, Participant

BEFORE = "before"  # a reminder some minutes before a meeting
DIGEST = "digest"  # the morning agenda of a day with meetings

PENDING = "pending"
SENT = "sent"
DROPPED = "dropped"  # not sent, for good: the reason is in ``note``


class Reminder(Base):
    """One message to remind one reader, due at ``due_at`` and planned for ``send_at``.

    ``send_at`` is never later than ``due_at``: when many fall due together they are spread
    ahead of it so that the send limits never make one late (:mod:`storage.reminders`).
    """

    __tablename__ = "reminders"
    __table_args__ = (
        # The scheduler's question, every minute: which pending reminders are due soon.
        Index("ix_reminders_state_send_at", "state", "send_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(96), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    offset_minutes: Mapped[int] = mapped_column(Integer, default=0)
    local_day: Mapped[date | None] = mapped_column(Date)
    # The meeting's start when this was planned: a meeting that moved is seen at once.
    starts_at: Mapped[datetime]
    due_at: Mapped[datetime]
    send_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    settled_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)

    participant: Mapped[Participant] = relationship(lazy="joined")
    meeting: Mapped[Meeting | None] = relationship(lazy="joined")
    event: Mapped[Event] = relationship(lazy="joined")


class Attendance(Base):
    """One side's answer to a reminder: "I'll be there" or "I can't make it"."""

    __tablename__ = "attendance"

    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # confirmed | declined
    status: Mapped[str] = mapped_column(String(16))
    answered_at: Mapped[datetime]
    # Minutes late the participant said they would be ("Running late"), if they did.
    late_minutes: Mapped[int | None] = mapped_column(Integer)

"""Broadcasts: an organiser's announcement and one stored delivery per recipient.

Every recipient is a row of ``broadcast_deliveries`` (unique per broadcast and participant,
so nobody can be a recipient twice). A delivery is ``waiting`` until it is queued in the
outbox, in chunks of a transaction each; then ``queued`` (its outbox message has the broadcast's topic and the
recipient's participant id), ``skipped`` when the recipient could no longer be reached, or
``stopped`` when the organiser stopped the broadcast before its turn came.
How a queued one ended (delivered, blocked, failed, uncertain, stopped) is its outbox
message's state: the sender records it there (a stop gives up those not yet in a sender's
hands), and the report counts it by the broadcast's topic.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base

DRAFT = "draft"
SENDING = "sending"
DONE = "done"
CANCELLED = "cancelled"
STOPPED = "stopped"
"""Stopped by its organiser while sending: what was not yet in a sender's hands is not sent."""

WAITING = "waiting"
QUEUED = "queued"
SKIPPED = "skipped"
# STOPPED is a delivery's state too: not queued, because the broadcast was stopped first.


class Broadcast(Base):
    """One announcement: its texts by locale, who receives it, and how far it got."""

    __tablename__ = "broadcasts"
    __table_args__ = (Index("ix_broadcasts_state", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The organiser who wrote it (a participant row); None from the command line.
    organiser_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL")
    )
    texts: Mapped[dict[str, Any]] = mapped_column(JSON)
    segment: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default=DRAFT)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    reported_at: Mapped[datetime | None]
    """When the final report was queued for the organiser (once)."""
    progress_ref: Mapped[str | None] = mapped_column(String(64))
    """The organiser's progress message, as their channel names it, while Ponte still edits
    it (cleared with the last edit, which shows it finished); None on channels that cannot
    edit a message, and from the command line."""
    progress_settled: Mapped[int | None]
    """How many deliveries were settled in the last edit queued: no edit when none settled since."""


class BroadcastDelivery(Base):
    """One recipient of a broadcast and where their message stands."""

    __tablename__ = "broadcast_deliveries"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "participant_id"),
        # The next chunk to queue: the waiting deliveries of a broadcast, in id order.
        Index("ix_broadcast_deliveries_broadcast_id_state", "broadcast_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(16), default=WAITING)

"""Organisers added from the chat or the command line (those in ``ADMIN_IDS`` are not stored).

An organiser is known by channel and user id, not by a participant row: an organiser may
never have registered, and erasing one's participant data must not take away the right.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class Organiser(Base):
    """Someone allowed to use the organiser tools (statistics, exports, admins)."""

    __tablename__ = "organisers"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    # Who added them ("telegram:123", or "cli" for the command line), for the record.
    added_by: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[datetime]

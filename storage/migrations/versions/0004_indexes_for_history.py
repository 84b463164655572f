"""indexes for queries that grew with an event's history

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 04:00:00.000000

Delivered messages, lapsed requests and past meetings stay in their tables, and some
frequent queries read all of them:

* the outbox sender's next message (for every message sent) scanned every queued message
  against every row before it: 0.26 s per message with 2,000 queued on SQLite. Partial
  indexes of the unsent rows make it about 3 ms with 100,000 delivered (bench/outbox.py);
* the maintenance sweep (every minute) read and sorted every pending request to find the
  due ones: (status, expires_at);
* a person's meetings (/agenda, /mydata, /deleteme and the cascade when a participant is
  deleted) scanned ``meetings``, and their feedback ``meeting_feedback``.

Indexes are added in place: no table is rebuilt.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSENT = "sent_at IS NULL"
OUTBOX_UNSENT = {
    "ix_outbox_unsent_due": ["channel", "not_before", "id"],
    "ix_outbox_unsent_chat": ["channel", "chat_id", "id"],
}
PLAIN = {
    "ix_meeting_requests_status_expires_at": ("meeting_requests", ["status", "expires_at"]),
    "ix_meetings_first_id": ("meetings", ["first_id"]),
    "ix_meetings_second_id": ("meetings", ["second_id"]),
    "ix_meeting_feedback_participant_id": ("meeting_feedback", ["participant_id"]),
}


def upgrade() -> None:
    for name, columns in OUTBOX_UNSENT.items():
        op.create_index(
            name,
            "outbox",
            columns,
            unique=False,
            sqlite_where=sa.text(UNSENT),
            postgresql_where=sa.text(UNSENT),
        )
    for name, (table, columns) in PLAIN.items():
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, (table, _columns) in PLAIN.items():
        op.drop_index(name, table_name=table)
    for name in OUTBOX_UNSENT:
        op.drop_index(name, table_name="outbox")

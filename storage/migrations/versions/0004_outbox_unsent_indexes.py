"""outbox: indexes of the unsent messages only

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 04:00:00.000000

Delivered messages stay in the outbox, so the sender's queries (the next due message; a
chat's earlier message waiting for a retry) scanned the whole history for every message
sent. Partial indexes on the unsent rows keep those queries as cheap with 100,000 delivered
messages as with none (bench/outbox.py). Indexes are added in place: no table is rebuilt.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSENT = "sent_at IS NULL"
INDEXES = {
    "ix_outbox_unsent_due": ["channel", "not_before", "id"],
    "ix_outbox_unsent_chat": ["channel", "chat_id", "id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(
            name,
            "outbox",
            columns,
            unique=False,
            sqlite_where=sa.text(UNSENT),
            postgresql_where=sa.text(UNSENT),
        )


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="outbox")

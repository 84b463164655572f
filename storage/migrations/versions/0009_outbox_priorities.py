"""outbox priorities, deadlines, at-most-once messages and explicit leases

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-10 09:00:00.000000

Every message the bot sends outside a direct reply goes through the outbox, from a partner's
notice to ten thousand parts of a broadcast, so the sender must know what goes first and
what may never be sent twice:

* ``priority`` (0 reply, 1 reminder, 2 notice, 3 broadcast; existing rows are notices) and
  ``deadline`` (when the message should have arrived at the latest; NULL: its
  ``not_before``) order the due messages;
* ``once`` marks messages sent at most once (reminders, broadcasts): one whose lease ran
  out unsettled may have arrived, and is given up as uncertain instead of sent again;
* ``leased_until`` is set while a sender holds a message and cleared when it is settled,
  which tells an abandoned lease from a scheduled retry.

The sender's queries read partial indexes of the unsent rows: the next one in priority and
deadline order (an expression index, on both databases), whether a priority has anything
due, and the leases in hand. Columns are added in batch mode like the other migrations'
(SQLite adds them in place: no table is rebuilt); indexes in place.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNSENT = "sent_at IS NULL"
LEASED = "leased_until IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("priority", sa.SmallInteger(), server_default=sa.text("2"), nullable=False)
        )
        batch_op.add_column(sa.Column("deadline", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("once", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_outbox_unsent_order",
        "outbox",
        ["channel", "priority", sa.text("coalesce(deadline, not_before)"), "id"],
        unique=False,
        sqlite_where=sa.text(UNSENT),
        postgresql_where=sa.text(UNSENT),
    )
    op.create_index(
        "ix_outbox_unsent_priority_due",
        "outbox",
        ["channel", "priority", "not_before"],
        unique=False,
        sqlite_where=sa.text(UNSENT),
        postgresql_where=sa.text(UNSENT),
    )
    op.create_index(
        "ix_outbox_leased",
        "outbox",
        ["leased_until"],
        unique=False,
        sqlite_where=sa.text(LEASED),
        postgresql_where=sa.text(LEASED),
    )


def downgrade() -> None:
    for name in ("ix_outbox_leased", "ix_outbox_unsent_priority_due", "ix_outbox_unsent_order"):
        op.drop_index(name, table_name="outbox")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("leased_until")
        batch_op.drop_column("once")
        batch_op.drop_column("deadline")
        batch_op.drop_column("priority")

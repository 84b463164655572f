"""a broadcast's progress message, edited by Ponte while it goes out

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 12:00:00.000000

``progress_ref`` names the organiser's progress message (the confirmation edited in place
when "Send" was tapped) while Ponte edits it every few seconds, and ``progress_settled``
how many deliveries the last edit showed settled, so that an edit is queued only when
something changed. A stopped broadcast needs no column: its state is ``stopped``, its
deliveries not queued yet are ``stopped`` and its outbox rows not in a sender's hands are
given up with ``last_error`` beginning ``stopped:``. Columns are added in batch mode like
the other migrations' (SQLite adds them in place).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("progress_ref", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("progress_settled", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.drop_column("progress_settled")
        batch_op.drop_column("progress_ref")

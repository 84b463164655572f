"""organisers added by an organiser

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 16:00:00.000000

Organisers named in ``ADMIN_IDS`` come from the configuration; those an organiser adds from
the chat (``/admins add``) or the command line (``ponte admins add``) are rows here, keyed
by channel and user id like participants, but independent of any participant row.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "organisers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("added_by", sa.String(length=100), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisers")),
        sa.UniqueConstraint(
            "channel", "external_id", name=op.f("uq_organisers_channel_external_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("organisers")

"""bookings carry their slot's times: nobody booked twice at overlapping times

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 10:00:00.000000

Slots of different events (or sessions) may overlap, so a unique (slot, participant) key
could not stop a double booking across events. Bookings now copy the slot's start and end
(kept equal by a composite foreign key with ON UPDATE CASCADE) and the database refuses
overlapping bookings of one participant: an exclusion constraint on PostgreSQL (built on
range types only, so no extension such as btree_gist is needed) and triggers on SQLite,
whose writers are serialised, so a check in a trigger cannot race.

SQLite batch operations recreate the table and drop its triggers: a later migration that
batch-alters ``bookings`` must create the triggers again (see ``_create_sqlite_triggers``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXCLUSION = "ex_bookings_participant_id_time"
TRIGGERS = ("tr_bookings_no_overlap_insert", "tr_bookings_no_overlap_update")
_OVERLAP = (
    "SELECT 1 FROM bookings AS other WHERE other.participant_id = NEW.participant_id "
    "AND other.starts_at < NEW.ends_at AND NEW.starts_at < other.ends_at"
)


def upgrade() -> None:
    # Never batch-alter ``slots`` on SQLite: rebuilding it drops the old table, and with
    # foreign keys on that deletes every booking (ON DELETE CASCADE). An index is added in place.
    op.create_index(
        "ix_slots_id_starts_at_ends_at", "slots", ["id", "starts_at", "ends_at"], unique=True
    )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE bookings SET "
        "starts_at = (SELECT slots.starts_at FROM slots WHERE slots.id = bookings.slot_id), "
        "ends_at = (SELECT slots.ends_at FROM slots WHERE slots.id = bookings.slot_id)"
    )
    _refuse_existing_overlaps()
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.alter_column("starts_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.alter_column("ends_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.drop_constraint("uq_bookings_slot_id_participant_id", type_="unique")
        batch_op.drop_constraint("fk_bookings_slot_id_slots", type_="foreignkey")
        batch_op.create_unique_constraint(
            batch_op.f("uq_bookings_participant_id_starts_at"), ["participant_id", "starts_at"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_bookings_slot_id_slots"),
            "slots",
            ["slot_id", "starts_at", "ends_at"],
            ["id", "starts_at", "ends_at"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"ALTER TABLE bookings ADD CONSTRAINT {EXCLUSION} EXCLUDE USING gist ("
            "int4range(participant_id, participant_id, '[]') WITH &&, "
            "tstzrange(starts_at, ends_at) WITH &&)"
        )
    else:
        _create_sqlite_triggers()


def _refuse_existing_overlaps() -> None:
    """Stop with an explanation rather than fail on the constraint with a bare error."""
    clashes = op.get_bind().scalar(
        sa.text(
            "SELECT count(*) FROM bookings AS a JOIN bookings AS b "
            "ON a.participant_id = b.participant_id AND a.id < b.id "
            "AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at"
        )
    )
    if clashes:
        raise RuntimeError(
            f"{clashes} pairs of bookings put one person in two meetings at overlapping "
            "times; cancel or move one meeting of each pair, then upgrade again"
        )


def _create_sqlite_triggers() -> None:
    insert, update = TRIGGERS
    op.execute(
        f"CREATE TRIGGER {insert} BEFORE INSERT ON bookings "
        f"WHEN EXISTS ({_OVERLAP}) "
        "BEGIN SELECT RAISE(ABORT, 'bookings overlap for one participant'); END"
    )
    op.execute(
        f"CREATE TRIGGER {update} BEFORE UPDATE OF participant_id, starts_at, ends_at "
        f"ON bookings WHEN EXISTS ({_OVERLAP} AND other.id != NEW.id) "
        "BEGIN SELECT RAISE(ABORT, 'bookings overlap for one participant'); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE bookings DROP CONSTRAINT {EXCLUSION}")
    else:
        for trigger in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_constraint("fk_bookings_slot_id_slots", type_="foreignkey")
        batch_op.drop_constraint("uq_bookings_participant_id_starts_at", type_="unique")
        batch_op.create_foreign_key(
            batch_op.f("fk_bookings_slot_id_slots"),
            "slots",
            ["slot_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_bookings_slot_id_participant_id"), ["slot_id", "participant_id"]
        )
        batch_op.drop_column("ends_at")
        batch_op.drop_column("starts_at")
    op.drop_index("ix_slots_id_starts_at_ends_at", table_name="slots")

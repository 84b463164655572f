"""events, slots, places, requests, meetings, outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 08:18:39.326485
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("city", sa.String(length=200), nullable=True),
        sa.Column("venue", sa.String(length=300), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("registration_deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("meeting_minutes", sa.Integer(), nullable=False),
        sa.Column("max_pending_requests", sa.Integer(), nullable=False),
        sa.Column("request_ttl_hours", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("code", name=op.f("uq_events_code")),
    )
    op.create_table(
        "event_registrations",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_event_registrations_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_event_registrations_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "participant_id", name=op.f("pk_event_registrations")),
    )
    with op.batch_alter_table("event_registrations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_registrations_participant_id"), ["participant_id"], unique=False
        )

    op.create_table(
        "meeting_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("invitee_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_meeting_requests_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invitee_id"],
            ["participants.id"],
            name=op.f("fk_meeting_requests_invitee_id_participants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["participants.id"],
            name=op.f("fk_meeting_requests_requester_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_requests")),
        sa.UniqueConstraint(
            "event_id",
            "requester_id",
            "invitee_id",
            name=op.f("uq_meeting_requests_event_id_requester_id_invitee_id"),
        ),
    )
    with op.batch_alter_table("meeting_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_meeting_requests_event_id"), ["event_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_meeting_requests_invitee_id"), ["invitee_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_meeting_requests_requester_id"), ["requester_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_meeting_requests_status"), ["status"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_outbox_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_channel"), ["channel"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_not_before"), ["not_before"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outbox_participant_id"), ["participant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbox_topic"), ["topic"], unique=False)

    op.create_table(
        "places",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=400), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_places_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_places")),
        sa.UniqueConstraint("event_id", "label", name=op.f("uq_places_event_id_label")),
    )
    with op.batch_alter_table("places", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_places_event_id"), ["event_id"], unique=False)

    op.create_table(
        "slots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_slots_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slots")),
        sa.UniqueConstraint("event_id", "starts_at", name=op.f("uq_slots_event_id_starts_at")),
    )
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slots_event_id"), ["event_id"], unique=False)

    op.create_table(
        "meetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("first_id", sa.Integer(), nullable=False),
        sa.Column("second_id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=True),
        sa.Column("place_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("uid", sa.String(length=120), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_meetings_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["first_id"],
            ["participants.id"],
            name=op.f("fk_meetings_first_id_participants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["place_id"],
            ["places.id"],
            name=op.f("fk_meetings_place_id_places"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["meeting_requests.id"],
            name=op.f("fk_meetings_request_id_meeting_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["second_id"],
            ["participants.id"],
            name=op.f("fk_meetings_second_id_participants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"], ["slots.id"], name=op.f("fk_meetings_slot_id_slots"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
        sa.UniqueConstraint("request_id", name=op.f("uq_meetings_request_id")),
        sa.UniqueConstraint("slot_id", "place_id", name=op.f("uq_meetings_slot_id_place_id")),
        sa.UniqueConstraint("uid", name=op.f("uq_meetings_uid")),
    )
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meetings_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_meetings_status"), ["status"], unique=False)

    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_bookings_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_bookings_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"], ["slots.id"], name=op.f("fk_bookings_slot_id_slots"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
        sa.UniqueConstraint(
            "slot_id", "participant_id", name=op.f("uq_bookings_slot_id_participant_id")
        ),
    )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bookings_meeting_id"), ["meeting_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_bookings_participant_id"), ["participant_id"], unique=False
        )

    op.create_table(
        "meeting_feedback",
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("took_place", sa.Boolean(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_meeting_feedback_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_meeting_feedback_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("meeting_id", "participant_id", name=op.f("pk_meeting_feedback")),
    )


def downgrade() -> None:
    op.drop_table("meeting_feedback")
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bookings_participant_id"))
        batch_op.drop_index(batch_op.f("ix_bookings_meeting_id"))

    op.drop_table("bookings")
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meetings_status"))
        batch_op.drop_index(batch_op.f("ix_meetings_event_id"))

    op.drop_table("meetings")
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slots_event_id"))

    op.drop_table("slots")
    with op.batch_alter_table("places", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_places_event_id"))

    op.drop_table("places")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_topic"))
        batch_op.drop_index(batch_op.f("ix_outbox_participant_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_not_before"))
        batch_op.drop_index(batch_op.f("ix_outbox_channel"))

    op.drop_table("outbox")
    with op.batch_alter_table("meeting_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_requests_status"))
        batch_op.drop_index(batch_op.f("ix_meeting_requests_requester_id"))
        batch_op.drop_index(batch_op.f("ix_meeting_requests_invitee_id"))
        batch_op.drop_index(batch_op.f("ix_meeting_requests_event_id"))

    op.drop_table("meeting_requests")
    with op.batch_alter_table("event_registrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_registrations_participant_id"))

    op.drop_table("event_registrations")
    op.drop_table("events")

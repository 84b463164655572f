"""Who a broadcast goes to: a segment, and the query of its recipients."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select

from storage.event_models import EventRegistration, Meeting, Slot
from storage.models import ConsentRecord, InterestArea, Participant, ParticipantInterest
from storage.outbox import SILENT_CHANNELS
from storage.reminder_models import Attendance

CONSENT_PURPOSE = "profile_sharing"  # handlers.participant.consent.PRIVACY_PURPOSE


@dataclass(frozen=True, slots=True)
class Segment:
    """Who receives a broadcast: every given condition holds (nothing given: everyone)."""

    event_id: int | None = None
    country: str | None = None
    org_type: str | None = None
    area_code: str | None = None
    locale: str | None = None
    unconfirmed: bool = False
    """Only those with an upcoming scheduled meeting they have not confirmed."""


def recipients_query(segment: Segment, now: datetime) -> Any:
    """``SELECT participants.id`` of the segment's recipients: registered, reachable (not
    blocked), with consent, on a channel with someone behind it."""
    conditions: list[ColumnElement[bool]] = [
        Participant.registered_at.is_not(None),
        Participant.active.is_(True),
        Participant.channel.not_in(list(SILENT_CHANNELS)),
        exists().where(
            ConsentRecord.participant_id == Participant.id,
            ConsentRecord.purpose == CONSENT_PURPOSE,
        ),
    ]
    if segment.event_id is not None:
        conditions.append(
            exists().where(
                EventRegistration.participant_id == Participant.id,
                EventRegistration.event_id == segment.event_id,
            )
        )
    if segment.country is not None:
        conditions.append(Participant.country == segment.country)
    if segment.org_type is not None:
        conditions.append(Participant.org_type == segment.org_type)
    if segment.locale is not None:
        conditions.append(Participant.locale == segment.locale)
    if segment.area_code is not None:
        conditions.append(
            exists().where(
                ParticipantInterest.participant_id == Participant.id,
                ParticipantInterest.area_id == InterestArea.id,
                InterestArea.code == segment.area_code,
            )
        )
    if segment.unconfirmed:
        meeting = [
            Meeting.status == "scheduled",
            or_(Meeting.first_id == Participant.id, Meeting.second_id == Participant.id),
            Slot.id == Meeting.slot_id,
            Slot.starts_at > now,
            ~exists().where(
                Attendance.meeting_id == Meeting.id,
                Attendance.participant_id == Participant.id,
                Attendance.status == "confirmed",
            ),
        ]
        if segment.event_id is not None:
            meeting.append(Meeting.event_id == segment.event_id)
        conditions.append(exists().where(and_(*meeting)))
    return select(Participant.id).where(*conditions)

"""Privacy: consent with its notice version, ``/mydata`` export and ``/deleteme`` erasure."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from handlers.context import Turn
from handlers.fields import CHOOSE_AN_OPTION, Answer, Choice, Field, Outcome
from handlers.i18n import N_
from handlers.ics import event_name
from handlers.markup import bold, fmt
from handlers.meetings import FEEDBACK, MEETING, cancel_everything_of
from handlers.notify import payload_to_reply
from handlers.replies import Button, Document
from handlers.timefmt import when
from handlers.validation import Problem
from storage.event_models import Meeting, MeetingRequest, Place
from storage.models import Participant
from storage.repositories import PersonalData

PRIVACY_PURPOSE = "profile_sharing"
# Raise the version whenever the notice's wording changes: consent is tied to what was shown.
PRIVACY_NOTICE_VERSION = "2026-11-v1"
PRIVACY_NOTICE = N_(
    "Privacy notice (version {version})\n\n"
    "Ponte stores the profile you gave here to arrange matchmaking meetings. Your profile "
    "(name, organisation, type, country, city, interests, what you offer and seek, "
    "languages) is shown to possible partners, including partners in the other country "
    "(Italy or China); the EU GDPR and China's PIPL require us to tell you this. Your e-mail "
    "address, phone number and website are shared only with partners whose meeting request "
    "you have accepted.\n\n"
    "You can see your data with /mydata, correct it with /profile and erase it with "
    "/deleteme at any time.\n\n"
    "Do you agree?"
)
ERASE_FLOW = "erase"


class ConsentField(Field):
    """Explicit consent to the privacy notice; refusal keeps the user at this step."""

    key, label = "consent", N_("Privacy consent")
    prompt = PRIVACY_NOTICE
    columns = 1

    def question(self, turn: Turn) -> str:
        return fmt(turn.t.gettext(self.prompt), version=PRIVACY_NOTICE_VERSION)

    def choices(self, turn: Turn) -> list[Choice]:
        return [
            Choice("agree", turn.t.gettext("✅ I agree")),
            Choice("decline", turn.t.gettext("I do not agree")),
        ]

    async def on_choice(self, turn: Turn, value: str) -> Answer:
        if value == "agree":
            await turn.people.record_consent(
                turn.participant,
                PRIVACY_PURPOSE,
                PRIVACY_NOTICE_VERSION,
                turn.participant.locale,
                turn.now,
            )
            return Outcome.DONE
        if value == "decline":
            return Problem(
                N_(
                    "Without your consent your profile can't be shown to partners, so "
                    "registration can't be completed. Your answers are kept: agree whenever "
                    "you are ready, or erase them with /deleteme."
                )
            )
        return CHOOSE_AN_OPTION

    async def current(self, turn: Turn) -> str | None:
        record = await turn.people.latest_consent(turn.participant, PRIVACY_PURPOSE)
        if record is None:
            return None
        return fmt(
            turn.t.gettext("given on {date} (notice version {version})"),
            date=when(record.given_at, turn.t, turn.participant.time_zone),
            version=record.notice_version,
        )


async def send_my_data(turn: Turn) -> None:
    """``/mydata``: everything stored about the user, as a JSON document."""
    document = await export_participant(turn)
    turn.say(
        turn.t.gettext("Here is all the data Ponte holds about you, as a JSON file."),
        document=Document(
            filename="ponte-my-data.json",
            content=json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8"),
            mime_type="application/json",
        ),
    )


async def export_participant(turn: Turn) -> dict[str, Any]:
    """The participant's data as a JSON-ready dictionary."""
    p: Participant = turn.participant
    columns = (
        "channel", "external_id", "locale", "time_zone", "name", "organisation", "org_type",
        "country", "city", "email", "phone", "website", "profile", "offer", "seek",
        "languages_spoken", "interpreter_needed", "active",
    )  # fmt: skip
    data: dict[str, Any] = {column: getattr(p, column) for column in columns}
    for stamp in ("registered_at", "created_at", "updated_at"):
        data[stamp] = _iso(getattr(p, stamp))
    data["interest_areas"] = await turn.people.interest_codes(p)
    data["consents"] = [
        {
            "purpose": record.purpose,
            "notice_version": record.notice_version,
            "locale": record.locale,
            "given_at": _iso(record.given_at),
        }
        for record in await turn.people.consents(p)
    ]
    data["conversation"] = {"flow": turn.state.flow, "step": turn.state.step}
    return {"format": "ponte-personal-data/2", "participant": data, **await _activity(turn)}


async def _activity(turn: Turn) -> dict[str, Any]:
    """Events, requests, meetings and feedback; of a partner only what the person was shown."""
    me, locale = turn.participant.id, turn.participant.locale
    stored = PersonalData(turn.session)
    events = [
        {
            "code": joined.event.code,
            "name": event_name(joined.event.names, locale),
            "starts_on": joined.event.starts_on.isoformat(),
            "ends_on": joined.event.ends_on.isoformat(),
            "joined_at": _iso(joined.joined_at),
        }
        for joined in await stored.registrations(me)
    ]
    meetings = [_meeting(meeting, me) for meeting in await stored.meetings(me)]
    feedback = [
        {
            "meeting_id": answer.meeting_id,
            "took_place": answer.took_place,
            "answered_at": _iso(answer.answered_at),
        }
        for answer in await stored.feedback(me)
    ]
    return {
        "events": events,
        "meeting_requests": [_request(request, me) for request in await stored.requests(me)],
        "meetings": meetings,
        "meeting_feedback": feedback,
    }


def _request(request: MeetingRequest, me: int) -> dict[str, Any]:
    sent = request.requester_id == me
    entry: dict[str, Any] = {
        "id": request.id,
        "event": request.event.code,
        "direction": "sent" if sent else "received",
        "partner": _partner(request.invitee if sent else request.requester),
        "status": request.status,
        "created_at": _iso(request.created_at),
        "expires_at": _iso(request.expires_at),
        "answered_at": _iso(request.answered_at),
    }
    if sent:
        entry["note"] = request.note  # a received note is its writer's data, not the reader's
    return entry


def _meeting(meeting: Meeting, me: int) -> dict[str, Any]:
    slot = meeting.slot
    return {
        "id": meeting.id,
        "event": meeting.event.code,
        "status": meeting.status,
        "starts_at": _iso(slot.starts_at) if slot else None,
        "ends_at": _iso(slot.ends_at) if slot else None,
        "place": _place(meeting.place),
        "partner": _partner(meeting.partner_of(me)),
        "created_at": _iso(meeting.created_at),
        "updated_at": _iso(meeting.updated_at),
    }


def _partner(other: Participant) -> dict[str, Any]:
    return {"name": other.name, "organisation": other.organisation}


def _place(place: Place | None) -> dict[str, Any] | None:
    if place is None:
        return None
    return {"kind": place.kind, "label": place.label, "url": place.url}


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC, as every time in the export is."""
    return value.astimezone(UTC).isoformat() if value else None


async def ask_to_erase(turn: Turn, *, keyboard: bool = False) -> None:
    """``/deleteme``: ask for confirmation before erasing anything.

    ``keyboard`` says the step being left shows the contact keyboard, which erasure removes.
    """
    if turn.flow != ERASE_FLOW:
        turn.go(ERASE_FLOW, resume=_resume_point(turn), keyboard=keyboard)
    erase_prompt(turn)


def erase_prompt(turn: Turn) -> None:
    """The confirmation question of ``/deleteme``."""
    t = turn.t
    turn.say(
        bold(t.gettext("Erase all your data?"))
        + "\n"
        + t.gettext(
            "Your profile, interests, consent records, event registrations, meeting requests "
            "and meetings will be deleted for good, and your partners will be told that your "
            "meetings are cancelled. This cannot be undone."
        ),
        (
            (Button(t.gettext("Yes, erase everything"), "erase|yes"),),
            (Button(t.gettext("No, keep my data"), "erase|no"),),
        ),
    )


def _resume_point(turn: Turn) -> dict[str, Any]:
    return {"flow": turn.state.flow, "step": turn.state.step, "data": turn.state.data}


async def confirm_erase(turn: Turn, value: str) -> bool:
    """Answer the confirmation (the caller checked the user is being asked it).

    Returns whether the user went back into a flow whose question should be asked again.
    """
    t = turn.t
    if value not in {"yes", "no"}:
        turn.say(t.gettext("Please choose one of the options below."))
        erase_prompt(turn)
        return False
    if value == "yes":
        keyboard = bool(turn.state.data.get("keyboard"))
        await _forget_in_outbox(turn)
        await cancel_everything_of(turn)
        await turn.people.erase(turn.participant)
        turn.erased = True
        turn.say(
            t.gettext(
                "Your personal data has been erased. If you write to Ponte again, you will "
                "start as a new user."
            ),
            edit=True,
            remove_keyboard=keyboard,
        )
        return False
    resume = turn.state.data.get("resume") or {}
    turn.go(resume.get("flow", "idle"), resume.get("step"), **(resume.get("data") or {}))
    turn.say(t.gettext("Nothing was erased."), edit=True)
    return turn.flow != "idle"


async def _forget_in_outbox(turn: Turn) -> None:
    """Delete messages for other people, sent or not, that carry the erased person's data.

    Messages addressed to the person go with them (foreign-key cascade). An outbox row names
    only its recipient, so a message is recognised by what it refers to: a button or calendar
    file of one of the person's requests or meetings, or the topic of a plain notice about
    one of their requests (a decline, a lapse, "no time left"). Never by the name in a text:
    another person with the same or a shorter name would lose their notices. Unsent
    cancellations are kept: they take the meeting out of the partner's calendar.
    """
    # handlers.requests imports this module (via form), hence the late import.
    from handlers.requests import ANSWER, request_topic

    me = turn.participant
    stored = PersonalData(turn.session)
    requests = await stored.requests(me.id)
    meetings = await stored.meetings(me.id)
    buttons = tuple(
        [f"{ANSWER}|{request.id}|" for request in requests]
        + [f"{kind}|{meeting.id}|" for meeting in meetings for kind in (MEETING, FEEDBACK)]
    )
    calendars = [f"UID:{meeting.uid}".encode() for meeting in meetings]
    partners = {r.requester_id for r in requests} | {r.invitee_id for r in requests}
    partners.discard(me.id)
    topics = {request_topic(request) for request in requests}
    doomed = []
    for row in await stored.outbox_of(partners):
        reply = payload_to_reply(row.payload)
        calendar = reply.document.content if reply.document else b""
        if row.sent_at is None and b"METHOD:CANCEL" in calendar:
            continue
        if (
            row.topic in topics
            or any(button.payload.startswith(buttons) for button in reply.all_buttons())
            or any(uid in calendar for uid in calendars)
        ):
            doomed.append(row.id)
    await stored.delete_outbox(doomed)

"""Privacy: the ``/mydata`` export and ``/deleteme`` erasure (consent is in :mod:`consent`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from handlers.kernel.context import Turn
from handlers.kernel.flow_router import After, FlowRoute, FlowRouter
from handlers.kernel.i18n import event_name
from handlers.kernel.markup import bold
from handlers.kernel.replies import Button, Document
from handlers.participant.profile import editing
from handlers.participant.registration import current_field
from storage.event_models import Meeting, MeetingRequest, Place
from storage.models import Participant
from storage.repositories import PersonalData

ERASE_FLOW = "erase"


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
        await turn.flows.before_erase(turn)
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


async def _mydata(turn: Turn, _args: str) -> None:
    await send_my_data(turn)


async def _deleteme(turn: Turn, _args: str) -> None:
    # The step being left may show the contact keyboard, which the erasure answer removes.
    field = current_field(turn) or editing(turn)
    await ask_to_erase(turn, keyboard=bool(field and field.contact_button(turn)))


async def _erase_button(turn: Turn, value: str) -> After | None:
    return After.ASK_AGAIN if await confirm_erase(turn, value) else None


async def _erase_text(turn: Turn, _text: str) -> None:
    turn.say(turn.t.gettext("Please choose one of the options below."))
    erase_prompt(turn)


async def _erase_again(turn: Turn, _edit: bool) -> bool:
    erase_prompt(turn)
    return True


async def _erase_cancel(turn: Turn) -> After | None:
    return await _erase_button(turn, "no")


def setup() -> FlowRouter:
    """``/mydata``, ``/deleteme`` and the erasure confirmation it asks."""
    router = FlowRouter("privacy")
    router.command("mydata", _mydata)
    router.command("deleteme", _deleteme)
    router.button(ERASE_FLOW, _erase_button, flow=ERASE_FLOW)
    router.flow(
        FlowRoute(ERASE_FLOW, text=_erase_text, ask_again=_erase_again, cancel=_erase_cancel)
    )
    return router

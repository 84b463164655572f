"""Privacy: consent with its notice version, ``/mydata`` export and ``/deleteme`` erasure."""

from __future__ import annotations

import json
from typing import Any

from handlers.context import Turn
from handlers.fields import CHOOSE_AN_OPTION, Answer, Choice, Field, Outcome
from handlers.i18n import N_
from handlers.markup import bold, fmt
from handlers.meetings import cancel_everything_of
from handlers.replies import Button, Document
from handlers.timefmt import when
from handlers.validation import Problem
from storage.models import Participant

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
                turn.participant, PRIVACY_PURPOSE, PRIVACY_NOTICE_VERSION, turn.participant.locale
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
        value = getattr(p, stamp)
        data[stamp] = value.isoformat() if value else None
    data["interest_areas"] = await turn.people.interest_codes(p)
    data["consents"] = [
        {
            "purpose": record.purpose,
            "notice_version": record.notice_version,
            "locale": record.locale,
            "given_at": record.given_at.isoformat(),
        }
        for record in await turn.people.consents(p)
    ]
    data["conversation"] = {"flow": turn.state.flow, "step": turn.state.step}
    return {"format": "ponte-personal-data/1", "participant": data}


async def ask_to_erase(turn: Turn) -> None:
    """``/deleteme``: ask for confirmation before erasing anything."""
    if turn.flow != ERASE_FLOW:
        turn.go(ERASE_FLOW, resume=_resume_point(turn))
    erase_prompt(turn)


def erase_prompt(turn: Turn) -> None:
    """The confirmation question of ``/deleteme``."""
    t = turn.t
    turn.say(
        bold(t.gettext("Erase all your data?"))
        + "\n"
        + t.gettext(
            "Your profile, interests, consent records and conversation will be deleted for "
            "good. This cannot be undone."
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
        await cancel_everything_of(turn)
        await turn.people.erase(turn.participant)
        turn.erased = True
        turn.say(
            t.gettext(
                "Your personal data has been erased. If you write to Ponte again, you will "
                "start as a new user."
            ),
            edit=True,
        )
        return False
    resume = turn.state.data.get("resume") or {}
    turn.go(resume.get("flow", "idle"), resume.get("step"), **(resume.get("data") or {}))
    turn.say(t.gettext("Nothing was erased."), edit=True)
    return turn.flow != "idle"

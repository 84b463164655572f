"""Consent to the privacy notice: the last registration question, tied to a notice version."""

from __future__ import annotations

from handlers.kernel.context import Turn
from handlers.kernel.i18n import N_
from handlers.kernel.markup import fmt
from handlers.kernel.timefmt import when
from handlers.kernel.validation import Problem
from handlers.participant.fields import CHOOSE_AN_OPTION, Answer, Choice, Field, Outcome

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

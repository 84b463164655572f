"""Consent to the privacy notice: the last registration question, tied to a notice version."""

from __future__ import annotations

import hashlib
from functools import cache

from handlers.kernel.context import Turn
from handlers.kernel.i18n import N_, SUPPORTED_LOCALES, translator
from handlers.kernel.markup import fmt
from handlers.kernel.terms import PrivacyTerms
from handlers.kernel.timefmt import when
from handlers.kernel.validation import Problem
from handlers.participant.fields import CHOOSE_AN_OPTION, Answer, Choice, Field, Outcome

PRIVACY_PURPOSE = "profile_sharing"
# Raise the edition whenever the notice's wording changes. The version recorded with a consent
# also carries a fingerprint of what was shown (the wording in every language and the
# configured controller and retention), so a changed notice is never recorded under an
# old version, even if the edition was not raised.
PRIVACY_NOTICE_EDITION = "2026-12-v2"
PRIVACY_NOTICE = N_(
    "Privacy notice (version {version})\n\n"
    "Data controller: {controller} (contact: {contact}).\n\n"
    "Ponte stores the profile you gave here to arrange matchmaking meetings. Your profile "
    "(name, organisation, type, country, city, interests, what you offer and seek, "
    "languages) is shown to possible partners, including partners in the other country "
    "(Italy or China); the EU GDPR and China's PIPL require us to tell you this. Your e-mail "
    "address, phone number and website are shared only with partners whose meeting request "
    "you have accepted.\n\n"
    "Your data is kept until {days} days after the end of the last event you joined (or "
    "after you registered, if you join none), then erased.\n\n"
    "You can see your data with /mydata, correct it with /profile and erase it with "
    "/deleteme at any time. For any other request about your data, write to the contact "
    "above.\n\n"
    "Do you agree?"
)


def notice_version(terms: PrivacyTerms) -> str:
    """The version of the notice as shown with ``terms``: ``2026-12-v2+1a2b3c4d``."""
    return f"{PRIVACY_NOTICE_EDITION}+{_fingerprint(terms)}"


@cache
def _fingerprint(terms: PrivacyTerms) -> str:
    digest = hashlib.sha256()
    for part in (
        PRIVACY_NOTICE,
        *(translator(locale).gettext(PRIVACY_NOTICE) for locale in SUPPORTED_LOCALES),
        terms.controller,
        terms.contact,
        str(terms.retention_days),
    ):
        digest.update(part.encode("utf-8") + b"\0")
    return digest.hexdigest()[:8]


def privacy_notice(turn: Turn) -> str:
    """The notice in the reader's language, with the installation's controller and retention."""
    terms = turn.privacy
    return fmt(
        turn.t.gettext(PRIVACY_NOTICE),
        version=notice_version(terms),
        controller=terms.controller,
        contact=terms.contact,
        days=turn.t.number(terms.retention_days),
    )


class ConsentField(Field):
    """Explicit consent to the privacy notice; refusal keeps the user at this step."""

    key, label = "consent", N_("Privacy consent")
    prompt = PRIVACY_NOTICE
    columns = 1

    def question(self, turn: Turn) -> str:
        return privacy_notice(turn)

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
                notice_version(turn.privacy),
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

"""The participant form: every field, the order registration asks them, what can be edited."""

from __future__ import annotations

from handlers.kernel.context import Turn
from handlers.kernel.i18n import N_
from handlers.kernel.markup import fmt
from handlers.kernel.timefmt import clock, zone_label
from handlers.kernel.validation import Problem
from handlers.participant.consent import ConsentField
from handlers.participant.countries import check_time_zone
from handlers.participant.fields import (
    Answer,
    Choice,
    ChoiceField,
    CountryField,
    EmailField,
    Field,
    InterestAreasField,
    LanguageField,
    Outcome,
    PhoneField,
    SpokenLanguagesField,
    TextField,
    WebsiteField,
    YesNoField,
)

ORG_TYPES: dict[str, str] = {
    "startup": N_("Startup"),
    "sme": N_("SME"),
    "large_company": N_("Large company"),
    "university": N_("University"),
    "research_centre": N_("Research centre"),
    "public_body": N_("Public body"),
    "investor": N_("Investor / fund"),
    "other": N_("Other"),
}


class TimeZoneField(Field):
    """The participant's time zone: guessed from the country, changeable here."""

    key, label = "tz", N_("Time zone")
    prompt = N_(
        "Which time zone should Ponte use for your meeting times? Choose one, or type a "
        "city such as London or a zone name such as Europe/London."
    )
    columns = 2

    def choices(self, turn: Turn) -> list[Choice]:
        return [Choice(zone, zone_label(zone, turn.t)) for zone in ("Europe/Rome", "Asia/Shanghai")]

    async def on_text(self, turn: Turn, text: str) -> Answer:
        checked = check_time_zone(text)
        if isinstance(checked, Problem):
            return checked
        turn.participant.time_zone = checked.value
        return Outcome.DONE

    async def on_choice(self, turn: Turn, value: str) -> Answer:
        return await self.on_text(turn, value)

    async def current(self, turn: Turn) -> str | None:
        zone = turn.participant.time_zone
        if not zone:
            return None
        return fmt(
            turn.t.gettext("{zone} – currently {time}"),
            zone=zone_label(zone, turn.t),
            time=clock(turn.now, turn.t, zone),
        )


LANGUAGE = LanguageField()
NAME = TextField(
    "name", "name", N_("Name"), N_("What is your full name?"), min_length=2, max_length=100
)
ORGANISATION = TextField(
    "org", "organisation", N_("Organisation"),
    N_("What is the name of your organisation?"), min_length=2, max_length=150,
)  # fmt: skip
ORG_TYPE = ChoiceField(
    "type", "org_type", N_("Type of organisation"),
    N_("What kind of organisation is it?"), ORG_TYPES,
)  # fmt: skip
COUNTRY = CountryField()
CITY = TextField(
    "city", "city", N_("City"), N_("In which city are you based?"), min_length=1, max_length=100
)
EMAIL = EmailField(
    "email", "email", N_("E-mail"), N_("What is your e-mail address?"), max_length=254
)
PHONE = PhoneField(
    "phone", "phone", N_("Phone"),
    N_("Your phone number (optional): share it with the button, type it, or skip."),
    optional=True,
)  # fmt: skip
WEBSITE = WebsiteField(
    "web", "website", N_("Website"),
    N_("Your organisation's website (optional)? Type it or skip."), optional=True,
)  # fmt: skip
PROFILE = TextField(
    "profile", "profile", N_("Description"),
    N_("Describe your organisation and its work in a few sentences."),
    min_length=10, max_length=1000, multiline=True,
)  # fmt: skip
OFFER = TextField(
    "offer", "offer", N_("What you offer"),
    N_("What do you offer partners? Technology, expertise, products, investment…"),
    min_length=3, max_length=500, multiline=True,
)  # fmt: skip
SEEK = TextField(
    "seek", "seek", N_("What you seek"),
    N_("What are you looking for? Partners, customers, funding, research collaborations…"),
    min_length=3, max_length=500, multiline=True,
)  # fmt: skip
SPOKEN = SpokenLanguagesField()
INTERPRETER = YesNoField(
    "interp", "interpreter_needed", N_("Interpreter needed"),
    N_("Will you need an interpreter at your meetings?"),
)  # fmt: skip
AREAS = InterestAreasField()
CONSENT = ConsentField()
TIME_ZONE = TimeZoneField()

REGISTRATION_FIELDS: tuple[Field, ...] = (
    LANGUAGE, NAME, ORGANISATION, ORG_TYPE, COUNTRY, CITY, EMAIL, PHONE, WEBSITE,
    PROFILE, OFFER, SEEK, SPOKEN, INTERPRETER, AREAS, CONSENT,
)  # fmt: skip
"""The order registration asks in; consent comes last, once the user knows what is shared."""

EDITABLE_FIELDS: tuple[Field, ...] = (
    NAME, ORGANISATION, ORG_TYPE, COUNTRY, CITY, TIME_ZONE, EMAIL, PHONE, WEBSITE,
    PROFILE, OFFER, SEEK, SPOKEN, INTERPRETER, AREAS, LANGUAGE,
)  # fmt: skip
"""What ``/profile`` offers to edit, in the order of the profile card."""

FIELDS_BY_KEY: dict[str, Field] = {f.key: f for f in (*REGISTRATION_FIELDS, TIME_ZONE)}

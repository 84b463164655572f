"""The profile fields a participant fills in, each knowing how to ask, check and store itself.

Registration walks through them in order; ``/profile`` reuses the same fields for editing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from handlers.kernel.context import Turn
from handlers.kernel.i18n import N_, SUPPORTED_LOCALES, translator
from handlers.kernel.markup import bold, escape, italic
from handlers.kernel.validation import (
    Checked,
    Problem,
    check_email,
    check_phone,
    check_text,
    check_url,
    length_hint,
    normalise_shared_phone,
)
from handlers.participant.countries import (
    check_country,
    country_name,
    guess_time_zone,
    is_country_code,
)


class Outcome(Enum):
    """What became of an answer that was not refused."""

    DONE = "done"  # the field is answered: move on
    STAY = "stay"  # e.g. a toggle: show the same question again, updated in place


Answer = Outcome | Problem

CHOOSE_AN_OPTION = Problem(N_("Please choose one of the options below."))


@dataclass(frozen=True, slots=True)
class Choice:
    """One option of a field: the value stored and the label shown (already translated)."""

    value: str
    label: str


class Field:
    """Base class: a question with an optional set of choices."""

    key: str = ""
    label: str = ""
    prompt: str = ""
    optional: bool = False
    multi: bool = False
    columns: int = 1

    def question(self, turn: Turn) -> str:
        """The question as markup."""
        return bold(turn.t.gettext(self.prompt))

    def choices(self, turn: Turn) -> list[Choice]:
        """Options shown as buttons (none for free-text fields)."""
        return []

    def contact_button(self, turn: Turn) -> str | None:
        """Label of a "share my contact" button, for fields that accept one."""
        return None

    async def on_text(self, turn: Turn, text: str) -> Answer:
        """Typed text: by default, accepted when it matches an option's label."""
        wanted = text.strip().casefold()
        for choice in self.choices(turn):
            if choice.label.casefold() == wanted or choice.value.casefold() == wanted:
                return await self.on_choice(turn, choice.value)
        return CHOOSE_AN_OPTION

    async def on_choice(self, turn: Turn, value: str) -> Answer:
        """A pressed option; the value comes from an untrusted payload."""
        return CHOOSE_AN_OPTION

    async def on_contact(self, turn: Turn, phone: str, own: bool) -> Answer:
        """A shared contact; only the phone field wants one."""
        return Problem(N_("Please answer with text or the buttons below."))

    async def finish(self, turn: Turn) -> Answer:
        """The "Done" button of multi-choice fields."""
        return Outcome.DONE

    async def clear(self, turn: Turn) -> None:
        """Forget the answer (optional fields only)."""
        raise NotImplementedError

    async def current(self, turn: Turn) -> str | None:
        """The stored answer as markup for the profile card, or ``None`` when empty."""
        raise NotImplementedError


class TextField(Field):
    """Free text stored in one participant column, checked by length and content."""

    states_length = True
    """Whether the question says how long the answer may be (formats such as e-mail don't)."""

    def __init__(
        self,
        key: str,
        attr: str,
        label: str,
        prompt: str,
        *,
        min_length: int = 1,
        max_length: int = 100,
        multiline: bool = False,
        optional: bool = False,
    ) -> None:
        self.key, self.attr, self.label, self.prompt = key, attr, label, prompt
        self.min_length, self.max_length, self.multiline = min_length, max_length, multiline
        self.optional = optional

    def question(self, turn: Turn) -> str:
        question = super().question(turn)
        if not self.states_length:
            return question
        return question + "\n" + italic(length_hint(self.min_length, self.max_length, turn.t))

    def check(self, text: str) -> Checked:
        """Validate and normalise typed text."""
        return check_text(
            text, min_length=self.min_length, max_length=self.max_length, multiline=self.multiline
        )

    async def on_text(self, turn: Turn, text: str) -> Answer:
        checked = self.check(text)
        if isinstance(checked, Problem):
            return checked
        setattr(turn.participant, self.attr, checked.value)
        return Outcome.DONE

    async def clear(self, turn: Turn) -> None:
        setattr(turn.participant, self.attr, None)

    async def current(self, turn: Turn) -> str | None:
        value = getattr(turn.participant, self.attr)
        return None if value is None else escape(value)


class EmailField(TextField):
    """An e-mail address, syntax-checked."""

    states_length = False

    def check(self, text: str) -> Checked:
        return check_email(text)


class WebsiteField(TextField):
    """A web address; ``https://`` is added when missing."""

    states_length = False

    def check(self, text: str) -> Checked:
        return check_url(text)


class PhoneField(TextField):
    """A phone number, typed or shared with the client's contact button."""

    states_length = False

    def check(self, text: str) -> Checked:
        return check_phone(text)

    async def on_text(self, turn: Turn, text: str) -> Answer:
        # The participant's country lets a number typed without its code be written out.
        checked = check_phone(text, turn.participant.country)
        if isinstance(checked, Problem):
            return checked
        turn.participant.phone = checked.value
        return Outcome.DONE

    def contact_button(self, turn: Turn) -> str | None:
        return turn.t.gettext("📱 Share my phone number")

    async def on_contact(self, turn: Turn, phone: str, own: bool) -> Answer:
        if not own:
            return Problem(N_("Please share your own contact, not someone else's."))
        turn.participant.phone = normalise_shared_phone(phone)
        return Outcome.DONE


class ChoiceField(Field):
    """One option out of a fixed list, stored in a participant column."""

    def __init__(
        self,
        key: str,
        attr: str,
        label: str,
        prompt: str,
        options: dict[str, str],
        *,
        columns: int = 2,
    ) -> None:
        self.key, self.attr, self.label, self.prompt = key, attr, label, prompt
        self.options, self.columns = options, columns

    def choices(self, turn: Turn) -> list[Choice]:
        return [Choice(value, turn.t.gettext(label)) for value, label in self.options.items()]

    def store(self, turn: Turn, value: str) -> None:
        """Write the chosen value."""
        setattr(turn.participant, self.attr, value)

    async def on_choice(self, turn: Turn, value: str) -> Answer:
        if value not in self.options:
            return CHOOSE_AN_OPTION
        self.store(turn, value)
        return Outcome.DONE

    async def current(self, turn: Turn) -> str | None:
        value = getattr(turn.participant, self.attr)
        label = self.options.get(str(value)) if value is not None else None
        return None if label is None else escape(turn.t.gettext(label))


class YesNoField(ChoiceField):
    """A yes/no question stored as a boolean."""

    def __init__(self, key: str, attr: str, label: str, prompt: str) -> None:
        super().__init__(key, attr, label, prompt, {"yes": N_("Yes"), "no": N_("No")})

    def store(self, turn: Turn, value: str) -> None:
        setattr(turn.participant, self.attr, value == "yes")

    async def current(self, turn: Turn) -> str | None:
        value = getattr(turn.participant, self.attr)
        if value is None:
            return None
        return escape(turn.t.gettext(N_("Yes") if value else N_("No")))


class LanguageField(Field):
    """The language Ponte speaks to the participant."""

    key, label = "language", N_("Language")
    prompt = N_("Which language would you like to use?")
    columns = 3

    def choices(self, turn: Turn) -> list[Choice]:
        return [Choice(code, native_language_name(code)) for code in SUPPORTED_LOCALES]

    async def on_choice(self, turn: Turn, value: str) -> Answer:
        if value not in SUPPORTED_LOCALES:
            return CHOOSE_AN_OPTION
        turn.participant.locale = value
        return Outcome.DONE

    async def current(self, turn: Turn) -> str | None:
        return escape(native_language_name(turn.participant.locale))


def native_language_name(locale: str) -> str:
    """A locale's name in its own language: ``Italiano``, ``English``, ``中文``."""
    t = translator(locale)
    name = t.locale.get_language_name(t.locale) or locale
    return name[:1].upper() + name[1:]


class CountryField(Field):
    """The participant's country: Italy and China as buttons, any other typed by name."""

    key, label = "country", N_("Country")
    prompt = N_("Which country are you based in? Choose one, or type the name of another country.")

    def choices(self, turn: Turn) -> list[Choice]:
        return [Choice(code, country_name(code, turn.t)) for code in ("IT", "CN")]

    columns = 2

    async def on_text(self, turn: Turn, text: str) -> Answer:
        checked = check_country(text, turn.t)
        if isinstance(checked, Problem):
            return checked
        return await self.on_choice(turn, checked.value)

    async def on_choice(self, turn: Turn, value: str) -> Answer:
        if not is_country_code(value):
            return CHOOSE_AN_OPTION
        participant = turn.participant
        # Follow a country change with the time zone, unless the user chose another zone.
        if participant.time_zone in (None, guess_time_zone(participant.country)):
            participant.time_zone = guess_time_zone(value)
        participant.country = value
        return Outcome.DONE

    async def current(self, turn: Turn) -> str | None:
        code = turn.participant.country
        return escape(country_name(code, turn.t)) if code else None


class ToggleField(Field):
    """Several options toggled on and off, then confirmed with "Done"; at least one needed."""

    multi = True
    empty_problem = Problem(N_("Please choose at least one option."))

    async def selected(self, turn: Turn) -> list[str]:
        """The values currently chosen."""
        raise NotImplementedError

    async def save(self, turn: Turn, values: list[str]) -> None:
        """Store the chosen values."""
        raise NotImplementedError

    async def on_choice(self, turn: Turn, value: str) -> Answer:
        if value not in {choice.value for choice in self.choices(turn)}:
            return CHOOSE_AN_OPTION
        chosen = await self.selected(turn)
        await self.save(
            turn, [v for v in chosen if v != value] if value in chosen else [*chosen, value]
        )
        return Outcome.STAY

    async def finish(self, turn: Turn) -> Answer:
        return Outcome.DONE if await self.selected(turn) else self.empty_problem

    async def current(self, turn: Turn) -> str | None:
        chosen = set(await self.selected(turn))
        names = [self.name_in_text(turn, c) for c in self.choices(turn) if c.value in chosen]
        return escape(turn.t.list(names)) if names else None

    def name_in_text(self, turn: Turn, choice: Choice) -> str:
        """How an option is written inside a sentence (labels may be capitalised)."""
        return choice.label


SPOKEN_LANGUAGES = ("it", "en", "zh", "fr", "de", "es")


class SpokenLanguagesField(ToggleField):
    """Languages the participant can hold a meeting in."""

    key, label = "spoken", N_("Languages spoken")
    prompt = N_("Which languages can you hold a meeting in? Tap to select, then press Done.")
    empty_problem = Problem(N_("Please choose at least one language."))
    columns = 3

    def choices(self, turn: Turn) -> list[Choice]:
        return [Choice(code, _capitalised(turn.t.language_name(code))) for code in SPOKEN_LANGUAGES]

    async def selected(self, turn: Turn) -> list[str]:
        return list(turn.participant.languages_spoken or [])

    def name_in_text(self, turn: Turn, choice: Choice) -> str:
        return turn.t.language_name(choice.value)

    async def save(self, turn: Turn, values: list[str]) -> None:
        turn.participant.languages_spoken = [c for c in SPOKEN_LANGUAGES if c in values]


class InterestAreasField(ToggleField):
    """Interest areas from the organisers' taxonomy."""

    key, label = "areas", N_("Interest areas")
    prompt = N_("Which areas interest you? Tap to select as many as you like, then press Done.")
    empty_problem = Problem(N_("Please choose at least one interest area."))

    def choices(self, turn: Turn) -> list[Choice]:
        locale = turn.participant.locale
        return [Choice(a.code, _area_name(a.names, locale)) for a in turn.areas]

    async def selected(self, turn: Turn) -> list[str]:
        return await turn.people.interest_codes(turn.participant)

    async def save(self, turn: Turn, values: list[str]) -> None:
        await turn.people.set_interests(turn.participant, values)

    async def current(self, turn: Turn) -> str | None:
        codes = await self.selected(turn)
        areas = await turn.taxonomy.areas_by_code(codes)
        names = [_area_name(a.names, turn.participant.locale) for a in areas]
        return escape(turn.t.list(names)) if names else None


def _area_name(names: dict[str, Any], locale: str) -> str:
    return str(names.get(locale) or names.get("en") or next(iter(names.values()), ""))


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]

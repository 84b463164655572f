"""``/language``: the three languages as buttons, and the switch itself."""

from __future__ import annotations

from handlers.kernel.context import Turn
from handlers.kernel.flow_router import After, FlowRouter
from handlers.kernel.i18n import SUPPORTED_LOCALES
from handlers.kernel.markup import bold, fmt
from handlers.kernel.replies import Button
from handlers.participant.fields import native_language_name

SET_LANGUAGE = "setlang"


def offer_languages(turn: Turn) -> None:
    """``/language``: the three languages as buttons (the current step is kept)."""
    buttons = tuple(
        Button(native_language_name(code), f"{SET_LANGUAGE}|{code}") for code in SUPPORTED_LOCALES
    )
    turn.say(bold(turn.t.gettext("Which language would you like to use?")), (buttons,))


def set_language(turn: Turn, code: str) -> bool:
    """Switch the participant's language; ``False`` when ``code`` is not one Ponte speaks."""
    if code not in SUPPORTED_LOCALES:
        return False
    turn.participant.locale = code
    turn.say(
        fmt(
            turn.t.gettext("From now on I will write in {language}."),
            language=native_language_name(code),
        ),
        edit=True,
    )
    return True


async def _language_command(turn: Turn, _args: str) -> None:
    offer_languages(turn)


async def _language_button(turn: Turn, code: str) -> After:
    # The question the user was on is asked again, now in the new language.
    return After.ASK_AGAIN if set_language(turn, code) else After.STALE


def setup() -> FlowRouter:
    """The language switch: works at any step, registered or not."""
    router = FlowRouter("language")
    router.command("language", _language_command)
    router.button(SET_LANGUAGE, _language_button)
    return router

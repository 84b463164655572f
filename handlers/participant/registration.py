"""Registration: welcome, then the form's questions in order, resumable at any point."""

from __future__ import annotations

from handlers.kernel.context import START_PAYLOAD, Turn
from handlers.kernel.flow_router import After, FlowRouter
from handlers.kernel.markup import bold, fmt
from handlers.kernel.menu import help_text
from handlers.participant.card import profile_card
from handlers.participant.field_flow import FieldFlow
from handlers.participant.fields import Field, PhoneField
from handlers.participant.form import REGISTRATION_FIELDS
from handlers.participant.prompts import NAV_BACK, REGISTRATION_FLOW, ask

_POSITION = {field.key: index for index, field in enumerate(REGISTRATION_FIELDS)}


def _position(field: Field) -> tuple[int, int]:
    return _POSITION[field.key] + 1, len(REGISTRATION_FIELDS)


def current_field(turn: Turn) -> Field | None:
    """The registration question the participant is on, if they are registering."""
    if turn.flow != REGISTRATION_FLOW or turn.state.step not in _POSITION:
        return None
    return REGISTRATION_FIELDS[_POSITION[turn.state.step]]


async def ask_field(turn: Turn, field: Field, *, edit: bool = False) -> None:
    """Ask a registration question, with its step number."""
    await ask(turn, field, edit=edit, position=_position(field))


async def start(turn: Turn, *, new: bool) -> None:
    """``/start`` (or a first message): welcome, resume, or greet a registered user."""
    t = turn.t
    if turn.registered:
        name = turn.participant.name or ""
        turn.say(fmt(t.gettext("Welcome back, {name}!"), name=name) + "\n\n" + help_text(turn))
        return
    field = current_field(turn)
    if field is None:
        resume = turn.state.data.get("resume_step")
        field = REGISTRATION_FIELDS[_POSITION.get(str(resume), 0)]
        turn.go(REGISTRATION_FLOW, field.key)
    if new:
        turn.say(
            bold(t.gettext("Welcome to Ponte!"))
            + "\n"
            + t.gettext(
                "I help startups, companies and researchers from Italy and China find partners "
                "and arrange meetings. Registration takes about three minutes; you can go back "
                "at any step, and /help shows what else I can do."
            )
        )
    else:
        turn.say(t.gettext("Welcome back! Let's continue where you left off."))
    await ask_field(turn, field)


async def advance(turn: Turn, field: Field) -> None:
    """The participant answered ``field``: ask the next question or finish."""
    _leave(turn, field)
    index = _POSITION[field.key] + 1
    if index >= len(REGISTRATION_FIELDS):
        await _complete(turn)
        return
    following = REGISTRATION_FIELDS[index]
    turn.go(REGISTRATION_FLOW, following.key)
    await ask_field(turn, following)


async def go_back(turn: Turn, field: Field) -> None:
    """Return to the question before ``field``."""
    _leave(turn, field)
    previous = REGISTRATION_FIELDS[max(_POSITION[field.key] - 1, 0)]
    turn.go(REGISTRATION_FLOW, previous.key)
    await ask_field(turn, previous)


def pause(turn: Turn) -> None:
    """``/cancel`` during registration: keep the answers and the place, leave the flow."""
    step = turn.state.step
    turn.go("idle", resume_step=step)
    turn.say(
        turn.t.gettext(
            "Registration paused. Your answers are saved; send /start to continue where you "
            "left off."
        ),
        remove_keyboard=True,
    )


def _leave(turn: Turn, field: Field) -> None:
    # The phone question shows a reply keyboard; it must not outlive the question. Telegram
    # takes it away only with a message of its own, so that message says what was kept.
    if isinstance(field, PhoneField):
        t, phone = turn.t, turn.participant.phone
        text = fmt(t.gettext("Phone number saved: {phone}"), phone=phone) if phone else None
        turn.say(text or t.gettext("No phone number saved."), remove_keyboard=True)


async def _complete(turn: Turn) -> None:
    await turn.people.mark_registered(turn.participant, turn.now)
    turn.profiles_changed = True
    turn.go("idle")
    t = turn.t
    turn.say(bold(t.gettext("Registration complete. Welcome to Ponte!")))
    await profile_card(turn)
    turn.say(help_text(turn))
    await turn.flows.use_start_payload(turn)


async def _start_command(turn: Turn, args: str) -> None:
    if args:
        # Kept for the flows that use deep links (events); stored, never trusted.
        turn.state.data = {**turn.state.data, START_PAYLOAD: args[:64]}
    if not await turn.flows.leave(turn):
        return
    if turn.registered and turn.flow != "idle":
        turn.go("idle")
    if args:
        # A registered participant joins now; a newcomer learns at once whether the code is
        # good (and joins once registered).
        await turn.flows.use_start_payload(turn)
        if turn.registered:
            return
    await start(turn, new=turn.created)


async def _pause(turn: Turn) -> None:
    pause(turn)


async def _ask(turn: Turn, field: Field, edit: bool) -> None:
    await ask_field(turn, field, edit=edit)


async def _text_outside_flows(turn: Turn, _text: str) -> After | None:
    # Whatever a newcomer writes first starts (or resumes) registration.
    if turn.registered:
        return After.DECLINED
    await start(turn, new=turn.created)
    return None


REGISTRATION = FieldFlow(
    REGISTRATION_FLOW, current_field, _ask, done=advance, navigation={NAV_BACK: go_back}
)
"""The registration questions in order; « Back returns to the previous one."""


def setup() -> FlowRouter:
    """``/start`` and the registration questions."""
    router = FlowRouter("registration")
    router.command("start", _start_command)
    router.flow(REGISTRATION.route(cancel=_pause))
    router.text_outside_flows(_text_outside_flows)
    return router

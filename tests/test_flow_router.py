"""A flow joins the core by its router alone; two routers cannot claim the same thing."""

from __future__ import annotations

import pytest

from bot.app import App
from handlers.core import Core
from handlers.flows import default_routers
from handlers.kernel.context import Turn
from handlers.kernel.flow_router import After, FlowRoute, FlowRouter
from handlers.kernel.menu import COMMANDS
from handlers.organiser import admins, broadcast, exports, rights, stats
from tests.chat import Chat


def _reminders(*, registered: bool) -> FlowRouter:
    """A made-up module, as a future one would be added: commands, a button, a flow."""
    router = FlowRouter("reminders")

    async def remind(turn: Turn, args: str) -> None:
        turn.go("remind", "when")
        turn.say(f"When? {args}")

    async def again(turn: Turn, _edit: bool) -> bool:
        turn.say("When should I remind you?")
        return True

    async def text(turn: Turn, value: str) -> None:
        turn.go("idle")
        turn.say(f"Noted: {value}")

    async def snooze(turn: Turn, value: str) -> After:
        turn.say(f"Snoozed {value}")
        return After.ASK_AGAIN

    router.command("remind", remind, registered=registered)
    router.button("snz", snooze, flow="remind")
    router.flow(FlowRoute("remind", text=text, ask_again=again))
    return router


async def test_a_new_router_adds_a_flow_without_touching_the_core(sqlite_app: App) -> None:
    routers = [*default_routers(), _reminders(registered=True)]
    core = Core(sqlite_app.sessions, clock=sqlite_app.clock, routers=routers)
    await core.load_taxonomy()
    chat = Chat(core)
    await chat.say("/remind soon")
    assert "works once registration is complete" in chat.text  # registered-only, as declared
    await chat.say("/help")
    assert "/start" in chat.text  # the default flows are all still there


async def test_the_flow_answers_its_own_text_buttons_and_cancel(sqlite_app: App) -> None:
    routers = [*default_routers(), _reminders(registered=False)]
    core = Core(sqlite_app.sessions, clock=sqlite_app.clock, routers=routers)
    await core.load_taxonomy()
    chat = Chat(core)
    await chat.say("/remind soon")
    assert chat.text == "When? soon"
    await chat.press_payload("snz|10m")
    assert chat.texts == ["Snoozed 10m", "When should I remind you?"]
    await chat.send_unsupported()
    assert chat.texts[-1] == "When should I remind you?"
    await chat.say("/cancel")  # the flow declared no cancel: the core's answer
    assert "There is nothing to cancel." in chat.text
    await chat.press_payload("snz|10m")  # outside its flow the button is stale
    assert "no longer works" in chat.text
    await chat.say("/remind later")
    await chat.say("tomorrow at nine")
    assert chat.text == "Noted: tomorrow at nine"


def test_two_routers_cannot_claim_one_command_or_prefix(sqlite_app: App) -> None:
    twice = FlowRouter("twice")

    async def start(turn: Turn, _args: str) -> None:
        turn.say("mine")

    twice.command("start", start)
    with pytest.raises(ValueError, match="start"):
        Core(sqlite_app.sessions, clock=sqlite_app.clock, routers=[*default_routers(), twice])


def test_the_menu_lists_every_participant_command_and_no_organiser_one(sqlite_app: App) -> None:
    """``COMMANDS`` is written by hand (its order is the menu's); every command a participant
    can use must be in it, and no organiser command, which others must not even see."""
    organiser_routers = {m.setup().name for m in (admins, broadcast, exports, rights, stats)}
    core = Core(sqlite_app.sessions, clock=sqlite_app.clock)
    participant_commands = {
        command.name
        for router in core.routers
        if router.name not in organiser_routers
        for command in router.commands
    }
    organiser_commands = {
        command.name
        for router in core.routers
        if router.name in organiser_routers
        for command in router.commands
    }
    menu = [name for name, _ in COMMANDS]
    assert len(menu) == len(set(menu))
    assert set(menu) == participant_commands
    assert organiser_commands and not organiser_commands & set(menu)

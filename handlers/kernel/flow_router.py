"""Flow routers: each flow module declares, in one place, what it answers.

A module builds a :class:`FlowRouter` in its ``setup()`` and registers its commands, the
button payload prefixes it owns, the conversation flow it runs (text, "ask again",
``/cancel``…) and the hooks it offers other flows. The core is given the routers and
dispatches by looking them up, so a new flow is a new module and one more router in the
list, never another branch in the core.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.context import Turn
from handlers.kernel.i18n import N_


class After(Enum):
    """What the core does once a handler returns (``None`` means :attr:`DONE`)."""

    DONE = "done"
    """The handler answered; nothing more to do."""
    ASK_AGAIN = "ask_again"
    """Repeat the question the user is on, if any."""
    STALE = "stale"
    """The button no longer applies here: say so and repeat the question."""
    DECLINED = "declined"
    """Not for this handler after all: the core answers as if there were none (a command
    handler declining is answered as an unknown command, a button's as a stale button)."""


STALE_BUTTON = N_("That button is from an earlier message and no longer works.")
"""What a press that no longer applies is answered (:attr:`After.STALE`, and flows' own checks)."""

Outcome = After | None
CommandHandler = Callable[[Turn, str], Awaitable[Outcome]]
"""Takes the turn and the command's arguments (``/start abc`` → ``"abc"``)."""
ButtonHandler = Callable[[Turn, str], Awaitable[Outcome]]
"""Takes the turn and the payload after the prefix and its ``|`` (untrusted)."""
TextHandler = Callable[[Turn, str], Awaitable[Outcome]]
ContactHandler = Callable[[Turn, str, bool], Awaitable[Outcome]]
"""Takes the turn, the phone number, and whether the contact is the sender's own."""
AskAgain = Callable[[Turn, bool], Awaitable[bool]]
"""Repeats the flow's question (``True`` to replace the pressed message); ``False`` if none."""
TurnHook = Callable[[Turn], Awaitable[None]]
Leave = Callable[[Turn], Awaitable[bool]]
Maintenance = Callable[[AsyncSession, datetime], Awaitable[int]]
AfterCommit = Callable[[Turn], None]
TimedJob = Callable[[AsyncSession, datetime, Sequence[int]], Awaitable[bool]]
"""Work for stored items due at one time (reminder ids); ``True`` if it queued messages."""


@dataclass(frozen=True, slots=True)
class CommandRoute:
    """A command and whether only registered participants may use it."""

    name: str
    handler: CommandHandler
    registered: bool


@dataclass(frozen=True, slots=True)
class ButtonRoute:
    """A button payload prefix (the part before the first ``|``) and who may press it.

    ``registered``: only registered participants (others get the stale-button answer).
    ``flow``: only while the participant is in that flow (the button belongs to its question).
    """

    prefix: str
    handler: ButtonHandler
    registered: bool
    flow: str | None


@dataclass(frozen=True, slots=True)
class FlowRoute:
    """How a conversation flow (``Turn.flow``) takes input it alone understands.

    Every part is optional. ``button`` gets payloads no prefix claimed (a form's own
    choices); ``leave`` lets the flow keep the user when another action would take them out
    of it; ``ended_by_commands`` says a registered-only command simply ends the flow.
    """

    name: str
    text: TextHandler | None = None
    button: ButtonHandler | None = None
    contact: ContactHandler | None = None
    ask_again: AskAgain | None = None
    cancel: Callable[[Turn], Awaitable[Outcome]] | None = None
    leave: Leave | None = None
    ended_by_commands: bool = False


@dataclass(slots=True)
class FlowRouter:
    """What one flow module answers; the core merges the routers it is given."""

    name: str
    commands: list[CommandRoute] = field(default_factory=list)
    buttons: list[ButtonRoute] = field(default_factory=list)
    flows: list[FlowRoute] = field(default_factory=list)
    idle_text: list[TextHandler] = field(default_factory=list)
    start_payload_hooks: list[TurnHook] = field(default_factory=list)
    erase_hooks: list[TurnHook] = field(default_factory=list)
    maintenance_jobs: list[Maintenance] = field(default_factory=list)
    after_commit_hooks: list[AfterCommit] = field(default_factory=list)
    timed_jobs: dict[str, TimedJob] = field(default_factory=dict)

    def command(self, name: str, handler: CommandHandler, *, registered: bool = False) -> None:
        """Answer ``/name`` at any step of any flow."""
        self.commands.append(CommandRoute(name, handler, registered))

    def button(
        self,
        prefix: str,
        handler: ButtonHandler,
        *,
        registered: bool = False,
        flow: str | None = None,
    ) -> None:
        """Answer presses on buttons whose payload starts with ``prefix|``."""
        self.buttons.append(ButtonRoute(prefix, handler, registered, flow))

    def flow(self, route: FlowRoute) -> None:
        """Run the conversation flow ``route.name``."""
        self.flows.append(route)

    def text_outside_flows(self, handler: TextHandler) -> None:
        """Offer to take text that the user's flow does not (``DECLINED`` passes it on)."""
        self.idle_text.append(handler)

    def on_start_payload(self, hook: TurnHook) -> None:
        """Use a ``/start`` payload once the participant is registered (a deep link)."""
        self.start_payload_hooks.append(hook)

    def before_erase(self, hook: TurnHook) -> None:
        """Clean up what this module holds about a participant who is being erased."""
        self.erase_hooks.append(hook)

    def maintenance(self, job: Maintenance) -> None:
        """Time-driven work, run in the core's maintenance transaction; returns a count."""
        self.maintenance_jobs.append(job)

    def after_commit(self, hook: AfterCommit) -> None:
        """Run after a turn's transaction committed (to refresh in-process caches)."""
        self.after_commit_hooks.append(hook)

    def timed(self, name: str, job: TimedJob) -> None:
        """Offer ``job`` to the scheduler as ``name``: it runs it for the ids of the items due
        at one time (``Core.run_timed``), in a transaction of its own."""
        self.timed_jobs[name] = job


Route = TypeVar("Route")


def claim_routes(taken: dict[str, Route], router: FlowRouter, wanted: dict[str, Route]) -> None:
    """Add ``router``'s routes, refusing a name another router already claimed."""
    clash = taken.keys() & wanted.keys()
    if clash:
        raise ValueError(f"router {router.name!r} claims what another router has: {sorted(clash)}")
    taken.update(wanted)

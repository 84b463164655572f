"""Flows that ask form fields one at a time (registration, profile editing): answers in.

Both flows take typed text, the field's own buttons and a shared contact the same way; they
differ in which field is current, how it is asked, where an answer leads and which
navigation buttons they show.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from handlers.kernel.context import Turn
from handlers.kernel.flow_router import After, FlowRoute, Leave
from handlers.kernel.replies import split_payload
from handlers.kernel.validation import Problem
from handlers.participant.fields import Answer, Field, Outcome
from handlers.participant.prompts import NAV_DONE, NAV_SKIP

FieldStep = Callable[[Turn, Field], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class FieldFlow:
    """One form flow: ``current`` field, how to ``ask`` it, what follows when it is ``done``.

    ``navigation`` maps the flow's own navigation values (« Back, « Back to profile) to
    what they do.
    """

    name: str
    current: Callable[[Turn], Field | None]
    ask: Callable[[Turn, Field, bool], Awaitable[None]]
    done: FieldStep
    navigation: Mapping[str, FieldStep]

    def route(
        self, *, cancel: Callable[[Turn], Awaitable[After | None]], leave: Leave | None = None
    ) -> FlowRoute:
        """The flow's entry for a :class:`~handlers.kernel.flow_router.FlowRouter`."""
        return FlowRoute(
            self.name,
            text=self.on_text,
            button=self.on_button,
            contact=self.on_contact,
            ask_again=self.ask_again,
            cancel=cancel,
            leave=leave,
        )

    async def ask_again(self, turn: Turn, edit: bool) -> bool:
        """Repeat the current question; ``False`` when the step names no field."""
        field = self.current(turn)
        if field is None:
            return False
        await self.ask(turn, field, edit)
        return True

    async def on_text(self, turn: Turn, text: str) -> After | None:
        """Typed text answers the current field."""
        field = self.current(turn)
        if field is None:
            return After.DECLINED
        await self._answered(turn, field, await field.on_text(turn, text), pressed=False)
        return None

    async def on_contact(self, turn: Turn, phone: str, own: bool) -> After | None:
        """A shared contact answers the current field (the phone question)."""
        field = self.current(turn)
        if field is None:
            return After.DECLINED
        await self._answered(turn, field, await field.on_contact(turn, phone, own), pressed=False)
        return None

    async def on_button(self, turn: Turn, payload: str) -> After | None:
        """A press on one of the current field's buttons (``<field key>|<value>``)."""
        key, value = split_payload(payload)
        field = self.current(turn)
        if field is None or key != field.key:
            return After.STALE
        navigate = self.navigation.get(value)
        if navigate is not None:
            await navigate(turn, field)
        elif value == NAV_SKIP and field.optional:
            await field.clear(turn)
            await self._answered(turn, field, Outcome.DONE, pressed=True)
        elif value == NAV_DONE and field.multi:
            await self._answered(turn, field, await field.finish(turn), pressed=True)
        else:
            await self._answered(turn, field, await field.on_choice(turn, value), pressed=True)
        return None

    async def _answered(self, turn: Turn, field: Field, answer: Answer, *, pressed: bool) -> None:
        if isinstance(answer, Problem):
            turn.say(answer.render(turn.t))
            await self.ask_again(turn, False)
        elif answer is Outcome.STAY:
            # A toggle was tapped: redraw the question in place.
            await self.ask_again(turn, pressed)
        else:
            await self.done(turn, field)

"""Which event an organiser's statistics or export cover: one event by code, or all."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.context import Turn
from handlers.kernel.i18n import Translator, event_name
from handlers.kernel.markup import bold, escape, fmt
from storage.event_models import Event
from storage.statistics import StatisticsRepository


@dataclass(frozen=True, slots=True)
class EventScope:
    """One event (its id, code and names), or every event when ``event_id`` is ``None``."""

    event_id: int | None = None
    code: str | None = None
    names: dict[str, Any] = field(default_factory=dict)

    def heading(self, t: Translator) -> str:
        """``Event name (code)`` or "All participants", as markup."""
        if self.event_id is None:
            return bold(escape(t.gettext("All participants and events")))
        return bold(escape(event_name(self.names, t.code))) + f" ({escape(self.code)})"

    @property
    def button_value(self) -> str:
        """The scope in a button payload: the event's id, or empty for all."""
        return "" if self.event_id is None else str(self.event_id)


async def resolve_scope(
    session: AsyncSession, code: str | None, *, event_id: str = ""
) -> EventScope | None:
    """The scope for an event ``code`` (or a payload's ``event_id``); ``None``: no such event.

    Neither given means every event.
    """
    if code:
        event = await StatisticsRepository(session).event_by_code(code)
    elif event_id:
        if not (event_id.isascii() and event_id.isdigit()):
            return None
        event = await session.scalar(select(Event).where(Event.id == int(event_id)))
    else:
        return EventScope()
    if event is None:
        return None
    return EventScope(event.id, event.code, dict(event.names))


async def find_scope(turn: Turn, code: str | None, *, event_id: str = "") -> EventScope | None:
    """:func:`resolve_scope`, telling the organiser when there is no such event."""
    scope = await resolve_scope(turn.session, code, event_id=event_id)
    if scope is None:
        if code:
            turn.say(
                fmt(
                    turn.t.gettext(
                        "There is no event with the code “{code}”. /stats without a code "
                        "lists the events with their codes."
                    ),
                    code=code[:64],
                )
            )
        else:
            turn.say(turn.t.gettext("That event no longer exists."))
    return scope

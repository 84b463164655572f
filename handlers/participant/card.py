"""The profile card: every field with its value, and a button to edit each one."""

from __future__ import annotations

from handlers.kernel.context import Turn
from handlers.kernel.markup import bold
from handlers.kernel.replies import Button
from handlers.participant.form import CONSENT, EDITABLE_FIELDS

EDIT = "edit"
"""Payload prefix of the card's buttons: ``edit|<field key>``."""


async def profile_card(turn: Turn) -> None:
    """Show every field with its value, and a button to edit each one."""
    t = turn.t
    lines = [bold(t.gettext("Your profile"))]
    for field in (*EDITABLE_FIELDS, CONSENT):
        value = await field.current(turn)
        line = t.gettext("{label}: {value}")
        lines.append(line.format(label=bold(t.gettext(field.label)), value=value or "—"))
    buttons = [Button(t.gettext(field.label), f"{EDIT}|{field.key}") for field in EDITABLE_FIELDS]
    rows = tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))
    turn.say("\n".join(lines) + "\n\n" + t.gettext("Tap a field to change it."), rows)

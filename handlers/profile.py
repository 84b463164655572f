"""``/profile``: the profile card and editing one field at a time."""

from __future__ import annotations

from handlers.context import Turn
from handlers.fields import Field, PhoneField
from handlers.form import CONSENT, EDITABLE_FIELDS
from handlers.markup import bold
from handlers.prompts import EDIT_FLOW, ask
from handlers.replies import Button

EDIT = "edit"
_EDITABLE = {field.key: field for field in EDITABLE_FIELDS}


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


def editable_field(key: str) -> Field | None:
    """The editable field called ``key``, if any (payloads are untrusted)."""
    return _EDITABLE.get(key)


async def start_edit(turn: Turn, field: Field) -> None:
    """Start editing ``field``."""
    turn.go(EDIT_FLOW, field.key)
    await ask_edit(turn, field)


async def ask_edit(turn: Turn, field: Field, *, edit: bool = False) -> None:
    """Ask ``field`` again, showing its current value."""
    await ask(turn, field, edit=edit)


async def finish_edit(turn: Turn, field: Field, *, saved: bool) -> None:
    """Leave editing (saved or not) and show the card again."""
    turn.go("idle")
    turn.profiles_changed = turn.profiles_changed or saved
    t = turn.t
    text = t.gettext("Saved.") if saved else t.gettext("Nothing was changed.")
    turn.say(text, remove_keyboard=isinstance(field, PhoneField))
    await profile_card(turn)

"""``/profile``: the profile card and editing one field at a time."""

from __future__ import annotations

from handlers.context import Turn
from handlers.fields import Field, PhoneField, ToggleField
from handlers.form import CONSENT, EDITABLE_FIELDS
from handlers.markup import bold
from handlers.prompts import EDIT_FLOW, ask
from handlers.replies import Button
from handlers.validation import Problem

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
    """Start editing ``field`` (leaving the field being edited, if it may be left)."""
    if editing(turn) is field:
        await ask_edit(turn, field)
        return
    if not await leave_editing(turn):
        return
    # Toggles are stored as they are tapped; what they were tells whether leaving saved any.
    before = sorted(await field.selected(turn)) if isinstance(field, ToggleField) else None
    turn.go(EDIT_FLOW, field.key, before=before)
    await ask_edit(turn, field)


def editing(turn: Turn) -> Field | None:
    """The field the participant is editing, if any."""
    return editable_field(turn.state.step or "") if turn.flow == EDIT_FLOW else None


async def ask_edit(turn: Turn, field: Field, *, edit: bool = False) -> None:
    """Ask ``field`` again, showing its current value."""
    await ask(turn, field, edit=edit)


async def finish_edit(turn: Turn, field: Field, *, saved: bool) -> None:
    """Leave editing (saved or not) and show the card again, unless ``field`` may not be left."""
    if await leave_edit(turn, field, saved=saved):
        await profile_card(turn)


async def leave_editing(turn: Turn) -> bool:
    """Leave the field being edited, if any; ``False`` when the user must stay on it."""
    field = editing(turn)
    return field is None or await leave_edit(turn, field)


async def leave_edit(turn: Turn, field: Field, *, saved: bool = False) -> bool:
    """Leave ``field`` by any way out (Back, /cancel, /profile, another button…).

    A field that needs at least one choice keeps the user on it, told why, and ``False`` is
    returned. Otherwise the user is told whether anything was saved and the phone step's
    contact keyboard is taken away.
    """
    if isinstance(field, ToggleField):
        answer = await field.finish(turn)
        if isinstance(answer, Problem):
            turn.say(answer.render(turn.t))
            await ask_edit(turn, field)
            return False
        saved = saved or sorted(await field.selected(turn)) != turn.state.data.get("before")
    turn.go("idle")
    turn.profiles_changed = turn.profiles_changed or saved
    t = turn.t
    text = t.gettext("Saved.") if saved else t.gettext("Nothing was changed.")
    turn.say(text, remove_keyboard=isinstance(field, PhoneField))
    return True

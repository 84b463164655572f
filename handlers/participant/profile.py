"""``/profile``: editing one field at a time, from the card (:mod:`handlers.participant.card`)."""

from __future__ import annotations

from handlers.kernel.context import Turn
from handlers.kernel.flow_router import After, FlowRouter
from handlers.kernel.validation import Problem
from handlers.participant.card import EDIT, profile_card
from handlers.participant.field_flow import FieldFlow
from handlers.participant.fields import Field, PhoneField, ToggleField
from handlers.participant.form import EDITABLE_FIELDS
from handlers.participant.prompts import EDIT_FLOW, NAV_CANCEL, ask

_EDITABLE = {field.key: field for field in EDITABLE_FIELDS}


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


async def _profile_command(turn: Turn, _args: str) -> None:
    if (field := editing(turn)) is not None:
        await finish_edit(turn, field, saved=False)
        return
    turn.go("idle")
    await profile_card(turn)


async def _edit_button(turn: Turn, key: str) -> After | None:
    field = editable_field(key)
    if field is None:
        return After.STALE
    await start_edit(turn, field)
    return None


def _edited_field(turn: Turn) -> Field | None:
    return editable_field(turn.state.step) if turn.state.step else None


async def _ask(turn: Turn, field: Field, edit: bool) -> None:
    await ask_edit(turn, field, edit=edit)


async def _saved(turn: Turn, field: Field) -> None:
    await finish_edit(turn, field, saved=True)


async def _unsaved(turn: Turn, field: Field) -> None:
    await finish_edit(turn, field, saved=False)


async def _cancel(turn: Turn) -> After | None:
    field = _edited_field(turn)
    if field is None:
        return After.DECLINED
    await _unsaved(turn, field)
    return None


EDITING = FieldFlow(EDIT_FLOW, _edited_field, _ask, done=_saved, navigation={NAV_CANCEL: _unsaved})
"""Editing one field; « Back to profile leaves it unsaved."""


def setup() -> FlowRouter:
    """``/profile``, the card's edit buttons and the editing of one field."""
    router = FlowRouter("profile")
    # Before registration is complete the core answers, as for every participant's command.
    router.command("profile", _profile_command, registered=True)
    router.button(EDIT, _edit_button, registered=True)
    router.flow(EDITING.route(cancel=_cancel, leave=leave_editing))
    return router

"""Asking a field's question: text, choice buttons, toggles and navigation, in one place."""

from __future__ import annotations

from handlers.kernel.context import Rows, Turn
from handlers.kernel.markup import fmt, italic
from handlers.kernel.replies import Button
from handlers.participant.fields import Field, ToggleField

EDIT_FLOW = "edit"
REGISTRATION_FLOW = "registration"

NAV_BACK = "^back"
NAV_SKIP = "^skip"
NAV_DONE = "^done"
NAV_CANCEL = "^cancel"


def step_payload(field: Field, value: str) -> str:
    """The payload of a button that belongs to ``field``'s question."""
    return f"{field.key}|{value}"


async def ask(
    turn: Turn,
    field: Field,
    *,
    edit: bool = False,
    position: tuple[int, int] | None = None,
) -> None:
    """Show ``field``'s question with its options and the navigation that fits the flow.

    ``edit`` replaces the message the user tapped (toggles); ``position`` is ``(n, total)``
    during registration.
    """
    t = turn.t
    editing = turn.flow == EDIT_FLOW
    parts: list[str] = []
    if position and not editing:
        step = fmt(t.gettext("Step {current} of {total}"), current=position[0], total=position[1])
        parts.append(italic(step) + "\n" + field.question(turn))
    else:
        parts.append(field.question(turn))
    current = await field.current(turn) if editing else None
    if editing:
        parts.append(t.gettext("Current: {value}").format(value=current or "—"))
    first = position is not None and position[0] == 1
    rows = await _choice_rows(turn, field)
    rows += _navigation(turn, field, editing, has_value=current is not None, first=first)
    turn.say("\n\n".join(parts), rows, edit=edit)
    contact = field.contact_button(turn)
    if contact:
        # A separate message: on Telegram a contact button lives on a reply keyboard, which
        # cannot share a message with the inline buttons above.
        turn.say(
            t.gettext("Or share this account's phone number with the button below."),
            contact_button=contact,
        )


async def _choice_rows(turn: Turn, field: Field) -> Rows:
    choices = field.choices(turn)
    if not choices:
        return ()
    chosen: set[str] = set()
    if field.multi:
        chosen = set(await _selected(turn, field))
    buttons = [
        Button(
            (("✅ " if c.value in chosen else "⬜ ") + c.label) if field.multi else c.label,
            step_payload(field, c.value),
        )
        for c in choices
    ]
    width = max(field.columns, 1)
    rows = tuple(tuple(buttons[i : i + width]) for i in range(0, len(buttons), width))
    if field.multi:
        count = len(chosen)
        done = turn.t.ngettext("Done ({count} selected)", "Done ({count} selected)", count)
        rows += ((Button(done.format(count=count), step_payload(field, NAV_DONE)),),)
    return rows


async def _selected(turn: Turn, field: Field) -> list[str]:
    return await field.selected(turn) if isinstance(field, ToggleField) else []


def _navigation(turn: Turn, field: Field, editing: bool, *, has_value: bool, first: bool) -> Rows:
    t = turn.t
    row: list[Button] = []
    if editing:
        row.append(Button(t.gettext("« Back to profile"), step_payload(field, NAV_CANCEL)))
        if field.optional and has_value:
            row.append(Button(t.gettext("Remove"), step_payload(field, NAV_SKIP)))
    else:
        if not first:
            row.append(Button(t.gettext("« Back"), step_payload(field, NAV_BACK)))
        if field.optional:
            row.append(Button(t.gettext("Skip »"), step_payload(field, NAV_SKIP)))
    return (tuple(row),) if row else ()

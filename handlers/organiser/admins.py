"""``/admins``: list, add and remove organisers (those in ``ADMIN_IDS`` stay).

An organiser is added by their user id on the organiser's own channel (a Telegram user id
is a number; the person can find theirs with any "user info" bot). Those named in
``ADMIN_IDS`` are listed but cannot be removed from the chat: the server's configuration
named them, so only the configuration can take them away.
"""

from __future__ import annotations

from handlers.kernel.context import Turn
from handlers.kernel.flow_router import FlowRouter, Outcome
from handlers.kernel.i18n import N_
from handlers.kernel.markup import bold, escape, fmt
from handlers.kernel.replies import Button
from handlers.organiser.rights import is_configured, organisers_only
from storage.organisers import OrganiserRepository
from storage.repositories import ParticipantRepository

ADMINS = "admins"
MAX_ID_DIGITS = 20
USAGE = N_("Use /admins to list the organisers, /admins add ID or /admins remove ID.")


def parse_user_id(raw: str) -> str | None:
    """A user id as typed (``123456789``), or ``None`` when it is not one."""
    text = raw.strip()
    if text.isascii() and text.isdigit() and 0 < len(text) <= MAX_ID_DIGITS and int(text) > 0:
        return str(int(text))
    return None


async def on_admins(turn: Turn, args: str) -> Outcome:
    """``/admins``, ``/admins add ID``, ``/admins remove ID``."""
    action, _, rest = args.strip().partition(" ")
    action = action.lower()
    if not action or action == "list":
        await _show_list(turn)
    elif action in ("add", "remove"):
        user_id = parse_user_id(rest)
        if user_id is None:
            turn.say(
                fmt(
                    turn.t.gettext(
                        "“{value}” is not a user id. A user id is a number, such as 123456789."
                    ),
                    value=rest.strip()[:40],
                )
                + "\n"
                + turn.t.gettext(USAGE)
            )
        elif action == "add":
            await _add(turn, user_id)
        else:
            await _remove(turn, user_id)
    else:
        turn.say(turn.t.gettext(USAGE))
    return None


async def on_admins_button(turn: Turn, value: str) -> Outcome:
    """``admins|list`` and ``admins|rm|ID`` (the id is re-checked like a typed one)."""
    action, _, raw_id = value.partition("|")
    if action == "rm" and (user_id := parse_user_id(raw_id)) is not None:
        await _remove(turn, user_id)
    await _show_list(turn)
    return None


async def _add(turn: Turn, user_id: str) -> None:
    channel = turn.participant.channel
    t = turn.t
    if is_configured(turn, channel, user_id):
        turn.say(fmt(t.gettext("{id} is already an organiser (named in ADMIN_IDS)."), id=user_id))
        return
    added_by = f"{channel}:{turn.participant.external_id}"
    if await OrganiserRepository(turn.session).add(channel, user_id, added_by, turn.now):
        turn.say(fmt(t.gettext("{id} is now an organiser."), id=user_id))
    else:
        turn.say(fmt(t.gettext("{id} is already an organiser."), id=user_id))


async def _remove(turn: Turn, user_id: str) -> None:
    channel = turn.participant.channel
    t = turn.t
    if is_configured(turn, channel, user_id):
        turn.say(
            fmt(
                t.gettext(
                    "{id} is named in ADMIN_IDS, the server's configuration, and can only be "
                    "removed there."
                ),
                id=user_id,
            )
        )
    elif await OrganiserRepository(turn.session).remove(channel, user_id):
        turn.say(fmt(t.gettext("{id} is no longer an organiser."), id=user_id))
    else:
        turn.say(fmt(t.gettext("{id} is not an organiser."), id=user_id))


async def _show_list(turn: Turn) -> None:
    t = turn.t
    channel = turn.participant.channel
    stored = [o for o in await OrganiserRepository(turn.session).all() if o.channel == channel]
    lines = [bold(t.gettext("Organisers"))]
    people = ParticipantRepository(turn.session)
    buttons: list[tuple[Button, ...]] = []
    for organiser in stored:
        lines.append(await _line(people, channel, organiser.external_id))
        buttons.append(
            (
                Button(
                    t.gettext("Remove {id}").format(id=organiser.external_id),
                    f"{ADMINS}|rm|{organiser.external_id}",
                ),
            )
        )
    if not stored:
        lines.append(t.gettext("Nobody has been added from the chat yet."))
    configured = sorted((i for c, i in turn.organisers if c == channel), key=_numeric)
    if configured:
        lines.append("")
        lines.append(t.gettext("Named in ADMIN_IDS (change them in the server's configuration):"))
        for user_id in configured:
            lines.append(await _line(people, channel, user_id))
    lines.append("")
    lines.append(t.gettext(USAGE))
    turn.say("\n".join(lines), tuple(buttons))


def setup() -> FlowRouter:
    """``/admins`` and its remove buttons, for organisers only."""
    router = FlowRouter("admins")
    router.command(ADMINS, organisers_only(on_admins))
    router.button(ADMINS, organisers_only(on_admins_button))
    return router


async def _line(people: ParticipantRepository, channel: str, user_id: str) -> str:
    """``• 123 – Name``: the id, and the name when they registered."""
    known = await people.find(channel, user_id)
    name = f" – {escape(known.name)}" if known is not None and known.name else ""
    return f"• <code>{escape(user_id)}</code>{name}"


def _numeric(user_id: str) -> tuple[int, str]:
    return (int(user_id), "") if user_id.isdigit() else (0, user_id)

"""Who is an organiser, the check every organiser action makes, and the ``/organiser`` panel.

Organisers are the ``ADMIN_IDS`` of the configuration (handed to the core as
:data:`handlers.kernel.context.OrganiserIds`) and those an organiser added, stored in the
database. The right is looked up again on every command and every button press, whatever
a button's payload says: a payload proves nothing about who pressed it.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from handlers.kernel.context import Turn
from handlers.kernel.flow_router import After, FlowRouter, Outcome
from handlers.kernel.i18n import N_
from handlers.kernel.markup import bold
from handlers.kernel.replies import Button
from storage.organisers import OrganiserRepository

Handler = Callable[[Turn, str], Awaitable[Outcome]]

PANEL: tuple[tuple[tuple[str, str], ...], ...] = (
    ((N_("Statistics"), "stats|"), (N_("Organisers"), "admins|list")),
    ((N_("Participants (Excel)"), "xport|participants|xlsx|"), (N_("Participants (CSV)"), "xport|participants|csv|")),
    ((N_("Meetings (Excel)"), "xport|meetings|xlsx|"), (N_("Meetings (CSV)"), "xport|meetings|csv|")),
    ((N_("New announcement"), "bc|new"),),
)  # fmt: skip
"""The panel's rows of buttons (label, payload); a new organiser tool adds its own here."""

ORGANISER_COMMANDS: tuple[tuple[str, str], ...] = (
    ("organiser", N_("Organiser tools")),
    ("stats", N_("Statistics")),
    ("export", N_("Export the lists (Excel or CSV)")),
    ("broadcast", N_("New announcement")),
    ("admins", N_("Organisers")),
)
"""The organiser's commands, added to an organiser's own command menu (never to others')."""


async def is_organiser(turn: Turn) -> bool:
    """Whether the user of this turn may use the organiser tools, checked now."""
    who = (turn.participant.channel, turn.participant.external_id)
    if who in turn.organisers:
        return True
    return await OrganiserRepository(turn.session).is_organiser(*who)


def is_configured(turn: Turn, channel: str, external_id: str) -> bool:
    """Whether someone is an organiser by the configuration (and so not removable here)."""
    return (channel, external_id) in turn.organisers


def organisers_only(handler: Handler) -> Handler:
    """Run ``handler`` for organisers; decline for anyone else.

    The core answers a declined command as an unknown one and a declined button as a stale
    one, so a non-organiser learns nothing, not even that the command exists.
    """

    @functools.wraps(handler)
    async def checked(turn: Turn, value: str) -> Outcome:
        if not await is_organiser(turn):
            return After.DECLINED
        return await handler(turn, value)

    return checked


async def show_panel(turn: Turn, _args: str) -> Outcome:
    """``/organiser``: what an organiser can do, as buttons and commands."""
    t = turn.t
    lines = [
        bold(t.gettext("Organiser tools")),
        t.gettext("/stats [event code]: statistics with a chart"),
        t.gettext("/export participants|meetings|feedback [csv|xlsx] [event code]: a spreadsheet"),
        t.gettext("/admins, /admins add ID, /admins remove ID: the organisers"),
        t.gettext("/broadcast [KEY=VALUE…]: an announcement to some or all participants"),
    ]
    rows = [tuple(Button(t.gettext(label), payload) for label, payload in row) for row in PANEL]
    turn.say("\n".join(lines), tuple(rows))
    turn.response.organiser_menu = True
    return None


def setup() -> FlowRouter:
    """The organiser panel (``/organiser``)."""
    router = FlowRouter("organiser")
    router.command("organiser", organisers_only(show_panel))
    return router

"""``/requests``: the meeting requests one sent and received that still await an answer.

Each sent request has a button to withdraw it, each received one buttons to accept or
decline it; after a withdrawal or a decline the list is shown again in place, so the user
can go on through it.
"""

from __future__ import annotations

from handlers.kernel.context import Turn
from handlers.kernel.flow_router import STALE_BUTTON, FlowRouter
from handlers.kernel.i18n import N_, event_name
from handlers.kernel.markup import bold, escape, fmt
from handlers.kernel.notify import notify, reader
from handlers.kernel.replies import Button, Reply
from handlers.kernel.timefmt import when
from handlers.kernel.validation import parse_id
from handlers.matchmaking.lapsing import lapse, request_topic
from handlers.matchmaking.partners import WAITING
from handlers.matchmaking.requests import accept, decline, received_request
from storage.event_models import MeetingRequest
from storage.matchmaking import RequestRepository

# Buttons: ``rqs|all`` shows the list; ``rqs|<id>|a``/``|d`` answer a received request,
# ``|w`` withdraws a sent one.
MAX_SHOWN = 6
"""Requests listed per side: with the longest names and notes, six a side still fit in one
message (4,096 characters)."""
NOTE_PREVIEW = 100
SHORT = 60
LABEL = 40

_SENT_ALREADY = {
    "accepted": N_("{name} has already accepted your request: see /agenda."),
    "declined": N_("{name} has already answered your request."),
    "expired": N_("This request has lapsed: it was not answered in time."),
    "withdrawn": N_("This request was withdrawn."),
}


async def show_waiting(turn: Turn, *, edit: bool = False, before: str = "") -> None:
    """The list, with ``before`` (what just happened) above it; ``edit`` replaces the
    message whose button was pressed."""
    t = turn.t
    me = turn.participant
    sent, received = await RequestRepository(turn.session).waiting(me.id, turn.now)
    lead = before + "\n\n" if before else ""
    if not sent and not received:
        turn.say(
            lead
            + t.gettext(
                "No requests are waiting for an answer. Use /partners to find partners and request meetings."
            ),
            edit=edit,
        )
        return
    several_events = len({r.event_id for r in (*sent, *received)}) > 1
    lines = [bold(escape(t.gettext("Requests waiting for an answer")))]
    rows: list[tuple[Button, ...]] = []
    if received:
        lines.append("\n" + bold(escape(t.gettext("Received"))))
        for request in received[:MAX_SHOWN]:
            name = request.requester.name or ""
            lines.append(_line(turn, request, name, request.requester.organisation, several_events))
            if request.note:
                lines.append("   " + fmt(t.gettext("Note: {note}"), note=_preview(request.note)))
            lines.append(
                "   "
                + fmt(
                    t.gettext("Please answer by {date}."),
                    date=when(request.expires_at, t, me.time_zone),
                )
            )
            rows.append(
                (
                    Button(
                        fmt_label(t.gettext("✅ Accept: {name}"), name),
                        f"{WAITING}|{request.id}|a",
                    ),
                    Button(t.gettext("Decline"), f"{WAITING}|{request.id}|d"),
                )
            )
        lines += _more(turn, len(received))
    if sent:
        lines.append("\n" + bold(escape(t.gettext("Sent"))))
        for request in sent[:MAX_SHOWN]:
            name = request.invitee.name or ""
            lines.append(_line(turn, request, name, request.invitee.organisation, several_events))
            lines.append(
                "   "
                + fmt(
                    t.gettext("Lapses on {date} if not answered."),
                    date=when(request.expires_at, t, me.time_zone),
                )
            )
            rows.append(
                (
                    Button(
                        fmt_label(t.gettext("↩ Withdraw: {name}"), name),
                        f"{WAITING}|{request.id}|w",
                    ),
                )
            )
        lines += _more(turn, len(sent))
    turn.say(lead + "\n".join(lines), tuple(rows), edit=edit)


def fmt_label(template: str, name: str) -> str:
    """A button label naming someone, short enough for a phone's screen."""
    return template.format(name=_cut(name, LABEL))


def _line(
    turn: Turn, request: MeetingRequest, name: str, organisation: str | None, with_event: bool
) -> str:
    line = "• " + bold(escape(_cut(name, SHORT)))
    if organisation:
        line += " · " + escape(_cut(organisation, SHORT))
    if with_event:
        line += " · " + escape(_cut(event_name(request.event.names, turn.t.code), SHORT))
    return line


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _preview(note: str) -> str:
    return _cut(" ".join(note.split()), NOTE_PREVIEW)


def _more(turn: Turn, count: int) -> list[str]:
    hidden = count - MAX_SHOWN
    if hidden <= 0:
        return []
    text = turn.t.ngettext(
        "…and {count} more request, listed once these are answered.",
        "…and {count} more requests, listed once these are answered.",
        hidden,
    )
    return [fmt(text, count=hidden)]


async def withdraw(turn: Turn, request_id: int | None) -> None:
    """Withdraw a sent request that still waits; the invitee is told."""
    t = turn.t
    repo = RequestRepository(turn.session)
    request = await repo.request(request_id, lock=True) if request_id is not None else None
    if request is None or request.requester_id != turn.participant.id:
        turn.say(t.gettext(STALE_BUTTON))
        return
    if request.status == "pending" and request.expires_at <= turn.now:
        queued = lapse(turn.session, request, turn.now, present=turn.participant)
        turn.outbox_written = turn.outbox_written or queued
    invitee = request.invitee
    if request.status != "pending":
        turn.say(fmt(t.gettext(_SENT_ALREADY[request.status]), name=invitee.name or ""))
        return
    repo.withdraw(request, turn.now)
    rt = reader(invitee)
    notice = fmt(
        rt.gettext("{name} withdrew their meeting request to you."),
        name=turn.participant.name or "",
    )
    notify(turn, invitee, Reply(notice), topic=request_topic(request))
    before = fmt(t.gettext("You withdrew your request to {name}."), name=invitee.name or "")
    await show_waiting(turn, edit=True, before=before)


async def on_waiting_button(turn: Turn, value: str) -> None:
    """``rqs|all``, ``rqs|<id>|a``, ``rqs|<id>|d`` or ``rqs|<id>|w`` (ids untrusted)."""
    if value == "all":
        await show_waiting(turn)
        return
    request_text, _, action = value.partition("|")
    if action == "w":
        await withdraw(turn, parse_id(request_text))
        return
    request, answer = await received_request(turn, value)
    if request is None:
        return
    if answer == "a":
        await accept(turn, request, acting=turn.participant)
        return
    await show_waiting(turn, edit=True, before=decline(turn, request))


async def _requests_command(turn: Turn, _args: str) -> None:
    await show_waiting(turn)


def setup() -> FlowRouter:
    """``/requests`` and the buttons on its list."""
    router = FlowRouter("waiting")
    router.command("requests", _requests_command, registered=True)
    router.button(WAITING, on_waiting_button, registered=True)
    return router

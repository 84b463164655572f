"""Meeting requests: ask with an optional note, accept or decline, and lapse after a while."""

from __future__ import annotations

from datetime import timedelta

from handlers.kernel.context import NOTE_DRAFT, Turn
from handlers.kernel.flow_router import STALE_BUTTON, FlowRoute, FlowRouter
from handlers.kernel.i18n import N_, Translator, event_name
from handlers.kernel.markup import bold, escape, fmt
from handlers.kernel.notify import reader
from handlers.kernel.replies import Button, Reply
from handlers.kernel.timefmt import when
from handlers.kernel.validation import Problem, check_text, clean_text, parse_id
from handlers.matchmaking.lapsing import expire_due, lapse, request_topic
from handlers.matchmaking.meetings import Build, announce_scheduled, tell
from handlers.matchmaking.partners import NEW_REQUEST, partner_card
from storage.event_models import Event, MeetingRequest
from storage.matchmaking import EventRepository, RequestRepository
from storage.meetings import MeetingRepository
from storage.models import Participant

REQUEST_FLOW = "request"
NOTE = "note"
ANSWER = "rq"
MAX_NOTE = 300


async def start_request(turn: Turn, value: str) -> None:
    """``rqn|<participant id>|<event id>``: check, then ask for an optional note."""
    invitee_text, _, event_text = value.partition("|")
    invitee_id, event_id = parse_id(invitee_text), parse_id(event_text)
    if invitee_id is None or event_id is None:
        turn.say(turn.t.gettext(STALE_BUTTON))
        return
    repo = RequestRepository(turn.session)
    checked = await _check(turn, repo, invitee_id, event_id)
    if isinstance(checked, str):
        turn.say(checked)
        return
    if isinstance(checked, MeetingRequest):
        await _show_crossing(turn, repo, checked)
        return
    invitee, _event = checked
    turn.go(REQUEST_FLOW, NOTE, invitee=invitee.id, event=event_id)
    ask_note(turn, invitee.name or "")


def ask_note(turn: Turn, name: str) -> None:
    """The optional note question, with the note the user wrote to this person before, if
    it could not be sent (refused, or the request was interrupted)."""
    t = turn.t
    draft = _draft(turn)
    kept = "\n\n" + fmt(t.gettext("Your note, not sent yet: {note}"), note=draft) if draft else ""
    turn.say(
        bold(fmt(t.gettext("Request a meeting with {name}"), name=name))
        + "\n"
        + t.gettext(
            "Write a short note to introduce yourself (optional), or send the request as it is."
        )
        + kept,
        (
            (Button(t.gettext("Send without a note"), f"{NOTE}|send"),),
            (Button(t.gettext("Cancel"), f"{NOTE}|cancel"),),
        ),
    )


async def ask_note_again(turn: Turn) -> None:
    """Repeat the note question (after /help, a photo…)."""
    invitee = await turn.session.get(Participant, int(turn.state.data.get("invitee", 0)))
    ask_note(turn, invitee.name or "" if invitee else "")


async def on_note_text(turn: Turn, text: str) -> None:
    """The note: checked, then the request is sent."""
    _keep_draft(turn, clean_text(text))
    checked = check_text(
        text, min_length=2, max_length=MAX_NOTE, multiline=True, needs_letters=False
    )
    if isinstance(checked, Problem):
        turn.say(checked.render(turn.t))
        await ask_note_again(turn)
        return
    await _send(turn, str(checked.value))


def _draft(turn: Turn) -> str | None:
    """The unsent note to the person the user is asking now, if any."""
    kept = turn.state.data.get(NOTE_DRAFT) or {}
    return kept.get("text") if kept.get("invitee") == turn.state.data.get("invitee") else None


def _keep_draft(turn: Turn, text: str) -> None:
    # Kept across flows (LASTING_KEYS) until the request is sent or cancelled, so that a
    # command, a refusal or a failed check in between does not lose what the user wrote.
    if text:
        kept = {"invitee": turn.state.data.get("invitee"), "text": text[: MAX_NOTE * 3]}
        turn.state.data = {**turn.state.data, NOTE_DRAFT: kept}


def _forget_draft(turn: Turn, invitee: object) -> None:
    """Drop the kept note if it was written to ``invitee``."""
    kept = turn.state.data.get(NOTE_DRAFT) or {}
    if kept.get("invitee") == invitee:
        turn.state.data = {k: v for k, v in turn.state.data.items() if k != NOTE_DRAFT}


async def on_note_button(turn: Turn, value: str) -> None:
    """``note|send`` or ``note|cancel``."""
    if turn.flow != REQUEST_FLOW:
        turn.say(turn.t.gettext(STALE_BUTTON))
        return
    if value == "cancel":
        _forget_draft(turn, turn.state.data.get("invitee"))
        turn.go("idle")
        turn.say(turn.t.gettext("No request was sent."), edit=True)
        return
    await _send(turn, None)


async def _send(turn: Turn, note: str | None) -> None:
    t = turn.t
    data = turn.state.data
    turn.go("idle")
    repo = RequestRepository(turn.session)
    checked = await _check(turn, repo, int(data.get("invitee", 0)), int(data.get("event", 0)))
    if isinstance(checked, str):
        turn.say(checked)
        return
    if isinstance(checked, MeetingRequest):
        _forget_draft(turn, data.get("invitee"))  # they asked first: agreed without the note
        await _accept_crossing(turn, repo, checked)
        return
    invitee, event = checked
    expires = turn.now + timedelta(hours=event.request_ttl_hours)
    request = await repo.add_request(event, turn.participant, invitee, note, turn.now, expires)
    _forget_draft(turn, data.get("invitee"))  # sent, or asked before: nothing left to keep
    if request is None:
        turn.say(
            fmt(t.gettext("You have already asked {name} for a meeting."), name=invitee.name or "")
        )
        return
    card = await partner_card(turn, turn.participant, reader=reader(invitee))
    tell(turn, invitee, _invitation(request, event, card))
    turn.say(
        fmt(
            t.gettext(
                "Request sent to {name}. If it is not answered by {date}, it lapses and you are both told."
            ),
            name=invitee.name or "",
            date=when(expires, t, turn.participant.time_zone),
        )
    )
    if invitee.channel == "demo":
        # Seeded demo participants have nobody behind them: they accept at once, so a
        # newcomer sees the whole flow.
        await accept(turn, request, acting=invitee)


async def _show_crossing(turn: Turn, repo: RequestRepository, waiting: MeetingRequest) -> None:
    """The user asks someone whose request to them is waiting: show that request, with its
    buttons, instead of starting a second one between the two."""
    request = await repo.request(waiting.id, lock=True)
    if request is None or not answerable(turn, request):
        return
    turn.say(
        fmt(
            turn.t.gettext("{name} has already asked you for a meeting: see their request."),
            name=request.requester.name or "",
        )
    )
    card = await partner_card(turn, request.requester)
    tell(turn, turn.participant, _invitation(request, request.event, card, N_("Meeting request")))


async def _accept_crossing(turn: Turn, repo: RequestRepository, waiting: MeetingRequest) -> None:
    """The user sends a request to someone whose request to them arrived meanwhile (while
    the note was being written): both want to meet, so theirs is accepted."""
    request = await repo.request(waiting.id, lock=True)
    if request is None or not answerable(turn, request):
        return
    turn.say(
        fmt(
            turn.t.gettext(
                "{name} had already asked you for a meeting, so we accepted their request for you."
            ),
            name=request.requester.name or "",
        )
    )
    await accept(turn, request, acting=turn.participant)


def _invitation(
    request: MeetingRequest, event: Event, card: str, headline: str = N_("New meeting request")
) -> Build:
    def build(t: Translator, person: Participant) -> list[Reply]:
        text = bold(escape(t.gettext(headline))) + " · " + escape(event_name(event.names, t.code))
        text += "\n\n" + card
        if request.note:
            text += "\n\n" + fmt(t.gettext("Note: {note}"), note=request.note)
        buttons = (
            (
                Button(t.gettext("✅ Accept"), f"{ANSWER}|{request.id}|a"),
                Button(t.gettext("Decline"), f"{ANSWER}|{request.id}|d"),
            ),
        )
        return [Reply(text, buttons)]

    return build


async def _check(
    turn: Turn, repo: RequestRepository, invitee_id: int, event_id: int
) -> tuple[Participant, Event] | MeetingRequest | str:
    """The invitee and event when a request is allowed; the invitee's own pending request
    to the user when they crossed; else why not (localised)."""
    t = turn.t
    me = turn.participant
    events = EventRepository(turn.session)
    event = await events.event(event_id)
    invitee = await turn.session.get(Participant, invitee_id)
    if event is None or invitee is None or invitee.registered_at is None:
        return t.gettext(STALE_BUTTON)
    if invitee.id == me.id:
        return t.gettext("You cannot request a meeting with yourself.")
    if not (
        await events.is_registered(me.id, event.id)
        and await events.is_registered(invitee.id, event.id)
    ):
        return t.gettext("You can only meet participants of an event you both joined.")
    if turn.now >= event.registration_deadline:
        return fmt(
            t.gettext("Meeting requests for this event closed on {date}."),
            date=when(event.registration_deadline, t, me.time_zone),
        )
    existing = await repo.request_between(event.id, me.id, invitee.id)
    if existing is not None and existing.status != "withdrawn":  # withdrawn: ask again
        if existing.requester_id == invitee.id and existing.status == "pending":
            return existing
        if existing.requester_id == invitee.id:
            return fmt(
                t.gettext("{name} has already asked you for a meeting at this event."),
                name=invitee.name or "",
            )
        return fmt(
            t.gettext("You have already asked {name} for a meeting."), name=invitee.name or ""
        )
    if await repo.pending_outgoing(me.id, event.id) >= event.max_pending_requests:
        cap = event.max_pending_requests
        return fmt(
            t.ngettext(
                "You have {count} request waiting for an answer, the most allowed. Wait for an answer first.",
                "You have {count} requests waiting for an answer, the most allowed. Wait for answers first.",
                cap,
            ),
            count=cap,
        )
    return invitee, event


async def on_answer_button(turn: Turn, value: str) -> None:
    """``rq|<request id>|a`` (accept) or ``|d`` (decline), by the invitee only."""
    request, answer = await received_request(turn, value)
    if request is None:
        return
    if answer == "a":
        await accept(turn, request, acting=turn.participant)
        return
    turn.say(decline(turn, request), edit=True)


async def received_request(turn: Turn, value: str) -> tuple[MeetingRequest | None, str]:
    """The locked request in ``<request id>|a`` or ``|d`` when the user may answer it now
    (they are the invitee and it is pending), with the answer; else ``None`` (user told)."""
    request_id, _, answer = value.partition("|")
    number = parse_id(request_id)
    repo = RequestRepository(turn.session)
    request = await repo.request(number, lock=True) if number is not None else None
    if request is None or request.invitee_id != turn.participant.id or answer not in {"a", "d"}:
        turn.say(turn.t.gettext(STALE_BUTTON))
        return None, answer
    if not answerable(turn, request):
        return None, answer
    return request, answer


def decline(turn: Turn, request: MeetingRequest) -> str:
    """Decline the (pending, locked) request: the requester is told kindly; returns what to
    tell the user."""
    request.status, request.answered_at = "declined", turn.now
    tell(
        turn,
        request.requester,
        lambda rt, _p: [
            Reply(
                fmt(
                    rt.gettext(
                        "{name} cannot take up your meeting request this time. Other participants may be a good match for you: see /partners."
                    ),
                    name=request.invitee.name or "",
                )
            )
        ],
        topic=request_topic(request),
    )
    return fmt(
        turn.t.gettext("You declined the request from {name}."), name=request.requester.name or ""
    )


def answerable(turn: Turn, request: MeetingRequest) -> bool:
    """Whether the (locked) request still awaits an answer; if not, the user is told why.

    A request whose time is up lapses here: the presser is told directly, and only the
    other side through the outbox.
    """
    if request.status == "pending" and request.expires_at <= turn.now:
        queued = lapse(turn.session, request, turn.now, present=turn.participant)
        turn.outbox_written = turn.outbox_written or queued
    if request.status != "pending":
        turn.say(turn.t.gettext(_ALREADY[request.status]))
        return False
    return True


_ALREADY = {
    "accepted": N_("You have already accepted this request."),
    "declined": N_("You have already declined this request."),
    "expired": N_("This request has lapsed: it was not answered in time."),
    "withdrawn": N_("This request was withdrawn."),
}


async def accept(turn: Turn, request: MeetingRequest, *, acting: Participant) -> None:
    """Accept: the meeting gets the earliest slot where both are free, and both are told."""
    repo = MeetingRepository(turn.session)
    request.status, request.answered_at = "accepted", turn.now
    meeting = await repo.add_meeting(request, turn.now)
    if meeting is None:
        already = _ALREADY["accepted"]
        turn.say(turn.t.gettext(already))
        return
    await turn.session.refresh(meeting, ["first", "second", "event"])
    if await repo.schedule(meeting, turn.now):
        await announce_scheduled(turn, meeting, N_("Meeting confirmed"))
        return
    for person in (meeting.first, meeting.second):
        tell(
            turn,
            person,
            lambda rt, p: [
                Reply(
                    fmt(
                        rt.gettext(
                            "The meeting with {name} is agreed, but no time is free for both of you any more. The organisers will find one."
                        ),
                        name=meeting.partner_of(p.id).name or "",
                    )
                )
            ],
            topic=request_topic(request),
        )


async def _new_request_button(turn: Turn, value: str) -> None:
    # Asking for a meeting leaves the profile field being edited, if it may be left.
    if await turn.flows.leave(turn):
        await start_request(turn, value)


async def _note_again(turn: Turn, _edit: bool) -> bool:
    await ask_note_again(turn)
    return True


async def _cancel_request(turn: Turn) -> None:
    await on_note_button(turn, "cancel")


def setup() -> FlowRouter:
    """Meeting requests: the "meet" and answer buttons, the note flow, lapsing."""
    router = FlowRouter("requests")
    router.button(NEW_REQUEST, _new_request_button, registered=True)
    router.button(ANSWER, on_answer_button, registered=True)
    router.button(NOTE, on_note_button, flow=REQUEST_FLOW)
    router.flow(
        FlowRoute(
            REQUEST_FLOW,
            text=on_note_text,
            ask_again=_note_again,
            cancel=_cancel_request,
            ended_by_commands=True,
        )
    )
    router.maintenance(expire_due)
    return router

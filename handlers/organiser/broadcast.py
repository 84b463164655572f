"""``/broadcast``: an announcement to a segment, in up to three languages, sent exactly once.

The organiser chooses who receives it (buttons, or ``/broadcast area=energy event=CODE``),
writes the text in one to three languages, sees each as its readers will and any problem
Telegram would refuse it for, and confirms with the recipient count in front of them. The
confirmation writes a delivery per recipient and queues the first chunk; the rest are
queued by the ``broadcast`` timed job, a chunk per transaction (the scheduler runs it on a
confirmation and at every start, so a crash while queueing resumes where it stopped). The
organiser's progress message is edited in place every few seconds (and by its Refresh
button), and "Stop sending" stops what is not on its way yet
(:mod:`handlers.organiser.broadcast_control`); the maintenance sweep sends the final report
once every delivery is settled.

Every step re-checks the organiser's right (:mod:`handlers.organiser.rights`), and the
broadcast a button names must be one this organiser drafted: a payload proves nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import select

from handlers.kernel.context import Turn
from handlers.kernel.flow_router import After, FlowRoute, FlowRouter, Outcome
from handlers.kernel.i18n import N_, SUPPORTED_LOCALES
from handlers.kernel.markup import bold, escape, fmt
from handlers.kernel.replies import Button
from handlers.organiser import segments
from handlers.organiser.broadcast_audience import CATEGORIES, show_choices, show_segment
from handlers.organiser.broadcast_control import (
    JOB,
    PREFIX,
    PROGRESS_JOB,
    ask_stop,
    edit_progress,
    keep,
    queue_next_chunks,
    report_finished,
    show_progress,
    stop,
)
from handlers.organiser.broadcast_texts import payloads, problem_text, problems
from handlers.organiser.rights import is_organiser, organisers_only
from handlers.organiser.telegram_html import MAX_LENGTH, shown_length
from storage.broadcast_models import DRAFT, Broadcast
from storage.broadcasts import BroadcastRepository
from storage.event_models import Event

BROADCAST = "broadcast"
USAGE = N_(
    "Choose who receives the announcement with the buttons, or type the conditions after "
    "the command, such as /broadcast event=CODE area=energy lang=zh."
)


async def on_broadcast(turn: Turn, args: str) -> Outcome:
    """``/broadcast [KEY=VALUE…]``: choose the segment, or go straight to the text."""
    spec = segments.parse_pairs(args.split())
    if isinstance(spec, segments.SegmentError):
        turn.say(spec.text(turn.t) + "\n" + turn.t.gettext(USAGE))
        return None
    if args.strip():
        if await _checked(turn, spec) is not None:
            await _ask_text(turn, spec, {}, turn.participant.locale)
        return None
    turn.go(BROADCAST, "segment", segment={})
    await show_segment(turn, {})
    return None


async def on_button(turn: Turn, value: str) -> Outcome:
    """Every ``bc|…`` button (each re-checked: the payload is untrusted)."""
    action, _, rest = value.partition("|")
    if action == "new":
        return await on_broadcast(turn, "")
    if action in BROADCAST_ACTIONS:
        broadcast = await _own(turn, rest, lock=action != "prog")
        if broadcast is None:
            return After.STALE
        await BROADCAST_ACTIONS[action](turn, broadcast)
        return None
    if turn.flow != BROADCAST:
        return After.STALE
    data = turn.state.data
    spec: segments.Spec = dict(data.get("segment", {}))
    if action == "pick" and rest in dict(CATEGORIES):
        await show_choices(turn, rest)
    elif action == "set":
        key, _, raw = rest.partition("|")
        if key not in segments.KEYS or not raw:
            return After.STALE
        if key == "event":
            code = await turn.session.scalar(select(Event.code).where(Event.id == _int(raw)))
            if code is None:
                return After.STALE
            raw = code
        candidate = {**spec, key: segments.normalise(key, raw)}
        if isinstance(await segments.resolve(turn.session, candidate), segments.SegmentError):
            return After.STALE
        turn.go(BROADCAST, "segment", segment=candidate)
        await show_segment(turn, candidate, edit=True)
    elif action == "clear":
        turn.go(BROADCAST, "segment", segment={})
        await show_segment(turn, {}, edit=True)
    elif action == "back":
        await show_segment(turn, spec, edit=True)
    elif action == "write" and rest in ("", *SUPPORTED_LOCALES):
        if await _checked(turn, spec) is not None:
            texts = dict(data.get("texts", {}))
            await _ask_text(
                turn, spec, texts, rest or str(data.get("writing") or turn.participant.locale)
            )
    else:
        return After.STALE
    return None


async def on_text(turn: Turn, text: str) -> Outcome:
    """The announcement in the language being written; then the preview."""
    if not await is_organiser(turn):
        turn.go("idle")
        return After.DECLINED
    data = turn.state.data
    if turn.state.step != "compose":
        turn.say(turn.t.gettext("Choose who receives the announcement first, then write it."))
        return After.ASK_AGAIN
    spec: segments.Spec = dict(data.get("segment", {}))
    writing = str(data.get("writing", "en"))
    texts = {**data.get("texts", {}), writing: text}
    await _preview(turn, spec, texts, writing)
    return None


async def ask_again(turn: Turn, edit: bool) -> bool:
    """Show the step the organiser is on again."""
    if not await is_organiser(turn):
        turn.go("idle")
        return False
    data = turn.state.data
    spec: segments.Spec = dict(data.get("segment", {}))
    if turn.state.step == "compose":
        await _ask_text(turn, spec, dict(data.get("texts", {})), str(data.get("writing", "en")))
    else:
        await show_segment(turn, spec, edit=edit)
    return True


async def on_cancel(turn: Turn) -> Outcome:
    """``/cancel`` while writing: nothing is sent."""
    draft_id = turn.state.data.get("draft")
    if draft_id is not None:
        draft = await BroadcastRepository(turn.session).get(int(draft_id), for_update=True)
        if draft is not None and draft.state == DRAFT:
            draft.state = "cancelled"
    turn.go("idle")
    turn.say(turn.t.gettext("The announcement was cancelled; nothing was sent."))
    return None


async def _checked(turn: Turn, spec: segments.Spec) -> int | None:
    """The number of recipients of ``spec``; ``None`` (the organiser told why) if unusable."""
    segment = await segments.resolve(turn.session, spec)
    if isinstance(segment, segments.SegmentError):
        turn.say(segment.text(turn.t) + "\n" + turn.t.gettext(USAGE))
        return None
    count = await BroadcastRepository(turn.session).count(segment, turn.now)
    if count == 0:
        turn.say(
            turn.t.gettext("Nobody matches these conditions: change them, or send to everyone.")
        )
        turn.go(BROADCAST, "segment", segment=spec)
        await show_segment(turn, spec)
        return None
    return count


async def _ask_text(turn: Turn, spec: segments.Spec, texts: dict[str, str], writing: str) -> None:
    t = turn.t
    writing = writing if writing in SUPPORTED_LOCALES else "en"
    turn.go(BROADCAST, "compose", segment=spec, texts=texts, writing=writing,
            draft=turn.state.data.get("draft"))  # fmt: skip
    lines = [
        fmt(t.gettext("Send the text in {language} as your next message."), language=t.language_name(writing)),
        fmt(
            t.gettext(
                "You can format it with Telegram's HTML: {tags}. Readers without a text in "
                "their language receive the English one (or the only one given)."
            ),
            tags="<b>, <i>, <u>, <s>, <a href>, <code>",
        ),
    ]  # fmt: skip
    turn.say("\n".join(lines), _language_rows(turn, texts, writing))


def _language_rows(
    turn: Turn, texts: dict[str, str], writing: str
) -> tuple[tuple[Button, ...], ...]:
    t = turn.t
    buttons = []
    for code in SUPPORTED_LOCALES:
        mark = "✏️ " if code == writing else ("✅ " if code in texts else "")
        buttons.append(Button(mark + t.language_name(code), f"{PREFIX}|write|{code}"))
    return (tuple(buttons),)


async def _preview(turn: Turn, spec: segments.Spec, texts: dict[str, str], writing: str) -> None:
    t = turn.t
    repo = BroadcastRepository(turn.session)
    count = await _checked(turn, spec)
    if count is None:
        return
    wrong = problems(texts)
    # The text just written, as its readers will see it (one message with its heading when
    # both fit): a turn answers with two messages, within Telegram's burst for one chat.
    heading = fmt(t.gettext("Preview in {language}:"), language=t.language_name(writing))
    if writing in wrong:
        turn.say(heading + "\n⚠️ " + problem_text(wrong[writing], t))
    elif shown_length(texts[writing]) + len(heading) + 2 <= MAX_LENGTH:
        turn.say(heading + "\n\n" + texts[writing])
    else:
        turn.say(texts[writing])
    draft = await _draft(turn, repo, spec, texts)
    lines = [
        bold(escape(t.gettext("Check the announcement"))),
        t.gettext("Recipients: {who}").format(who=await segments.describe(turn.session, spec, t)),
        fmt(t.ngettext("{n} participant", "{n} participants", count), n=t.number(count)),
        fmt(t.gettext("Languages: {languages}"), languages=", ".join(t.language_name(c) for c in SUPPORTED_LOCALES if c in texts)),
    ]  # fmt: skip
    lines += [
        "⚠️ " + fmt(t.gettext("{language}: to correct"), language=t.language_name(code))
        for code in SUPPORTED_LOCALES
        if code in wrong and code != writing
    ]
    rows = list(_language_rows(turn, texts, writing))
    if wrong:
        lines.append(
            t.gettext("Correct the texts marked ⚠️ and send them again; nothing is sent until then.")
        )
    else:
        label = t.ngettext("Send to {n} participant", "Send to {n} participants", count)
        rows.append((Button(label.format(n=t.number(count)), f"{PREFIX}|send|{draft.id}"),))
    rows.append((Button(t.gettext("Cancel"), f"{PREFIX}|drop|{draft.id}"),))
    turn.go(BROADCAST, "compose", segment=spec, texts=texts, writing=writing, draft=draft.id)
    turn.say("\n".join(lines), tuple(rows))


async def _draft(
    turn: Turn, repo: BroadcastRepository, spec: segments.Spec, texts: dict[str, str]
) -> Broadcast:
    """The flow's draft, brought up to date; a new one if there is none (or it was sent)."""
    draft_id = turn.state.data.get("draft")
    if draft_id is not None:
        draft = await repo.get(int(draft_id), for_update=True)
        if draft is not None and draft.state == DRAFT:
            draft.texts, draft.segment = dict(texts), dict(spec)
            return draft
    return await repo.draft(turn.participant.id, texts, spec, turn.now)


async def _own(turn: Turn, raw_id: str, *, lock: bool) -> Broadcast | None:
    """The broadcast a payload names, if this organiser drafted it."""
    broadcast_id = _int(raw_id)
    if broadcast_id is None:
        return None
    broadcast = await BroadcastRepository(turn.session).get(broadcast_id, for_update=lock)
    if broadcast is None or broadcast.organiser_id != turn.participant.id:
        return None
    return broadcast


async def _send(turn: Turn, broadcast: Broadcast) -> None:
    t = turn.t
    if broadcast.state != DRAFT:
        turn.notice(t.gettext("Already confirmed: it is not sent twice."))
        if broadcast.state == "cancelled":
            turn.say(t.gettext("This announcement was cancelled; nothing was sent."))
        else:
            turn.say(
                t.gettext(
                    "This announcement is already being sent (or was sent); it is not sent again."
                )
            )
            await show_progress(turn, broadcast, edit=False)
        return
    texts = {code: str(text) for code, text in broadcast.texts.items() if code in SUPPORTED_LOCALES}
    segment = await segments.resolve(turn.session, dict(broadcast.segment))
    if not texts or problems(texts) or isinstance(segment, segments.SegmentError):
        turn.say(t.gettext("This announcement cannot be sent as it is; nothing was sent."))
        return
    repo = BroadcastRepository(turn.session)
    if await repo.start(broadcast, segment, turn.now) == 0:
        broadcast.state = "cancelled"
        turn.say(t.gettext("Nobody matches these conditions any more; nothing was sent."))
        turn.go("idle")
        return
    by_locale, fallback = payloads(texts)
    await repo.queue_chunk(broadcast, by_locale, fallback, turn.now)
    turn.outbox_written = True
    turn.schedule_changed = True  # the scheduler queues the remaining chunks
    turn.go("idle")
    turn.notice(t.gettext("Sending."))
    # The confirmation becomes the progress message, which Ponte then keeps up to date.
    shown = await show_progress(turn, broadcast, edit=True)
    broadcast.progress_ref, broadcast.progress_settled = turn.message_ref, shown.settled


async def _drop(turn: Turn, broadcast: Broadcast) -> None:
    if broadcast.state == DRAFT:
        broadcast.state = "cancelled"
        if turn.flow == BROADCAST:
            turn.go("idle")
        turn.say(turn.t.gettext("The announcement was cancelled; nothing was sent."), edit=True)
    else:
        turn.notice(turn.t.gettext("Already confirmed: it is not sent twice."))


def _int(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 12 else None


async def _show_progress(turn: Turn, broadcast: Broadcast) -> None:
    await show_progress(turn, broadcast, edit=True)


BROADCAST_ACTIONS: dict[str, Callable[[Turn, Broadcast], Awaitable[None]]] = {
    "prog": _show_progress, "send": _send, "drop": _drop,
    "stop": ask_stop, "halt": stop, "keep": keep,
}  # fmt: skip
"""The buttons that name a broadcast (``bc|ACTION|ID``): only its own organiser's work."""


def setup() -> FlowRouter:
    """``/broadcast``, its buttons and its flow, for organisers only; the queueing and
    progress jobs and the final report."""
    router = FlowRouter(BROADCAST)
    router.command(BROADCAST, organisers_only(on_broadcast))
    router.button(PREFIX, organisers_only(on_button))
    router.flow(
        FlowRoute(
            BROADCAST, text=on_text, ask_again=ask_again, cancel=on_cancel, ended_by_commands=True
        )
    )
    router.timed(JOB, queue_next_chunks)
    router.timed(PROGRESS_JOB, edit_progress)
    router.maintenance(report_finished)
    return router

"""A broadcast on its way: its chunks queued, the organiser's progress message kept up to
date, and the stop.

The confirmation message becomes the progress message when "Send" is tapped; its channel's
name for it (:attr:`Turn.message_ref <handlers.kernel.context.Turn.message_ref>`) is kept on
the broadcast, and the ``broadcast-progress`` timed job (every few seconds, from the
scheduler) queues an edit of it whenever more deliveries have settled, then a last one that
shows it finished. The edits go through the outbox at :attr:`Priority.NOTICE`, ahead of the
broadcast's own messages, one at a time: a newer edit withdraws the older one not sent yet.
A channel that cannot edit gives no message reference, so nothing is queued for it (its
organiser taps Refresh, which every channel keeps).

"Stop sending" asks first; the stop itself (:meth:`BroadcastRepository.stop`) queues no more
deliveries and gives up the queued messages no sender holds. Only the organiser who drafted
the broadcast may stop it (re-checked on every tap, with their right); a second stop, or one
after it finished, is told so and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.context import Rows, Turn
from handlers.kernel.i18n import Translator, translator
from handlers.kernel.markup import fmt
from handlers.kernel.notify import reply_to_payload
from handlers.kernel.replies import Button, Reply
from handlers.organiser.broadcast_texts import payloads, progress_text
from storage.broadcast_models import SENDING, STOPPED, Broadcast
from storage.broadcasts import BroadcastRepository, Report
from storage.models import Participant
from storage.outbox import OutboxRepository, Priority

PREFIX = "bc"
JOB = "broadcast"
"""The timed job that queues a broadcast's next chunk (the item is the broadcast's id)."""
PROGRESS_JOB = "broadcast-progress"
"""The timed job that edits progress messages (the items are the broadcasts' ids)."""
FIRST_EDIT_AFTER = timedelta(seconds=2)
"""No edit this soon after "Send": the channel's own edit of the tapped message (into the
progress) goes out after the transaction, and a quicker edit could arrive before it and be
overwritten with older numbers (or a finished one with "Sending")."""


def progress_topic(broadcast_id: int) -> str:
    """The outbox topic of a broadcast's progress edits (not under its messages' topic, so
    the report never counts them)."""
    return f"broadcast-progress:{broadcast_id}"


def progress_reply(
    broadcast: Broadcast, report: Report, t: Translator, *, replaces: str | None = None
) -> Reply:
    """The progress message: the numbers, with Refresh and Stop while it is being sent.

    Finished means every delivery settled (the maintenance sweep marks it done later).
    """
    finished = report.pending == 0
    rows: Rows = ()
    if not finished:
        rows = ((Button(t.gettext("Refresh"), f"{PREFIX}|prog|{broadcast.id}"),),)
        if broadcast.state == SENDING:
            rows += ((Button(t.gettext("Stop sending"), f"{PREFIX}|stop|{broadcast.id}"),),)
    text = progress_text(report, t, finished=finished, stopped=broadcast.state == STOPPED)
    return Reply(text, rows, replaces=replaces)


async def show_progress(turn: Turn, broadcast: Broadcast, *, edit: bool) -> Report:
    """The progress in answer to a tap (Refresh, Send); returns the report it shows."""
    report = await BroadcastRepository(turn.session).report(broadcast)
    reply = progress_reply(broadcast, report, turn.t)
    turn.say(reply.text, reply.buttons, edit=edit)
    return report


async def ask_stop(turn: Turn, broadcast: Broadcast) -> None:
    """The "Stop sending" button: how many are not sent yet, Stop or Keep sending (a new
    message, so the progress message goes on showing the numbers meanwhile)."""
    t = turn.t
    report = await _still_sending(turn, broadcast, edit=False)
    if report is None:
        return
    pending = report.pending
    text = t.ngettext(
        "Stop the announcement? {n} message is not sent yet.",
        "Stop the announcement? {n} messages are not sent yet.",
        pending,
    )
    lines = [
        fmt(text, n=t.number(pending)),
        t.gettext("Those already on their way are still delivered."),
    ]
    rows = (
        (
            Button(t.gettext("Stop"), f"{PREFIX}|halt|{broadcast.id}"),
            Button(t.gettext("Keep sending"), f"{PREFIX}|keep|{broadcast.id}"),
        ),
    )
    turn.say("\n".join(lines), rows)


async def stop(turn: Turn, broadcast: Broadcast) -> None:
    """The confirmed stop (the broadcast is locked: a second tap waits, then sees it stopped)."""
    t = turn.t
    if await _still_sending(turn, broadcast, edit=True) is None:
        return
    not_sent = await stop_sending(turn.session, broadcast, turn.now)
    turn.outbox_written = True
    turn.schedule_changed = True  # the sweep reports it as soon as the rest is settled
    turn.notice(t.gettext("Stopped."))
    text = t.ngettext(
        "Stopped: {n} message will not be sent.",
        "Stopped: {n} messages will not be sent.",
        not_sent,
    )
    turn.say(
        fmt(text, n=t.number(not_sent))
        + "\n"
        + t.gettext("The report follows once the messages already on their way are delivered."),
        edit=True,
    )


async def stop_sending(session: AsyncSession, broadcast: Broadcast, now: datetime) -> int:
    """Stop a broadcast being sent (locked, checked ``sending`` by the caller) and show it on
    the progress message; returns how many messages will not be sent."""
    not_sent = await BroadcastRepository(session).stop(broadcast, now)
    await queue_progress_edit(session, broadcast, now, force=True)
    return not_sent


async def keep(turn: Turn, broadcast: Broadcast) -> None:
    """The "Keep sending" button: nothing changes; the question goes away."""
    if await _still_sending(turn, broadcast, edit=True) is not None:
        turn.say(turn.t.gettext("Sending goes on."), edit=True)


async def stoppable(session: AsyncSession, broadcast: Broadcast) -> Report | None:
    """Its report if it can still be stopped: being sent, with messages not sent yet (one
    whose every delivery is settled is finished, even before the sweep marks it done)."""
    if broadcast.state != SENDING:
        return None
    report = await BroadcastRepository(session).report(broadcast)
    return report if report.pending else None


async def _still_sending(turn: Turn, broadcast: Broadcast, *, edit: bool) -> Report | None:
    """Its report if it can still be stopped; if not, the organiser is told why."""
    report = await stoppable(turn.session, broadcast)
    if report is not None:
        return report
    t = turn.t
    if broadcast.state == STOPPED:
        turn.notice(t.gettext("Already stopped."))
        turn.say(t.gettext("This announcement was already stopped; nothing changed."), edit=edit)
    else:
        turn.notice(t.gettext("Nothing to stop."))
        turn.say(
            t.gettext("This announcement is no longer being sent; there is nothing to stop."),
            edit=edit,
        )
    return None


async def queue_progress_edit(
    session: AsyncSession, broadcast: Broadcast, now: datetime, *, force: bool = False
) -> bool:
    """Queue an edit of the broadcast's progress message, if it has one and (unless
    ``force``) more deliveries settled since the last; whether one was queued.

    The edit that shows it finished is the last: the message reference is dropped with it.
    """
    if broadcast.progress_ref is None or broadcast.organiser_id is None:
        return False
    started = broadcast.started_at
    if not force and started is not None and now - started < FIRST_EDIT_AFTER:
        return False
    repo = BroadcastRepository(session)
    report = await repo.report(broadcast)
    finished = report.pending == 0
    if not (force or finished) and report.settled == broadcast.progress_settled:
        return False
    organiser = await session.get(Participant, broadcast.organiser_id)
    outbox = OutboxRepository(session)
    topic = progress_topic(broadcast.id)
    # One edit pending at a time: the newer numbers replace those not shown yet.
    await outbox.withdraw(topic)
    queued = False
    # An edit given up means the message can no longer be edited (deleted, say): no more
    # edits then, rather than one refused every few seconds (Refresh still answers).
    if organiser is not None and organiser.active and not await outbox.given_up(topic):
        reply = progress_reply(
            broadcast, report, translator(organiser.locale), replaces=broadcast.progress_ref
        )
        queued = outbox.queue(
            organiser, reply_to_payload(reply), now, topic=topic, priority=Priority.NOTICE
        )
    broadcast.progress_settled = report.settled
    if finished or not queued:
        broadcast.progress_ref = None
    return queued


async def edit_progress(session: AsyncSession, now: datetime, broadcast_ids: Sequence[int]) -> bool:
    """The timed job: queue the progress edits due; ``True`` if any was queued."""
    repo = BroadcastRepository(session)
    queued = False
    for broadcast_id in broadcast_ids:
        broadcast = await repo.get(broadcast_id, for_update=True)
        if broadcast is not None:
            queued = await queue_progress_edit(session, broadcast, now) or queued
    return queued


async def queue_next_chunks(
    session: AsyncSession, now: datetime, broadcast_ids: Sequence[int]
) -> bool:
    """The timed job: queue each broadcast's next chunk; ``False`` when nothing was left."""
    queued = False
    for broadcast_id in broadcast_ids:
        queued = await queue_next_chunk(session, now, broadcast_id) or queued
    return queued


async def queue_next_chunk(session: AsyncSession, now: datetime, broadcast_id: int) -> bool:
    """Queue the broadcast's next chunk; ``False`` when nothing was left (or it was stopped)."""
    repo = BroadcastRepository(session)
    broadcast = await repo.get(broadcast_id, for_update=True)
    if broadcast is None or broadcast.state != SENDING:
        return False
    texts = {code: str(text) for code, text in broadcast.texts.items()}
    by_locale, fallback = payloads(texts)
    return await repo.queue_chunk(broadcast, by_locale, fallback, now) > 0


async def report_finished(session: AsyncSession, now: datetime) -> int:
    """Maintenance: mark finished broadcasts done and send each organiser the report."""
    finished = await BroadcastRepository(session).finish_settled(now)
    outbox = OutboxRepository(session)
    for broadcast, report in finished:
        broadcast.reported_at = now
        if broadcast.organiser_id is None:
            continue
        organiser = await session.get(Participant, broadcast.organiser_id)
        if organiser is None:
            continue
        t = translator(organiser.locale)
        text = progress_text(report, t, finished=True, stopped=broadcast.state == STOPPED)
        outbox.queue(organiser, reply_to_payload(Reply(text)), now, topic=f"broadcast-report:{broadcast.id}",
                     priority=Priority.NOTICE)  # fmt: skip
    return len(finished)

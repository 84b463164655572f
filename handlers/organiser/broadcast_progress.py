"""A broadcast being sent: its progress message, stopping it, and the final report.

The progress message is edited in place by its Refresh button; "Stop sending" asks first,
then queues nothing more and gives up every message no sender holds yet (those in hand
settle as they will). The maintenance sweep sends the final report once every delivery is
settled, whether the broadcast went out in full or was stopped.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.context import Turn
from handlers.kernel.i18n import translator
from handlers.kernel.markup import bold, escape, fmt
from handlers.kernel.notify import reply_to_payload
from handlers.kernel.replies import Button, Reply
from handlers.organiser.broadcast_texts import progress_text
from storage.broadcast_models import SENDING, STOPPED, STOPPING, Broadcast
from storage.broadcasts import BroadcastRepository
from storage.models import Participant
from storage.outbox import OutboxRepository, Priority

PREFIX = "bc"


async def show_progress(turn: Turn, broadcast: Broadcast, *, edit: bool) -> None:
    """The progress (or the final report) of ``broadcast``, with Refresh and Stop while it
    is being sent."""
    report = await BroadcastRepository(turn.session).report(broadcast)
    t = turn.t
    finished = broadcast.state not in (SENDING, STOPPING)
    rows: tuple[tuple[Button, ...], ...] = ()
    if broadcast.state == SENDING:
        rows = (
            (
                Button(t.gettext("Refresh"), f"{PREFIX}|prog|{broadcast.id}"),
                Button(t.gettext("Stop sending"), f"{PREFIX}|stop|{broadcast.id}"),
            ),
        )
    elif broadcast.state == STOPPING:
        rows = ((Button(t.gettext("Refresh"), f"{PREFIX}|prog|{broadcast.id}"),),)
    stopped = broadcast.state in (STOPPING, STOPPED)
    turn.say(progress_text(report, t, finished=finished, stopped=stopped), rows, edit=edit)


async def ask_to_stop(turn: Turn, broadcast: Broadcast) -> None:
    """ "Stop sending?" with how many have not received it yet."""
    t = turn.t
    if broadcast.state != SENDING:
        turn.notice(t.gettext("It is no longer being sent."))
        await show_progress(turn, broadcast, edit=True)
        return
    report = await BroadcastRepository(turn.session).report(broadcast)
    lines = [
        bold(escape(t.gettext("Stop sending the announcement?"))),
        fmt(
            t.ngettext(
                "{n} participant has not received it yet; they will not receive it.",
                "{n} participants have not received it yet; they will not receive it.",
                report.pending,
            ),
            n=t.number(report.pending),
        ),
        t.gettext("Messages already on their way cannot be called back."),
    ]
    rows = (
        (
            Button(t.gettext("Stop"), f"{PREFIX}|halt|{broadcast.id}"),
            Button(t.gettext("Keep sending"), f"{PREFIX}|prog|{broadcast.id}"),
        ),
    )
    turn.say("\n".join(lines), rows, edit=True)


async def stop(turn: Turn, broadcast: Broadcast) -> None:
    """Stop the broadcast (once: a second tap, or one after it finished, changes nothing)."""
    t = turn.t
    if broadcast.state != SENDING:
        turn.notice(t.gettext("It is no longer being sent."))
    else:
        await BroadcastRepository(turn.session).stop(broadcast, turn.now)
        turn.notice(t.gettext("Stopped."))
    await show_progress(turn, broadcast, edit=True)


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
        text = progress_text(
            report, translator(organiser.locale), finished=True, stopped=broadcast.state == STOPPED
        )
        outbox.queue(organiser, reply_to_payload(Reply(text)), now, topic=f"broadcast-report:{broadcast.id}",
                     priority=Priority.NOTICE)  # fmt: skip
    return len(finished)

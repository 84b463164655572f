"""Broadcasts: the stored deliveries, queueing in chunks, stopping, the report (who is in a
segment: :mod:`storage.broadcast_segments`).

A broadcast starts by writing one ``waiting`` delivery per recipient in one statement
(unique per broadcast and participant: nobody is a recipient twice). The deliveries are
then queued into the outbox a chunk per transaction (:meth:`BroadcastRepository.queue_chunk`),
each chunk's outbox messages and its deliveries' ``queued`` mark committed together: after
a crash while queueing, queueing resumes with the deliveries still waiting, and none is
queued twice. Broadcast messages are queued ``once`` at :attr:`Priority.BROADCAST`: the
sender never sends one twice, gives up one that was in flight at a crash as uncertain, and
sends every reply, reminder and notice before them.

A broadcast is stopped (:meth:`BroadcastRepository.stop`) by marking its waiting deliveries
``stopped`` and giving up its outbox messages that no sender holds, in one transaction;
those in a sender's hands finish, and the report counts the rest as not sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.broadcast_models import (
    DONE,
    DRAFT,
    QUEUED,
    SENDING,
    SKIPPED,
    STOPPED,
    WAITING,
    Broadcast,
    BroadcastDelivery,
)
from storage.broadcast_segments import Segment, recipients_query
from storage.event_models import Event, OutboxMessage
from storage.models import Participant
from storage.outbox import SILENT_CHANNELS, OutboxRepository, Priority, StateCounts
from storage.outbox import STOPPED as STOPPED_ERROR

CHUNK = 500
"""Deliveries queued per transaction: short enough never to hold the database for long."""
STOPPED_REASON = f"{STOPPED_ERROR} the organiser stopped the broadcast before it was sent"


def topic_of(broadcast_id: int) -> str:
    """The outbox topic of a broadcast's messages (ends with ``:``, so that the prefix of
    broadcast 1 is not also the prefix of broadcast 12)."""
    return f"broadcast:{broadcast_id}:"


@dataclass(frozen=True, slots=True)
class Report:
    """How a broadcast stands: its recipients, and what became of their messages."""

    recipients: int
    waiting: int
    """Not queued yet (queueing goes on)."""
    skipped: int
    """Not queued: they blocked the bot (or left) after the broadcast started."""
    outbox: StateCounts
    not_queued: int = 0
    """Not queued: the broadcast was stopped before their turn came."""

    @property
    def delivered(self) -> int:
        return self.outbox.delivered

    @property
    def blocked(self) -> int:
        """Blocked the bot: while sending, or before their turn came."""
        return self.outbox.blocked + self.skipped

    @property
    def failed(self) -> int:
        return self.outbox.failed

    @property
    def uncertain(self) -> int:
        return self.outbox.uncertain

    @property
    def stopped(self) -> int:
        """Not sent because the broadcast was stopped: never queued, or given up queued."""
        return self.outbox.stopped + self.not_queued

    @property
    def pending(self) -> int:
        """Not settled yet: waiting to be queued, or queued and not sent."""
        return self.waiting + self.outbox.pending

    @property
    def settled(self) -> int:
        return self.recipients - self.pending


class BroadcastRepository:
    """Create, start, queue and report broadcasts."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def count(self, segment: Segment, now: datetime) -> int:
        """How many would receive a broadcast to ``segment`` now."""
        query = recipients_query(segment, now).subquery()
        return int(await self.session.scalar(select(func.count()).select_from(query)) or 0)

    async def event_id(self, code: str) -> int | None:
        """The id of the event with ``code``, if there is one."""
        value: int | None = await self.session.scalar(select(Event.id).where(Event.code == code))
        return value

    async def draft(
        self,
        organiser_id: int | None,
        texts: dict[str, str],
        segment: dict[str, Any],
        now: datetime,
    ) -> Broadcast:
        """Store a broadcast not sent yet (what the confirmation button refers to)."""
        broadcast = Broadcast(
            organiser_id=organiser_id,
            texts=dict(texts),
            segment=dict(segment),
            state=DRAFT,
            recipients=0,
            created_at=now,
        )
        self.session.add(broadcast)
        await self.session.flush()
        return broadcast

    async def get(self, broadcast_id: int, *, for_update: bool = False) -> Broadcast | None:
        """The broadcast, locked for this transaction with ``for_update`` (a confirm tap)."""
        query = select(Broadcast).where(Broadcast.id == broadcast_id)
        if for_update:
            query = query.with_for_update()
        broadcast: Broadcast | None = await self.session.scalar(query)
        return broadcast

    async def start(self, broadcast: Broadcast, segment: Segment, now: datetime) -> int:
        """Write a waiting delivery for every recipient and mark the broadcast sending.

        Returns the number of recipients. Only a draft starts: the caller checks it under
        :meth:`get`'s lock, so a second confirmation starts nothing.
        """
        chosen = recipients_query(segment, now).subquery()
        await self.session.execute(
            insert(BroadcastDelivery).from_select(
                ["broadcast_id", "participant_id", "state"],
                select(literal(broadcast.id), chosen.c.id, literal(WAITING)),
            )
        )
        recipients = int(
            await self.session.scalar(
                select(func.count()).where(BroadcastDelivery.broadcast_id == broadcast.id)
            )
            or 0
        )
        broadcast.state, broadcast.started_at, broadcast.recipients = SENDING, now, recipients
        await self.session.flush()
        return recipients

    async def queue_chunk(
        self,
        broadcast: Broadcast,
        payloads: dict[str, dict[str, Any]],
        fallback: dict[str, Any],
        now: datetime,
        size: int | None = None,
    ) -> int:
        """Queue up to ``size`` (:data:`CHUNK`) waiting deliveries: each recipient's payload by locale
        (``fallback`` for other locales). Returns how many deliveries were settled here
        (queued or skipped); 0 when none was waiting.

        A recipient who blocked the bot since the start is skipped. Call it inside the
        transaction that commits it: the outbox rows and the deliveries' new state go
        together.
        """
        # In SQL, two statements for the chunk: at a paid broadcast's thousand a second,
        # building rows and objects in Python starved the sender (bench/broadcast_apart).
        # The broadcast's row lock (the caller's) keeps two queuers apart.
        chunk = (
            select(BroadcastDelivery.id)
            .where(
                BroadcastDelivery.broadcast_id == broadcast.id,
                BroadcastDelivery.state == WAITING,
            )
            .order_by(BroadcastDelivery.id)
            .limit(CHUNK if size is None else size)
            .scalar_subquery()
        )
        reachable = and_(
            Participant.active,
            Participant.registered_at.is_not(None),
            Participant.channel.not_in(sorted(SILENT_CHANNELS)),
        )
        payload = case(
            *[
                (Participant.locale == code, literal(value, JSON))
                for code, value in payloads.items()
            ],
            else_=literal(fallback, JSON),
        )
        await self.session.execute(
            insert(OutboxMessage).from_select(
                ["participant_id", "channel", "chat_id", "payload", "topic", "created_at",
                 "not_before", "deadline", "priority", "once", "attempts"],
                select(
                    Participant.id, Participant.channel, Participant.chat_id, payload,
                    literal(topic_of(broadcast.id)), literal(now, OutboxMessage.created_at.type),
                    literal(now, OutboxMessage.not_before.type),
                    literal(now, OutboxMessage.deadline.type), literal(int(Priority.BROADCAST)),
                    literal(True), literal(0),
                )
                .join(BroadcastDelivery, BroadcastDelivery.participant_id == Participant.id)
                .where(BroadcastDelivery.id.in_(chunk), reachable)
                .order_by(BroadcastDelivery.id),
            )
        )  # fmt: skip
        # Correlated, so each delivery looks up its one participant: ``IN (reachable ids)``
        # read every participant of the database once per chunk.
        queued = exists().where(Participant.id == BroadcastDelivery.participant_id, reachable)
        result = await self.session.execute(
            update(BroadcastDelivery)
            .where(BroadcastDelivery.id.in_(chunk))
            .values(state=case((queued, QUEUED), else_=SKIPPED))
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def needing_queueing(self) -> list[int]:
        """Broadcasts being sent with deliveries not queued yet (after a crash, say)."""
        rows = await self.session.scalars(
            select(Broadcast.id)
            .where(
                Broadcast.state == SENDING,
                exists().where(
                    BroadcastDelivery.broadcast_id == Broadcast.id,
                    BroadcastDelivery.state == WAITING,
                ),
            )
            .order_by(Broadcast.id)
        )
        return list(rows)

    async def report(self, broadcast: Broadcast) -> Report:
        """Where the broadcast's deliveries stand now."""
        rows = await self.session.execute(
            select(BroadcastDelivery.state, func.count())
            .where(BroadcastDelivery.broadcast_id == broadcast.id)
            .group_by(BroadcastDelivery.state)
        )
        by_state: dict[str, int] = {state: count for state, count in rows.all()}
        counts = await OutboxRepository(self.session).state_counts(topic_of(broadcast.id))
        return Report(
            recipients=broadcast.recipients,
            waiting=by_state.get(WAITING, 0),
            skipped=by_state.get(SKIPPED, 0),
            outbox=counts,
            not_queued=by_state.get(STOPPED, 0),
        )

    async def _anything_pending(self, broadcast: Broadcast) -> bool:
        """Whether a delivery waits to be queued or a queued one to be settled: a look at
        an index each."""
        waiting = exists().where(
            BroadcastDelivery.broadcast_id == broadcast.id, BroadcastDelivery.state == WAITING
        )
        unsent = exists().where(
            OutboxMessage.topic == topic_of(broadcast.id), OutboxMessage.sent_at.is_(None)
        )
        return bool(await self.session.scalar(select(or_(waiting, unsent))))

    async def stop(self, broadcast: Broadcast, now: datetime) -> int:
        """Stop a broadcast being sent: nothing more is queued, and what is queued but not in
        a sender's hands is given up as stopped. Returns how many will not be sent.

        Only a broadcast ``sending`` stops: the caller checks it under :meth:`get`'s lock
        (which the queueing job takes too), so a chunk is queued either before the stop,
        and given up here, or not at all. Those in a sender's hands finish normally; the
        final report comes once they are settled (:meth:`finish_settled`).
        """
        result = await self.session.execute(
            update(BroadcastDelivery)
            .where(
                BroadcastDelivery.broadcast_id == broadcast.id,
                BroadcastDelivery.state == WAITING,
            )
            .values(state=STOPPED)
            .execution_options(synchronize_session=False)
        )
        not_queued = int(getattr(result, "rowcount", 0) or 0)
        given_up = await OutboxRepository(self.session).give_up_unleased(
            topic_of(broadcast.id), STOPPED_REASON, now
        )
        broadcast.state = STOPPED
        await self.session.flush()
        return not_queued + given_up

    async def showing_progress(self) -> list[int]:
        """Broadcasts whose progress message Ponte still edits (none: nothing to do)."""
        rows = await self.session.scalars(
            select(Broadcast.id)
            .where(Broadcast.progress_ref.is_not(None), Broadcast.state != DRAFT)
            .order_by(Broadcast.id)
        )
        return list(rows)

    async def finish_settled(self, now: datetime) -> list[tuple[Broadcast, Report]]:
        """Mark finished the broadcasts being sent (or stopped) whose every delivery is
        settled; returns them with their final report. Each is returned once: a sent one is
        no longer ``sending``, a stopped one stays ``stopped`` with its ``finished_at`` set."""
        unfinished = await self.session.scalars(
            select(Broadcast)
            .where(
                or_(
                    Broadcast.state == SENDING,
                    and_(Broadcast.state == STOPPED, Broadcast.finished_at.is_(None)),
                )
            )
            .with_for_update()
        )
        finished: list[tuple[Broadcast, Report]] = []
        for broadcast in unfinished.all():
            # The full count only once it is finished: the sweep every minute must not count
            # ten thousand rows while replies wait for the database (bench/broadcast).
            if await self._anything_pending(broadcast):
                continue
            report = await self.report(broadcast)
            if report.pending == 0:
                if broadcast.state == SENDING:
                    broadcast.state = DONE
                broadcast.finished_at = now
                finished.append((broadcast, report))
        return finished

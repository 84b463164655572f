"""The outbox under a wave of queued messages, with the delivered history an event leaves.

Scheduling a day's meetings queues confirmations, calendar files and feedback questions for
everyone involved, and an announcement to every participant would queue one message each.
The Telegram sender then leases them one at a time (``OutboxRepository.lease_next``),
sends, and records each as sent (``mark_sent``), while everyone else's updates wait for the
same event loop and, on SQLite, the same writer. Delivered messages stay in the table
(``/deleteme`` scrubs them), so the queries that find the next message must grow neither
with the queue nor with the history. This measures those queries as the sender runs them,
without Telegram: the time per message, for ``--recipients`` queued messages (one per
person) on top of ``--history`` delivered ones, with ``--busy`` chats held back (the
per-chat rate limit) as while sending. Run by hand::

    python -m bench.outbox                            # SQLite, history 0 / 20,000 / 100,000
    TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \
        python -m bench.outbox --database postgresql
    python -m bench.outbox --broadcast --recipients 10000   # a broadcast-sized backlog

With ``--broadcast`` the queued messages are broadcast parts (the lowest priority, sent at
most once), with the next day's reminders and after-meeting questions queued for later
(``--later``, split one to two) that every lease must pass over, and halfway through a
reminder falls due: its lease is timed apart (the "reminder" line) and must be the next
message taken, ahead of the whole backlog.

As in bench/matchmaking.py, the benchmark makes its own database (a temporary SQLite file,
or a database on the server ``TEST_DATABASE_URL`` names) and drops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from bot.app import build_app
from bot.config import Settings
from storage.event_models import OutboxMessage
from storage.models import Participant
from storage.outbox import OutboxRepository, Priority
from tests.databases import temporary_database

CHANNEL = "telegram"
LEASE = timedelta(minutes=10)
PAYLOAD = {"replies": [{"text": "The programme of Thursday has changed: see /agenda."}]}


async def run(
    url: str, recipients: int, history: int, busy: int, sample: int, later: int = 0
) -> tuple[list[float], float | None]:
    """Milliseconds per lease-and-mark of the first ``sample`` queued messages, and with
    ``later`` (a broadcast backlog) of the reminder that falls due halfway."""
    app = await build_app(Settings(database_url=url, _env_file=None))
    try:
        sessions = app.core.sessions
        sent = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
        async with sessions() as session, session.begin():
            await session.execute(insert(Participant), [
                {"channel": CHANNEL, "external_id": str(i), "chat_id": str(i), "locale": "en",
                 "active": True, "created_at": sent, "updated_at": sent}
                for i in range(recipients)
            ])  # fmt: skip
            ids = (await session.scalars(select(Participant.id).order_by(Participant.id))).all()
            for first in range(0, history, 10_000):
                await session.execute(insert(OutboxMessage), [
                    {"participant_id": ids[i % recipients], "channel": CHANNEL,
                     "chat_id": str(i % recipients), "payload": PAYLOAD, "created_at": sent,
                     "not_before": sent, "sent_at": sent, "attempts": 1}
                    for i in range(first, min(history, first + 10_000))
                ])  # fmt: skip
            now = datetime.now(UTC)
            kind = {"priority": Priority.BROADCAST, "once": True} if later else {}
            await session.execute(insert(OutboxMessage), [
                {"participant_id": pid, "channel": CHANNEL, "chat_id": str(i),
                 "payload": PAYLOAD, "created_at": now, "not_before": now, "deadline": now,
                 "attempts": 0, **kind}
                for i, pid in enumerate(ids)
            ])  # fmt: skip
            tomorrow = now + timedelta(days=1)
            await session.execute(insert(OutboxMessage), [
                {"participant_id": ids[i % recipients], "channel": CHANNEL,
                 "chat_id": str(i % recipients), "payload": PAYLOAD, "created_at": now,
                 "not_before": tomorrow, "deadline": tomorrow, "attempts": 0,
                 "priority": Priority.REMINDER if i % 3 == 0 else Priority.NOTICE,
                 "once": i % 3 == 0}
                for i in range(later)
            ])  # fmt: skip
        held_back = {str(i) for i in range(busy)}
        timings = []
        reminder: float | None = None
        for taken in range(sample):
            if later and taken == sample // 2:
                async with sessions() as session, session.begin():
                    person = await session.get(Participant, ids[-1])
                    assert person is not None
                    OutboxRepository(session).queue(
                        person, PAYLOAD, datetime.now(UTC), priority=Priority.REMINDER,
                        once=True, topic="reminder",
                    )  # fmt: skip
            start = time.perf_counter()
            async with sessions() as session, session.begin():
                outbox = OutboxRepository(session)
                row = await outbox.lease_next(CHANNEL, datetime.now(UTC), LEASE, held_back)
                assert row is not None, "the queue ran out"
                message_id, topic = row.id, row.topic
            async with sessions() as session, session.begin():
                await OutboxRepository(session).mark_sent(message_id, datetime.now(UTC))
            elapsed = (time.perf_counter() - start) * 1000
            if later and taken == sample // 2:
                assert topic == "reminder", "the reminder waited behind the broadcast"
                reminder = elapsed
            else:
                timings.append(elapsed)
        return timings, reminder
    finally:
        await app.close()


async def main_async(args: argparse.Namespace) -> None:
    later = args.later if args.broadcast else 0
    what = "broadcast parts" if args.broadcast else "messages"
    print(f"{args.recipients} {what} queued, {later} queued for tomorrow, "
          f"{args.busy} chats held back; ms per message")  # fmt: skip
    print(f"{'history':>8} {'p50':>7} {'p95':>7} {'max':>7} {'reminder':>9}")
    for history in args.history:
        with tempfile.TemporaryDirectory() as folder:
            async with temporary_database(args.database, Path(folder)) as url:
                timings, reminder = await run(
                    url, args.recipients, history, args.busy, args.sample, later
                )
        ordered = sorted(timings)
        p95 = ordered[int(0.95 * (len(ordered) - 1))]
        due = "" if reminder is None else f"{reminder:9.2f}"
        print(f"{history:>8} {statistics.median(ordered):7.2f} {p95:7.2f} {ordered[-1]:7.2f} {due}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument(
        "--history", type=int, nargs="+", default=[0, 20_000, 100_000],
        help="delivered messages already in the table (one run each)",
    )  # fmt: skip
    parser.add_argument("--busy", type=int, default=30, help="chats held back by the rate limit")
    parser.add_argument("--sample", type=int, default=300, help="messages timed per run")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--broadcast", action="store_true",
        help="queue broadcast parts (priority 3, at most once) instead of notices",
    )  # fmt: skip
    parser.add_argument(
        "--later", type=int, default=3000,
        help="with --broadcast: reminders and questions queued for tomorrow",
    )  # fmt: skip
    args = parser.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()

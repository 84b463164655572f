"""A broadcast at Telegram's full speed, replies and reminders meanwhile, and a crash.

Ponte (on aiogram or python-telegram-bot, in this process) sends a broadcast to
``--recipients`` participants through the fake Bot API server, which enforces Telegram's
flood control (``FakeBotApi.enforce_limits``). Three runs:

* ``free``: the server allows 30 messages/s; Ponte sends at ``OUTBOUND_RATE`` (``--rate``,
  default 29; Ponte's own default is 25, a margin below Telegram's 30). Reported: the achieved
  rate over the server's limit (first to last broadcast message), and the 429s.
  Meanwhile (point 8b of issue 14) a participant writes ``/help`` every ``--every`` seconds:
  the p99 of the reply latency is compared with the idle p99 measured just before, in the
  same run; and a reminder queued to fall due in the middle is sent, or not, on time.
* ``replies``: as ``free``, at Ponte's default rate (25 a second): replies then use the room
  up to Telegram's 30 and need not wait for the broadcast's beat (at 29 there is none).
* ``paid``: at 1,000 messages/s with ``PAID_BROADCAST`` on, with Ponte in its own process
  (``bench.broadcast_apart``): at that rate, a fake server in Ponte's process would take
  half of Ponte's core.
* ``crash``: the sender is stopped dead at a random point (nothing in hand is settled), a new
  bot starts on the same database after the leases ran out, and the broadcast resumes;
  reported: messages per chat over both runs (must be at most one), delivered, uncertain.

Run by hand from the repository root (never by pytest)::

    python -m bench.broadcast                       # 10,000 recipients, all three runs
    python -m bench.broadcast --recipients 2000 --runs free crash

Everything listens on 127.0.0.1; the database is a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections import Counter
from contextlib import suppress
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.broadcast_apart import CODE, TEXTS, paid_run
from bot.broadcasting import queue_all
from bot.sending.sender import LEASE, OutboundSender
from handlers.organiser.broadcast_texts import payloads
from storage.broadcast_segments import Segment
from storage.broadcasts import BroadcastRepository, Report
from storage.models import Participant
from storage.outbox import OutboxRepository, Priority
from tests.broadcast_support import add_recipients
from tests.events_support import Clock, make_event
from tests.fake_bot_api import FakeBotApi
from tests.telegram_world import World, running_bot

WRITER = 4242


async def start_broadcast(world: World, event_id: int) -> int:
    """Confirm a broadcast to everyone in the event and queue all of it, as the chat does."""
    clock = world.app.clock
    async with world.app.sessions() as session, session.begin():
        repo = BroadcastRepository(session)
        broadcast = await repo.draft(None, TEXTS, {"event": CODE}, clock())
        await repo.start(broadcast, Segment(event_id=event_id), clock())
        by_locale, fallback = payloads(TEXTS)
        await repo.queue_chunk(broadcast, by_locale, fallback, clock())
        broadcast_id = broadcast.id
    world.app.core.outbox_ready.set()
    await queue_all(world.app.core, broadcast_id)
    return broadcast_id


async def report(world: World, broadcast_id: int) -> Report:
    async with world.app.sessions() as session:
        repo = BroadcastRepository(session)
        broadcast = await repo.get(broadcast_id)
        assert broadcast is not None
        return await repo.report(broadcast)


async def until_settled(world: World, broadcast_id: int, limit: float) -> Report:
    deadline = time.monotonic() + limit
    while (current := await report(world, broadcast_id)).pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"broadcast not settled in {limit:g} s: {current}")
        await asyncio.sleep(0.5)
    return current


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] if ordered else 0.0


async def replies_latency(api: FakeBotApi, count: int, every: float) -> list[float]:
    """Seconds from each ``/help`` to the first message of its answer."""
    writer = api.user(WRITER, "Walter")
    latencies = []
    for _ in range(count):
        before = len(api.chat(WRITER).bot_messages)
        sent = time.monotonic()
        writer.send_command("/help")
        await api.wait_for(lambda b=before: len(api.chat(WRITER).bot_messages) > b, timeout=30)  # type: ignore[misc]
        arrived = next(c.time for c in reversed(api.calls) if c.method == "sendMessage"
                       and str(c.params.get("chat_id")) == str(WRITER) and c.ok)  # fmt: skip
        latencies.append(max(arrived - sent, 0.0))
        await asyncio.sleep(every)
    return latencies


async def speed_run(framework: str, recipients: int, limit: int, settings: dict[str, Any],
                    every: float, probe: bool) -> dict[str, Any]:  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        async with running_bot(framework, url, **settings) as world:
            api = world.api
            event_id = await make_event(world.app.sessions, code=CODE)
            people = await add_recipients(world.app.sessions, recipients, event_id=event_id)
            for uid in people:
                api.user(uid, f"R{uid}")
            # Telegram's limits hold for the idle replies too, so both p99s are measured alike.
            flood = api.enforce_limits(limit)
            if probe:
                # A first answer is not measured: it pays for what a process does once (the
                # first query plans, catalogue look-ups), which made the idle p99 130 ms.
                await replies_latency(api, 1, every)
            idle = await replies_latency(api, 40, every) if probe else []
            started = time.monotonic()
            broadcast_id = await start_broadcast(world, event_id)
            busy: list[float] = []
            reminder_late = None
            if probe:
                due_in = 5.0
                reader = next(iter(people))
                async with world.app.sessions() as session, session.begin():
                    person = await session.scalar(
                        select(Participant).where(Participant.chat_id == str(reader))
                    )
                    assert person is not None
                    now = world.app.clock()
                    OutboxRepository(session).queue(
                        person, {"text": "Reminder: your meeting starts in 15 minutes.", "buttons": []},
                        now, not_before=now + timedelta(seconds=due_in), priority=Priority.REMINDER, once=True,
                    )  # fmt: skip
                due = time.monotonic() + due_in
                world.app.core.outbox_ready.set()
                busy = await replies_latency(api, 40, every)
                reminder = [c.time for c in api.calls if c.method == "sendMessage" and c.ok
                            and str(c.params.get("chat_id")) == str(reader) and "Reminder" in str(c.params.get("text"))]  # fmt: skip
                reminder_late = (reminder[0] - due) if reminder else None
            final = await until_settled(world, broadcast_id, recipients / min(limit, 30) * 3 + 120)
            chats = set(map(str, people))
            times = [c.time for c in api.calls
                     if c.method == "sendMessage" and c.ok and str(c.params.get("chat_id")) in chats]  # fmt: skip
            span = max(times) - min(times)
            per_chat = Counter(str(c.params.get("chat_id")) for c in api.calls
                               if c.method == "sendMessage" and c.ok and str(c.params.get("chat_id")) in chats
                               and "Reminder" not in str(c.params.get("text")))  # fmt: skip
            return {
                "framework": framework, "recipients": recipients, "limit": limit,
                "rate": (len(times) - 1) / span if span else 0.0,
                "ratio": ((len(times) - 1) / span if span else 0.0) / limit,
                "refused_429": len(flood.refused), "delivered": final.delivered,
                "refused_429_to_recipients": sum(1 for _, chat in flood.refused if chat in chats),
                "max_per_chat": max(per_chat.values(), default=0), "total_s": time.monotonic() - started,
                "idle_p99_ms": p99(idle) * 1000, "busy_p99_ms": p99(busy) * 1000,
                "reminder_late_s": reminder_late,
            }  # fmt: skip


def _nothing(*_args: object, **_kwargs: object) -> None:
    return None


async def _nothing_recorded(*_args: object, **_kwargs: object) -> None:
    return None


async def crash_run(framework: str, recipients: int, settings: dict[str, Any]) -> dict[str, Any]:
    point = random.uniform(0.1, 0.9)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        clock = Clock(ticking=True)
        originals = OutboundSender._settle, OutboundSender._record
        async with running_bot(framework, url, clock=clock, **settings) as first:
            event_id = await make_event(first.app.sessions, code=CODE)
            people = await add_recipients(first.app.sessions, recipients, event_id=event_id)
            for uid in people:
                first.api.user(uid, f"R{uid}")
            broadcast_id = await start_broadcast(first, event_id)
            target = int(recipients * point)
            await first.api.wait_for(
                lambda: sum(1 for c in first.api.calls if c.method == "sendMessage" and c.ok) >= target,
                timeout=recipients, what="the crash point",
            )  # fmt: skip
            # Nothing in hand is settled, and no outcome not yet written is written.
            OutboundSender._settle = _nothing  # type: ignore[method-assign]
            OutboundSender._record = _nothing_recorded  # type: ignore[method-assign]
            first.serving.scheduling.shutdown()
            first.serving.sender.cancel()
            with suppress(BaseException):
                await first.serving.sender
            first.serving.stopped = True
            await first.runtime.stop()
            OutboundSender._settle, OutboundSender._record = originals  # type: ignore[method-assign]
            before = Counter(
                str(c.params.get("chat_id"))
                for c in first.api.calls
                if c.method == "sendMessage" and c.ok
            )
        clock.now += LEASE
        async with running_bot(framework, url, clock=clock, **settings) as second:
            for uid in people:
                second.api.user(uid, f"R{uid}")
            final = await until_settled(second, broadcast_id, recipients + 120)
            after = Counter(
                str(c.params.get("chat_id"))
                for c in second.api.calls
                if c.method == "sendMessage" and c.ok
            )
    total = before + after
    return {"framework": framework, "recipients": recipients, "crash_at": f"{point:.0%}",
            "sent_before": sum(before.values()), "sent_after": sum(after.values()),
            "max_per_chat": max(total.values(), default=0), "delivered": final.delivered,
            "uncertain": final.uncertain, "arrived": sum(total.values())}  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    for framework in args.frameworks:
        if "free" in args.runs:
            result = await speed_run(
                framework, args.recipients, 30, {"outbound_rate": args.rate}, args.every, True
            )
            print("free", result, flush=True)
        if "replies" in args.runs:
            # Ponte's default rate (25): replies use the room up to Telegram's 30.
            result = await speed_run(framework, args.recipients, 30, {}, args.every, True)
            print("replies", result, flush=True)
        if "paid" in args.runs:
            result = await paid_run(framework, args.recipients, None)
            print("paid", result, flush=True)
        if "crash" in args.runs:
            print(
                "crash",
                await crash_run(framework, args.recipients, {"paid_broadcast": True}),
                flush=True,
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument(
        "--rate", type=int, default=29, help="OUTBOUND_RATE of the free run (default 29)"
    )
    # A fast typist: Telegram lets a chat receive about one message a second, in short bursts.
    parser.add_argument("--every", type=float, default=1.5, help="seconds between two /help")
    parser.add_argument(
        "--runs",
        nargs="+",
        default=["free", "replies", "paid", "crash"],
        choices=["free", "replies", "paid", "crash"],
    )
    parser.add_argument("--frameworks", nargs="+", default=["aiogram"], choices=["aiogram", "ptb"])
    asyncio.run(main(parser.parse_args()))

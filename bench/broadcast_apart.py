"""A paid broadcast with Ponte in its own process, as operators run it, beside the fake server.

``bench.broadcast`` runs Ponte and the fake Bot API server in one process, so at 1,000
messages a second the two share one core and the server's half of the work (aiohttp's
server, parsing each request, the flood control) counts against Ponte. Telegram's servers
are not on the bot's machine: here the fake server and the load run in this process and
Ponte (``python -m bot run`` with ``PAID_BROADCAST=1``) in another, each on its own core.

The database (a temporary SQLite file) is prepared before Ponte starts: an event with
``--recipients`` participants and a broadcast to all of them, confirmed and not yet queued,
as if Ponte had stopped just after the organiser's "Send". At start-up Ponte queues the
deliveries and sends them. Reported: the achieved rate over the server's limit (first to
last broadcast message), the 429s, the most messages one chat received, and Ponte's CPU
time per message.

Run by hand from the repository root (never by pytest)::

    python -m bench.broadcast_apart --frameworks aiogram ptb
    python -m bench.broadcast_apart --profile /tmp/paid.raw   # py-spy, for bench.pyspy_summary
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.bot_process import (
    STARTUP_TIMEOUT,
    BotDied,
    start_bot,
    start_profiler,
    stop_bot,
    stop_profiler,
)
from bot.app import build_app
from bot.config import Settings
from storage.broadcast_segments import Segment
from storage.broadcasts import BroadcastRepository
from tests.broadcast_support import add_recipients
from tests.events_support import make_event
from tests.fake_bot_api import FakeBotApi

PAID_LIMIT = 1000
TEXTS = {
    "it": "<b>Avviso</b>: la sessione sull'energia inizia alle 15.",
    "en": "<b>Notice</b>: the energy session starts at 3 pm.",
    "zh_Hans": "<b>通知</b>：能源分会下午三点开始。",
}
CODE = "bench-bc"


async def prepare(url: str, recipients: int) -> list[int]:
    """The event, its participants and a confirmed broadcast to them; returns their ids."""
    app = await build_app(Settings(_env_file=None, database_url=url))
    try:
        now = datetime.now(UTC)
        event_id = await make_event(
            app.sessions, code=CODE, first_slot=now + timedelta(days=14),
            deadline=now + timedelta(days=13),
        )  # fmt: skip
        people = await add_recipients(app.sessions, recipients, event_id=event_id)
        async with app.sessions() as session, session.begin():
            repo = BroadcastRepository(session)
            broadcast = await repo.draft(None, TEXTS, {"event": CODE}, now)
            await repo.start(broadcast, Segment(event_id=event_id), now)
        return list(people)
    finally:
        await app.close()


async def paid_run(
    framework: str, recipients: int, profile: Path | None, outbound_rate: int | None = None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        people = await prepare(f"sqlite+aiosqlite:///{workdir / 'ponte.db'}", recipients)
        chats = set(map(str, people))
        async with FakeBotApi() as api:
            for uid in people:
                api.user(uid, f"R{uid}")
            flood = api.enforce_limits(PAID_LIMIT)
            # The fake server keeps a record of every call: by the fifth second of sending
            # its garbage collector's full pass over them held its event loop for 80 ms
            # (seen with gc.callbacks), and the requests that waited meanwhile then arrived
            # in one burst and were counted in one second. Telegram's servers do not stop
            # like that, so this process collects nothing until the sending is done.
            gc.collect()
            gc.disable()
            settings = {"PAID_BROADCAST": "1"}
            if outbound_rate:
                settings["OUTBOUND_RATE"] = str(outbound_rate)
            bot = await start_bot(framework, "ponte", api, workdir, [], settings)
            try:
                seen = [0, 0]  # calls looked at, messages delivered among them

                def delivered() -> int:
                    # Only the calls since the last look: a scan of all of them every 50 ms
                    # held the fake server's event loop, which then crowded the requests it
                    # read afterwards into its flood control's second.
                    calls = api.calls
                    for call in calls[seen[0] :]:
                        seen[1] += call.method == "sendMessage" and call.ok
                    seen[0] = len(calls)
                    return seen[1]

                await _until(
                    lambda: delivered() > 0, bot.process, STARTUP_TIMEOUT, "a first message"
                )
                if profile is not None:  # the sending only, not the start-up's imports
                    await start_profiler(bot, profile)
                cpu_before, server_before = bot.cpu_seconds(), time.process_time()
                wall_before = time.monotonic()
                await _until(lambda: delivered() >= recipients, bot.process,
                             recipients / 100 + 60, "every message")  # fmt: skip
                cpu = bot.cpu_seconds() - cpu_before
                server_load = (time.process_time() - server_before) / (
                    time.monotonic() - wall_before
                )
                await stop_profiler(bot)
            finally:
                await stop_bot(bot)
                gc.enable()
            times = [c.time for c in api.calls if c.method == "sendMessage" and c.ok
                     and str(c.params.get("chat_id")) in chats]  # fmt: skip
            per_chat = Counter(str(c.params.get("chat_id")) for c in api.calls
                               if c.method == "sendMessage" and c.ok)  # fmt: skip
            span = max(times) - min(times)
            first = min(times)
            by_second = Counter(int(t - first) for t in times)
            rate = (len(times) - 1) / span if span else 0.0
            return {
                "framework": framework, "recipients": recipients, "limit": PAID_LIMIT,
                "rate": round(rate, 1), "ratio": round(rate / PAID_LIMIT, 3),
                "refused_429": len(flood.refused), "max_per_chat": max(per_chat.values()),
                "bot_cpu_ms_per_message": round(cpu / max(len(times) - 1, 1) * 1000, 3),
                "problems_logged": bot.log_problems(),
                "fake_server_cpu_share": round(server_load, 2),
                "per_second": [by_second[s] for s in sorted(by_second)],
            }  # fmt: skip


async def _until(
    check: Any, process: asyncio.subprocess.Process, seconds: float, what: str
) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if process.returncode is not None:
            raise BotDied(f"the bot exited before {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} in {seconds:g} s")
        await asyncio.sleep(0.05)


async def main(args: argparse.Namespace) -> None:
    for framework in args.frameworks:
        result = await paid_run(framework, args.recipients, args.profile, args.rate)
        print("paid, apart", result, flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--frameworks", nargs="+", default=["aiogram"], choices=["aiogram", "ptb"])
    parser.add_argument("--profile", type=Path, help="write py-spy's raw samples of Ponte here")
    parser.add_argument("--rate", type=int, help="OUTBOUND_RATE (default: Ponte's, 970)")
    asyncio.run(main(parser.parse_args()))

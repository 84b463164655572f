"""What sending alone costs: the framework's ``send_message`` in a loop, nothing of Ponte's.

The floor under ``bench.broadcast_apart``: the same fake Bot API server (in this process)
and a child process that sends ``--messages`` messages, ``--concurrency`` at a time, through
the framework's bot exactly as Ponte builds it (``build_bot`` for aiogram, ``build_application``
for python-telegram-bot), with no database, rate limiter or outbox. Reported: messages per
second and the child's CPU time per message. What Ponte spends above this per message is its
own (the outbox, the limiter, the tasks).

Run by hand from the repository root (never by pytest)::

    python -m bench.send_floor --frameworks aiogram ptb
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

from tests.fake_bot_api import FakeBotApi

ROOT = Path(__file__).resolve().parent.parent
FIRST = 900_000
TEXT = "<b>Notice</b>: the energy session starts at 3 pm."


async def child(framework: str, token: str, base: str, count: int, concurrency: int) -> None:
    """The sending loop, in the child process; prints its figures as JSON."""
    if framework == "aiogram":
        from bot.channels.telegram.aiogram_runtime import build_bot

        bot = build_bot(token, base)
        send = bot.send_message
        close = bot.session.close
    else:
        from bot.channels.telegram.ptb_runtime import build_application

        application = build_application(token, base)
        await application.bot.initialize()
        send = application.bot.send_message
        close = application.bot.shutdown
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await send(FIRST + i, TEXT)

    await one(0)  # connections and first-call set-up, not measured
    started, cpu = time.monotonic(), time.process_time()
    await asyncio.gather(*(one(i) for i in range(1, count)))
    wall, cpu = time.monotonic() - started, time.process_time() - cpu
    await close()
    sent = count - 1
    print(json.dumps({"framework": framework, "messages": sent, "rate": round(sent / wall),
                      "cpu_ms_per_message": round(cpu / sent * 1000, 3)}))  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    for framework in args.frameworks:
        async with FakeBotApi() as api:
            for i in range(args.messages):
                api.user(FIRST + i, f"R{i}")
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.send_floor", "--child", framework, api.token,
                api.base_url, str(args.messages), str(args.concurrency),
                cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            output, _ = await process.communicate()
            print(output.decode().strip(), flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        name, token, base, count, concurrency = sys.argv[2:7]
        asyncio.run(child(name, token, base, int(count), int(concurrency)))
    else:
        parser = argparse.ArgumentParser(
            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        parser.add_argument("--messages", type=int, default=10_000)
        parser.add_argument("--concurrency", type=int, default=48)
        parser.add_argument(
            "--frameworks", nargs="+", default=["aiogram", "ptb"], choices=["aiogram", "ptb"]
        )
        asyncio.run(main(parser.parse_args()))

"""CPU per registration answer in the core alone: no Telegram, no HTTP, SQLite file.

The Telegram benchmark (``bench/telegram_throughput.py``) measures the whole stack; this one
isolates the part Ponte owns — ``Core.handle`` with its transaction — on the same workload
(each round, 200 new users answer the registration's text questions, ten each), so a
change to the core can be measured in seconds and with little noise. Run by hand::

    python -m bench.core_turns                 # CPU ms per answer, three rounds
    python -m bench.core_turns --profile 30    # and the 30 costliest functions (cProfile)
    SORT=tottime python -m bench.core_turns --profile 30    # by own time
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import tempfile
import time
from pathlib import Path

from bench.telegram_workload import SET_UP, script
from bot.app import build_app
from bot.config import Settings
from handlers.kernel.incoming import CommandMessage, Incoming, Sender, TextMessage

SORT = os.environ.get("SORT", "cumulative")


def incoming_for(sender: Sender, text: str) -> Incoming:
    if text.startswith("/"):
        return CommandMessage(sender, text[1:], "")
    return TextMessage(sender, text)


async def run(users: int, answers: int, rounds: int, profile: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        app = await build_app(Settings(database_url=url, _env_file=None))
        try:
            for round_number in range(rounds + 1):
                # Fresh users each round, as in the Telegram benchmark's phases: the
                # answers are the registration's text questions, not the toggles after them.
                first = 10_000 * (round_number + 1)
                senders = [
                    Sender("telegram", str(first + n), str(first + n), "en") for n in range(users)
                ]
                for sender in senders:
                    for step in SET_UP:
                        await app.core.handle(incoming_for(sender, step.text))
                messages = [
                    incoming_for(s, script(n, k).text)
                    for k in range(answers // users)
                    for n, s in enumerate(senders)
                ]
                profiler = cProfile.Profile() if profile and round_number == rounds else None
                cpu = time.process_time()
                if profiler:
                    profiler.enable()
                for incoming in messages:
                    response = await app.core.handle(incoming)
                    assert response.replies and "Sorry" not in response.replies[0].text, response
                if profiler:
                    profiler.disable()
                    pstats.Stats(profiler).sort_stats(SORT).print_stats(profile)
                    continue
                per = (time.process_time() - cpu) * 1000 / len(messages)
                label = "warm-up" if round_number == 0 else f"round {round_number}"
                print(f"{label}: {per:.3f} ms CPU per answer ({len(messages)} answers)")
        finally:
            await app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--answers", type=int, default=2000, help="answers per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, help="functions to show")
    args = parser.parse_args()
    asyncio.run(run(args.users, args.answers, args.rounds, args.profile))


if __name__ == "__main__":
    main()

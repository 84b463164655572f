"""Updates per second and reply latency of Ponte on Telegram, beside a bare echo bot.

The full stack is measured: fake Bot API → framework → bridge → core → database → reply.
This process runs the fake Bot API server (``tests.fake_bot_api``) and the load generator;
the bot under test runs in another process and long-polls the fake server over 127.0.0.1:

* ``ponte``: ``python -m bot run`` on a fresh SQLite file, with ``BOT_FRAMEWORK`` set;
* ``echo``: ``bench/echo_aiogram.py`` or ``bench/echo_ptb.py``, built with Ponte's own
  ``build_bot``/``build_application`` and polling parameters, answering each text with itself;
* ``bare`` (python-telegram-bot only): the same echo bot on PTB's own HTTP client and pool
  (httpx, 256 connections) — a PTB bot as built by default, concurrent updates on. Ponte
  runs PTB on aiohttp instead (``bot/channels/telegram/ptb_request.py``), so the ``echo`` bot
  is the stricter baseline and ``bare`` the one a PTB user would write.

Both get the same updates. The workload is registration, Ponte's main job: every simulated
user has sent ``/start`` and chosen English (set-up, not measured) and then answers the
text questions in order (name, organisation, type, country, city, e-mail, phone, website,
description, offer, seek); each answer is validated and stored and the next question is
asked. After the last text question a user keeps toggling spoken languages by typing their
names, which is stored and re-asks the question, so the workload lasts as long as needed.
Ponte answers most steps with one message and two steps with two (the phone question comes
with its contact keyboard; leaving it says "Thank you." first); the table shows the mean.
Latency is measured to the *first* message of each update's answer, as it reaches the fake
server; throughput counts an update when its last message has arrived.

Phases: start the bot; set up every user; warm up; (a) saturated throughput: enqueue
``--updates`` updates across ``--users`` users at once and time until all are answered;
(b) latency: offer ``--rate`` updates/s for ``--duration`` s to another ``--users`` users.

Run from the repository root, by hand (never by pytest)::

    python -m bench.telegram_throughput --framework both --rounds 3

Everything listens on 127.0.0.1 only; every phase has a time limit; the bot process is
stopped (SIGTERM, then SIGKILL) and its temporary database removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import math
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.bot_process import (
    BARE_ECHO_ARGS,
    STARTUP_TIMEOUT,
    BotDied,
    BotProcess,
    start_bot,
    start_profiler,
    stop_bot,
    wait_for,
)
from bench.telegram_report import FRAMEWORKS, Result, machine, median_results, report, versions
from bench.telegram_workload import SET_UP, BenchBotApi, Step, Ticket, Tracker, script
from tests.fake_bot_api import FakeBotApi, SimulatedUser

KINDS = ("echo", "bare", "ponte")
MIN_RATE = 20.0  # a burst phase fails when the bot answers fewer updates per second than this


# The workload and the reply matching (bench/telegram_workload.py), the bot process
# (bench/bot_process.py) and the results' table (bench/telegram_report.py) live beside this
# module.


# --- the phases ---------------------------------------------------------------------------


@dataclass
class Population:
    """Users and how far each one is in the script."""

    users: list[SimulatedUser]
    numbers: dict[int, int] = field(default_factory=dict)
    progress: dict[int, int] = field(default_factory=dict)

    def next_step(self, user: SimulatedUser) -> Step:
        index = self.progress.get(user.id, 0)
        self.progress[user.id] = index + 1
        return script(self.numbers[user.id], index)


def make_users(api: FakeBotApi, count: int, first_number: int) -> Population:
    users = [api.user(first_name=f"Bench{first_number + i}", language_code="en")
             for i in range(count)]  # fmt: skip
    return Population(users, {u.id: first_number + i for i, u in enumerate(users)})


def burst_timeout(count: int) -> float:
    return max(30.0, count / MIN_RATE)


async def burst(
    tracker: Tracker, bot: BotProcess, population: Population, count: int, what: str
) -> float:
    """Send ``count`` updates round-robin over the users at once; seconds until all answered."""
    users = population.users
    start = time.perf_counter()
    tickets = [
        tracker.send(user, population.next_step(user))
        for user in (users[i % len(users)] for i in range(count))
    ]
    await wait_for(tracker.idle, bot, burst_timeout(count), what)
    return max(t.last or start for t in tickets) - start


@contextlib.contextmanager
def harness_gc_paused() -> Iterator[None]:
    """No garbage collection in this process while a phase is measured.

    The fake server and the load generator live here; a full collection of this process
    stalled the load generator for up to 80 ms, which then sent a clump of updates at once
    and showed as the bot's latency (seen in ``--latencies``). Memory grows a little for the
    length of one phase.
    """
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


def write_latencies(path: Path, tickets: Sequence[Ticket]) -> None:
    """One line per update of the offered-rate phase: ms since the first was sent, latency."""
    path.parent.mkdir(parents=True, exist_ok=True)
    start = tickets[0].sent if tickets else 0.0
    lines = [
        f"{(t.sent - start) * 1000:.1f} {((t.first or math.inf) - t.sent) * 1000:.2f}"
        for t in tickets
    ]
    path.write_text("\n".join(lines) + "\n")


async def set_up(tracker: Tracker, bot: BotProcess, populations: Sequence[Population]) -> None:
    """Every user sends /start and picks English; unmeasured."""
    for step in SET_UP:
        for population in populations:
            for user in population.users:
                tracker.send(user, step)
        count = sum(len(p.users) for p in populations)
        await wait_for(tracker.idle, bot, burst_timeout(count), f"set-up ({step.text})")


async def offered_rate(
    tracker: Tracker, bot: BotProcess, population: Population, rate: float, duration: float
) -> tuple[list[Ticket], float]:
    """Send ``rate`` updates/s for ``duration`` s (open loop); the tickets and achieved rate."""
    loop = asyncio.get_running_loop()
    total = max(1, round(rate * duration))
    users = population.users
    tickets: list[Ticket] = []
    start = loop.time()
    for i in range(total):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        user = users[i % len(users)]
        tickets.append(tracker.send(user, population.next_step(user)))
    elapsed = loop.time() - start
    await wait_for(tracker.idle, bot, burst_timeout(total), "the answers at the offered rate")
    return tickets, (total - 1) / elapsed if elapsed > 0 else math.nan


async def run_one(framework: str, kind: str, args: argparse.Namespace, round_number: int) -> Result:
    """Start one bot, run every phase against it, stop it."""
    tracker = Tracker(echo=kind != "ponte")
    result = Result(framework, kind)
    async with BenchBotApi(tracker) as api:
        with tempfile.TemporaryDirectory(prefix="ponte-bench-") as tmp:
            bot = await start_bot(framework, kind, api, Path(tmp), args.echo_arg)
            try:
                await wait_for(tracker.polling, bot, STARTUP_TIMEOUT, "the bot to start polling")
                warm = make_users(api, max(1, args.users // 2), 0)
                burst_users = make_users(api, args.users, 10_000)
                rate_users = make_users(api, args.users, 20_000)
                await set_up(tracker, bot, [warm, burst_users, rate_users])
                await burst(tracker, bot, warm, args.warmup, "the warm-up")
                await asyncio.sleep(0.5)

                if args.profile is not None:
                    args.profile.mkdir(parents=True, exist_ok=True)
                    name = f"{framework}-{kind}-{round_number}.txt"
                    await start_profiler(bot, args.profile / name)
                messages = tracker.messages
                cpu, harness_cpu = bot.cpu_seconds(), time.process_time()
                with harness_gc_paused():
                    seconds = await burst(tracker, bot, burst_users, args.updates, "the burst")
                result.throughput = args.updates / seconds
                result.burst_cpu_ms = (bot.cpu_seconds() - cpu) * 1000 / args.updates
                result.harness_cpu_share = (time.process_time() - harness_cpu) / seconds
                result.messages_per_update = (tracker.messages - messages) / args.updates
                await asyncio.sleep(0.5)

                cpu = bot.cpu_seconds()
                with harness_gc_paused():
                    tickets, result.offered_rate = await offered_rate(
                        tracker, bot, rate_users, args.rate, args.duration
                    )
                result.rate_cpu_ms = (bot.cpu_seconds() - cpu) * 1000 / len(tickets)
                result.set_latencies([((t.first or math.inf) - t.sent) * 1000 for t in tickets])
                if args.latencies is not None:
                    name = f"{framework}-{kind}-{round_number}.txt"
                    write_latencies(args.latencies / name, tickets)
                await asyncio.sleep(0.3)  # anything extra the bot still sends is counted
            finally:
                await stop_bot(bot)
            result.wrong, result.unexpected = tracker.wrong, tracker.unexpected
            result.apologies, result.failed_calls = tracker.apologies, tracker.failed_calls
            result.log_problems = bot.log_problems()
            if result.log_problems:
                print(f"  the bot logged {result.log_problems} warning(s) or error(s):")
                print("  " + bot.log_tail(10).replace("\n", "\n  "))
    return result


# --- the command line ---------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.telegram_throughput",
        description="Throughput and reply latency of Ponte beside a bare echo bot, per framework.",
    )
    parser.add_argument("--framework", choices=[*FRAMEWORKS, "both"], default="both")
    parser.add_argument(
        "--bots", default=",".join(KINDS), help="comma-separated, of: " + ", ".join(KINDS)
    )
    parser.add_argument("--updates", type=int, default=2000, help="updates in the burst")
    parser.add_argument(
        "--latencies",
        type=Path,
        help="folder for each offered-rate phase's latencies (send time, latency in ms)",
    )
    parser.add_argument("--rate", type=float, default=200.0, help="offered updates/s")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds at --rate")
    parser.add_argument("--users", type=int, default=200, help="users per phase")
    parser.add_argument("--warmup", type=int, default=600, help="updates in the warm-up")
    parser.add_argument("--rounds", type=int, default=1, help="repeat everything N times")
    parser.add_argument(
        "--echo-arg", action="append", default=[], help="extra argument for the echo bot"
    )
    parser.add_argument(
        "--profile", type=Path, default=None,
        help="folder for py-spy profiles (collapsed stacks) of the bot during the measurements",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.frameworks = FRAMEWORKS if args.framework == "both" else (args.framework,)
    args.kinds = [k for k in KINDS if k in args.bots.split(",")]
    if not args.kinds:
        parser.error("--bots: choose from " + ", ".join(KINDS))
    if args.updates < 1 or args.users < 1 or args.rate <= 0 or args.duration <= 0:
        parser.error("--updates, --users, --rate and --duration must be positive")
    return args


async def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')} · {machine()}")
    print(versions())
    print(
        f"burst {args.updates} updates over {args.users} users; "
        f"{args.rate:g} updates/s for {args.duration:g} s over {args.users} users; "
        f"warm-up {args.warmup}"
    )
    everything: list[Result] = []
    failures = 0
    for round_number in range(1, args.rounds + 1):
        results: list[Result] = []
        for framework in args.frameworks:
            for kind in args.kinds:
                if kind == "bare" and framework not in BARE_ECHO_ARGS:
                    continue  # its echo bot already uses the framework's own client
                print(f"round {round_number}: {framework} {kind} …", flush=True)
                try:
                    results.append(await run_one(framework, kind, args, round_number))
                except BotDied as exc:
                    failures += 1
                    print(f"  FAILED: {exc}")
        report(results, f"round {round_number}")
        everything += results
    if args.rounds > 1:
        report(median_results(everything), f"median of {args.rounds} rounds")
    problems = sum(r.problems for r in everything)
    if problems:
        print(f"\n{problems} problem(s): wrong, unexpected or apology replies, failed calls")
    return 1 if failures or problems else 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))

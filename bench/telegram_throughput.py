"""Updates per second and reply latency of Ponte on Telegram, beside a bare echo bot.

The full stack is measured: fake Bot API → framework → bridge → core → database → reply.
This process runs the fake Bot API server (``tests.fake_bot_api``) and the load generator;
the bot under test runs in another process and long-polls the fake server over 127.0.0.1:

* ``ponte``: ``python -m bot run`` on a fresh SQLite file, with ``BOT_FRAMEWORK`` set;
* ``echo``: ``bench/echo_aiogram.py`` or ``bench/echo_ptb.py``, built with Ponte's own
  ``build_bot``/``build_application`` and polling parameters, answering each text with itself;
* ``bare``: the same echo bot as the framework builds it by default — PTB on its own HTTP
  client and pool (httpx, 256 connections; concurrent updates on), aiogram with its FSM and
  no limit on concurrent updates. Ponte configures both differently (PTB on aiohttp,
  ``bot/channels/telegram/ptb_request.py``; aiogram without the FSM), so the ``echo`` bot is
  the stricter baseline and ``bare`` the one a user of the framework would write.

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

Phases: start the bots; set up every user; warm up; (a) saturated throughput: enqueue
``--updates`` updates across ``--users`` users at once and time until all are answered;
(b) latency: offer ``--rate`` updates/s for ``--duration`` s to another ``--users`` users.
The default 40 s is long enough for each bot's own periodic pauses (full garbage
collections, seconds apart) to fall into its slices in every round, so that its p99 is
comparable from round to round (docs/benchmarks.md).
A framework's bots run at once, each on its own fake server, and take turns: each phase is
cut into ``--slices`` parts and each bot gets one part in turn, so that the host's changing
speed weighs on all of them alike.

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
    stalls the load generator, which then sends a clump of updates at once that shows as
    the bot's latency. Memory grows a little for the length of one phase.
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


@dataclass
class Subject:
    """One bot under test, with its own fake server, tracker, users and figures."""

    kind: str
    tracker: Tracker
    api: FakeBotApi
    bot: BotProcess
    populations: tuple[Population, Population, Population]  # warm-up, burst, offered rate
    result: Result
    burst_seconds: float = 0.0
    burst_cpu: float = 0.0
    burst_messages: int = 0
    harness_cpu: float = 0.0  # this process's CPU during the subject's bursts
    rate_cpu: float = 0.0
    rate_tickets: list[Ticket] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)


async def start_subject(
    stack: contextlib.AsyncExitStack, framework: str, kind: str, args: argparse.Namespace
) -> Subject:
    """Start one bot on a fake server of its own, set its users up and warm it up."""
    tracker = Tracker(echo=kind != "ponte")
    api = await stack.enter_async_context(BenchBotApi(tracker))
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ponte-bench-")))
    bot = await start_bot(framework, kind, api, workdir, args.echo_arg)
    stack.push_async_callback(stop_bot, bot)
    await wait_for(tracker.polling, bot, STARTUP_TIMEOUT, "the bot to start polling")
    populations = (
        make_users(api, max(1, args.users // 2), 0),
        make_users(api, args.users, 10_000),
        make_users(api, args.users, 20_000),
    )
    await set_up(tracker, bot, populations)
    await burst(tracker, bot, populations[0], args.warmup, "the warm-up")
    return Subject(kind, tracker, api, bot, populations, Result(framework, kind))


def in_turn(subjects: Sequence[Subject], index: int) -> list[Subject]:
    """The subjects in the order of slice ``index``: each starts one slice in turn."""
    first = index % len(subjects)
    return [*subjects[first:], *subjects[:first]]


def slices(total: float, count: int) -> list[float]:
    """``total`` in ``count`` nearly equal parts."""
    return [total / count] * count


async def run_framework(
    framework: str, kinds: Sequence[str], args: argparse.Namespace, round_number: int
) -> list[Result]:
    """Every bot of one framework, measured in turns so that they share the machine's moods.

    All bots run at once, each on its own fake server; only one is sent updates at a time.
    Each phase is cut into ``--slices`` parts and the bots take turns part by part (the order
    rotating), so a minute of a busy host weighs on every bot alike and the ratios hold.
    """
    async with contextlib.AsyncExitStack() as stack:
        subjects = [await start_subject(stack, framework, kind, args) for kind in kinds]
        if args.profile is not None:
            args.profile.mkdir(parents=True, exist_ok=True)
            for subject in subjects:
                name = f"{framework}-{subject.kind}-{round_number}.txt"
                await start_profiler(subject.bot, args.profile / name)
        turns = args.slices
        for index, count in enumerate(slices(args.updates, turns)):
            for subject in in_turn(subjects, index):
                await asyncio.sleep(0.3)
                messages, cpu = subject.tracker.messages, subject.bot.cpu_seconds()
                harness_cpu = time.process_time()
                with harness_gc_paused():
                    seconds = await burst(
                        subject.tracker, subject.bot, subject.populations[1], round(count),
                        "the burst",
                    )  # fmt: skip
                subject.burst_seconds += seconds
                subject.burst_cpu += subject.bot.cpu_seconds() - cpu
                subject.burst_messages += subject.tracker.messages - messages
                subject.harness_cpu += time.process_time() - harness_cpu
        for index, duration in enumerate(slices(args.duration, turns)):
            for subject in in_turn(subjects, index):
                await asyncio.sleep(0.3)
                cpu = subject.bot.cpu_seconds()
                with harness_gc_paused():
                    tickets, rate = await offered_rate(
                        subject.tracker, subject.bot, subject.populations[2], args.rate, duration
                    )
                subject.rate_cpu += subject.bot.cpu_seconds() - cpu
                subject.rate_tickets += tickets
                subject.rates.append(rate)
        await asyncio.sleep(0.3)  # anything extra a bot still sends is counted
        results = [finish(subject, args, round_number) for subject in subjects]
    for subject in subjects:  # stopped now: their logs are complete
        subject.result.log_problems = subject.bot.log_problems()
        if subject.result.log_problems:
            print(f"  {framework} {subject.kind} logged {subject.result.log_problems} problem(s):")
            print("  " + subject.bot.log_tail(10).replace("\n", "\n  "))
    return results


def finish(subject: Subject, args: argparse.Namespace, round_number: int) -> Result:
    """The subject's figures, from what its phases accumulated."""
    result, tracker, updates = subject.result, subject.tracker, args.updates
    result.throughput = updates / subject.burst_seconds
    result.burst_cpu_ms = subject.burst_cpu * 1000 / updates
    result.messages_per_update = subject.burst_messages / updates
    result.harness_cpu_share = subject.harness_cpu / subject.burst_seconds
    tickets = subject.rate_tickets
    result.rate_cpu_ms = subject.rate_cpu * 1000 / len(tickets)
    result.offered_rate = sum(subject.rates) / len(subject.rates)
    result.set_latencies([((t.first or math.inf) - t.sent) * 1000 for t in tickets])
    if args.latencies is not None:
        name = f"{result.framework}-{subject.kind}-{round_number}.txt"
        write_latencies(args.latencies / name, tickets)
    result.wrong, result.unexpected = tracker.wrong, tracker.unexpected
    result.apologies, result.failed_calls = tracker.apologies, tracker.failed_calls
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
    parser.add_argument("--duration", type=float, default=40.0, help="seconds at --rate")
    parser.add_argument("--users", type=int, default=200, help="users per phase")
    parser.add_argument("--warmup", type=int, default=600, help="updates in the warm-up")
    parser.add_argument("--rounds", type=int, default=1, help="repeat everything N times")
    parser.add_argument(
        "--slices", type=int, default=4, help="parts of each phase, the bots taking turns"
    )
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
    if min(args.updates, args.users, args.rate, args.duration, args.slices) <= 0:
        parser.error("--updates, --users, --rate, --duration and --slices must be positive")
    if args.updates < args.slices:
        parser.error("--updates must be at least --slices")
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
            kinds = list(args.kinds)
            print(f"round {round_number}: {framework} {', '.join(kinds)} …", flush=True)
            try:
                results += await run_framework(framework, kinds, args, round_number)
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

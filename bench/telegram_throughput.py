"""Updates per second and reply latency of Ponte on Telegram, beside a bare echo bot.

The full stack is measured: fake Bot API → framework → bridge → core → database → reply.
This process runs the fake Bot API server (``tests.fake_bot_api``) and the load generator;
the bot under test runs in another process and long-polls the fake server over 127.0.0.1:

* ``ponte``: ``python -m bot run`` on a fresh SQLite file, with ``BOT_FRAMEWORK`` set;
* ``echo``: ``bench/echo_aiogram.py`` or ``bench/echo_ptb.py``, built with Ponte's own
  ``build_bot``/``build_application`` and polling parameters, answering each text with itself.

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
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from tests.fake_bot_api import ApiError, CallRecord, FakeBotApi, SimulatedUser

ROOT = Path(__file__).resolve().parent.parent
FRAMEWORKS = ("aiogram", "ptb")
KINDS = ("echo", "ponte")
ECHO_MODULES = {"aiogram": "bench.echo_aiogram", "ptb": "bench.echo_ptb"}
APOLOGY = "Sorry, something went wrong"
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
MIN_RATE = 20.0  # a burst phase fails when the bot answers fewer updates per second than this
THROUGHPUT_TARGET = 0.5  # Ponte's updates/s at least half the echo bot's
P99_TARGET = 2.0  # Ponte's p99 at the offered rate at most twice the echo bot's
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- the workload -------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One message a user sends, how many messages Ponte answers it with, and what the
    first of them must contain (the step Ponte should be at)."""

    text: str
    ponte_replies: int
    expect: str


SET_UP = (Step("/start", 2, "Welcome to Ponte"), Step("English", 1, "Step 2 of 16"))


def answers(n: int) -> list[Step]:
    """User number ``n``'s answers to the registration's text questions, from step 2."""
    return [
        Step(f"Anna Bianchi {n}", 1, "Step 3 of 16"),
        Step(f"Laboratorio Ponte {n} S.r.l.", 1, "Step 4 of 16"),
        Step("Startup", 1, "Step 5 of 16"),
        Step("Italy", 1, "Step 6 of 16"),
        Step("Milano", 1, "Step 7 of 16"),
        Step(f"anna.bianchi{n}@ponte-bench.example", 2, "Step 8 of 16"),
        Step(f"+39 06 1234 {n % 10_000:04d}", 2, "Thank you"),
        Step(f"lab{n}.ponte-bench.example", 1, "Step 10 of 16"),
        Step(
            "We design low-power sensors for precision agriculture and run field trials "
            "with farms in Lombardy and Emilia-Romagna.",
            1,
            "Step 11 of 16",
        ),
        Step("Sensor hardware, firmware and agronomic data analysis.", 1, "Step 12 of 16"),
        Step("Distribution partners and research collaborations in China.", 1, "Step 13 of 16"),
    ]


def script(n: int, index: int) -> Step:
    """The ``index``-th measured message of user ``n`` (toggles after the text questions)."""
    steps = answers(n)
    if index < len(steps):
        return steps[index]
    language = ("French", "German")[(index - len(steps)) % 2]
    return Step(language, 1, "Step 13 of 16")


# --- matching replies to updates ----------------------------------------------------------


@dataclass
class Ticket:
    """One update sent to the bot, waiting for its answer."""

    chat_id: int
    text: str
    replies: int
    expect: str | None
    sent: float
    first: float | None = None
    last: float | None = None
    received: int = 0


@dataclass
class Tracker:
    """Matches the bot's ``sendMessage`` calls to the updates that caused them.

    Ponte answers a user's updates one at a time, in order, so a chat's messages belong to
    its oldest unanswered update (and the first one is checked against the step expected).
    The echo bots may answer a user's updates out of order; their replies are matched by
    text.
    """

    echo: bool
    queues: dict[int, deque[Ticket]] = field(default_factory=dict)
    outstanding: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    polling: asyncio.Event = field(default_factory=asyncio.Event)
    messages: int = 0
    unexpected: int = 0
    wrong: int = 0
    apologies: int = 0
    failed_calls: int = 0

    def send(self, user: SimulatedUser, step: Step) -> Ticket:
        """Have ``user`` send ``step`` and expect its answer."""
        ticket = Ticket(
            chat_id=user.id,
            text=step.text,
            replies=1 if self.echo else step.ponte_replies,
            expect=None if self.echo else step.expect,
            sent=time.perf_counter(),
        )
        self.queues.setdefault(user.id, deque()).append(ticket)
        self.outstanding += 1
        self.idle.clear()
        user.send_text(step.text)
        return ticket

    def on_call(self, record: CallRecord, arrived: float) -> None:
        """Called by the server for every Bot API call it has answered."""
        if record.method == "getUpdates":
            return
        if record.status != 200:
            self.failed_calls += 1
            return
        if record.method != "sendMessage":
            return
        result = record.result
        chat_id, text = int(result["chat"]["id"]), str(result.get("text", ""))
        self.messages += 1
        if text.startswith(APOLOGY):
            self.apologies += 1
        queue = self.queues.get(chat_id)
        ticket = self._match(queue, text) if queue else None
        if queue is None or ticket is None:
            self.unexpected += 1
            return
        if ticket.received == 0:
            ticket.first = arrived
            if ticket.expect is not None and ticket.expect not in text:
                self.wrong += 1
        ticket.received += 1
        ticket.last = arrived
        if ticket.received == ticket.replies:
            queue.remove(ticket)
            self.outstanding -= 1
            if self.outstanding == 0:
                self.idle.set()

    def _match(self, queue: deque[Ticket], text: str) -> Ticket | None:
        if not self.echo:
            return queue[0]
        return next((t for t in queue if t.text == text), None)


class BenchBotApi(FakeBotApi):
    """The fake server, reporting each call (and the moment it arrived) to a tracker."""

    def __init__(self, tracker: Tracker) -> None:
        super().__init__()
        self.tracker = tracker

    async def execute(
        self, method: str, raw: dict[str, Any], *, http_method: str = "POST", via: str = "http"
    ) -> tuple[CallRecord, ApiError | None]:
        arrived = time.perf_counter()
        if method.lower() == "getupdates":
            self.tracker.polling.set()
        record, error = await super().execute(method, raw, http_method=http_method, via=via)
        self.tracker.on_call(record, arrived)
        return record, error


# --- the bot process ----------------------------------------------------------------------


@dataclass
class BotProcess:
    """The bot under test, in its own process."""

    process: asyncio.subprocess.Process
    log: Path
    profiler: asyncio.subprocess.Process | None = None

    def cpu_seconds(self) -> float:
        """User + system CPU time the bot process has used so far."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return math.nan
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def log_tail(self, lines: int = 30) -> str:
        """The end of the bot's output, for error reports."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def log_problems(self) -> int:
        """How many WARNING/ERROR/CRITICAL lines or tracebacks the bot logged."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return 0
        markers = (" WARNING ", " ERROR ", " CRITICAL ", "Traceback")
        return sum(1 for line in text.splitlines() if any(m in line for m in markers))


async def start_bot(
    framework: str, kind: str, api: FakeBotApi, workdir: Path, echo_args: Sequence[str]
) -> BotProcess:
    """Start the bot under test with its output in ``workdir/bot.log``."""
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_BASE": api.base_url,
        "BOT_FRAMEWORK": framework,
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'ponte.db'}",
        "LOG_LEVEL": "WARNING",
        "WEBHOOK_URL": "",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
    }
    if kind == "ponte":
        command = [sys.executable, "-m", "bot", "run"]
    else:
        command = [sys.executable, "-m", ECHO_MODULES[framework], *echo_args]
    log = workdir / "bot.log"
    with log.open("wb") as output:
        # The working folder is the temporary one: no stray .env is read, nothing is left.
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return BotProcess(process, log)


async def stop_bot(bot: BotProcess) -> None:
    """SIGTERM (a graceful stop), then SIGKILL if the bot takes too long."""
    await stop_profiler(bot)
    process = bot.process
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            print(f"  bot {process.pid} did not stop in {STOP_TIMEOUT:.0f} s: killed")
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


async def start_profiler(bot: BotProcess, output: Path) -> None:
    """Sample the bot with py-spy (collapsed stacks, for flame graphs) until stopped."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    command = [py_spy, "record", "--pid", str(bot.process.pid), "--rate", "250",
               "--nonblocking", "--format", "raw", "--output", str(output)]  # fmt: skip
    bot.profiler = await asyncio.create_subprocess_exec(
        *command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True
    )
    await asyncio.sleep(1.0)  # attaching takes a moment


async def stop_profiler(bot: BotProcess) -> None:
    """Stop py-spy (SIGINT makes it write its output)."""
    profiler, bot.profiler = bot.profiler, None
    if profiler is None or profiler.returncode is not None:
        return
    profiler.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(profiler.wait(), 30)
    except TimeoutError:
        profiler.kill()
        await profiler.wait()


class BotDied(RuntimeError):
    """The bot process exited, or stopped answering, during a run."""


async def wait_for(event: asyncio.Event, bot: BotProcess, seconds: float, what: str) -> None:
    """Wait for ``event``; fail if the bot process exits or ``seconds`` pass."""
    waiter = asyncio.ensure_future(event.wait())
    exited = asyncio.ensure_future(bot.process.wait())
    try:
        done, _ = await asyncio.wait(
            {waiter, exited}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for task in (waiter, exited):
            task.cancel()
    if waiter not in done:
        reason = "exited" if exited in done else f"took more than {seconds:.0f} s"
        raise BotDied(f"waiting for {what}: the bot {reason}\n{bot.log_tail()}")


# --- the phases ---------------------------------------------------------------------------


@dataclass
class Result:
    """What one bot did in one run."""

    framework: str
    kind: str
    throughput: float = math.nan  # updates/s, saturated
    burst_cpu_ms: float = math.nan  # bot CPU per update in the burst
    p50: float = math.nan  # reply latency at the offered rate, ms
    p99: float = math.nan
    max_ms: float = math.nan
    offered_rate: float = math.nan  # as achieved by the load generator
    rate_cpu_ms: float = math.nan  # bot CPU per update at the offered rate
    harness_cpu_share: float = math.nan  # this process, of one core, in the burst
    messages_per_update: float = math.nan
    wrong: int = 0
    unexpected: int = 0
    apologies: int = 0
    failed_calls: int = 0
    log_problems: int = 0

    def set_latencies(self, latencies_ms: Sequence[float]) -> None:
        """p50, p99 (nearest rank) and maximum of the latencies."""
        ordered = sorted(latencies_ms)
        self.p50, self.p99 = quantile(ordered, 0.50), quantile(ordered, 0.99)
        self.max_ms = ordered[-1] if ordered else math.nan

    @property
    def problems(self) -> int:
        return self.wrong + self.unexpected + self.apologies + self.failed_calls


def quantile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank quantile of sorted values."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else math.nan


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
    tracker = Tracker(echo=kind == "echo")
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
                seconds = await burst(tracker, bot, burst_users, args.updates, "the burst")
                result.throughput = args.updates / seconds
                result.burst_cpu_ms = (bot.cpu_seconds() - cpu) * 1000 / args.updates
                result.harness_cpu_share = (time.process_time() - harness_cpu) / seconds
                result.messages_per_update = (tracker.messages - messages) / args.updates
                await asyncio.sleep(0.5)

                cpu = bot.cpu_seconds()
                tickets, result.offered_rate = await offered_rate(
                    tracker, bot, rate_users, args.rate, args.duration
                )
                result.rate_cpu_ms = (bot.cpu_seconds() - cpu) * 1000 / len(tickets)
                result.set_latencies([((t.first or math.inf) - t.sent) * 1000 for t in tickets])
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


# --- reporting ----------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def report(results: Sequence[Result], title: str) -> None:
    """The table, the ratios Ponte/echo and the targets, per framework."""
    print(f"\n{title}")
    header = (f"{'framework':<9} {'bot':<5} {'updates/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
              f"{'max ms':>7} {'rate/s':>6} {'msg/upd':>7} {'CPU ms/upd':>10} {'srv CPU':>7} "
              f"{'problems':>8}")  # fmt: skip
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.framework:<9} {r.kind:<5} {r.throughput:>9.0f} {r.p50:>7.1f} {r.p99:>7.1f} "
            f"{r.max_ms:>7.1f} {r.offered_rate:>6.0f} {r.messages_per_update:>7.2f} "
            f"{r.burst_cpu_ms:>5.2f}/{r.rate_cpu_ms:<4.2f} {r.harness_cpu_share:>7.0%} "
            f"{r.problems:>8}"
        )
    by_key = {(r.framework, r.kind): r for r in results}
    for framework in FRAMEWORKS:
        echo, ponte = by_key.get((framework, "echo")), by_key.get((framework, "ponte"))
        if echo is None or ponte is None:
            continue
        throughput = ponte.throughput / echo.throughput
        p99 = ponte.p99 / echo.p99
        print(
            f"{framework}: Ponte/echo throughput {throughput:.2f} "
            f"(target ≥ {THROUGHPUT_TARGET:.2f}: {verdict(throughput >= THROUGHPUT_TARGET)}); "
            f"p99 at {ponte.offered_rate:.0f}/s {p99:.2f}× "
            f"(target ≤ {P99_TARGET:.0f}×: {verdict(p99 <= P99_TARGET)})"
        )


def median_results(results: Sequence[Result]) -> list[Result]:
    """Per framework and bot, the median of each figure over the rounds."""
    merged: list[Result] = []
    keys = dict.fromkeys((r.framework, r.kind) for r in results)
    for framework, kind in keys:
        rounds = [r for r in results if (r.framework, r.kind) == (framework, kind)]

        def med(get: Callable[[Result], float], rounds: list[Result] = rounds) -> float:
            return statistics.median(get(r) for r in rounds)

        m = Result(framework, kind)
        m.throughput = med(lambda r: r.throughput)
        m.harness_cpu_share = med(lambda r: r.harness_cpu_share)
        m.burst_cpu_ms, m.rate_cpu_ms = med(lambda r: r.burst_cpu_ms), med(lambda r: r.rate_cpu_ms)
        m.offered_rate = med(lambda r: r.offered_rate)
        m.messages_per_update = med(lambda r: r.messages_per_update)
        m.p50, m.p99, m.max_ms = med(lambda r: r.p50), med(lambda r: r.p99), med(lambda r: r.max_ms)
        m.wrong = sum(r.problems for r in rounds)
        merged.append(m)
    return merged


def versions() -> str:
    """The commit under test and the versions of the libraries that matter here."""
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT, capture_output=True, text=True, timeout=10, check=False,
        ).stdout.strip()  # fmt: skip
    except OSError:
        commit = ""
    names = ("aiogram", "python-telegram-bot", "httpx", "httpcore", "aiohttp", "SQLAlchemy",
             "greenlet", "pydantic")  # fmt: skip
    found = []
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append(f"{name} {metadata.version(name)}")
    return f"commit {commit or 'unknown'}; " + ", ".join(found)


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({model}); Python {sys.version.split()[0]}; load {load}"


# --- the command line ---------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.telegram_throughput",
        description="Throughput and reply latency of Ponte beside a bare echo bot, per framework.",
    )
    parser.add_argument("--framework", choices=[*FRAMEWORKS, "both"], default="both")
    parser.add_argument("--bots", default="echo,ponte", help="echo, ponte or echo,ponte")
    parser.add_argument("--updates", type=int, default=2000, help="updates in the burst")
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
        parser.error("--bots: choose echo, ponte or both")
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

"""The bot under test in its own process: start, stop, CPU time, log and profiler.

Part of ``bench.telegram_throughput``; see there for how it is run.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.fake_bot_api import FakeBotApi

ROOT = Path(__file__).resolve().parent.parent
ECHO_MODULES = {"aiogram": "bench.echo_aiogram", "ptb": "bench.echo_ptb"}
# The "bare" echo bot: the framework as built by default. PTB: its own HTTP client and pool
# (concurrent updates on, as Ponte); aiogram: its own dispatcher (FSM, no concurrency limit).
BARE_ECHO_ARGS = {"ptb": ("--request=httpx", "--pool-size=256"), "aiogram": ("--bare",)}
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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
    framework: str,
    kind: str,
    api: FakeBotApi,
    workdir: Path,
    echo_args: Sequence[str],
    settings: Mapping[str, str] | None = None,
) -> BotProcess:
    """Start the bot under test with its output in ``workdir/bot.log``; ``settings`` are
    environment variables of its own (``PAID_BROADCAST``, say)."""
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
        **(settings or {}),
    }
    if kind == "ponte":
        command = [sys.executable, "-m", "bot", "run"]
    elif kind == "bare":
        command = [sys.executable, "-m", ECHO_MODULES[framework], *BARE_ECHO_ARGS[framework]]
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

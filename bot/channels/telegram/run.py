"""Run Ponte on Telegram until SIGINT/SIGTERM, with the framework the settings choose."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from dataclasses import dataclass

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import App
from bot.channels.telegram.outbound import STOP_GRACE, OutboundSender
from bot.channels.telegram.runtime import Runtime, StartFailed, webhook_config
from bot.config import Settings

log = logging.getLogger(__name__)
MAINTENANCE_SECONDS = 60


def settle_memory() -> None:
    """Keep what start-up built out of every later garbage collection.

    Start-up leaves about 270,000 objects (modules, catalogues, schemas) that live as long
    as the process; each full collection walked them all, stalling every user's replies
    for up to 200 ms (measured with ``gc.callbacks`` under bench/telegram_throughput.py).
    Frozen, they are never examined again: a full collection then takes a few ms.
    """
    gc.collect()
    gc.freeze()


def build_runtime(app: App) -> Runtime:
    """The aiogram or python-telegram-bot runtime, for polling or webhook."""
    settings = app.settings
    token = settings.telegram_bot_token
    if not token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    webhook = webhook_config(settings)
    if settings.bot_framework == "ptb":
        from bot.channels.telegram.ptb_runtime import PTBRuntime

        return PTBRuntime(app.core, token, settings.telegram_api_base, webhook)
    from bot.channels.telegram.aiogram_runtime import AiogramRuntime

    return AiogramRuntime(app.core, token, settings.telegram_api_base, webhook)


@dataclass
class Serving:
    """Ponte running on Telegram: the runtime, the outbox sender and the scheduler."""

    runtime: Runtime
    scheduler: AsyncIOScheduler
    sender: asyncio.Task[None]
    stop_sending: asyncio.Event
    stopped: bool = False

    async def stop(self) -> None:
        """Stop scheduling and sending, then stop receiving and finish the updates in hand.

        The sender stops first, while the runtime's connection is still open: the messages
        in hand finish (or are put back), instead of failing on a closed session. Messages
        that the last updates queue are delivered at the next start. Stopping twice is a
        no-op.
        """
        if self.stopped:
            return
        self.stopped = True
        self.scheduler.shutdown(wait=False)
        self.stop_sending.set()
        # The sender bounds its own grace; the margin covers putting messages back.
        await asyncio.wait([self.sender], timeout=STOP_GRACE + 5)
        if not self.sender.done():
            self.sender.cancel()
            await asyncio.wait([self.sender], timeout=5)
        await self.runtime.stop()


async def start(app: App) -> Serving:
    """Start receiving updates, delivering the outbox and running scheduled work.

    Raises :class:`StartFailed` (with everything it opened closed again) when the Bot API
    cannot be reached, refuses the token, or the webhook cannot be set up.
    """
    runtime = build_runtime(app)
    try:
        await runtime.start()
    except Exception as exc:
        log.debug("start-up failed", exc_info=True)
        with contextlib.suppress(Exception):
            await runtime.close()
        raise StartFailed(start_failure(app.settings, exc)) from exc
    mode = "webhook" if app.settings.webhook_url else "long polling"
    log.info("Ponte is serving Telegram with %s by %s", app.settings.bot_framework, mode)
    stop_sending = asyncio.Event()
    sender = asyncio.create_task(OutboundSender(app.core, runtime.bridge).run(stop_sending))
    return Serving(runtime, start_scheduler(app), sender, stop_sending)


async def serve(app: App, stop: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set (by default: until SIGINT or SIGTERM)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Not possible off the main thread or on some platforms; the caller's event suffices.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    serving = await start(app)
    settle_memory()  # once per process, with everything start-up builds in place
    try:
        await stop.wait()
    finally:
        log.info("stopping: finishing the updates in hand")
        await serving.stop()


def start_failure(settings: Settings, exc: Exception) -> str:
    """What went wrong at start-up and which settings to check, without the token."""
    reason = str(exc).strip().rstrip(".") or type(exc).__name__
    if settings.telegram_bot_token:
        reason = reason.replace(settings.telegram_bot_token, "<TELEGRAM_BOT_TOKEN>")
    check = f"TELEGRAM_BOT_TOKEN and TELEGRAM_API_BASE (now {settings.telegram_api_base})"
    if settings.webhook_url:
        check += f", WEBHOOK_URL and WEBHOOK_LISTEN (now {settings.webhook_listen})"
    return f"could not start on Telegram: {reason}. Check {check}."


def start_scheduler(app: App) -> AsyncIOScheduler:
    """Time-driven work, rebuilt at every start: the database says what is due.

    Jobs carry no data and have stable ids, so a restart cannot duplicate them. The sweep
    also runs once at start (a job without a trigger runs at once), so nothing that fell
    due while Ponte was down waits a whole interval; what is due is decided by the app's
    clock inside the job, never by the scheduler's.
    """
    scheduler = AsyncIOScheduler(timezone="UTC")
    scheduler.add_job(
        app.core.run_maintenance,
        "interval",
        seconds=MAINTENANCE_SECONDS,
        id="ponte-maintenance",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
    )
    scheduler.add_job(
        app.core.run_maintenance, id="ponte-maintenance-at-start", replace_existing=True
    )
    scheduler.start()
    return scheduler

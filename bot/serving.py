"""Serving a channel that runs on its own (Telegram): receiving, the sender and the scheduler.

The channel's runtime receives updates and answers them; the application adds what every
channel shares: the outbox sender for that channel and the scheduled work.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from dataclasses import dataclass

from bot.app import App
from bot.channels.telegram.delivery import TelegramChannel
from bot.channels.telegram.run import build_runtime, start_failure
from bot.channels.telegram.runtime import Runtime, StartFailed
from bot.scheduler import Scheduling, start_scheduler
from bot.sending.limits import limiter_for
from bot.sending.sender import STOP_GRACE, OutboundSender

log = logging.getLogger(__name__)


def settle_memory() -> None:
    """Keep what start-up built out of every later garbage collection.

    Start-up leaves a few hundred thousand objects (modules, catalogues, schemas) that live
    as long as the process; frozen, full collections no longer walk them each time, so they
    stop pausing everyone's replies.
    """
    gc.collect()
    gc.freeze()


@dataclass
class Serving:
    """Ponte running on Telegram: the runtime, the outbox sender and the scheduler."""

    runtime: Runtime
    scheduling: Scheduling
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
        self.scheduling.shutdown()
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
    # One limiter for everything Ponte sends on Telegram: the runtime's direct replies go
    # first, then the outbox by priority, all within one rate (OUTBOUND_RATE).
    limiter = limiter_for(
        TelegramChannel.limits, app.settings.sending_rate, ceiling=app.settings.rate_limit
    )
    runtime: Runtime | None = None
    try:
        runtime = build_runtime(app, limiter)  # a framework may refuse the token's form here
        await runtime.start()
    except Exception as exc:
        log.debug("start-up failed", exc_info=True)
        if runtime is not None:
            with contextlib.suppress(Exception):
                await runtime.close()
        raise StartFailed(start_failure(app.settings, exc)) from exc
    mode = "webhook" if app.settings.webhook_url else "long polling"
    log.info("Ponte is serving Telegram with %s by %s", app.settings.bot_framework, mode)
    stop_sending = asyncio.Event()
    channel = TelegramChannel(runtime.bridge.transport)
    sender = asyncio.create_task(OutboundSender(app.core, channel, limiter).run(stop_sending))
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

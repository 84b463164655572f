"""Run Ponte on Telegram until SIGINT/SIGTERM, with the framework the settings choose."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from bot.app import App
from bot.channels.telegram.runtime import Runtime, webhook_config

log = logging.getLogger(__name__)


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


async def serve(app: App, stop: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set (by default: until SIGINT or SIGTERM)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Not possible off the main thread or on some platforms; the caller's event suffices.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    runtime = build_runtime(app)
    await runtime.start()
    mode = "webhook" if app.settings.webhook_url else "long polling"
    log.info("Ponte is serving Telegram with %s by %s", app.settings.bot_framework, mode)
    try:
        await stop.wait()
    finally:
        log.info("stopping: finishing the updates in hand")
        await runtime.stop()

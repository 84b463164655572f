"""The webhook endpoint of the aiogram runtime, with a stop that loses no update.

aiogram's ``SimpleRequestHandler`` runs each update in a background task nobody can wait
for, and closes the bot's session in the web app's ``on_shutdown``, before those tasks have
replied. This receiver keeps its tasks so that a stop can wait for them, refuses updates
once stopping has begun (Telegram keeps an update it could not deliver and sends it again
later, to whichever process then serves the bot), and leaves the session to the runtime.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from aiogram import Bot, Dispatcher
from aiohttp import web

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookReceiver:
    """An HTTP server that feeds the updates Telegram posts to the dispatcher."""

    def __init__(self, dispatcher: Dispatcher, bot: Bot, secret: str) -> None:
        self.dispatcher = dispatcher
        self.bot = bot
        self._secret = secret.encode()
        self._accepting = True
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    async def start(self, host: str, port: int, path: str) -> None:
        """Listen on ``host:port`` for POSTs to ``path``."""
        app = web.Application()
        app.router.add_post(path, self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, host, port)
        await self._site.start()

    async def handle(self, request: web.Request) -> web.Response:
        """Check the secret, answer at once and handle the update in a task of its own."""
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not secrets.compare_digest(given, self._secret):
            return web.Response(status=401, text="Unauthorized")
        if not self._accepting:
            return web.Response(status=503, text="Stopping")
        try:
            update = await request.json()
        except ValueError:
            return web.Response(status=400, text="Bad Request")
        task = asyncio.create_task(self._feed(update))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.json_response({})

    async def _feed(self, update: Any) -> None:
        try:
            await self.dispatcher.feed_raw_update(self.bot, update)
        except Exception:
            log.exception("a webhook update could not be handled")

    async def stop_accepting(self) -> None:
        """Refuse updates from now on, on open connections too, and stop listening."""
        self._accepting = False
        if self._site is not None:
            await self._site.stop()

    async def finish(self, grace: float) -> None:
        """Wait (up to ``grace`` seconds) for the updates in hand, then close the server."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        if self._runner is not None:
            await self._runner.cleanup()

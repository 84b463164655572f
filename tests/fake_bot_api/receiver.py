"""A tiny webhook endpoint for tests: records the updates the fake server POSTs to it.

It checks ``X-Telegram-Bot-Api-Secret-Token`` like a well-behaved bot (401 on mismatch), and
can be told to fail with a given status to exercise the server's retry and error reporting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

from .updates import SECRET_HEADER


@dataclass
class ReceivedUpdate:
    """One POST the receiver got: the JSON body and the secret header (None when absent)."""

    update: dict[str, Any]
    secret: str | None
    accepted: bool


@dataclass
class WebhookReceiver:
    """``async with WebhookReceiver(secret="s") as hook:`` then ``api.url``-style ``hook.url``."""

    secret: str | None = None
    path: str = "/telegram/webhook"
    fail_with: int | None = None
    received: list[ReceivedUpdate] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _port: int | None = None

    @property
    def url(self) -> str:
        """The full http://127.0.0.1:PORT/path URL to pass to setWebhook."""
        if self._port is None:
            raise RuntimeError("WebhookReceiver is not started")
        return f"http://127.0.0.1:{self._port}{self.path}"

    @property
    def accepted(self) -> list[dict[str, Any]]:
        """Updates that carried the right secret and were answered with 200."""
        return [r.update for r in self.received if r.accepted]

    async def _handle(self, request: web.Request) -> web.Response:
        secret = request.headers.get(SECRET_HEADER)
        update = await request.json()
        ok = self.secret is None or secret == self.secret
        accepted = ok and self.fail_with is None
        self.received.append(ReceivedUpdate(update, secret, accepted))
        if not ok:
            return web.Response(status=401, text="Unauthorized")
        if self.fail_with is not None:
            return web.Response(status=self.fail_with, text="failure requested by the test")
        return web.json_response({})

    async def start(self) -> WebhookReceiver:
        """Listen on 127.0.0.1 with an ephemeral port."""
        app = web.Application()
        app.router.add_post(self.path, self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> WebhookReceiver:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

"""What the runner needs from a framework runtime, and the webhook settings both share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from bot.channels.telegram.bridge import TelegramBridge
from bot.config import Settings


class StartFailed(Exception):
    """Ponte could not start serving Telegram; the message says why and what to check."""


class Runtime(Protocol):
    """A framework that receives updates (polling or webhook) and feeds the bridge."""

    bridge: TelegramBridge

    async def start(self) -> None:
        """Connect, set the bot's profile, start receiving updates."""
        ...

    async def stop(self) -> None:
        """Stop receiving, finish the updates in hand, remove the webhook, disconnect."""
        ...

    async def close(self) -> None:
        """After a failed :meth:`start`: release whatever it opened, calling nobody."""
        ...


@dataclass(frozen=True)
class WebhookConfig:
    """Where Telegram sends updates and where Ponte listens for them."""

    url: str
    secret: str
    host: str
    port: int

    @property
    def path(self) -> str:
        """The URL path Telegram posts to; the local server serves the same path."""
        return urlsplit(self.url).path or "/"


def webhook_config(settings: Settings) -> WebhookConfig | None:
    """The webhook settings, or ``None`` for long polling."""
    if not settings.webhook_url:
        return None
    if not settings.webhook_secret:  # Settings refuses this; a forged update must never run
        raise ValueError("WEBHOOK_SECRET is not set")
    host, _, port = settings.webhook_listen.rpartition(":")
    return WebhookConfig(
        url=settings.webhook_url,
        secret=settings.webhook_secret,
        host=host or "127.0.0.1",
        port=int(port),
    )

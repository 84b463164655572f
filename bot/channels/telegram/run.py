"""Building the Telegram runtime the settings choose, and explaining a failed start."""

from __future__ import annotations

from bot.app import App
from bot.channels.telegram.runtime import Runtime, webhook_config
from bot.channels.telegram.transport import TokenRefused
from bot.config import Settings
from bot.sending.limits import RateLimiter


def build_runtime(app: App, limiter: RateLimiter | None = None) -> Runtime:
    """The aiogram or python-telegram-bot runtime, for polling or webhook, pacing its
    replies with ``limiter`` (see ``TelegramBridge``)."""
    settings = app.settings
    token = settings.telegram_bot_token
    if not token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    webhook = webhook_config(settings)
    if settings.bot_framework == "ptb":
        from bot.channels.telegram.ptb_runtime import PTBRuntime

        return PTBRuntime(app.core, token, settings.telegram_api_base, webhook, limiter)
    from bot.channels.telegram.aiogram_runtime import AiogramRuntime

    return AiogramRuntime(app.core, token, settings.telegram_api_base, webhook, limiter)


def start_failure(settings: Settings, exc: Exception) -> str:
    """What went wrong at start-up and which settings to check, without the token."""
    reason = str(exc).strip().rstrip(".") or type(exc).__name__
    if isinstance(exc, TokenRefused):
        reason = (
            f"the Bot API refused the token ({reason}): it is mistyped or was revoked; "
            "copy it again from @BotFather in Telegram (/mybots, your bot, API Token)"
        )
    if settings.telegram_bot_token:
        reason = reason.replace(settings.telegram_bot_token, "<TELEGRAM_BOT_TOKEN>")
    check = f"TELEGRAM_BOT_TOKEN and TELEGRAM_API_BASE (now {settings.telegram_api_base})"
    if settings.webhook_url:
        check += f", WEBHOOK_URL and WEBHOOK_LISTEN (now {settings.webhook_listen})"
    return f"could not start on Telegram: {reason}. Check {check}."

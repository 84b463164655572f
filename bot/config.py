"""Configuration from environment variables (and an optional ``.env``), checked at start-up."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from handlers.kernel.terms import DEMO_PRIVACY_TERMS, PrivacyTerms
from storage.db import DEFAULT_DATABASE_URL
from storage.taxonomy import DEFAULT_TAXONOMY_FILE

TELEGRAM_API_HOST = "api.telegram.org"
# A bot token as @BotFather gives it: the bot's id, ':', then its secret (35 characters from
# Telegram; any length is accepted, for local and test Bot API servers).
BOT_TOKEN = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")
QUOTES = "\"'`‘’“”"
TOKEN_HELP = (
    "a bot token looks like 123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11 (the bot's number, "
    "':', then letters, digits, '_' and '-'); copy it from @BotFather in Telegram "
    "(/mybots, your bot, API Token)"
)
# setWebhook's rules for secret_token and for the URL Telegram itself will post to.
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
TELEGRAM_WEBHOOK_PORTS = (443, 80, 88, 8443)
# Messages a second over all chats: Telegram allows about 30 (25 keeps a margin), and up to
# 1,000 to a bot with paid broadcasts enabled (paid in Telegram Stars, per message beyond 30;
# 970 keeps a margin for the requests' jitter on the way: at 990 a burst now and then crowded
# one of the fake Telegram's seconds over its limit, and each 429 pauses all sending for a
# second; 980 drew none in four runs; bench/broadcast_apart, docs/benchmarks.md).
DEFAULT_OUTBOUND_RATE = 25
DEFAULT_PAID_RATE = 970
FREE_RATE_LIMIT = 30
PAID_RATE_LIMIT = 1000


class ConfigError(RuntimeError):
    """The configuration is invalid; the message says which variable and how to fix it."""


class Settings(BaseSettings):
    """Ponte's run contract (see the README's configuration table)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: str | None = None
    telegram_api_base: str = "https://api.telegram.org"
    bot_framework: Literal["aiogram", "ptb"] = "aiogram"
    database_url: str = DEFAULT_DATABASE_URL
    admin_ids: Annotated[tuple[int, ...], NoDecode] = ()
    bot_username: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_listen: str = "127.0.0.1:8080"
    interest_areas_file: Path = DEFAULT_TAXONOMY_FILE
    log_level: str = Field(default="INFO")
    outbound_rate: Annotated[int, Field(ge=1)] | None = None
    paid_broadcast: bool = False
    # The privacy notice's data controller and retention period (GDPR art. 13, PIPL art. 17).
    privacy_controller_name: str = Field(default=DEMO_PRIVACY_TERMS.controller)
    privacy_controller_contact: str = Field(default=DEMO_PRIVACY_TERMS.contact)
    privacy_retention_days: int = Field(default=DEMO_PRIVACY_TERMS.retention_days, ge=1, le=3650)

    @property
    def privacy_terms(self) -> PrivacyTerms:
        """What the privacy notice states about the controller and retention."""
        return PrivacyTerms(
            controller=self.privacy_controller_name,
            contact=self.privacy_controller_contact,
            retention_days=self.privacy_retention_days,
        )

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            try:
                return tuple(int(part) for part in parts)
            except ValueError as exc:
                raise ValueError("must be comma-separated numeric Telegram user ids") from exc
        return value

    @field_validator("privacy_controller_name", "privacy_controller_contact")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty: the privacy notice shows it to every user")
        return value.strip()

    @field_validator("telegram_bot_token", "bot_username", "webhook_url", "webhook_secret")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("telegram_bot_token")
    @classmethod
    def _looks_like_a_token(cls, value: str | None) -> str | None:
        problem = token_problem(value) if value is not None else None
        if problem:
            raise PydanticCustomError("bot_token", f"{problem}: {TOKEN_HELP}")
        return value

    @field_validator("webhook_listen")
    @classmethod
    def _host_and_port(cls, value: str) -> str:
        host, _, port = value.strip().rpartition(":")
        if not (host and port.isascii() and port.isdigit() and 0 < int(port) < 65536):
            raise ValueError("must be host:port, e.g. 127.0.0.1:8080")
        return value.strip()

    @field_validator("telegram_api_base")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("outbound_rate", mode="before")
    @classmethod
    def _blank_rate_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check_rate(self) -> Settings:
        limit = self.rate_limit
        if self.outbound_rate is not None and self.outbound_rate > limit:
            hint = (
                "Telegram's limit for paid broadcasts"
                if self.paid_broadcast
                else "Telegram's limit; more needs PAID_BROADCAST=true"
            )
            raise PydanticCustomError(
                "outbound_rate",
                "OUTBOUND_RATE must be at most {limit} messages a second ({hint})",
                {"limit": limit, "hint": hint},
            )
        return self

    @property
    def rate_limit(self) -> int:
        """Telegram's own limit for this bot, in messages a second over all chats: 30, or
        1,000 with paid broadcasts."""
        return PAID_RATE_LIMIT if self.paid_broadcast else FREE_RATE_LIMIT

    @property
    def sending_rate(self) -> int:
        """Messages a second the bot sends over all chats: ``OUTBOUND_RATE``, by default 25,
        or 970 with paid broadcasts (Telegram's limit is then 1,000)."""
        if self.outbound_rate is not None:
            return self.outbound_rate
        return DEFAULT_PAID_RATE if self.paid_broadcast else DEFAULT_OUTBOUND_RATE

    @model_validator(mode="after")
    def _check_webhook(self) -> Settings:
        if self.webhook_url:
            problems = webhook_problems(
                self.webhook_url, self.webhook_secret, self.telegram_api_base
            )
            if problems:
                raise PydanticCustomError("webhook", "; ".join(problems))
        return self


def token_problem(token: str) -> str | None:
    """What is wrong with the form of a bot token (never quoting it: it is a secret), or
    ``None`` for one that Telegram may accept. Spaces around it are stripped before."""
    bot_id, colon, secret = token.partition(":")
    if token and (token[0] in QUOTES or token[-1] in QUOTES):
        return "it is in quotes: remove them"
    if any(ch.isspace() for ch in token):
        return "it has a space or a line break inside"
    if not colon:
        return "it has no ':'"
    if not (bot_id.isascii() and bot_id.isdigit()):
        return "it must start with the bot's number before the ':'"
    if not secret:
        return "it has nothing after the ':'"
    if not BOT_TOKEN.fullmatch(token):
        return "after the ':' it may hold only letters A-Z and a-z, digits, '_' and '-'"
    return None


def webhook_problems(url: str, secret: str | None, api_base: str) -> list[str]:
    """What is wrong with a webhook set-up, each with what to do about it.

    A webhook without a secret would run whatever anyone posts to the URL, so one is
    required. Telegram posts only to HTTPS on four ports; a local ``telegram-bot-api``
    server (any other ``TELEGRAM_API_BASE``) also posts to plain HTTP and any port.
    """
    problems = []
    if secret is None:
        problems.append(
            "WEBHOOK_SECRET must be set when WEBHOOK_URL is: Telegram sends it with every "
            "update so that Ponte can refuse forged ones; generate one with "
            "`openssl rand -hex 32`"
        )
    elif not WEBHOOK_SECRET.fullmatch(secret):
        problems.append(
            "WEBHOOK_SECRET may only hold 1 to 256 letters A-Z and a-z, digits, '_' and '-' "
            "(Telegram's rule); generate one with `openssl rand -hex 32`"
        )
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("https", "http") or not parts.hostname or port == -1:
        problems.append(
            f"WEBHOOK_URL {url!r} is not a URL like https://bot.example.org/telegram/ponte"
        )
    elif urlsplit(api_base).hostname == TELEGRAM_API_HOST:
        if parts.scheme != "https":
            problems.append(
                "WEBHOOK_URL must start with https:// (Telegram posts to nothing else): "
                "put Ponte behind a reverse proxy that terminates TLS "
                "(see docs/operations.md)"
            )
        elif (port or 443) not in TELEGRAM_WEBHOOK_PORTS:
            problems.append(
                f"WEBHOOK_URL uses port {port}, but Telegram posts only to ports 443, 80, 88 "
                "and 8443: let the proxy listen on one of them"
            )
    return problems


def load_settings() -> Settings:
    """Read the settings, turning validation errors into one readable :class:`ConfigError`."""
    try:
        return Settings()
    except ValidationError as exc:
        # Errors of one variable name it in their location; checks across variables
        # (the webhook's) have none and name the variables in their message.
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            if error["loc"]
            else error["msg"]
            for error in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from exc

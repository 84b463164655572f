"""Configuration from environment variables (and an optional ``.env``), checked at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from storage.db import DEFAULT_DATABASE_URL
from storage.taxonomy import DEFAULT_TAXONOMY_FILE


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

    @field_validator("telegram_bot_token", "bot_username", "webhook_url", "webhook_secret")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("telegram_api_base")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")


def load_settings() -> Settings:
    """Read the settings, turning validation errors into one readable :class:`ConfigError`."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from exc

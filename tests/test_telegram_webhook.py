"""Webhook mode: the configuration Ponte refuses to start with, and a stop that loses nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import ConfigError, load_settings
from storage.models import Participant
from tests.telegram_world import FRAMEWORKS, answer, running_bot, shows_step

GOOD_SECRET = "Az09_-" * 42 + "xyzw"  # 256 characters, every kind Telegram allows

WEBHOOK_VARIABLES = ("WEBHOOK_URL", "WEBHOOK_SECRET", "TELEGRAM_API_BASE", "WEBHOOK_LISTEN")


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No webhook variables from the caller's environment, and no ``.env`` file."""
    monkeypatch.chdir(tmp_path)
    for name in WEBHOOK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("variables", "complaint"),
    [
        ({"WEBHOOK_URL": "https://bot.example.org/hook"}, "WEBHOOK_SECRET must be set"),
        ({"WEBHOOK_URL": "https://bot.example.org/hook", "WEBHOOK_SECRET": "  "}, "must be set"),
        (
            {"WEBHOOK_URL": "https://bot.example.org/hook", "WEBHOOK_SECRET": "no spaces here"},
            "WEBHOOK_SECRET may only hold 1 to 256 letters",
        ),
        (
            {"WEBHOOK_URL": "https://bot.example.org/hook", "WEBHOOK_SECRET": GOOD_SECRET + "a"},
            "WEBHOOK_SECRET may only hold 1 to 256 letters",
        ),
        (
            {"WEBHOOK_URL": "https://bot.example.org/hook", "WEBHOOK_SECRET": "pässword"},
            "WEBHOOK_SECRET may only hold",
        ),
        (
            {"WEBHOOK_URL": "http://bot.example.org/hook", "WEBHOOK_SECRET": "s3cret"},
            "WEBHOOK_URL must start with https://",
        ),
        (
            {"WEBHOOK_URL": "https://bot.example.org:8080/hook", "WEBHOOK_SECRET": "s3cret"},
            "Telegram posts only to ports 443, 80, 88 and 8443",
        ),
        (
            {"WEBHOOK_URL": "bot.example.org/hook", "WEBHOOK_SECRET": "s3cret"},
            "is not a URL like https://",
        ),
    ],
)
def test_a_webhook_needs_a_valid_secret_and_https(
    environment: pytest.MonkeyPatch, variables: dict[str, str], complaint: str
) -> None:
    for name, value in variables.items():
        environment.setenv(name, value)
    with pytest.raises(ConfigError, match="invalid configuration") as error:
        load_settings()
    assert complaint in str(error.value)


@pytest.mark.parametrize(
    "variables",
    [
        {},  # long polling: nothing to check
        {"WEBHOOK_URL": "https://bot.example.org/telegram/ponte", "WEBHOOK_SECRET": GOOD_SECRET},
        {"WEBHOOK_URL": "https://bot.example.org:8443/hook", "WEBHOOK_SECRET": "a"},
        {  # a local telegram-bot-api server posts to plain HTTP and to any port
            "WEBHOOK_URL": "http://127.0.0.1:8080/hook",
            "WEBHOOK_SECRET": "s3cret",
            "TELEGRAM_API_BASE": "http://127.0.0.1:8081",
        },
    ],
)
def test_valid_webhook_settings(environment: pytest.MonkeyPatch, variables: dict[str, str]) -> None:
    for name, value in variables.items():
        environment.setenv(name, value)
    settings = load_settings()
    assert settings.webhook_url == variables.get("WEBHOOK_URL")


def test_the_command_says_what_to_do_in_one_line(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if name not in WEBHOOK_VARIABLES}
    env.update(
        TELEGRAM_BOT_TOKEN="123:abc",
        WEBHOOK_URL="http://bot.example.org/hook",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'never.db'}",
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ponte: invalid configuration: ")
    assert "WEBHOOK_SECRET must be set" in lines[0] and "openssl rand -hex 32" in lines[0]
    assert "WEBHOOK_URL must start with https://" in lines[0]
    assert not (tmp_path / "never.db").exists(), "nothing started"


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_stop_removes_the_webhook_first_and_answers_the_update_in_hand(
    framework: str, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hook-stop.db'}"
    async with running_bot(framework, url, webhook=True) as world:
        hook = world.api.last_call("setWebhook")
        assert hook is not None
        target = str(hook.params["url"])
        user = world.user(language_code="en")
        await answer(world, user, lambda: user.send_command("/start"), "language")
        world.api.set_latency(1.0, method="sendMessage")
        user.press("language|en")
        await world.until(
            lambda: world.api.calls_to("answerCallbackQuery"), "the press being handled"
        )
        stopping = asyncio.create_task(world.runtime.stop())
        await world.until(lambda: world.api.calls_to("deleteWebhook"), "the webhook removed")
        assert not shows_step(user, "name")(), "the webhook goes before the update in hand ends"

        late = world.user(first_name="Late", language_code="en")
        update = {
            "update_id": 777_777,
            "message": {
                "message_id": 1, "date": 1_700_000_000, "text": "/start",
                "chat": {"id": late.id, "type": "private", "first_name": "Late"},
                "from": late.user_dict,
            },
        }  # fmt: skip
        status = await world.api.post_update(target, update, secret_token="s3cret-token")
        assert status is None or status == 503, "refused, so Telegram keeps it for later"

        await stopping
        assert shows_step(user, "name")(), "the update in hand was answered before stopping"
        async with world.app.sessions() as session:
            ids = (await session.scalars(select(Participant.external_id))).all()
        assert ids == [str(user.id)], "nothing was accepted once the stop began"
        world.api.set_latency(0.0)
        world.runtime.stop = _noop  # type: ignore[method-assign]


async def _noop() -> None:
    return None

"""Start-up errors about the bot token: one clear line, exit code 1, on both frameworks.

A token of the wrong form is refused by the configuration, before anything starts; one of
the right form that the Bot API refuses (401 from getMe, here from the fake Bot API) stops
the start the same way on aiogram and on python-telegram-bot. The token is never printed.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from tests.fake_bot_api import DEFAULT_TOKEN, FakeBotApi
from tests.telegram_world import FRAMEWORKS
from tests.test_telegram_process import launch_ponte

SECRET = "sekrit"  # in every malformed token below: it must never be printed
MALFORMED = {
    SECRET: "it has no ':'",
    "4242:": "it has nothing after the ':'",
    f"4242:{SECRET} x": "it has a space or a line break inside",
    f"42 42:{SECRET}": "it has a space or a line break inside",
    f":{SECRET}": "it must start with the bot's number before the ':'",
    f"bot4242:{SECRET}": "it must start with the bot's number before the ':'",
    f"\u0664\u0662:{SECRET}": "it must start with the bot's number before the ':'",  # ٤٢
    f"4242:{SECRET}:x": "after the ':' it may hold only letters A-Z and a-z, digits",
    f"4242:{SECRET}!": "after the ':' it may hold only letters A-Z and a-z, digits",
    f'"4242:{SECRET}"': "it is in quotes: remove them",
    f"“4242:{SECRET}”": "it is in quotes: remove them",
}
WHAT_A_TOKEN_LOOKS_LIKE = "a bot token looks like 123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No ``.env`` file and no Ponte variables from the caller's environment."""
    monkeypatch.chdir(tmp_path)
    for name in ("TELEGRAM_BOT_TOKEN", "WEBHOOK_URL", "WEBHOOK_SECRET", "TELEGRAM_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("token", list(MALFORMED))
def test_a_malformed_token_is_refused_saying_what_is_wrong(
    environment: pytest.MonkeyPatch, token: str
) -> None:
    environment.setenv("TELEGRAM_BOT_TOKEN", token)
    with pytest.raises(ConfigError) as error:
        load_settings()
    message = str(error.value)
    assert message.startswith("invalid configuration: TELEGRAM_BOT_TOKEN: "), message
    assert MALFORMED[token] in message
    assert WHAT_A_TOKEN_LOOKS_LIKE in message and "@BotFather" in message
    assert SECRET not in message and "\n" not in message


@pytest.mark.parametrize(
    ("token", "kept"),
    [
        ("123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11", None),  # the Bot API manual's example
        (DEFAULT_TOKEN, None),
        ("  4242:AAsekrit_-09\n", "4242:AAsekrit_-09"),  # as pasted, with a line break
        ("", "unset"),
    ],
)
def test_well_formed_tokens_are_accepted(
    environment: pytest.MonkeyPatch, token: str, kept: str | None
) -> None:
    environment.setenv("TELEGRAM_BOT_TOKEN", token)
    expected = None if kept == "unset" else kept or token
    assert load_settings().telegram_bot_token == expected


async def run_to_exit(tmp_path: Path, variables: dict[str, str]) -> tuple[int, str]:
    """The README's run command until it exits by itself: its exit code and stderr.

    Importing a framework takes long on a busy machine; the limit only catches a hang.
    """
    process = await launch_ponte(tmp_path, {**os.environ, **variables})
    try:
        _stdout, stderr = await asyncio.wait_for(process.communicate(), 240)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, stderr.decode()


def run_ponte(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'ponte.db'}"}
    for name in ("WEBHOOK_URL", "WEBHOOK_SECRET", "TELEGRAM_API_BASE", "LOG_LEVEL"):
        environment.pop(name, None)
    environment.update(variables)
    return subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path, env=environment, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("token", [SECRET, "4242:", f"4242:{SECRET} x"])
def test_the_command_with_a_malformed_token_says_so_in_one_line(
    tmp_path: Path, framework: str, token: str
) -> None:
    result = run_ponte(tmp_path, TELEGRAM_BOT_TOKEN=token, BOT_FRAMEWORK=framework)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ponte: invalid configuration: TELEGRAM_BOT_TOKEN: it "), lines
    assert MALFORMED[token] in lines[0] and "@BotFather" in lines[0]
    assert SECRET not in result.stderr
    assert not (tmp_path / "ponte.db").exists(), "nothing started"


async def test_a_token_the_bot_api_refuses_gives_the_same_line_on_both_frameworks(
    tmp_path: Path,
) -> None:
    refused = f"4242:{SECRET}"
    lines = {}
    async with FakeBotApi() as api:
        for framework in FRAMEWORKS:
            code, stderr = await run_to_exit(
                tmp_path,
                {
                    "TELEGRAM_BOT_TOKEN": refused,
                    "TELEGRAM_API_BASE": api.base_url,
                    "BOT_FRAMEWORK": framework,
                    "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'ponte.db'}",
                    "WEBHOOK_URL": "",
                    "LOG_LEVEL": "WARNING",
                },
            )
            assert code == 1, stderr
            assert "Traceback" not in stderr and SECRET not in stderr, stderr
            lines[framework] = stderr.strip().splitlines()
    expected = (
        "ponte: could not start on Telegram: the Bot API refused the token (Unauthorized): "
        "it is mistyped or was revoked; copy it again from @BotFather in Telegram (/mybots, "
        f"your bot, API Token). Check TELEGRAM_BOT_TOKEN and TELEGRAM_API_BASE (now {api.base_url})."
    )
    assert lines == {framework: [expected] for framework in FRAMEWORKS}
    assert [call.status for call in api.calls] == [401, 401], "getMe once on each, refused"

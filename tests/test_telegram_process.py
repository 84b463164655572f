"""The README's run command with a token: the real ``ponte`` process serves Telegram users.

This is how an organiser starts Ponte: ``TELEGRAM_BOT_TOKEN`` and ``TELEGRAM_API_BASE`` (here,
the fake Bot API server on 127.0.0.1) in the environment, the same command as the console.
A Chinese user registers end to end on each framework; the server must refuse no call, and
SIGTERM must stop the process cleanly.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from handlers.kernel.terms import DEMO_PRIVACY_TERMS
from handlers.participant.consent import notice_version
from tests.fake_bot_api import FakeBotApi
from tests.flows import WANG
from tests.telegram_world import FRAMEWORKS, free_port, register_on_telegram

LATIN_WORD = re.compile(r"[a-z]{3,}")  # acronyms such as GDPR and PIPL are Chinese usage too


@dataclass
class ProcessWorld:
    """What ``register_on_telegram`` needs of a world: the server and a way to wait."""

    api: FakeBotApi

    async def until(
        self, predicate: Callable[[], object], what: str, seconds: float = 20.0
    ) -> None:
        await self.api.wait_for(predicate, timeout=seconds, what=what)


async def launch_ponte(tmp_path: Path, environment: dict[str, str]) -> asyncio.subprocess.Process:
    """The README's run command (``ponte``, as ``python -m bot``) in ``tmp_path``."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot",
        cwd=tmp_path, env=environment,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_ponte_command_serves_a_chinese_registration(tmp_path: Path, framework: str) -> None:
    async with FakeBotApi() as api:
        environment = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_API_BASE": api.base_url,
            "BOT_FRAMEWORK": framework,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'ponte.db'}",
        }
        for name in ("WEBHOOK_URL", "WEBHOOK_SECRET", "BOT_USERNAME"):
            environment.pop(name, None)
        process = await launch_ponte(tmp_path, environment)
        try:
            world = ProcessWorld(api)
            await world.until(lambda: api.calls_to("getUpdates"), "the bot to start polling", 60)
            user = api.user(first_name="Wang", language_code="zh-hans")
            await register_on_telegram(world, user, WANG)  # type: ignore[arg-type]
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            _stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, stderr.decode()
        assert "Traceback" not in stderr.decode()
        # A long poll that the bot abandons at stop (PTB sends one last short getUpdates to
        # confirm the offset) is answered 409 by the server, as Telegram does; nobody reads it.
        refused = [
            (c.method, c.status, c.response)
            for c in api.calls
            if not c.ok and not (c.method == "getUpdates" and c.status == 409)
        ]
        assert refused == [], refused
        assert [c.method for c in api.calls if not c.ok].count("getUpdates") <= 1
        # Localised menus were set at start-up, in Chinese among others.
        assert api.commands.get(("default", "zh")) or any(k[1] == "zh" for k in api.commands)
        typed = [WANG.name, WANG.organisation, WANG.city, WANG.email, WANG.website,
                 WANG.profile, WANG.offer, WANG.seek]  # fmt: skip
        # The privacy notice names its version and the (configured, here the demo's) controller.
        typed += [notice_version(DEMO_PRIVACY_TERMS), *DEMO_PRIVACY_TERMS.controller.split()]
        typed += [DEMO_PRIVACY_TERMS.contact]
        for message in (m for m in user.messages if m.from_bot):
            text = re.sub(r"https?://\S+|/\w+|Ponte", "", message.text or "")
            for value in typed:
                text = text.replace(value, "")
            assert not LATIN_WORD.search(text), text


async def run_to_exit(tmp_path: Path, environment: dict[str, str]) -> tuple[int, str]:
    """Run the README's run command until it exits by itself; its exit code and stderr."""
    process = await launch_ponte(tmp_path, {**os.environ, **environment})
    try:
        _stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, stderr.decode()


PROBLEMS = ["no server at the API base", "a token the server refuses", "the webhook's port taken"]


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("problem", PROBLEMS)
async def test_a_bot_api_it_cannot_use_stops_it_with_a_clear_message(
    tmp_path: Path, framework: str, problem: str
) -> None:
    token = "123456:never-print-this-token"
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    listen = f"127.0.0.1:{taken.getsockname()[1]}"
    async with FakeBotApi() as api:
        base = f"http://127.0.0.1:{free_port()}" if problem == PROBLEMS[0] else api.base_url
        environment = {
            "TELEGRAM_BOT_TOKEN": api.token if problem == PROBLEMS[2] else token,
            "TELEGRAM_API_BASE": base,
            "BOT_FRAMEWORK": framework,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'ponte.db'}",
            "WEBHOOK_URL": "https://ponte.example.org/telegram" if problem == PROBLEMS[2] else "",
            "WEBHOOK_SECRET": "s3cret-token",
            "WEBHOOK_LISTEN": listen,
        }
        try:
            code, stderr = await run_to_exit(tmp_path, environment)
        finally:
            taken.close()
    assert code == 1, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("ponte: could not start on Telegram: "), stderr
    check = f"Check TELEGRAM_BOT_TOKEN and TELEGRAM_API_BASE (now {base})"
    if problem == PROBLEMS[2]:
        check += f", WEBHOOK_URL and WEBHOOK_LISTEN (now {listen})"
        assert "in use" in last, last
    assert last.endswith(check + "."), last
    if problem == PROBLEMS[1]:
        assert "Unauthorized" in last or "rejected" in last, last
    # No traceback, no connection left open, and the secret never printed.
    assert "Traceback" not in stderr and "Unclosed" not in stderr, stderr
    assert token not in stderr and "never-print" not in stderr, stderr

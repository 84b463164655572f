"""Ponte on a real framework (aiogram or python-telegram-bot) against the fake Bot API."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from bot.app import App, build_app
from bot.channels.telegram.runtime import Runtime
from bot.config import Settings
from bot.serving import Serving, start
from tests.events_support import Clock
from tests.fake_bot_api import FakeBotApi, SimulatedUser, StoredMessage
from tests.flows import Person

FRAMEWORKS = ["aiogram", "ptb"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class World:
    """The fake server, the running bot and its database."""

    api: FakeBotApi
    app: App
    serving: Serving

    @property
    def runtime(self) -> Runtime:
        return self.serving.runtime

    def user(
        self, first_name: str = "Test", language_code: str | None = "en", **extra: Any
    ) -> SimulatedUser:
        return self.api.user(first_name=first_name, language_code=language_code, **extra)

    async def until_message(
        self, user: SimulatedUser, predicate: Callable[[StoredMessage], bool], seconds: float = 10.0
    ) -> StoredMessage:
        """Wait for a bot message to ``user`` that satisfies ``predicate``."""

        def found() -> StoredMessage | None:
            return next((m for m in reversed(user.messages) if m.from_bot and predicate(m)), None)

        await self.api.wait_for(found, timeout=seconds, what="a message")
        message = found()
        assert message is not None
        return message

    async def until(
        self, predicate: Callable[[], object], what: str, seconds: float = 10.0
    ) -> None:
        await self.api.wait_for(predicate, timeout=seconds, what=what)


@asynccontextmanager
async def running_bot(
    framework: str,
    database_url: str,
    *,
    webhook: bool = False,
    secret: str | None = "s3cret-token",
    admin_ids: tuple[int, ...] = (),
    clock: Clock | None = None,
    **settings: Any,
) -> AsyncIterator[World]:
    """Start the fake server and Ponte on ``framework``; stop both afterwards."""
    async with FakeBotApi() as api:
        extra: dict[str, Any] = {}
        if webhook:
            port = free_port()
            extra = {
                "webhook_url": f"http://127.0.0.1:{port}/telegram/webhook",
                "webhook_secret": secret,
                "webhook_listen": f"127.0.0.1:{port}",
            }
        configuration = Settings(
            _env_file=None,
            database_url=database_url,
            telegram_bot_token=api.token,
            telegram_api_base=api.base_url,
            bot_framework=framework,
            admin_ids=admin_ids,
            **extra,
            **settings,
        )
        app = await build_app(configuration, clock=clock or Clock(ticking=True))
        serving = await start(app)
        try:
            yield World(api, app, serving)
        finally:
            await serving.stop()
            await app.close()


def buttons_of(message: StoredMessage | None) -> list[str]:
    """Callback data of the inline buttons on ``message``."""
    if message is None or not message.reply_markup:
        return []
    return [
        button.get("callback_data", "")
        for row in message.reply_markup.get("inline_keyboard", [])
        for button in row
    ]


def shows_step(user: SimulatedUser, key: str) -> Callable[[], bool]:
    """True once the user's latest message with buttons asks question ``key``."""

    def check() -> bool:
        for message in reversed(user.messages):
            if message.from_bot and message.reply_markup:
                return any(data.startswith(f"{key}|") for data in buttons_of(message))
        return False

    return check


async def answer(
    world: World, user: SimulatedUser, action: Callable[[], object], next_key: str
) -> None:
    """Do ``action`` and wait until question ``next_key`` is on screen."""
    action()
    await world.until(shows_step(user, next_key), f"question {next_key!r}")


async def register_on_telegram(world: World, user: SimulatedUser, person: Person) -> None:
    """A whole registration through Telegram, pressing buttons by their callback data."""
    await answer(world, user, lambda: user.send_command("/start"), "language")
    await answer(world, user, lambda: user.press(f"language|{person.locale}"), "name")
    await answer(world, user, lambda: user.send_text(person.name), "org")
    await answer(world, user, lambda: user.send_text(person.organisation), "type")
    await answer(world, user, lambda: user.press(f"type|{person.org_type}"), "country")
    if person.country in {"IT", "CN"}:
        await answer(world, user, lambda: user.press(f"country|{person.country}"), "city")
    else:
        await answer(world, user, lambda: user.send_text(person.country), "city")
    await answer(world, user, lambda: user.send_text(person.city), "email")
    await answer(world, user, lambda: user.send_text(person.email), "phone")
    await world.until(lambda: user.keyboard, "the contact keyboard")
    await answer(world, user, lambda: user.share_contact("+393331234567"), "web")
    await answer(world, user, lambda: user.send_text(person.website), "profile")
    await answer(world, user, lambda: user.send_text(person.profile), "offer")
    await answer(world, user, lambda: user.send_text(person.offer), "seek")
    await answer(world, user, lambda: user.send_text(person.seek), "spoken")
    for code in person.spoken:
        user.press(f"spoken|{code}")
        await world.until(lambda c=code: "✅" in _label_of(user, f"spoken|{c}"), f"{code} ticked")  # type: ignore[misc]
    await answer(world, user, lambda: user.press("spoken|^done"), "interp")
    await answer(world, user, lambda: user.press("interp|no"), "areas")
    for code in person.areas:
        user.press(f"areas|{code}")
        await world.until(lambda c=code: "✅" in _label_of(user, f"areas|{c}"), f"{code} ticked")  # type: ignore[misc]
    await answer(world, user, lambda: user.press("areas|^done"), "consent")
    await answer(world, user, lambda: user.press("consent|agree"), "edit")


def _label_of(user: SimulatedUser, data: str) -> str:
    for message in reversed(user.messages):
        if not message.from_bot or not message.reply_markup:
            continue
        for row in message.reply_markup.get("inline_keyboard", []):
            for button in row:
                if button.get("callback_data") == data:
                    return str(button.get("text", ""))
    return ""

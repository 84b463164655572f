"""Bot API methods about the bot itself: identity, updates, webhook, commands, descriptions."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import errors
from .errors import ApiError, bad_request
from .methods_messages import Handler
from .params import Params

if TYPE_CHECKING:
    from .server import FakeBotApi

_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
_LANGUAGE = re.compile(r"[a-z]{2}")


@dataclass
class Described:
    """A successful result that also carries a ``description`` (setWebhook does this)."""

    result: Any
    description: str


async def get_me(api: FakeBotApi, p: Params) -> dict[str, Any]:
    """getMe."""
    return api.get_me_result()


async def log_out(api: FakeBotApi, p: Params) -> bool:
    """logOut (no effect on the fake server)."""
    return True


async def close(api: FakeBotApi, p: Params) -> bool:
    """close (no effect on the fake server)."""
    return True


async def get_updates(api: FakeBotApi, p: Params) -> list[dict[str, Any]]:
    """getUpdates with long polling: waits up to ``timeout`` s for an update to arrive.

    A newer getUpdates call terminates a waiting one with 409, like the real server does when
    two bot instances poll at once.
    """
    if api.webhook.url:
        raise ApiError(409, errors.WEBHOOK_ACTIVE)
    offset = p.get_int("offset")
    limit = max(1, min(100, p.get_int("limit", 100) or 100))
    timeout = max(0.0, p.get_float("timeout", 0.0) or 0.0)
    api.queue.set_allowed(p.get_json("allowed_updates"))
    api.queue.confirm(offset)
    api.poll_generation += 1
    generation = api.poll_generation
    api.signal.notify()  # wake an older poller so it can notice it was superseded
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        wake = api.signal.snapshot()
        if api.poll_generation != generation:
            raise ApiError(409, errors.TERMINATED_BY_OTHER_POLL)
        if api.webhook.url:
            raise ApiError(409, errors.WEBHOOK_ACTIVE)
        if api.closing:
            return []
        if api.queue.pending:
            return api.queue.pending[:limit]
        remaining = deadline - loop.time()
        if remaining <= 0:
            return []
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), remaining)


async def set_webhook(api: FakeBotApi, p: Params) -> Described:
    """setWebhook; an empty url removes the webhook. http:// URLs are allowed on the fake server
    (the real one demands HTTPS on ports 443, 80, 88 or 8443) unless ``allow_http_webhooks`` is
    off."""
    url = p.get_str("url", "") or ""
    if not url:
        return await delete_webhook(api, p)
    parts = urlsplit(url)
    allowed = ("https", "http") if api.allow_http_webhooks else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        raise bad_request(errors.HTTPS_WEBHOOK_REQUIRED)
    secret = p.get_str("secret_token")
    if secret is not None and not _SECRET.fullmatch(secret):
        raise bad_request(errors.SECRET_TOKEN_INVALID)
    if p.get_bool("drop_pending_updates"):
        api.queue.clear()
    api.queue.set_allowed(p.get_json("allowed_updates"))
    already = api.webhook.url == url and api.webhook.secret_token == secret
    api.webhook.url = url
    api.webhook.secret_token = secret
    api.webhook.max_connections = p.get_int("max_connections", 40) or 40
    api.webhook.ip_address = p.get_str("ip_address")
    api.signal.notify()
    return Described(True, "Webhook is already set" if already else "Webhook was set")


async def delete_webhook(api: FakeBotApi, p: Params) -> Described:
    """deleteWebhook (``drop_pending_updates`` clears the queue)."""
    was_set = bool(api.webhook.url)
    api.webhook.url = ""
    api.webhook.secret_token = None
    if p.get_bool("drop_pending_updates"):
        api.queue.clear()
    api.signal.notify()
    return Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")


async def get_webhook_info(api: FakeBotApi, p: Params) -> dict[str, Any]:
    """getWebhookInfo."""
    return api.webhook.info(api.queue)


def scope_key(scope: Any) -> str:
    """A stable key for a BotCommandScope (default scope when absent)."""
    if scope in (None, ""):
        scope = {"type": "default"}
    if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
        raise bad_request(errors.PARAMETER_INVALID.format(name="scope"))
    return json.dumps(scope, sort_keys=True)


def _language(p: Params) -> str:
    language = p.get_str("language_code", "") or ""
    if language and not _LANGUAGE.fullmatch(language):
        raise bad_request(errors.LANGUAGE_CODE_INVALID)
    return language


async def set_my_commands(api: FakeBotApi, p: Params) -> bool:
    """setMyCommands for one scope + language_code (an empty list deletes them)."""
    commands = p.get_json("commands")
    if not isinstance(commands, list):
        raise bad_request(errors.PARAMETER_INVALID.format(name="commands"))
    clean: list[dict[str, str]] = []
    for command in commands:
        if not isinstance(command, dict):
            raise bad_request(errors.BOT_COMMAND_INVALID)
        name = str(command.get("command", "")).removeprefix("/")
        description = str(command.get("description", ""))
        if not _COMMAND_NAME.fullmatch(name):
            raise bad_request(errors.BOT_COMMAND_INVALID)
        if not 1 <= len(description.strip()) <= 256:
            raise bad_request(errors.BOT_COMMAND_DESCRIPTION_INVALID)
        clean.append({"command": name, "description": description})
    key = (scope_key(p.get_json("scope")), _language(p))
    if clean:
        api.commands[key] = clean
    else:
        api.commands.pop(key, None)
    return True


async def get_my_commands(api: FakeBotApi, p: Params) -> list[dict[str, str]]:
    """getMyCommands for exactly this scope + language_code."""
    return list(api.commands.get((scope_key(p.get_json("scope")), _language(p)), []))


async def delete_my_commands(api: FakeBotApi, p: Params) -> bool:
    """deleteMyCommands."""
    api.commands.pop((scope_key(p.get_json("scope")), _language(p)), None)
    return True


def _text_setting(store: dict[str, str], field: str, limit: int) -> Handler:
    async def setter(api: FakeBotApi, p: Params) -> bool:
        value = p.get_str(field, "") or ""
        if len(value) > limit:
            raise bad_request(f"Bad Request: {field.replace('_', ' ')} is too long")
        language = _language(p)
        if value:
            store[language] = value
        else:
            store.pop(language, None)
        return True

    return setter


def _text_getter(store: dict[str, str], field: str, fallback: str = "") -> Handler:
    async def getter(api: FakeBotApi, p: Params) -> dict[str, str]:
        language = _language(p)
        return {field: store.get(language, store.get("", fallback))}

    return getter


async def set_chat_menu_button(api: FakeBotApi, p: Params) -> bool:
    """setChatMenuButton (per chat, or the default when chat_id is absent)."""
    button = p.get_json("menu_button") or {"type": "default"}
    if not isinstance(button, dict) or button.get("type") not in ("default", "commands", "web_app"):
        raise bad_request(errors.PARAMETER_INVALID.format(name="menu_button"))
    api.menu_buttons[p.get_int("chat_id")] = button
    return True


async def get_chat_menu_button(api: FakeBotApi, p: Params) -> dict[str, Any]:
    """getChatMenuButton."""
    chat_id = p.get_int("chat_id")
    return api.menu_buttons.get(chat_id) or api.menu_buttons.get(None) or {"type": "commands"}


def bot_methods(api: FakeBotApi) -> dict[str, Handler]:
    """Handlers of this module, bound to ``api``'s description stores."""
    return {
        "getMe": get_me,
        "logOut": log_out,
        "close": close,
        "getUpdates": get_updates,
        "setWebhook": set_webhook,
        "deleteWebhook": delete_webhook,
        "getWebhookInfo": get_webhook_info,
        "setMyCommands": set_my_commands,
        "getMyCommands": get_my_commands,
        "deleteMyCommands": delete_my_commands,
        "setMyDescription": _text_setting(api.descriptions, "description", 512),
        "getMyDescription": _text_getter(api.descriptions, "description"),
        "setMyShortDescription": _text_setting(api.short_descriptions, "short_description", 120),
        "getMyShortDescription": _text_getter(api.short_descriptions, "short_description"),
        "setMyName": _text_setting(api.names, "name", 64),
        "getMyName": _text_getter(api.names, "name", api.first_name),
        "setChatMenuButton": set_chat_menu_button,
        "getChatMenuButton": get_chat_menu_button,
    }

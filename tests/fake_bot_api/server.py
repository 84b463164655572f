"""The fake Telegram Bot API server: an aiohttp application on 127.0.0.1 with an ephemeral port.

Usage::

    async with FakeBotApi(token=TOKEN) as api:
        bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url)))
        user = api.user(user_id=42, first_name="Lin", language_code="zh-hans")
        user.send_command("/start")
        ...
        assert user.last_text == "..."
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from . import errors
from .errors import ApiError
from .faults import Fault, FaultInjector
from .flood import FloodControl
from .methods_bot import Described, bot_methods
from .methods_messages import MESSAGE_METHODS, Handler
from .models import CallbackQueryRecord, CallRecord, ChatState, StoredFile, StoredMessage
from .params import Params
from .transport import build_app
from .updates import ChangeSignal, UpdateQueue, WebhookDeliverer, WebhookState, post_update
from .users import SimulatedUser

logger = logging.getLogger(__name__)
DEFAULT_TOKEN = "7000000001:AAFakeTokenForPonteTestsOnly-0123456"
T = TypeVar("T")


class FakeBotApi:
    """A Telegram Bot API look-alike for tests; see the package docstring for an overview."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        username: str = "ponte_test_bot",
        first_name: str = "Ponte Test",
        bot_id: int | None = None,
        can_join_groups: bool = True,
        can_read_all_group_messages: bool = False,
        supports_inline_queries: bool = False,
        allow_http_webhooks: bool = True,
        webhook_retry_delay: float = 0.1,
        webhook_max_attempts: int = 3,
        host: str = "127.0.0.1",
    ) -> None:
        prefix = token.split(":", 1)[0]
        self.token = token
        self.bot_id = bot_id if bot_id is not None else (int(prefix) if prefix.isdigit() else 1)
        self.username, self.first_name = username, first_name
        self.can_join_groups = can_join_groups
        self.can_read_all_group_messages = can_read_all_group_messages
        self.supports_inline_queries = supports_inline_queries
        self.allow_http_webhooks = allow_http_webhooks
        self.host = host
        self.calls: list[CallRecord] = []
        self.chats: dict[int, ChatState] = {}
        self.users: dict[int, SimulatedUser] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.callback_queries: dict[str, CallbackQueryRecord] = {}
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.faults = FaultInjector()
        self.flood: FloodControl | None = None
        self.signal = ChangeSignal()
        self.queue = UpdateQueue(self.signal)
        self.webhook = WebhookState()
        self.closing = False
        self.poll_generation = 0
        self._counter = itertools.count(1)
        self._next_user_id = 1_000_001
        self._methods: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, handler)
            for name, handler in {**MESSAGE_METHODS, **bot_methods(self)}.items()
        }
        self._deliverer = WebhookDeliverer(
            self.queue,
            self.webhook,
            self._execute_webhook_reply,
            retry_delay=webhook_retry_delay,
            max_attempts=webhook_max_attempts,
        )
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # --- lifecycle --------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (for aiogram's ``TelegramAPIServer.from_base``)."""
        if self.port is None:
            raise RuntimeError("FakeBotApi is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def ptb_base_url(self) -> str:
        """``base_url`` for python-telegram-bot's ``Bot(base_url=...)`` (ends in ``/bot``)."""
        return f"{self.base_url}/bot"

    @property
    def ptb_base_file_url(self) -> str:
        """``base_file_url`` for python-telegram-bot (ends in ``/file/bot``)."""
        return f"{self.base_url}/file/bot"

    def api_url(self, method: str) -> str:
        """The full URL of a method, e.g. for raw HTTP calls in tests."""
        return f"{self.base_url}/bot{self.token}/{method}"

    async def start(self) -> FakeBotApi:
        """Start listening on 127.0.0.1 with an ephemeral port."""
        self._runner = web.AppRunner(build_app(self), access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._deliverer.start()
        return self

    async def stop(self) -> None:
        """Stop the server; pending long polls return at once."""
        self.closing = True
        self.signal.notify()
        await self._deliverer.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotApi:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- bot identity -----------------------------------------------------------------------
    @property
    def bot_user(self) -> dict[str, Any]:
        """The bot's ``User`` object as it appears in messages."""
        return {"id": self.bot_id, "is_bot": True, "first_name": self.first_name,
                "username": self.username}  # fmt: skip

    def get_me_result(self) -> dict[str, Any]:
        """The result of getMe."""
        return {
            **self.bot_user,
            "can_join_groups": self.can_join_groups,
            "can_read_all_group_messages": self.can_read_all_group_messages,
            "supports_inline_queries": self.supports_inline_queries,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    # --- users, chats, messages -------------------------------------------------------------
    def user(
        self,
        user_id: int | None = None,
        first_name: str = "Test",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        started: bool = True,
    ) -> SimulatedUser:
        """The simulated user with this id (created on first use; later arguments ignored).

        ``started=False`` models a user who never opened the bot: sends fail with 403 until the
        user writes first.
        """
        if user_id is None:
            user_id = self._next_user_id
            self._next_user_id += 1
        if user_id in self.users:
            return self.users[user_id]
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        chat: dict[str, Any] = {"id": user_id, "type": "private", "first_name": first_name}
        for key, value in (("last_name", last_name), ("username", username)):
            if value is not None:
                user[key] = chat[key] = value
        if language_code is not None:
            user["language_code"] = language_code
        state = ChatState(chat_id=user_id, chat=chat, user=user, started=started)
        self.chats[user_id] = state
        self.users[user_id] = SimulatedUser(self, state)
        return self.users[user_id]

    def chat(self, chat_id: int) -> ChatState:
        """The chat with this id (KeyError if no such simulated chat)."""
        return self.chats[chat_id]

    def find_chat(self, chat_id: Any) -> ChatState | None:
        """Resolve a ``chat_id`` parameter (integer, numeric string or ``@username``)."""
        if isinstance(chat_id, str):
            text = chat_id.strip()
            if text.startswith("@"):
                name = text[1:].lower()
                return next(
                    (c for c in self.chats.values() if c.chat.get("username", "").lower() == name),
                    None,
                )
            if not text.lstrip("-").isdigit():
                return None
            chat_id = int(text)
        if isinstance(chat_id, bool) or not isinstance(chat_id, int):
            return None
        return self.chats.get(chat_id)

    def last_message(self, chat_id: int) -> StoredMessage | None:
        """The bot's latest visible message in the chat."""
        messages = self.chat(chat_id).bot_messages
        return messages[-1] if messages else None

    def sent_documents(self, chat_id: int) -> list[StoredFile]:
        """Documents the bot sent to the chat, oldest first."""
        return self.chat(chat_id).documents

    def message_dict(self, chat: ChatState, message: StoredMessage) -> dict[str, Any]:
        """The Telegram ``Message`` object for a stored message."""
        sender = self.bot_user if message.from_bot else chat.user
        return message.to_dict(sender, chat.chat)

    def new_file(
        self,
        data: bytes,
        *,
        kind: str = "documents",
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        """Register file bytes; returns the StoredFile with fresh ids and a download path."""
        n = next(self._counter)
        suffix = file_name.rsplit(".", 1)[-1] if file_name and "." in file_name else "bin"
        file = StoredFile(
            file_id=f"BQACAgQAAxkBAAI{n:06d}fake",
            file_unique_id=f"AgAD{n:06d}",
            file_path=f"{kind}/file_{n}.{suffix}",
            data=data,
            file_name=file_name,
            mime_type=mime_type,
        )
        self.files[file.file_id] = file
        self.files_by_path[file.file_path] = file
        return file

    def new_callback_query_id(self) -> str:
        """A fresh callback query id."""
        return str(4_382_000_000_000_000_000 + next(self._counter))

    @staticmethod
    def now() -> int:
        """Unix time as Telegram reports it."""
        return int(time.time())

    # --- updates, webhook -------------------------------------------------------------------
    def enqueue_update(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue ``{"<update type>": {...}}`` as a new Update and return it (with update_id)."""
        return self.queue.push(payload)

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by getUpdates or delivered to the webhook."""
        return list(self.queue.pending)

    @property
    def webhook_deliveries(self) -> list[Any]:
        """Every webhook POST attempt (WebhookDelivery: update_id, status, error, ...)."""
        return list(self.webhook.deliveries)

    async def post_update(
        self, url: str, update: dict[str, Any], secret_token: str | None = None
    ) -> int | None:
        """POST an update to ``url`` with the given secret header (None: no header), bypassing
        the queue; returns the HTTP status (None on connection failure). For testing that the
        bot rejects forged webhook calls."""
        status, _error, _reply = await post_update(None, url, update, secret_token=secret_token)
        return status

    async def _execute_webhook_reply(self, method: str, raw: dict[str, Any]) -> None:
        await self.execute(method, raw, via="webhook-reply")

    # --- faults -----------------------------------------------------------------------------
    def inject(
        self,
        *,
        status: int,
        method: str | None = None,
        times: int = 1,
        retry_after: int | None = None,
        description: str | None = None,
        delay: float = 0.0,
        raw_body: str | None = None,
        chat_id: int | None = None,
    ) -> Fault:
        """Make the next ``times`` calls of ``method`` (None: any but getUpdates) fail; with
        ``chat_id``, only calls for that chat."""
        return self.faults.inject(
            status=status, method=method, times=times, retry_after=retry_after,
            description=description, delay=delay, raw_body=raw_body, chat_id=chat_id,
        )  # fmt: skip

    def enforce_limits(
        self, per_second: int = 30, *, chat_burst: int = 3, chat_interval: float = 1.0
    ) -> FloodControl:
        """Answer 429 like Telegram beyond ``per_second`` messages overall, or beyond a
        burst of ``chat_burst`` and then one every ``chat_interval`` seconds in one chat."""
        self.flood = FloodControl(per_second, chat_burst, chat_interval)
        return self.flood

    def set_latency(self, seconds: float, method: str | None = None) -> None:
        """Delay answers by ``seconds`` (all methods but getUpdates, or only ``method``)."""
        self.faults.set_latency(seconds, method)

    # --- call log ---------------------------------------------------------------------------
    def calls_to(self, method: str) -> list[CallRecord]:
        """Calls of one method (case-insensitive), oldest first."""
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def last_call(self, method: str) -> CallRecord | None:
        """The latest call of ``method``."""
        calls = self.calls_to(method)
        return calls[-1] if calls else None

    def call_names(self, *, include_polling: bool = False) -> list[str]:
        """Method names in call order (getUpdates left out unless asked for)."""
        return [c.method for c in self.calls if include_polling or c.method != "getUpdates"]

    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 5.0,  # noqa: ASYNC109 - the documented test-helper signature
        what: str | None = None,
    ) -> T:
        """Wait until ``predicate()`` is truthy and return its value; TimeoutError otherwise.

        Re-checked whenever the server handles a call or an update is queued, and every 50 ms.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            wake = self.signal.snapshot()
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = ", ".join(f"{c.method}:{c.status}" for c in self.calls[-8:])
                raise TimeoutError(
                    f"timed out after {timeout}s waiting for {what or 'condition'}; "
                    f"recent calls: [{recent}]"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), min(remaining, 0.05))

    # --- HTTP -------------------------------------------------------------------------------
    async def execute(
        self,
        method: str,
        raw: dict[str, Any],
        *,
        http_method: str = "POST",
        via: str = "http",
        encoding: str = "",
    ) -> tuple[CallRecord, ApiError | None]:
        """Run one API call (already authenticated) and record it."""
        canonical, handler = self._methods.get(method.lower(), (method, None))
        params = Params(raw)
        record = CallRecord(canonical, params.public(), time.monotonic(), time.time(),
                            http_method=http_method, via=via, encoding=encoding)  # fmt: skip
        self.calls.append(record)
        error: ApiError | None = None
        result: Any = None
        if handler is None:
            error = ApiError(404, errors.NOT_FOUND)
        else:
            fault = self.faults.take(canonical, params.get("chat_id"))
            delay = self.faults.delay_for(canonical) + (fault.delay if fault else 0.0)
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                if fault is not None:
                    raise fault.to_error()
                if self.flood is not None:
                    flooded = self.flood.check(canonical, params.get("chat_id"))
                    if flooded is not None:
                        raise flooded
                result = await handler(self, params)
            except ApiError as exc:
                error = exc
            except Exception as exc:  # a bug in the fake server: answer like Telegram's 500
                logger.exception("fake Bot API failed in %s", canonical)
                error = ApiError(500, f"Internal Server Error: fake Bot API bug: {exc!r}")
        if error is not None:
            record.status, record.response = error.status, error.body()
        else:
            body: dict[str, Any] = {"ok": True}
            if isinstance(result, Described):
                body.update(result=result.result, description=result.description)
            else:
                body["result"] = result
            record.response = body
        self.signal.notify()
        return record, error

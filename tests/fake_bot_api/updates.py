"""The update queue (for getUpdates) and webhook delivery.

Updates wait in :class:`UpdateQueue` until confirmed: by a later getUpdates with a higher
``offset`` (long polling) or by a 2xx answer from the webhook. ``allowed_updates`` filters
updates at the moment they are created, like on the real server, where changing it does not
affect updates already queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .models import WebhookDelivery
from .params import UploadedFile

#: Update types not delivered unless explicitly listed in allowed_updates.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

WebhookReplyHandler = Callable[[str, dict[str, Any]], Awaitable[None]]


class ChangeSignal:
    """Wakes everyone waiting for "something changed" (new update, call handled, ...)."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def snapshot(self) -> asyncio.Event:
        """The event the next :meth:`notify` will set; take it *before* checking state."""
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    def notify(self) -> None:
        """Wake all current waiters."""
        if self._event is not None:
            self._event.set()
            self._event = None


class UpdateQueue:
    """Unconfirmed updates in order, with Telegram's offset and allowed_updates semantics."""

    def __init__(self, signal: ChangeSignal, first_update_id: int = 100_000) -> None:
        self.signal = signal
        self.next_update_id = first_update_id
        self.pending: list[dict[str, Any]] = []
        self.history: list[dict[str, Any]] = []
        self.filtered_out: list[dict[str, Any]] = []
        self.allowed_updates: list[str] = []

    def allows(self, kind: str) -> bool:
        """Whether an update of this type is currently subscribed to."""
        if not self.allowed_updates:
            return kind not in OPT_IN_UPDATES
        return kind in self.allowed_updates

    def set_allowed(self, allowed: Any) -> None:
        """Apply an ``allowed_updates`` parameter (ignored unless it is a list)."""
        if isinstance(allowed, list):
            self.allowed_updates = [str(kind) for kind in allowed]

    def push(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Create an update from ``{"<type>": {...}}``; queue it unless filtered out."""
        kind = next(iter(payload))
        update = {"update_id": self.next_update_id, **payload}
        self.next_update_id += 1
        self.history.append(update)
        if self.allows(kind):
            self.pending.append(update)
        else:
            self.filtered_out.append(update)
        self.signal.notify()
        return update

    def confirm(self, offset: int | None) -> None:
        """Forget updates below ``offset`` (or all but the last ``-offset`` if negative)."""
        if offset is None or offset == 0:
            return
        if offset > 0:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
        else:
            self.pending = self.pending[offset:]

    def remove(self, update: dict[str, Any]) -> None:
        """Drop one update (delivered via webhook)."""
        if update in self.pending:
            self.pending.remove(update)

    def clear(self) -> None:
        """Drop every pending update (``drop_pending_updates``)."""
        self.pending.clear()


@dataclass
class WebhookState:
    """The webhook settings of the bot, as getWebhookInfo reports them."""

    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    ip_address: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    deliveries: list[WebhookDelivery] = field(default_factory=list)

    def info(self, queue: UpdateQueue) -> dict[str, Any]:
        """The ``WebhookInfo`` object."""
        result: dict[str, Any] = {
            "url": self.url,
            "has_custom_certificate": False,
            "pending_update_count": len(queue.pending),
        }
        if self.url:
            result["max_connections"] = self.max_connections
            if self.ip_address:
                result["ip_address"] = self.ip_address
            if queue.allowed_updates:
                result["allowed_updates"] = list(queue.allowed_updates)
        if self.last_error_date is not None:
            result["last_error_date"] = self.last_error_date
            result["last_error_message"] = self.last_error_message
        return result


class WebhookDeliverer:
    """Background task POSTing pending updates to the webhook, one at a time and in order.

    A non-2xx answer or a connection error is retried ``max_attempts`` times, ``retry_delay``
    apart, then the update is dropped (the real server keeps trying for much longer). If the
    answer carries a method call (JSON or multipart with a ``method`` field, as aiogram sends
    it), the call is executed like the real server does.
    """

    def __init__(
        self,
        queue: UpdateQueue,
        state: WebhookState,
        on_reply: WebhookReplyHandler,
        *,
        retry_delay: float = 0.1,
        max_attempts: int = 3,
        timeout: float = 10.0,
    ) -> None:
        self.queue, self.state, self.on_reply = queue, state, on_reply
        self.retry_delay, self.max_attempts, self.timeout = retry_delay, max_attempts, timeout
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._closing = False

    def start(self) -> None:
        """Start the delivery loop in the running event loop."""
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        self._task = asyncio.get_running_loop().create_task(self._run(), name="fake-webhook")

    async def stop(self) -> None:
        """Stop delivering and close the HTTP client."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        attempts: dict[int, int] = {}
        while not self._closing:
            wake = self.queue.signal.snapshot()
            if not (self.state.url and self.queue.pending):
                await wake.wait()
                continue
            update = self.queue.pending[0]
            attempt = attempts.get(update["update_id"], 0) + 1
            attempts[update["update_id"]] = attempt
            if await self.deliver(update, attempt) or attempt >= self.max_attempts:
                self.queue.remove(update)
                self.queue.signal.notify()
            else:
                await asyncio.sleep(self.retry_delay)

    async def deliver(self, update: dict[str, Any], attempt: int = 1) -> bool:
        """POST one update to the current webhook; True on a 2xx answer."""
        url, secret = self.state.url, self.state.secret_token
        status, error, reply = await post_update(
            self._session, url, update, secret_token=secret, read_reply=True
        )
        self.state.deliveries.append(
            WebhookDelivery(
                update["update_id"], url, status, error, secret, time.monotonic(), attempt
            )
        )
        ok = status is not None and 200 <= status < 300
        if not ok:
            self.state.last_error_date = int(time.time())
            self.state.last_error_message = error or f"Wrong response from the webhook: {status}"
        self.queue.signal.notify()
        if ok and reply is not None:
            method = reply.pop("method", None)
            if isinstance(method, str) and method:
                await self.on_reply(method, reply)
        return ok


async def post_update(
    session: aiohttp.ClientSession | None,
    url: str,
    update: dict[str, Any],
    *,
    secret_token: str | None = None,
    read_reply: bool = False,
) -> tuple[int | None, str | None, dict[str, Any] | None]:
    """POST an update as Telegram would: (status or None, error text, method-call reply)."""
    own_session = session is None
    client = session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
    headers = {SECRET_HEADER: secret_token} if secret_token is not None else {}
    try:
        async with client.post(url, json=update, headers=headers) as response:
            reply = await _read_reply(response) if read_reply and response.ok else None
            error = (
                None
                if response.ok
                else (f"Wrong response from the webhook: {response.status} {response.reason}")
            )
            return response.status, error, reply
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        return None, f"Connection failed: {exc.__class__.__name__}: {exc}", None
    finally:
        if own_session:
            await client.close()


async def _read_reply(response: aiohttp.ClientResponse) -> dict[str, Any] | None:
    content_type = response.content_type
    if content_type == "application/json":
        try:
            data = await response.json()
        except ValueError:
            return None
        return data if isinstance(data, dict) and data.get("method") else None
    if content_type.startswith("multipart/"):
        fields: dict[str, Any] = {}
        reader = aiohttp.MultipartReader.from_response(response)
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                continue
            if part.filename:
                data_bytes = await part.read()
                content = part.headers.get("Content-Type")
                fields[part.name] = UploadedFile(
                    part.name, part.filename, content, bytes(data_bytes)
                )
            else:
                fields[part.name] = await part.text()
        return fields if fields.get("method") else None
    return None

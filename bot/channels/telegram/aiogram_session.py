"""aiogram's HTTP session, posting Bot API calls as one JSON body and keeping the updates it
receives as Telegram sent them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InputFile, Update
from aiohttp import ClientError, ClientTimeout

JSON_HEADERS = {"Content-Type": "application/json"}


class ReceivedUpdates:
    """Updates as Telegram sent them, by ``update_id``, until the router hands them on.

    Ponte's bridge reads Bot API JSON, and aiogram hands its handlers parsed ``Update``
    models: dumping each back to JSON cost about a twentieth of Ponte's CPU per update
    (docs/benchmarks.md). The session (polling) and the webhook receiver keep the JSON they
    received here; :meth:`take` returns it, or dumps the model when it was not kept. At most
    ``limit`` are kept, the oldest dropped first, so updates no handler takes cannot pile up.
    """

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._by_id: dict[int, dict[str, Any]] = {}

    def keep(self, updates: Iterable[Any]) -> None:
        """Keep each well-formed update (a JSON object with an integer ``update_id``)."""
        for update in updates:
            if isinstance(update, dict) and type(update.get("update_id")) is int:
                self._by_id[update["update_id"]] = update
        while len(self._by_id) > self.limit:
            del self._by_id[next(iter(self._by_id))]

    def take(self, update: Update) -> dict[str, Any]:
        """The update's JSON as received (forgotten here), or else aiogram's dump of it."""
        received = self._by_id.pop(update.update_id, None)
        if received is not None:
            return received
        return update.model_dump(mode="json", exclude_none=True, by_alias=True)

    def __len__(self) -> int:
        return len(self._by_id)


class JsonAiohttpSession(AiohttpSession):
    """``AiohttpSession`` that posts each call without files as JSON.

    aiogram posts every call as a form: each field is prepared (nested values dumped to JSON
    strings one by one), added to an ``aiohttp.FormData`` and URL-encoded. For the short
    messages Ponte sends, that was about a tenth of its CPU per update
    (docs/benchmarks.md). The Bot API takes the same parameters as one JSON object, prepared
    the same way (bot defaults, enums, nested objects); calls carrying files keep aiogram's
    multipart form. Errors, time-outs and response parsing are aiogram's.

    With ``received``, the updates each successful ``getUpdates`` returns are kept there as
    Telegram sent them (see :class:`ReceivedUpdates`).
    """

    def __init__(self, *, received: ReceivedUpdates | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.received = received

    def build_json(self, bot: Bot, method: TelegramMethod[Any]) -> bytes | None:
        """The call's parameters as a JSON body, or ``None`` when it uploads a file."""
        files: dict[str, InputFile] = {}
        payload: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is None or prepared == "":
                continue  # as aiogram's form leaves them out
            payload[key] = prepared
        if files:
            return None
        return self.json_dumps(payload).encode()

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 (aiogram's signature)
    ) -> TelegramType:
        body = self.build_json(bot, method)
        if body is None:
            return await super().make_request(bot, method, timeout)
        return await self._post(bot, method, body, timeout)

    async def call_json(
        self, bot: Bot, method: TelegramMethod[TelegramType], parameters: dict[str, Any]
    ) -> TelegramType:
        """Post ``parameters``, Bot API JSON already, as the call ``method`` names.

        For parameters the caller holds as Bot API JSON (Ponte's replies, keyboards
        included): aiogram's field-by-field preparation — a model dump, then a walk over
        every button — was about 6% of Ponte's CPU per update (docs/benchmarks.md).
        ``method`` only names the call, reads its answer and is what errors report, so one
        instance (``model_construct`` with placeholder values) can serve every call: its
        fields are read only by aiogram's flood-control error, which names a ``chat_id``
        when it is set (a placeholder ``0`` is left out). Bot defaults are not applied and
        session middlewares do not run. Errors, time-outs and response parsing are aiogram's.
        """
        return await self._post(bot, method, self.json_dumps(parameters).encode(), None)

    async def _post(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        body: bytes,
        timeout: int | None,  # noqa: ASYNC109 (aiogram's, per call)
    ) -> TelegramType:
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(
                url,
                data=body,
                headers=JSON_HEADERS,
                timeout=ClientTimeout(total=self.timeout if timeout is None else timeout),
            ) as response:
                content = await response.text()
        except TimeoutError as exc:
            raise TelegramNetworkError(method=method, message="Request timeout error") from exc
        except ClientError as exc:
            message = f"{type(exc).__name__}: {exc}"
            raise TelegramNetworkError(method=method, message=message) from exc
        checked = self.check_response(
            bot=bot, method=method, status_code=response.status, content=content
        )
        if self.received is not None and isinstance(method, GetUpdates):
            # Parsed once more as plain JSON: a few microseconds, against a model dump each.
            self.received.keep(self.json_loads(content)["result"])
        return cast(TelegramType, checked.result)

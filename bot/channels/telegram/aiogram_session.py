"""aiogram's HTTP session, posting Bot API calls as one JSON body."""

from __future__ import annotations

from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InputFile
from aiohttp import ClientError, ClientTimeout

JSON_HEADERS = {"Content-Type": "application/json"}


class JsonAiohttpSession(AiohttpSession):
    """``AiohttpSession`` that posts each call without files as JSON.

    aiogram posts every call as a form: each field is prepared (nested values dumped to JSON
    strings one by one), added to an ``aiohttp.FormData`` and URL-encoded. For the short
    messages Ponte sends, that was about a tenth of its CPU per update
    (docs/benchmarks.md). The Bot API takes the same parameters as one JSON object, prepared
    the same way (bot defaults, enums, nested objects); calls carrying files keep aiogram's
    multipart form. Errors, time-outs and response parsing are aiogram's.
    """

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
        return cast(TelegramType, checked.result)

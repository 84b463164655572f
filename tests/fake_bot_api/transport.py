"""HTTP side of the fake server: routes, request decoding and Telegram-shaped responses.

Routes: ``/bot<token>/<method>`` (any HTTP verb, method name case-insensitive) and
``/file/bot<token>/<file_path>`` for downloads. A wrong token is answered with 401
``Unauthorized``; an unknown method with 404 ``Not Found``; every error carries the HTTP status
equal to its ``error_code`` and 429 answers add a ``Retry-After`` header.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from . import errors
from .errors import ApiError
from .models import CallRecord
from .params import UploadedFile

if TYPE_CHECKING:
    from .server import FakeBotApi

MAX_REQUEST_BYTES = 64 * 1024 * 1024


def build_app(api: FakeBotApi) -> web.Application:
    """The aiohttp application serving ``api``."""

    async def handle_method(request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        encoding = body_encoding(request)  # before the body is read
        raw = await read_params(request)
        if request.match_info["token"] != api.token:
            denied = ApiError(401, errors.UNAUTHORIZED)
            api.calls.append(
                CallRecord(method, raw, time.monotonic(), time.time(), request.method,
                           denied.status, denied.body())
            )  # fmt: skip
            return web.json_response(denied.body(), status=denied.status)
        record, error = await api.execute(
            method, raw, http_method=request.method, encoding=encoding
        )
        if error is not None and error.raw_body is not None:
            return web.Response(text=error.raw_body, status=error.status, content_type="text/html")
        return web.Response(
            text=json.dumps(record.response, ensure_ascii=False),
            status=record.status,
            content_type="application/json",
            headers=error.headers() if error is not None else None,
        )

    async def handle_file(request: web.Request) -> web.StreamResponse:
        file = api.files_by_path.get(request.match_info["path"])
        if request.match_info["token"] != api.token or file is None:
            return web.json_response(ApiError(404, errors.NOT_FOUND).body(), status=404)
        mime = file.mime_type or "application/octet-stream"
        return web.Response(body=file.data, content_type=mime)

    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app.router.add_route("*", "/bot{token}/{method}", handle_method)
    app.router.add_get("/file/bot{token}/{path:.+}", handle_file)
    return app


def body_encoding(request: web.Request) -> str:
    """How a call's parameters were posted, as recorded in ``CallRecord.encoding``."""
    if not request.can_read_body:
        return ""
    content_type = request.content_type
    if content_type == "application/json":
        return "json"
    return "multipart" if content_type.startswith("multipart/") else "form"


async def read_params(request: web.Request) -> dict[str, Any]:
    """Merge query-string parameters with a JSON, urlencoded or multipart body."""
    raw: dict[str, Any] = dict(request.query)
    if not request.can_read_body:
        return raw
    content_type = request.content_type
    if content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            raw.update(body)
    elif content_type.startswith("multipart/"):
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            if part.filename is not None:
                data = bytes(await part.read())
                content = part.headers.get("Content-Type")
                raw[part.name] = UploadedFile(part.name, part.filename, content, data)
            else:
                raw[part.name] = await part.text()
    else:
        form = await request.post()
        for key, value in form.items():
            raw[key] = value if isinstance(value, str) else str(value)
    return raw

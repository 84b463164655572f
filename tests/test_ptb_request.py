"""Ponte's aiohttp request class for python-telegram-bot keeps PTB's contract."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from telegram import Bot, InputFile
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData

from bot.channels.telegram.ptb_request import AiohttpRequest


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[dict[str, object]]]]:
    """A tiny HTTP server that records what it was sent; ``/slow`` answers after 2 s."""
    seen: list[dict[str, object]] = []

    async def record(request: web.Request) -> web.Response:
        if request.path.endswith("/slow"):
            await asyncio.sleep(2)
        fields: dict[str, object] = {}
        if request.content_type == "multipart/form-data":
            async for part in await request.multipart():
                fields[part.name or ""] = (part.filename, await part.read())  # type: ignore[union-attr]
        else:
            fields.update(await request.post())
        seen.append(fields)
        result: object = True
        if request.path.endswith(("/sendMessage", "/sendDocument")):
            result = {"message_id": 1, "date": 0, "chat": {"id": 7, "type": "private"}}
        return web.json_response({"ok": True, "result": result}, status=200)

    app = web.Application()
    app.router.add_post("/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


async def test_parameters_and_files_arrive_as_ptb_sends_them(
    server: tuple[str, list[dict[str, object]]],
) -> None:
    base, seen = server
    request = AiohttpRequest(4)
    await request.initialize()
    try:
        # Through PTB's own methods, which build the request data as for any call.
        bot = Bot("1:x", base_url=f"{base}/bot", request=request)
        await bot.send_message(7, "<b>é</b>")
        assert seen[-1] == {"chat_id": "7", "text": "<b>é</b>"}

        document = InputFile(b'{"a": 1}', filename="ponte-my-data.json", attach=False)
        await bot.send_document(7, document)
        assert seen[-1]["chat_id"] == (None, b"7")
        assert seen[-1]["document"] == ("ponte-my-data.json", b'{"a": 1}')
    finally:
        await request.shutdown()


async def test_a_slow_answer_is_a_timeout_and_a_closed_port_a_network_error(
    server: tuple[str, list[dict[str, object]]],
) -> None:
    base, _ = server
    request = AiohttpRequest(2, read_timeout=0.3)
    await request.initialize()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]  # nothing listens there once the probe closes
    try:
        with pytest.raises(TimedOut):
            await request.do_request(f"{base}/slow", "POST", RequestData([]))
        with pytest.raises(NetworkError):
            await request.do_request(f"http://127.0.0.1:{closed}/getMe", "POST", RequestData([]))
    finally:
        await request.shutdown()


async def test_requests_before_initialize_are_refused() -> None:
    with pytest.raises(RuntimeError, match="initialize"):
        await AiohttpRequest().do_request("http://127.0.0.1:9/getMe", "POST")

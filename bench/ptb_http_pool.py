"""What one Bot API call costs python-telegram-bot's HTTP layer, by request class and pool size.

A ``telegram.Bot`` on each request class posts ``sendMessage`` calls, ``--concurrency`` of
them in flight (like the replies to one ``getUpdates`` batch), to a trivial aiohttp server in
another process; the client's CPU time per call is reported for PTB's ``HTTPXRequest`` with
several ``connection_pool_size`` values and for Ponte's ``AiohttpRequest``
(``bot.channels.telegram.ptb_request``). A request class that answers without any HTTP
(``none``) measures PTB's own work per call; the other figures less that one are the HTTP
layer's.

Run from the repository root, by hand::

    python -m bench.ptb_http_pool
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import sys
import time
from collections.abc import Sequence

from aiohttp import web
from telegram import Bot
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot.channels.telegram.ptb_request import AiohttpRequest

REPLY = (
    b'{"ok":true,"result":{"message_id":1,"date":1700000000,"chat":{"id":42,"type":"private"},'
    b'"text":"Anna Bianchi"}}'
)
ME = b'{"ok":true,"result":{"id":123,"is_bot":true,"first_name":"Bench","username":"bench_bot"}}'
TOKEN = "123:abc"


def answer_for(url: str) -> bytes:
    return ME if url.endswith("/getMe") else REPLY


class NoHttpRequest(BaseRequest):
    """Answers every call at once without any HTTP: PTB's own work per call, to subtract."""

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        return 200, answer_for(url)


async def serve() -> None:
    """The server process: answer every POST at once; print the port; run until stdin closes."""

    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=answer_for(request.path), content_type="application/json")

    app = web.Application()
    app.router.add_post("/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


async def measure(
    request: BaseRequest, base_url: str, total: int, concurrency: int
) -> tuple[float, float]:
    """CPU ms per call and calls/s, for ``total`` calls ``concurrency`` at a time."""
    bot = Bot(TOKEN, base_url=base_url, request=request, get_updates_request=NoHttpRequest())
    await bot.initialize()
    try:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(concurrency * 3):
            queue.put_nowait(i)

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                await bot.send_message(1_010_000 + i % 200, f"Anna Bianchi {i}", parse_mode="HTML")

        await asyncio.gather(*(worker() for _ in range(concurrency)))  # warm-up: fill the pool
        for i in range(total):
            queue.put_nowait(i)
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await bot.shutdown()
    return cpu * 1000 / total, total / wall


def make_request(kind: str, pool: int) -> BaseRequest:
    if kind == "httpx":
        return HTTPXRequest(pool, pool_timeout=None)
    if kind == "aiohttp":
        return AiohttpRequest(pool, pool_timeout=None)
    return NoHttpRequest()


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--pools", default="256,64,16,8,1")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        await serve()
        return
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.ptb_http_pool", "--serve",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        port = int(await asyncio.wait_for(server.stdout.readline(), 30))
        base_url = f"http://127.0.0.1:{port}/bot"
        sniffio = importlib.util.find_spec("sniffio") is not None
        print(
            f"{args.requests} requests, {args.concurrency} in flight; "
            f"sniffio {'installed' if sniffio else 'NOT installed'}; "
            f"CPU ms/call (calls/s), {args.rounds} rounds; the HTTP layer's share is each "
            "figure less none's"
        )
        pools = [int(p) for p in args.pools.split(",")]
        clients = [("none", 0)] + [("httpx", p) for p in pools] + [("aiohttp", 256)]
        for kind, pool in clients:
            figures = []
            for _ in range(args.rounds):
                request = make_request(kind, pool)
                cpu, rate = await measure(request, base_url, args.requests, args.concurrency)
                figures.append(f"{cpu:5.2f} ({rate:5.0f}/s)")
            print(f"{kind:<8} pool {pool:>4}: " + "  ".join(figures))
    finally:
        if server.stdin is not None:
            server.stdin.close()
        try:
            await asyncio.wait_for(server.wait(), 10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                server.kill()
            await server.wait()


if __name__ == "__main__":
    asyncio.run(main())

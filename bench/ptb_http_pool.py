"""What one Bot API call costs python-telegram-bot's HTTP layer, by connection pool size.

PTB sends every request through ``telegram.request.HTTPXRequest`` (httpx over httpcore).
This measures that layer alone, without the rest of PTB: the client process posts
``sendMessage``-sized requests with ``--concurrency`` of them in flight (like the replies to
one ``getUpdates`` batch) to a trivial aiohttp server in another process, and reports the
client's CPU time per request for several ``connection_pool_size`` values, beside the
aiohttp request class Ponte uses (``bot.channels.telegram.ptb_request``).

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
from telegram.request import BaseRequest, HTTPXRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from bot.channels.telegram.ptb_request import AiohttpRequest

REPLY = (
    b'{"ok":true,"result":{"message_id":1,"date":1700000000,"chat":{"id":42,"type":"private"},'
    b'"text":"Anna Bianchi"}}'
)


async def serve() -> None:
    """The server process: answer every POST at once; print the port; run until stdin closes."""

    async def answer(_request: web.Request) -> web.Response:
        await _request.read()
        return web.Response(body=REPLY, content_type="application/json")

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


def message_data(i: int) -> RequestData:
    parameters = {
        "chat_id": 1_010_000 + i % 200,
        "text": f"Anna Bianchi {i}",
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
    }
    return RequestData([RequestParameter.from_input(k, v) for k, v in parameters.items()])


async def measure(
    request: BaseRequest, url: str, total: int, concurrency: int
) -> tuple[float, float]:
    """CPU ms per request and requests/s, for ``total`` requests ``concurrency`` at a time."""
    await request.initialize()
    try:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(concurrency * 3):
            queue.put_nowait(i)

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                status, _ = await request.do_request(url, "POST", message_data(i))
                assert status == 200

        await asyncio.gather(*(worker() for _ in range(concurrency)))  # warm-up: fill the pool
        for i in range(total):
            queue.put_nowait(i)
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await request.shutdown()
    return cpu * 1000 / total, total / wall


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
        url = f"http://127.0.0.1:{port}/bot123:abc/sendMessage"
        sniffio = importlib.util.find_spec("sniffio") is not None
        print(
            f"{args.requests} requests, {args.concurrency} in flight; "
            f"sniffio {'installed' if sniffio else 'NOT installed'}; "
            f"CPU ms/request (requests/s), {args.rounds} rounds"
        )
        pools = [int(p) for p in args.pools.split(",")]
        clients: list[tuple[str, int]] = [("httpx", p) for p in pools] + [("aiohttp", 256)]
        for kind, pool in clients:
            figures = []
            for _ in range(args.rounds):
                request: BaseRequest = (
                    HTTPXRequest(pool, pool_timeout=None)
                    if kind == "httpx"
                    else AiohttpRequest(pool, pool_timeout=None)
                )
                cpu, rate = await measure(request, url, args.requests, args.concurrency)
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

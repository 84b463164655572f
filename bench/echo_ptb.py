"""A bare python-telegram-bot echo bot, configured like Ponte's PTB runtime: the baseline.

By default it uses Ponte's own ``build_application`` (same ``Defaults``, request pools and
concurrent updates) and the same polling parameters and handler type as ``PTBRuntime``, and
answers every text message with the same text through ``sendMessage``.

Options build the application differently, to measure what PTB's configuration costs (see
docs/benchmarks.md); pass them through the benchmark with ``--echo-arg``::

    python -m bench.telegram_throughput --framework ptb --bots echo \\
        --echo-arg=--request=httpx --echo-arg=--pool-size=256  # PTB's own HTTP client

Run by ``bench.telegram_throughput`` with ``TELEGRAM_BOT_TOKEN`` and ``TELEGRAM_API_BASE`` set;
stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import os
import signal
from typing import Any

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults, TypeHandler

from bot.channels.telegram.bridge import ALLOWED_UPDATES
from bot.channels.telegram.ptb_request import AiohttpRequest
from bot.channels.telegram.ptb_runtime import build_application

PTBApplication = Application[Any, Any, Any, Any, Any, Any]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--concurrent-updates", type=int, help="instead of Ponte's value")
    parser.add_argument("--pool-size", type=int, help="connection_pool_size of the bot's requests")
    parser.add_argument("--pool-timeout", type=float, help="seconds; 0 means wait forever")
    parser.add_argument(
        "--request",
        choices=["httpx", "aiohttp"],
        default="aiohttp",
        help="Ponte's AiohttpRequest (as Ponte runs PTB), or PTB's own HTTPXRequest",
    )
    parser.add_argument("--no-defaults", action="store_true", help="no Defaults object")
    return parser.parse_args()


def custom_application(token: str, api_base: str, args: argparse.Namespace) -> PTBApplication:
    """Like Ponte's ``build_application``, with the options' changes."""
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{api_base}/bot")
        .base_file_url(f"{api_base}/file/bot")
    )
    if not args.no_defaults:
        builder = builder.defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
    if args.concurrent_updates is not None:
        builder = builder.concurrent_updates(args.concurrent_updates)
    pool_timeout = None if args.pool_timeout == 0 else args.pool_timeout
    if args.request == "aiohttp":
        size = args.pool_size or 256
        builder = builder.request(AiohttpRequest(size, pool_timeout=pool_timeout))
        builder = builder.get_updates_request(AiohttpRequest(1, pool_timeout=pool_timeout))
    else:
        if args.pool_size is not None:
            builder = builder.connection_pool_size(args.pool_size)
        if args.pool_timeout is not None:
            builder = builder.pool_timeout(pool_timeout)
    return builder.build()


async def main() -> None:
    args = parse_args()
    token, api_base = os.environ["TELEGRAM_BOT_TOKEN"], os.environ["TELEGRAM_API_BASE"]
    customised = any(
        (args.concurrent_updates, args.pool_size, args.pool_timeout is not None,
         args.request != "aiohttp", args.no_defaults)
    )  # fmt: skip
    if customised:
        application = custom_application(token, api_base, args)
    else:
        application = build_application(token, api_base)

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is not None:
            await context.bot.send_message(message.chat_id, html.escape(message.text or "?"))

    application.add_handler(TypeHandler(Update, echo))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    await application.initialize()
    updater = application.updater
    assert updater is not None
    await updater.start_polling(
        allowed_updates=ALLOWED_UPDATES, timeout=25, drop_pending_updates=False
    )
    await application.start()
    await stop.wait()
    await updater.stop()
    await application.stop()
    await application.shutdown()


if __name__ == "__main__":
    asyncio.run(main())

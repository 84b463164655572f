"""An aiogram echo bot: the benchmark's baseline.

By default it is configured like Ponte's aiogram runtime: Ponte's own ``build_bot`` (HTML
parse mode, no link previews), ``build_dispatcher`` (no FSM) and the same polling
parameters. With ``--bare`` it is aiogram's ``Dispatcher()`` as built by default, with its
FSM and no limit on the updates handled at once. Either way it answers every text message
with the same text through ``sendMessage``, so the difference to Ponte is Ponte's own work
(and, against the bare bot, Ponte's configuration of aiogram).

Run by ``bench.telegram_throughput`` with ``TELEGRAM_BOT_TOKEN`` and ``TELEGRAM_API_BASE`` set;
stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import os
import signal

from aiogram import Dispatcher, Router
from aiogram.types import Message

from bot.channels.telegram.aiogram_runtime import build_bot, build_dispatcher
from bot.channels.telegram.bridge import ALLOWED_UPDATES, CONCURRENT_UPDATES


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--bare", action="store_true", help="aiogram's own dispatcher and FSM")
    bare = parser.parse_args().bare
    token, api_base = os.environ["TELEGRAM_BOT_TOKEN"], os.environ["TELEGRAM_API_BASE"]
    bot = build_bot(token, api_base)
    router = Router(name="echo")

    async def echo(message: Message) -> None:
        await bot.send_message(message.chat.id, html.escape(message.text or "?"))

    router.message.register(echo)
    dispatcher = Dispatcher() if bare else build_dispatcher()
    dispatcher.include_router(router)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    await bot.delete_webhook(drop_pending_updates=False)
    polling = asyncio.create_task(
        dispatcher.start_polling(
            bot,
            handle_signals=False,
            close_bot_session=False,
            allowed_updates=ALLOWED_UPDATES,
            polling_timeout=25,
            tasks_concurrency_limit=None if bare else CONCURRENT_UPDATES,
        )
    )
    await stop.wait()
    await dispatcher.stop_polling()
    await asyncio.wait([polling], timeout=10)
    await bot.session.close()


if __name__ == "__main__":
    asyncio.run(main())

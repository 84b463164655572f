"""A bare aiogram echo bot, configured like Ponte's aiogram runtime: the benchmark's baseline.

It uses Ponte's own ``build_bot`` (same session, HTML parse mode, no link previews) and the
same polling parameters as ``AiogramRuntime``, and answers every text message with the same
text through ``sendMessage``, so the difference to Ponte is Ponte's own work.

Run by ``bench.telegram_throughput`` with ``TELEGRAM_BOT_TOKEN`` and ``TELEGRAM_API_BASE`` set;
stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import html
import os
import signal

from aiogram import Dispatcher, Router
from aiogram.types import Message

from bot.channels.telegram.aiogram_runtime import build_bot
from bot.channels.telegram.bridge import ALLOWED_UPDATES


async def main() -> None:
    bot = build_bot(os.environ["TELEGRAM_BOT_TOKEN"], os.environ["TELEGRAM_API_BASE"])
    router = Router(name="echo")

    async def echo(message: Message) -> None:
        await bot.send_message(message.chat.id, html.escape(message.text or "?"))

    router.message.register(echo)
    dispatcher = Dispatcher()
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
        )
    )
    await stop.wait()
    await dispatcher.stop_polling()
    await asyncio.wait([polling], timeout=10)
    await bot.session.close()


if __name__ == "__main__":
    asyncio.run(main())

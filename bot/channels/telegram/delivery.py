"""Telegram as a channel for the sender: a reply becomes the Bot API calls that show it."""

from __future__ import annotations

from bot.channels.telegram.transport import Transport, reply_calls
from bot.channels.telegram.updates import CHANNEL
from bot.sending.delivery import TELEGRAM_LIMITS, ChannelLimits, Step
from handlers.kernel.replies import Reply


class TelegramChannel:
    """Delivers the outbox through a runtime's :class:`Transport`, at Telegram's pace."""

    name = CHANNEL
    limits: ChannelLimits = TELEGRAM_LIMITS

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def steps(self, chat_id: str, reply: Reply) -> list[Step]:
        """``sendMessage``/``sendDocument`` calls for ``reply``, in order."""
        return reply_calls(self.transport, int(chat_id), reply)

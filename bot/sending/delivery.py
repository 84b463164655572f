"""What the sender needs from a channel: how to show a reply in a chat, within which limits,
and which failures it may report.

A channel adapter (Telegram, the console, a future web chat) implements :class:`Channel`; the
sender (``bot.sending.sender``) owns the queue, the limits, retries and backoff, and is
written once for all of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from handlers.kernel.replies import Reply


class DeliveryError(Exception):
    """A channel could not show a message; the message is the channel's own description."""


class Blocked(DeliveryError):
    """The person cannot be reached any more (Telegram's 403: blocked bot, deleted account)."""


class RetryLater(DeliveryError):
    """The channel asks to slow down (Telegram's 429): try again after ``retry_after`` seconds."""

    def __init__(self, description: str, retry_after: float) -> None:
        super().__init__(description)
        self.retry_after = retry_after


class Transient(DeliveryError):
    """A server or network failure: the same step may succeed later."""


class MaybeDelivered(Transient):
    """No answer came (a time-out, a connection lost mid-request): the message may have
    arrived, so a message sent at most once is not sent again."""


class Rejected(DeliveryError):
    """The channel refused the message itself; sending it again will not help."""


Step = Callable[[], Awaitable[object]]
"""One call to the channel that shows part of a message, ready to make (and to make again)."""


@dataclass(frozen=True)
class ChannelLimits:
    """How fast a channel may be sent to: overall, and in one chat."""

    per_second: int
    """Messages a second over all chats."""
    per_chat_interval: float
    """Seconds between two messages to one chat."""


# Telegram allows about 30 messages a second in bulk and one a second in one chat; keep a margin.
TELEGRAM_LIMITS = ChannelLimits(per_second=25, per_chat_interval=1.0)
UNLIMITED = ChannelLimits(per_second=1_000_000, per_chat_interval=0.0)


class Channel(Protocol):
    """A channel the sender delivers to."""

    @property
    def name(self) -> str:
        """The channel's name, as participants and outbox rows record it."""
        ...

    @property
    def limits(self) -> ChannelLimits:
        """How fast this channel may be sent to."""
        ...

    def steps(self, chat_id: str, reply: Reply) -> list[Step]:
        """The calls that show ``reply`` as new messages in ``chat_id``, in order.

        Each step either succeeds or raises a :class:`DeliveryError` (or ``TimeoutError``);
        a message whose step failed is retried from that step, not from the first.
        """
        ...

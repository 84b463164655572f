"""The sender's pacing: a channel's send limits, and backoff for failed deliveries."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.sending.delivery import TELEGRAM_LIMITS, ChannelLimits
from storage.outbox import Priority

# The longest a 429 stops all sending in-line; the message that met it waits in full.
MAX_PAUSE = 2.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for failed deliveries, and when to give up."""

    max_attempts: int = 12
    base_delay: float = 5.0
    max_delay: float = 1800.0  # with the defaults, retries span about 1.7 hours
    max_retry_after: float = 86_400.0  # a 429's wait is obeyed up to a day

    def backoff(self, attempt: int) -> float:
        """Seconds before attempt ``attempt + 1``, jittered so failed chats spread out."""
        delay = min(self.base_delay * 2.0 ** (attempt - 1), self.max_delay)
        return delay * random.uniform(0.8, 1.2)


Monotonic = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]


# How far a stream may fall behind its beat (the event loop was busy) and still catch up with
# sends let out together; a longer gap is a pause, after which the beat starts again from now.
# At 30 a second this is less than one beat; at 1,000 a second, a busy loop's 20 ms are not lost.
CATCH_UP = 0.02


class RateLimiter:
    """A sliding one-second window overall plus a minimum interval per chat, by priority.

    Within the window, sends are spaced evenly (``1/per_second`` apart) rather than let out in
    a burst: the requests' own jitter on the way then cannot crowd more than ``per_second``
    into one of Telegram's seconds, and a waiter waits a fraction of that gap, not a second.

    Waiters are served in :class:`Priority` order and, within a priority, first come first
    served: a direct reply waiting for its turn goes before the broadcast parts already
    waiting. A reply (``Priority.REPLY``) is not held by its chat's interval (someone who just
    wrote is answered at once) nor by the spacing (it goes between two beats of a broadcast,
    which keeps its rhythm), and may fill the window up to one below ``ceiling``, the
    channel's own limit, when that is above ``per_second``; it counts in the window and
    starts the interval for whatever is queued for that chat. One limiter serves all of a channel's sending, the replies as well
    as the outbox.

    Turns are handed out by one dispatcher, at the moment the next send may go (a timer) or
    when a waiter arrives or leaves: a turn wakes only the waiter it is for, so a thousand
    sends a second with dozens waiting cost no more than with one.
    """

    def __init__(
        self,
        per_second: int,
        per_chat: float,
        *,
        monotonic: Monotonic = time.monotonic,
        sleep: Sleep | None = None,
        ceiling: int | None = None,
    ) -> None:
        self.per_second, self.per_chat = per_second, per_chat
        # Replies may use the room between the sending rate and the channel's own limit (25
        # and 30 on Telegram), less one for the requests' jitter: a reply then need not wait
        # for a second's sending to make way, even while a broadcast goes out at full rate.
        self._reply_room = max(per_second, (ceiling or 0) - 1)
        self._monotonic, self._sleep = monotonic, sleep
        self._recent: deque[float] = deque()  # when the sends of the last second went
        self._granted = 0  # turns handed out whose waiter has not gone yet
        self._by_chat: deque[tuple[float, str]] = deque()
        self._last_by_chat: dict[str, float] = {}
        self._paused_until = 0.0
        self._spacing = 1.0 / per_second
        self._catch_up = max(self._spacing, CATCH_UP)
        self._next_slot = -1e9  # the earliest moment of the next send, by the spacing
        # (priority, arrival) -> (chat, the future its turn resolves)
        self._waiting: dict[tuple[int, int], tuple[str, asyncio.Future[None]]] = {}
        self._arrivals = itertools.count()
        # The next dispatch: the event loop's own timer, or with an injected ``sleep`` (a
        # test's virtual time) a task sleeping until then.
        self._timer: asyncio.TimerHandle | asyncio.Task[None] | None = None
        self._timer_at = math.inf

    async def acquire(self, chat_id: str, priority: Priority = Priority.NOTICE) -> None:
        """Wait until one more message to ``chat_id`` keeps within both limits, and it is
        the turn of ``priority``."""
        ticket = (int(priority), next(self._arrivals))
        turn = asyncio.get_running_loop().create_future()
        self._waiting[ticket] = (chat_id, turn)
        self._dispatch()  # often grants the turn at once: awaiting it then does not yield
        went = False
        try:
            await turn
            went = True
        finally:
            if self._waiting.pop(ticket, None) is not None:
                self._dispatch()  # left before its turn (cancelled): the next may go now
            else:
                # Its turn came. The window counts the send from now, when it really goes:
                # a waiter the busy event loop resumes late must not let the next ones out
                # as if it had gone on time, or their requests reach Telegram crowded.
                self._granted -= 1
                if went:
                    self._recent.append(self._monotonic())

    def busy_chats(self) -> dict[str, float]:
        """Chats that must still wait before their next message, with the seconds left."""
        now = self._monotonic()
        self._prune(now)
        return {chat: last + self.per_chat - now for chat, last in self._last_by_chat.items()}

    def busy_chat_ids(self) -> set[str]:
        """The chats of :meth:`busy_chats`, without the seconds (cheaper: a thousand of them
        at 1,000 messages a second)."""
        self._prune(self._monotonic())
        return set(self._last_by_chat)

    def pause(self, seconds: float) -> None:
        """Hold every send for ``seconds`` (Telegram's flood control may be bot-wide)."""
        self._paused_until = max(self._paused_until, self._monotonic() + seconds)
        self._dispatch()

    def _dispatch(self) -> None:
        """Hand out every turn due now, then set the timer for the next one."""
        while self._waiting:
            now = self._monotonic()
            self._prune(now)
            if self._paused_until > now:
                self._arm(self._paused_until - now)
                return
            ticket, chat_held = None, math.inf
            for waiter, (chat, _turn) in self._waiting.items():
                held = self._chat_wait(chat, waiter[0], now)
                if held > 0:
                    chat_held = min(chat_held, held)
                elif ticket is None or waiter < ticket:
                    ticket = waiter
            if ticket is None:  # every waiter's chat must wait
                self._arm(chat_held)
                return
            window = self._window_wait(ticket[0], now)
            if window > 0:
                self._arm(min(window, chat_held))
                return
            chat, turn = self._waiting.pop(ticket)
            self._grant(chat, ticket[0], now)
            if not turn.done():  # not cancelled meanwhile
                turn.set_result(None)

    def _grant(self, chat_id: str, priority: int, now: float) -> None:
        self._granted += 1
        if priority != Priority.REPLY:
            # A stream keeps its beat: sends let out a little late (the event loop was busy)
            # do not push every later one back; after a pause, the beat starts from now.
            late = now - self._next_slot
            self._next_slot = now if late >= self._catch_up else self._next_slot
            self._next_slot += self._spacing
        self._by_chat.append((now, chat_id))
        self._last_by_chat[chat_id] = now

    def _arm(self, seconds: float) -> None:
        """Dispatch again in ``seconds`` (or sooner, if the timer is already set sooner)."""
        at = self._monotonic() + seconds
        if self._timer is not None:
            if self._timer_at <= at:
                return
            self._timer.cancel()
        self._timer_at = at
        if self._sleep is None:
            self._timer = asyncio.get_running_loop().call_later(seconds, self._fire)
        else:
            self._timer = asyncio.ensure_future(self._sleep_then_fire(self._sleep, seconds))

    def _fire(self) -> None:
        self._timer, self._timer_at = None, math.inf
        self._dispatch()

    async def _sleep_then_fire(self, sleep: Sleep, seconds: float) -> None:
        await sleep(seconds)
        self._fire()

    def _chat_wait(self, chat_id: str, priority: int, now: float) -> float:
        if priority == Priority.REPLY:
            return 0.0
        return self._last_by_chat.get(chat_id, -1e9) + self.per_chat - now

    def _window_wait(self, priority: int, now: float) -> float:
        if priority == Priority.REPLY:
            room, spaced = self._reply_room, 0.0
        else:
            room, spaced = self.per_second, self._next_slot - now
        room -= self._granted  # those about to go count as going now
        if len(self._recent) < room:
            return spaced
        if room <= 0:  # a second's worth about to go: look again in a moment
            return max(spaced, self._spacing)
        return max(spaced, self._recent[-room] + 1.0 - now)

    def _prune(self, now: float) -> None:
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        while self._by_chat and now - self._by_chat[0][0] >= self.per_chat:
            sent, chat = self._by_chat.popleft()
            if self._last_by_chat.get(chat) == sent:
                del self._last_by_chat[chat]


def limiter_for(
    limits: ChannelLimits = TELEGRAM_LIMITS,
    per_second: int | None = None,
    *,
    ceiling: int | None = None,
) -> RateLimiter:
    """A rate limiter that keeps within ``limits``, or ``per_second`` overall (the
    configured ``OUTBOUND_RATE``) with the channel's interval per chat; replies may use the
    room up to ``ceiling`` (the channel's own limit), less one."""
    return RateLimiter(per_second or limits.per_second, limits.per_chat_interval, ceiling=ceiling)

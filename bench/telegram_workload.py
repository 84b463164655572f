"""The Telegram benchmark's workload, and the matching of the bot's replies to its updates.

Used by ``bench/telegram_throughput.py`` (the phases and the command line) and by
``bench/core_turns.py`` (the same answers, without Telegram).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tests.fake_bot_api import ApiError, CallRecord, FakeBotApi, SimulatedUser

APOLOGY = "Sorry, something went wrong"


# --- the workload -------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One message a user sends, how many messages Ponte answers it with, and what the
    first of them must contain (the step Ponte should be at)."""

    text: str
    ponte_replies: int
    expect: str


SET_UP = (Step("/start", 2, "Welcome to Ponte"), Step("English", 1, "Step 2 of 16"))


def answers(n: int) -> list[Step]:
    """User number ``n``'s answers to the registration's text questions, from step 2."""
    return [
        Step(f"Anna Bianchi {n}", 1, "Step 3 of 16"),
        Step(f"Laboratorio Ponte {n} S.r.l.", 1, "Step 4 of 16"),
        Step("Startup", 1, "Step 5 of 16"),
        Step("Italy", 1, "Step 6 of 16"),
        Step("Milano", 1, "Step 7 of 16"),
        Step(f"anna.bianchi{n}@ponte-bench.example", 2, "Step 8 of 16"),
        Step(f"+39 06 1234 {n % 10_000:04d}", 2, "Thank you"),
        Step(f"lab{n}.ponte-bench.example", 1, "Step 10 of 16"),
        Step(
            "We design low-power sensors for precision agriculture and run field trials "
            "with farms in Lombardy and Emilia-Romagna.",
            1,
            "Step 11 of 16",
        ),
        Step("Sensor hardware, firmware and agronomic data analysis.", 1, "Step 12 of 16"),
        Step("Distribution partners and research collaborations in China.", 1, "Step 13 of 16"),
    ]


def script(n: int, index: int) -> Step:
    """The ``index``-th measured message of user ``n`` (toggles after the text questions)."""
    steps = answers(n)
    if index < len(steps):
        return steps[index]
    language = ("French", "German")[(index - len(steps)) % 2]
    return Step(language, 1, "Step 13 of 16")


# --- matching replies to updates ----------------------------------------------------------


@dataclass
class Ticket:
    """One update sent to the bot, waiting for its answer."""

    chat_id: int
    text: str
    replies: int
    expect: str | None
    sent: float
    first: float | None = None
    last: float | None = None
    received: int = 0


@dataclass
class Tracker:
    """Matches the bot's ``sendMessage`` calls to the updates that caused them.

    Ponte answers a user's updates one at a time, in order, so a chat's messages belong to
    its oldest unanswered update (and the first one is checked against the step expected).
    The echo bots may answer a user's updates out of order; their replies are matched by
    text.
    """

    echo: bool
    queues: dict[int, deque[Ticket]] = field(default_factory=dict)
    outstanding: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    polling: asyncio.Event = field(default_factory=asyncio.Event)
    messages: int = 0
    unexpected: int = 0
    wrong: int = 0
    apologies: int = 0
    failed_calls: int = 0

    def send(self, user: SimulatedUser, step: Step) -> Ticket:
        """Have ``user`` send ``step`` and expect its answer."""
        ticket = Ticket(
            chat_id=user.id,
            text=step.text,
            replies=1 if self.echo else step.ponte_replies,
            expect=None if self.echo else step.expect,
            sent=time.perf_counter(),
        )
        self.queues.setdefault(user.id, deque()).append(ticket)
        self.outstanding += 1
        self.idle.clear()
        user.send_text(step.text)
        return ticket

    def on_call(self, record: CallRecord, arrived: float) -> None:
        """Called by the server for every Bot API call it has answered."""
        if record.method == "getUpdates":
            return
        if record.status != 200:
            self.failed_calls += 1
            return
        if record.method != "sendMessage":
            return
        result = record.result
        chat_id, text = int(result["chat"]["id"]), str(result.get("text", ""))
        self.messages += 1
        if text.startswith(APOLOGY):
            self.apologies += 1
        queue = self.queues.get(chat_id)
        ticket = self._match(queue, text) if queue else None
        if queue is None or ticket is None:
            self.unexpected += 1
            return
        if ticket.received == 0:
            ticket.first = arrived
            if ticket.expect is not None and ticket.expect not in text:
                self.wrong += 1
        ticket.received += 1
        ticket.last = arrived
        if ticket.received == ticket.replies:
            queue.remove(ticket)
            self.outstanding -= 1
            if self.outstanding == 0:
                self.idle.set()

    def _match(self, queue: deque[Ticket], text: str) -> Ticket | None:
        if not self.echo:
            return queue[0]
        return next((t for t in queue if t.text == text), None)


class BenchBotApi(FakeBotApi):
    """The fake server, reporting each call (and the moment it arrived) to a tracker."""

    def __init__(self, tracker: Tracker) -> None:
        super().__init__()
        self.tracker = tracker

    async def execute(
        self,
        method: str,
        raw: dict[str, Any],
        *,
        http_method: str = "POST",
        via: str = "http",
        encoding: str = "",
    ) -> tuple[CallRecord, ApiError | None]:
        arrived = time.perf_counter()
        if method.lower() == "getupdates":
            self.tracker.polling.set()
        record, error = await super().execute(
            method, raw, http_method=http_method, via=via, encoding=encoding
        )
        self.tracker.on_call(record, arrived)
        return record, error

"""What the console channel stands on: input that never holds up an exit, and the numbered
choices on screen kept in the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Sequence
from typing import TextIO

from handlers.core import Core
from handlers.kernel.replies import Button
from storage.db import is_transient_conflict, transaction_gate
from storage.models import ConversationState
from storage.repositories import ParticipantRepository

log = logging.getLogger(__name__)

CHANNEL = "console"
CONTACT_CHOICE = "\x00contact"  # marks the "share my phone" choice; never sent to the core
CHOICES_KEY = "console_choices"
"""Conversation-state key of the numbered choices on screen (their payloads; ``None`` for
the share-my-phone choice), so that a console opened with ``--no-start`` still knows them."""
MEMORY_ATTEMPTS = 3


class LineReader:
    """Lines of a text stream, each read on a daemon thread.

    ``asyncio.to_thread`` would read on the loop's executor, which the interpreter waits
    for at exit: Ctrl-C would then hang until the user pressed Enter. A daemon thread left
    blocked in ``readline`` is simply dropped when the program ends.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    async def readline(self) -> str:
        """The next line with its line ending; ``""`` at the end of input."""
        loop = asyncio.get_running_loop()
        line: asyncio.Future[str] = loop.create_future()

        def settle(text: str | None, error: BaseException | None) -> None:
            if line.done():  # cancelled: nobody waits for it any more
                return
            if error is not None:
                line.set_exception(error)
            else:
                line.set_result(text or "")

        def read() -> None:
            text, error = None, None
            try:
                text = self.stream.readline()
            except Exception as exc:  # a closed or undecodable stream
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop closed while this thread read
                loop.call_soon_threadsafe(settle, text, error)

        threading.Thread(target=read, name="console-input", daemon=True).start()
        return await line


class ChoiceMemory:
    """The numbered choices on screen, kept in the user's conversation state.

    A console opened again with ``--no-start`` shows no new screen, so "2" must still mean
    the second choice of the last one, as an old message's buttons still work on Telegram.
    Only payloads are kept, not labels: a label may name another participant, and what is
    kept in one person's state must not outlive another's erasure. Every payload is
    checked again by the core when pressed, so an outdated one is answered as stale.
    """

    def __init__(self, core: Core, user: str) -> None:
        self.core, self.user = core, user

    async def recall(self) -> list[Button]:
        """The choices kept for the user (none for a user never seen or never shown any)."""
        async with self.core.sessions() as session:
            participant = await ParticipantRepository(session).find(CHANNEL, self.user)
            state = None
            if participant is not None:
                state = await session.get(ConversationState, participant.id)
            kept = state.data.get(CHOICES_KEY) if state is not None else None
        if not isinstance(kept, list):
            return []
        try:
            choices = [Button("", CONTACT_CHOICE if p is None else str(p)) for p in kept]
        except ValueError:  # not what keep() wrote: better no numbers than wrong ones
            return []
        return choices

    async def keep(self, choices: Sequence[Button]) -> None:
        """Store ``choices`` as the user's screen.

        Always read back first, never skipped for a screen like the last one: the core's
        turn in between may have replaced the state's data (a flow's step starts afresh).
        """
        wanted = [None if b.payload == CONTACT_CHOICE else b.payload for b in choices]
        for attempt in range(1, MEMORY_ATTEMPTS + 1):
            try:
                await self._store(wanted)
            except Exception as exc:
                if attempt < MEMORY_ATTEMPTS and is_transient_conflict(exc):
                    continue
                # Losing it costs a future --no-start its numbers, not the conversation.
                log.warning("could not keep the console's choices for %s: %r", self.user, exc)
                return
            return

    async def _store(self, wanted: list[str | None]) -> None:
        gate = transaction_gate(self.core.sessions)
        async with gate, self.core.sessions() as session, session.begin():
            people = ParticipantRepository(session)
            # Row-locked as the core locks it, so no turn of this user's runs meanwhile.
            participant = await people.find(CHANNEL, self.user, lock=True)
            if participant is None:  # erased, or never created
                return
            state = await people.state_of(participant, self.core.clock())
            data = {key: value for key, value in state.data.items() if key != CHOICES_KEY}
            if wanted:
                data[CHOICES_KEY] = wanted
            if data != state.data:
                state.data = data

"""The console channel: chat with Ponte in a terminal, or script it through a pipe.

Buttons are shown as numbered choices and chosen by number or by label; documents are
saved to a folder. Conversation output goes to stdout, the channel's own notes to stderr.
It behaves as a terminal program should: Ctrl-C leaves at once, Ctrl-D (the end of input)
leaves the shell's prompt on a line of its own, and Enter on an empty line shows the
messages waiting (📬) without sending anything.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bot.channels.console_support import (
    CHANNEL,
    CONTACT_CHOICE,
    ChoiceMemory,
    LineReader,
)
from bot.scheduler import send_due
from bot.sending.delivery import UNLIMITED, ChannelLimits, Step
from bot.sending.sender import OutboundSender
from handlers.core import Core
from handlers.kernel.incoming import ButtonPress, ContactShared, Incoming, Sender, parse_text
from handlers.kernel.markup import to_plain_text
from handlers.kernel.replies import Button, Reply, Response
from handlers.kernel.validation import parse_id


class ConsoleChannel:
    """One console user talking to the core."""

    def __init__(
        self,
        core: Core,
        *,
        user: str,
        language_hint: str | None,
        stdin: TextIO = sys.stdin,
        stdout: TextIO = sys.stdout,
        save_dir: Path = Path("."),
    ) -> None:
        self.core = core
        self.sender = Sender(
            channel=CHANNEL,
            user_id=user,
            chat_id=user,
            language_hint=language_hint,
            display_name=user,
        )
        self.stdin, self.stdout, self.save_dir = stdin, stdout, save_dir
        self.interactive = stdin.isatty()
        self.choices: list[Button] = []
        self.outbox = OutboundSender(core, _Inbox(self))
        self.memory = ChoiceMemory(core, user)
        self._lines = LineReader(stdin)
        self._mid_line = False  # the cursor is after the prompt, not at a line's start

    async def run(self, *, send_start: bool = True) -> int:
        """Chat until end of input (Ctrl-D, or the end of a piped script); returns 0.

        Without ``send_start`` the numbered choices of the screen the user saw last are
        still valid. Ctrl-C cancels the task running this: the line is ended and the
        cancellation goes on (the command then exits with 130).
        """
        try:
            await self._due_now()
            if send_start:
                await self._send(parse_text(self.sender, "/start"))
            else:
                self.choices = await self.memory.recall()
                await self._deliver_inbox()
            while True:
                line = await self._read_line()
                if line is None:
                    return 0
                await self._due_now()
                if not line.strip():
                    # As on Telegram, where an empty message cannot be sent: nothing goes to
                    # the core, and Enter just shows what other people's actions queued.
                    await self._deliver_inbox()
                    continue
                incoming = await self._interpret(line)
                if incoming is not None:
                    await self._send(incoming)
        finally:
            self._end_line()

    async def _due_now(self) -> None:
        """What fell due by now: lapsed requests, reminders (the console has no scheduler
        running between two lines; the database says what is due)."""
        await self.core.run_maintenance()
        await send_due(self.core)

    async def _deliver_inbox(self) -> None:
        """Show what other people's actions queued for this user (requests, confirmations),
        through the same sender as every channel's."""
        if await self.outbox.deliver_due(self.sender.chat_id):
            await self.memory.keep(self.choices)

    async def _read_line(self) -> str | None:
        if self.interactive:
            self._write(f"{self.sender.user_id} ▸ ", end="")
        line = await self._lines.readline()
        if line.endswith("\n"):
            self._mid_line = False  # the terminal echoed the user's Enter; Ctrl-D echoes none
        if not line:
            return None
        line = line.rstrip("\r\n")
        if not self.interactive:
            self._write(f"{self.sender.user_id} ▸ {line}")
        return line

    async def _interpret(self, line: str) -> Incoming | None:
        choice = self._match_choice(line)
        if choice is None:
            return parse_text(self.sender, line)
        if choice.payload == CONTACT_CHOICE:
            phone = await self._read_line()
            if phone is None:
                return None
            return ContactShared(self.sender, phone=phone, contact_user_id=self.sender.user_id)
        return ButtonPress(self.sender, choice.payload)

    def _match_choice(self, line: str) -> Button | None:
        text = line.strip()
        number = parse_id(text)
        if number is not None and 1 <= number <= len(self.choices):
            return self.choices[number - 1]
        wanted = text.casefold()
        if not wanted:
            return None
        for button in self.choices:
            if wanted in _label_forms(button.label):
                return button
        return None

    async def _send(self, incoming: Incoming) -> None:
        response = await self.core.handle(incoming)
        self._render(response)
        await self.memory.keep(self.choices)
        await self._deliver_inbox()

    def _render(self, response: Response, *, inbox: bool = False) -> None:
        if response.notice and response.notice.text and not response.replies:
            self._write(f"  ({response.notice.text})")
        choices: list[Button] = []
        first = len(self.choices) + 1 if inbox else 1
        for reply in response.replies:
            choices += self._render_reply(reply, first_number=first + len(choices), inbox=inbox)
        # Numbers refer to the choices on screen since the user last typed: the latest
        # answer, and any messages from other people delivered after it.
        self.choices = [*self.choices, *choices] if inbox else choices

    def _render_reply(
        self, reply: Reply, first_number: int, *, inbox: bool = False
    ) -> list[Button]:
        self._write("")
        prefix = "Ponte 📬" if inbox else "Ponte ▸"
        for line in to_plain_text(reply.text).splitlines() or [""]:
            self._write(f"{prefix} {line}" if line else prefix)
        if reply.document is not None:
            self._save(reply.document.filename, reply.document.content)
        buttons = reply.all_buttons()
        if reply.contact_button:
            buttons.append(Button(reply.contact_button, CONTACT_CHOICE))
        self._show_choices(buttons, first_number)
        return buttons

    def _show_choices(self, buttons: Sequence[Button], first_number: int) -> None:
        for number, button in enumerate(buttons, start=first_number):
            self._write(f"   [{number}] {button.label}")

    def _save(self, filename: str, content: bytes) -> None:
        self.save_dir.mkdir(parents=True, exist_ok=True)
        target = self.save_dir / f"{self.sender.user_id}-{Path(filename).name}"
        target.write_bytes(content)
        self._write(f"   📎 {target}")

    def _write(self, text: str, end: str = "\n") -> None:
        self.stdout.write(text + end)
        self.stdout.flush()
        self._mid_line = not end.endswith("\n")

    def _end_line(self) -> None:
        """Leave the cursor at the start of a line, so the shell's prompt gets one of its own
        (Ctrl-D and Ctrl-C at the prompt end no line themselves)."""
        if self._mid_line:
            with contextlib.suppress(OSError, ValueError):  # stdout may be gone by now
                self._write("")


class _Inbox:
    """The console as a channel for the sender: messages are shown, marked 📬, at once."""

    name = CHANNEL
    limits: ChannelLimits = UNLIMITED

    def __init__(self, console: ConsoleChannel) -> None:
        self.console = console

    def steps(self, chat_id: str, reply: Reply) -> list[Step]:
        async def show() -> None:
            self.console._render(Response(replies=[reply]), inbox=True)

        return [show]


def _label_forms(label: str) -> set[str]:
    """Ways to type a button's label: as shown, without the toggle mark, without a count."""
    label = label.casefold()
    bare = label.removeprefix("✅ ").removeprefix("⬜ ").removeprefix("« ").removesuffix(" »")
    head = re.split(r"\s*[(（]", bare, maxsplit=1)[0]
    return {label, bare, head.strip()}

"""The console as a terminal program: Ctrl-C, Ctrl-D, Enter on an empty line, ``--no-start``.

In-process tests drive :class:`ConsoleChannel` with scripted input; the keys themselves are
tested on a real ``python -m bot console`` child, on a pseudo-terminal (as a person types)
and on pipes (as a script does).
"""

from __future__ import annotations

import asyncio
import io
import os
import queue
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select as sql_select

from bot.app import App
from bot.channels.console import ConsoleChannel
from bot.channels.console_support import CHOICES_KEY
from storage.event_models import Meeting
from storage.models import ConversationState, Participant
from tests.chat import Chat
from tests.events_support import Clock, Someone, add_people, make_event
from tests.test_console import run_console

PROMPT = "▸ "
EXIT_WAIT = 10.0  # seconds a child may take to leave; it takes well under one


class Terminal(io.StringIO):
    """Input typed at a terminal (the console then shows a prompt and echoes nothing)."""

    def isatty(self) -> bool:
        return True


class Keyboard:
    """Input typed while the console runs: lines are handed over one at a time.

    ``readline`` runs on the console's input thread; :meth:`until_waiting` returns once the
    console is waiting for the next line, so what the test does then happens "meanwhile".
    """

    def __init__(self) -> None:
        self._lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._waiting = threading.Semaphore(0)

    def isatty(self) -> bool:
        return False

    def readline(self) -> str:
        self._waiting.release()
        return self._lines.get(timeout=60)

    def type(self, line: str) -> None:
        self._lines.put(f"{line}\n")

    def end(self) -> None:
        self._lines.put("")  # Ctrl-D

    async def until_waiting(self) -> None:
        assert await asyncio.to_thread(self._waiting.acquire, timeout=60), "console stuck"


def console(app: App, user: str, stdin: Any, stdout: io.StringIO, tmp_path: Path) -> ConsoleChannel:
    return ConsoleChannel(
        app.core, user=user, language_hint="en", stdin=stdin, stdout=stdout, save_dir=tmp_path
    )


async def state_data(app: App, user: str) -> dict[str, Any]:
    async with app.sessions() as session:
        state = await session.scalar(
            sql_select(ConversationState)
            .join(Participant)
            .where(Participant.channel == "console", Participant.external_id == user)
        )
    assert state is not None
    return dict(state.data)


async def test_enter_on_an_empty_line_shows_waiting_messages_and_nothing_else(
    app: App, clock: Clock, tmp_path: Path
) -> None:
    event = await make_event(app.sessions)
    ids = await add_people(
        app.sessions,
        event,
        [Someone("maria", "Maria Rossi", "IT", channel="console"),
         Someone("wang", "Wang Wei", "CN", channel="console")],
    )  # fmt: skip
    keyboard, screen = Keyboard(), io.StringIO()
    wang = asyncio.create_task(
        console(app, "wang", keyboard, screen, tmp_path).run(send_start=False)
    )
    await keyboard.until_waiting()
    keyboard.type("")
    keyboard.type("   ")
    await keyboard.until_waiting()
    await keyboard.until_waiting()
    # Nothing waits: the empty lines are echoed and nothing else is said.
    assert screen.getvalue() == "wang ▸ \nwang ▸    \n"

    # Meanwhile Maria, in another console, asks Wang for a meeting.
    maria = Chat(app.core, user="maria", lang="it", channel="console")
    await maria.press_payload(f"rqn|{ids['wang']}|{event}")
    await maria.say("Parliamo di batterie al sodio.")
    assert "Parliamo di batterie" not in screen.getvalue(), "shown only when Wang asks"

    keyboard.type("")
    await keyboard.until_waiting()
    shown = screen.getvalue().split("wang ▸    \n", 1)[1]
    assert shown.startswith("wang ▸ \n\nPonte 📬 "), shown
    assert "Maria Rossi" in shown and "Parliamo di batterie al sodio." in shown
    accept = next(line for line in shown.splitlines() if "Accept" in line)
    number = accept.split("]")[0].strip(" [")
    keyboard.type("")  # again: the message was delivered once, nothing more to show
    await keyboard.until_waiting()
    assert screen.getvalue().count("Parliamo di batterie al sodio.") == 1
    keyboard.end()
    assert await wang == 0
    assert screen.getvalue().endswith("wang ▸ \n")

    # Wang closes the console and opens it again without /start: the numbers of the
    # invitation he saw last still pick its buttons.
    again = io.StringIO()
    reopened = console(app, "wang", io.StringIO(f"{number}\n"), again, tmp_path)
    assert await reopened.run(send_start=False) == 0
    async with app.sessions() as session:
        meeting = await session.scalar(sql_select(Meeting))
    assert meeting is not None and meeting.status == "scheduled", again.getvalue()


async def test_no_start_remembers_the_numbered_choices_of_the_last_screen(
    app: App, tmp_path: Path
) -> None:
    first = io.StringIO()
    assert await console(app, "anna", io.StringIO(""), first, tmp_path).run() == 0
    assert "[2] English" in first.getvalue()
    kept = (await state_data(app, "anna"))[CHOICES_KEY]
    assert len(kept) == 3 and all(isinstance(payload, str) for payload in kept)
    assert not any("English" in payload for payload in kept), "payloads only, no labels"

    # A new console (nothing in memory), as a new process would be: "2" is still English.
    second = io.StringIO()
    channel = ConsoleChannel(
        app.core, user="anna", language_hint="it", stdin=io.StringIO("2\n"), stdout=second,
        save_dir=tmp_path,
    )  # fmt: skip
    assert await channel.run(send_start=False) == 0
    async with app.sessions() as session:
        anna = await session.scalar(
            sql_select(Participant).where(Participant.external_id == "anna")
        )
    assert anna is not None and anna.locale == "en", second.getvalue()
    assert "What is your full name?" in second.getvalue()
    assert (await state_data(app, "anna"))[CHOICES_KEY] != kept, "the name step's own"

    # A screen without choices leaves none to remember: "1" is then just text.
    typed = io.StringIO("/cancel\n")
    assert await console(app, "anna", typed, io.StringIO(), tmp_path).run(send_start=False) == 0
    assert CHOICES_KEY not in await state_data(app, "anna")
    fourth = io.StringIO()
    assert (
        await console(app, "anna", io.StringIO("1\n"), fourth, tmp_path).run(send_start=False) == 0
    )
    # Typed text resumes the paused registration; the Back of before would have gone back.
    assert "continue where you left off" in fourth.getvalue(), fourth.getvalue()
    assert "Step 2 of 16" in fourth.getvalue() and "Step 1 of 16" not in fourth.getvalue()


async def test_the_same_screen_again_is_kept_again(app: App, tmp_path: Path) -> None:
    """A turn may replace the state's data even when the screen it shows is the same."""
    keyboard = Keyboard()
    channel = console(app, "anna", keyboard, io.StringIO(), tmp_path)
    running = asyncio.create_task(channel.run())
    await keyboard.until_waiting()
    kept = (await state_data(app, "anna"))[CHOICES_KEY]
    async with app.sessions() as session, session.begin():
        state = await session.scalar(sql_select(ConversationState))
        assert state is not None
        state.data = {}  # as a flow's step starting afresh does
    keyboard.type("no such language")  # the same question again, with the same choices
    await keyboard.until_waiting()
    keyboard.end()
    assert await running == 0
    assert (await state_data(app, "anna"))[CHOICES_KEY] == kept


async def test_a_user_never_seen_has_no_choices_and_is_not_created(
    app: App, tmp_path: Path
) -> None:
    channel = console(app, "nobody", io.StringIO(""), io.StringIO(), tmp_path)
    assert await channel.run(send_start=False) == 0
    assert channel.choices == []
    async with app.sessions() as session:
        assert await session.scalar(sql_select(Participant)) is None


@pytest.mark.parametrize("stdin", [Terminal, io.StringIO], ids=["terminal", "pipe"])
async def test_end_of_input_leaves_the_cursor_on_a_new_line(
    app: App, tmp_path: Path, stdin: type[io.StringIO]
) -> None:
    screen = io.StringIO()
    assert await console(app, "eve", stdin(""), screen, tmp_path).run() == 0
    # At a terminal the prompt is ended; from a pipe no prompt is shown at all.
    ending = "[3] 中文\neve ▸ \n" if stdin is Terminal else "[3] 中文\n"
    assert screen.getvalue().endswith(ending), screen.getvalue()[-100:]


# --- the real program, on a terminal and on pipes ------------------------------------------


@pytest.fixture(autouse=True)
def interruptible_children() -> Iterator[None]:
    """Let the consoles started here be interrupted, however pytest itself was started.

    A background job of a non-interactive shell (``nohup pytest &``, a CI runner's) starts
    with SIGINT ignored, and an ignored signal stays ignored across ``exec``: every console
    would then shrug off Ctrl-C, as it should, and these tests would wait in vain. A handled
    signal is reset to the default in a child, as a terminal starts it.
    """
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def console_environment(tmp_path: Path) -> dict[str, str]:
    environment = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'console.db'}"}
    environment.pop("TELEGRAM_BOT_TOKEN", None)
    return environment


class PseudoTerminal:
    """``python -m bot console`` with a pseudo-terminal as its stdin and stdout."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        import pty  # POSIX only: the module is imported where it is needed

        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "console", *args],
            stdin=slave, stdout=slave, stderr=subprocess.PIPE,
            cwd=tmp_path, env=console_environment(tmp_path),
        )  # fmt: skip
        os.close(slave)
        self.output = b""

    def read_until(self, marker: bytes, seconds: float = 60.0) -> None:
        """Read the terminal until ``marker`` appears (or the child closes it)."""
        deadline = time.monotonic() + seconds
        while marker not in self.output and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], deadline - time.monotonic())
            if not ready:
                break
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            self.output += chunk
        assert marker in self.output, self.output[-500:]

    def exit_code(self) -> int:
        try:
            return self.process.wait(timeout=EXIT_WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"still running {EXIT_WAIT} s later: {self.output[-300:]!r}")

    def finish(self) -> str:
        """Everything still on the terminal, once the child has gone, and its stderr."""
        with_rest = self.output
        while select.select([self.master], [], [], 0)[0]:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                break
            if not chunk:
                break
            with_rest += chunk
        self.output = with_rest
        os.close(self.master)
        assert self.process.stderr is not None
        return self.process.stderr.read().decode()


PROMPT_BYTES = f"anna {PROMPT}".encode()
pty_only = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")


@pty_only
def test_ctrl_c_at_the_prompt_leaves_at_once_on_a_line_of_its_own(tmp_path: Path) -> None:
    terminal = PseudoTerminal(tmp_path, "--user", "anna", "--lang", "en")
    terminal.read_until(PROMPT_BYTES)
    terminal.process.send_signal(signal.SIGINT)  # what the terminal sends for Ctrl-C
    code = terminal.exit_code()
    stderr = terminal.finish()
    assert code == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert terminal.output.endswith(PROMPT_BYTES + b"\r\n"), terminal.output[-100:]


@pty_only
def test_enter_on_an_empty_line_sends_nothing_and_ctrl_d_ends_the_line(tmp_path: Path) -> None:
    terminal = PseudoTerminal(tmp_path, "--user", "anna", "--lang", "en")
    terminal.read_until(PROMPT_BYTES)
    os.write(terminal.master, b"\n")
    terminal.read_until(PROMPT_BYTES + b"\r\n" + PROMPT_BYTES)  # the prompt again, no answer
    os.write(terminal.master, b"\x04")  # Ctrl-D on an empty line: the end of input
    code = terminal.exit_code()
    stderr = terminal.finish()
    assert code == 0, stderr
    assert terminal.output.endswith(PROMPT_BYTES + b"\r\n" + PROMPT_BYTES + b"\r\n"), (
        terminal.output[-100:]
    )


@pty_only
async def test_ctrl_c_leaves_at_once_when_input_is_a_pipe(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "console", "--user", "anna", "--lang", "en",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, cwd=tmp_path, env=console_environment(tmp_path),
    )  # fmt: skip
    assert process.stdout is not None and process.stdin is not None
    try:
        seen = await asyncio.wait_for(process.stdout.readuntil("[3] 中文\n".encode()), 60)
        process.send_signal(signal.SIGINT)
        # Input stays open (communicate() would close it, an end of input of its own).
        await asyncio.wait_for(process.wait(), EXIT_WAIT)
        rest = await process.stdout.read()
        assert process.stderr is not None
        stderr = await process.stderr.read()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 130, stderr.decode()
    assert "Traceback" not in stderr.decode()
    assert (seen + rest).endswith(b"\n")


def test_reopening_with_no_start_keeps_the_numbers_of_the_last_screen(tmp_path: Path) -> None:
    first = run_console(tmp_path, "anna", [], "it")
    assert first.returncode == 0 and "[2] English" in first.stdout, first.stderr
    second = run_console(tmp_path, "anna", ["2"], "it", "--no-start")
    assert second.returncode == 0, second.stderr
    assert "What is your full name?" in second.stdout, second.stdout
    with sqlite3.connect(tmp_path / "console.db") as db:
        row = db.execute("SELECT locale FROM participants WHERE external_id = 'anna'").fetchone()
    assert row == ("en",)

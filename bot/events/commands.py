"""``ponte events …``: import, list, export events and make their QR codes; the demo event."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import App, prepare_database
from bot.clock import system_clock
from bot.config import Settings
from bot.events.attendance import print_attendance
from bot.events.demo import DEMO_CODE, redate_demo, seed_demo
from bot.events.files import (
    EventFileError,
    UnknownEventError,
    export_event,
    import_event,
    list_events,
    read_event_file,
    write_event_yaml,
)
from bot.events.links import deep_link, write_qr_png
from handlers.kernel.i18n import negotiate_locale, translator
from storage.db import create_engine, create_sessionmaker
from storage.event_models import Event


class Subcommands(Protocol):
    """What ``ArgumentParser.add_subparsers()`` returns, as far as this module uses it (its
    class is private to argparse)."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...


class CommandError(Exception):
    """A mistake by the person typing the command: printed as one line, exit status 2."""


def add_events_parser(commands: Subcommands) -> None:
    """Add ``ponte events`` and its subcommands to the top-level parser."""
    events = commands.add_parser("events", help="import, list and export events; QR codes")
    actions = events.add_subparsers(dest="events_command", required=True)
    imported = actions.add_parser(
        "import", help="create or update an event from a YAML or CSV file (docs/events.md)"
    )
    imported.add_argument("file", type=Path, help="the event file (.yaml, .yml or .csv)")
    actions.add_parser("list", help="list events with their slots, places and participants")
    exported = actions.add_parser("export", help="write an event as a YAML event file")
    exported.add_argument("code", help="the event's code")
    exported.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")
    qr = actions.add_parser("qr", help="write a PNG QR code of the event's registration link")
    qr.add_argument("code", help="the event's code")
    qr.add_argument("--output", "-o", type=Path, help="PNG file to write (default: CODE.png)")
    qr.add_argument("--username", help="the bot's @username (default: BOT_USERNAME)")
    attendance = actions.add_parser(
        "attendance", help="who confirmed each meeting, and the event's reminders"
    )
    attendance.add_argument("code", help="the event's code")


async def run_events(settings: Settings, args: argparse.Namespace) -> int:
    """Run one ``ponte events`` subcommand; user mistakes print one line and return 2."""
    engine = create_engine(settings.database_url)
    try:
        await prepare_database(engine, settings)
        sessions = create_sessionmaker(engine)
        action = args.events_command
        if action == "import":
            return await _import(sessions, args.file)
        if action == "list":
            return await _list(sessions)
        if action == "export":
            return await _export(sessions, args.code, args.output)
        if action == "attendance":
            return await print_attendance(sessions, args.code)
        return await _qr(sessions, settings, args.code, args.output, args.username)
    except (EventFileError, UnknownEventError, CommandError) as exc:
        print(f"ponte: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"ponte: {exc}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()


async def _import(sessions: async_sessionmaker[AsyncSession], file: Path) -> int:
    spec = await asyncio.to_thread(read_event_file, file)
    try:
        async with sessions() as session, session.begin():
            result = await import_event(session, spec, system_clock())
    except IntegrityError as exc:
        # The database refused the change as a whole (nothing was imported): most often a
        # slot moved or lengthened onto a time when one of its people has another meeting.
        raise CommandError(
            f"{file}: the database refused this import, so nothing was changed. A slot that "
            "already holds meetings probably now overlaps another meeting of the same person; "
            f"keep booked slots' times, or cancel those meetings first. ({exc.orig})"
        ) from exc
    print(result.summary())
    print(f"participants join with: /start {spec.code}  (ponte events qr {spec.code})")
    return 0


async def _list(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        events = await list_events(session)
    if not events:
        print("no events yet; add one with: ponte events import FILE")
        return 0
    header = ("code", "mode", "dates", "time zone", "slots", "places", "people", "name")
    rows = [
        (
            e.code,
            e.mode,
            f"{e.starts_on.isoformat()}…{e.ends_on.isoformat()}",
            e.time_zone,
            str(e.slots),
            str(e.places),
            str(e.participants),
            e.name,
        )
        for e in events
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]
    for row in (header, *rows):
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]
        )
    return 0


async def _export(
    sessions: async_sessionmaker[AsyncSession], code: str, output: Path | None
) -> int:
    async with sessions() as session:
        spec = await export_event(session, code)
    text = write_event_yaml(spec)
    if output is None:
        sys.stdout.write(text)
    else:
        await asyncio.to_thread(output.write_text, text, encoding="utf-8")
        print(f"event {code} written to {output}")
    return 0


async def _qr(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    code: str,
    output: Path | None,
    username: str | None,
) -> int:
    username = username or settings.bot_username
    if not username:
        raise CommandError(
            "the bot's username is unknown: set BOT_USERNAME (the @username BotFather gave "
            "your bot) or pass --username"
        )
    async with sessions() as session:
        if await session.scalar(select(Event.id).where(Event.code == code)) is None:
            raise UnknownEventError(code)
    try:
        link = deep_link(username, code)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    path = await asyncio.to_thread(write_qr_png, link, output or Path(f"{code}.png"))
    print(f"{path}: QR code of {link}")
    return 0


async def offer_demo(app: App, language_hint: str | None = None) -> None:
    """Seed the demo event into an empty database, or move it forward once it has gone
    stale (by the app's clock); tell (on stderr) how to join it."""
    now = app.clock()
    try:
        async with app.sessions() as session, session.begin():
            await seed_demo(session, now.astimezone(UTC).date())
    except IntegrityError:  # another process seeded it at the same moment
        pass
    async with app.sessions() as session, session.begin():
        await redate_demo(session, now)
    async with app.sessions() as session:
        exists = await session.scalar(select(Event.id).where(Event.code == DEMO_CODE))
    if exists is not None:
        t = translator(negotiate_locale(language_hint))
        hint = t.gettext("Demo event: type /start {code} to join it.").format(code=DEMO_CODE)
        print(hint, file=sys.stderr)

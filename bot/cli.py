"""The ``ponte`` command (also ``python -m bot``)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot.app import build_app
from bot.channels.telegram.runtime import StartFailed
from bot.clock import system_clock, travelling_clock
from bot.config import ConfigError, Settings, load_settings
from bot.events.commands import add_events_parser, offer_demo, run_events
from bot.organiser.broadcast_cli import add_broadcast_parser
from bot.organiser.commands import add_organiser_parsers
from storage import migrate
from storage.db import create_engine

log = logging.getLogger("ponte")


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="ponte",
        description="Ponte: trilingual matchmaking assistant for Italy–China science and technology.",
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser(
        "run", help="run the bot: Telegram when TELEGRAM_BOT_TOKEN is set, else the console"
    )
    console = commands.add_parser("console", help="chat with Ponte in this terminal")
    add_console_options(console)
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply pending migrations")
    db_commands.add_parser("current", help="show the database's migration revision")
    add_events_parser(commands)
    add_organiser_parsers(commands)
    add_broadcast_parser(commands)
    return parser


def add_console_options(parser: argparse.ArgumentParser) -> None:
    """Options of the console channel."""
    parser.add_argument(
        "--user",
        default=os.environ.get("PONTE_CONSOLE_USER", "console"),
        help="who you are (play several users with different names; default: console)",
    )
    parser.add_argument(
        "--lang",
        default=None,
        help="language code your 'client' reports, as Telegram would (it, en, zh-hans…)",
    )
    parser.add_argument(
        "--no-start", action="store_true", help="do not send /start when the console opens"
    )
    parser.add_argument(
        "--at",
        type=_instant,
        default=None,
        metavar="'YYYY-MM-DD HH:MM[+HH:MM]'",
        help="demo: run Ponte's clock from this moment (UTC unless an offset is given), "
        "to live through reminders without waiting for them",
    )
    parser.add_argument(
        "--save-dir",
        type=Path,
        default=Path("."),
        help="where documents such as /mydata are saved (default: current folder)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ponte`` console script."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"ponte: {exc}", file=sys.stderr)
        return 1  # like every start-up error; 2 is for a mistaken command line or input file
    command = args.command or "run"
    run = getattr(args, "run", None)  # a subcommand that brings its own coroutine
    quiet = (
        command in ("console", "events")
        or run is not None
        or (command == "run" and not settings.telegram_bot_token)
    )
    logging.basicConfig(
        level=logging.WARNING if quiet else settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        if command == "db":
            return asyncio.run(_db(settings, args.db_command))
        if command == "events":
            return asyncio.run(run_events(settings, args))
        if run is not None:
            return int(asyncio.run(run(settings, args)))
        if command == "console" or not settings.telegram_bot_token:
            if command != "console":
                args = build_parser().parse_args(["console"])
            return asyncio.run(_console(settings, args))
        return asyncio.run(_telegram(settings))
    except StartFailed as exc:
        print(f"ponte: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


async def _db(settings: Settings, action: str) -> int:
    engine = create_engine(settings.database_url)
    try:
        if action == "upgrade":
            await migrate.upgrade(engine)
        print(f"database at revision {await migrate.current_revision(engine)}")
    finally:
        await engine.dispose()
    return 0


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a moment; write it like '2026-12-15 08:40' or '2026-12-15 08:40+01:00'"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def _console(settings: Settings, args: argparse.Namespace) -> int:
    from bot.channels.console import ConsoleChannel

    app = await build_app(
        settings, clock=travelling_clock(args.at) if args.at is not None else system_clock
    )
    try:
        await offer_demo(app, args.lang)
        channel = ConsoleChannel(
            app.core, user=args.user, language_hint=args.lang, save_dir=args.save_dir
        )
        return await channel.run(send_start=not args.no_start)
    finally:
        await app.close()
        # The process ends now: spare it the final garbage collection of everything
        # start-up built (about two seconds), which Ctrl-C and Ctrl-D would wait for.
        gc.freeze()


async def _telegram(settings: Settings) -> int:
    from bot.serving import serve

    app = await build_app(settings)
    try:
        await serve(app)
    finally:
        await app.close()
    return 0

"""``ponte stats``, ``ponte export`` and ``ponte admins``: the organiser tools, for scripts.

They print (or write) exactly what the chat's ``/stats`` and ``/export`` send, through the
same handlers code. Organisers added here are stored like those added from the chat;
those named in ``ADMIN_IDS`` are listed and cannot be removed here either.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import configured_organisers, prepare_database
from bot.channels.console_support import CHANNEL as CONSOLE
from bot.channels.telegram.updates import CHANNEL as TELEGRAM
from bot.clock import Clock, system_clock
from bot.config import Settings
from bot.events.commands import CommandError, Subcommands
from handlers.kernel.i18n import negotiate_locale, translator
from handlers.kernel.markup import to_plain_text
from handlers.organiser.admins import parse_user_id
from handlers.organiser.chart import render_png
from handlers.organiser.exports import KINDS, build_export
from handlers.organiser.scope import EventScope, resolve_scope
from handlers.organiser.stats import chart_data, stats_text
from handlers.organiser.tables import FORMATS
from storage.db import create_engine, create_sessionmaker
from storage.organisers import OrganiserRepository
from storage.statistics import StatisticsRepository

Sessions = async_sessionmaker[AsyncSession]
Command = Callable[[Settings, argparse.Namespace], Awaitable[int]]


def add_organiser_parsers(commands: Subcommands) -> None:
    """Add ``ponte stats``, ``ponte export`` and ``ponte admins`` to the top-level parser.

    Each sets ``run``, the coroutine ``bot.cli`` runs for it.
    """
    stats = commands.add_parser("stats", help="participants and meetings in numbers")
    stats.add_argument("--event", metavar="CODE", help="one event (default: all)")
    stats.add_argument("--chart", type=Path, metavar="FILE", help="also write the chart (PNG)")
    _language_option(stats)
    stats.set_defaults(run=run_stats)

    export = commands.add_parser("export", help="participants, meetings or feedback as a file")
    export.add_argument("kind", choices=KINDS, help="what to export")
    export.add_argument("--format", choices=FORMATS, default="xlsx", help="default: xlsx")
    export.add_argument("--event", metavar="CODE", help="one event (default: all)")
    export.add_argument(
        "--output", "-o", type=Path, help="file to write; '-' for stdout (default: a dated name)"
    )
    _language_option(export)
    export.set_defaults(run=run_export)

    admins = commands.add_parser("admins", help="who may use the organiser tools in the chat")
    actions = admins.add_subparsers(dest="admins_command", required=True)
    for name, text in (("add", "make someone an organiser"), ("remove", "remove an organiser")):
        action = actions.add_parser(name, help=text)
        action.add_argument(
            "user_id", help="their Telegram user id (a number), or a console user's name"
        )
        action.add_argument(
            "--channel", default=TELEGRAM,
            help="telegram (the default) or console (the user name of ponte console --user)",
        )  # fmt: skip
    actions.add_parser("list", help="the organisers, ADMIN_IDS included")
    admins.set_defaults(run=run_admins)


def _language_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lang", default="en", help="language: it, en or zh (default: en)")


async def _with_database(settings: Settings, work: Callable[[Sessions], Awaitable[int]]) -> int:
    """Open and migrate the database, run ``work``; a user's mistake prints one line, exit 2."""
    engine = create_engine(settings.database_url)
    try:
        await prepare_database(engine, settings)
        return await work(create_sessionmaker(engine))
    except CommandError as exc:
        print(f"ponte: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"ponte: {exc}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()


async def _scope(session: AsyncSession, code: str | None) -> EventScope:
    scope = await resolve_scope(session, code)
    if scope is None:
        raise CommandError(f"there is no event with the code {code!r} (see: ponte events list)")
    return scope


async def run_stats(
    settings: Settings, args: argparse.Namespace, clock: Clock = system_clock
) -> int:
    """``ponte stats [--event CODE] [--chart FILE] [--lang L]``."""
    t = translator(negotiate_locale(args.lang))

    async def work(sessions: Sessions) -> int:
        async with sessions() as session:
            scope = await _scope(session, args.event)
            stats = await StatisticsRepository(session).statistics(scope.event_id)
        print(to_plain_text(stats_text(stats, scope, t)))
        if args.chart is not None:
            data = chart_data(stats, scope, t, None, clock())
            png = await asyncio.to_thread(render_png, data)
            await asyncio.to_thread(args.chart.write_bytes, png)
            print(f"chart written to {args.chart}")
        return 0

    return await _with_database(settings, work)


async def run_export(
    settings: Settings, args: argparse.Namespace, clock: Clock = system_clock
) -> int:
    """``ponte export KIND [--format F] [--event CODE] [--output FILE] [--lang L]``."""
    t = translator(negotiate_locale(args.lang))

    async def work(sessions: Sessions) -> int:
        async with sessions() as session:
            scope = await _scope(session, args.event)
            export = await build_export(session, args.kind, args.format, scope, t, clock())
        if args.output is not None and str(args.output) == "-":
            sys.stdout.buffer.write(export.content)
            sys.stdout.flush()
            return 0
        output = args.output or Path(export.filename)
        await asyncio.to_thread(output.write_bytes, export.content)
        print(f"{export.rows} rows written to {output}", file=sys.stderr)
        return 0

    return await _with_database(settings, work)


async def run_admins(
    settings: Settings, args: argparse.Namespace, clock: Clock = system_clock
) -> int:
    """``ponte admins add|remove ID [--channel C]`` and ``ponte admins list``."""
    configured = configured_organisers(settings)

    async def work(sessions: Sessions) -> int:
        if args.admins_command == "list":
            async with sessions() as session:
                stored = await OrganiserRepository(session).all()
            for channel, external_id in sorted(configured):
                print(f"{channel}\t{external_id}\t(ADMIN_IDS)")
            for organiser in stored:
                added = organiser.added_at.isoformat(timespec="seconds")
                print(
                    f"{organiser.channel}\t{organiser.external_id}\tadded {added} by {organiser.added_by}"
                )
            if not configured and not stored:
                print("no organisers yet: set ADMIN_IDS or run: ponte admins add USER_ID")
            return 0
        # A console user is the name given to ``ponte console --user``: organiser tools can
        # then be tried without Telegram, in the demo.
        user_id = (
            args.user_id.strip() or None if args.channel == CONSOLE else parse_user_id(args.user_id)
        )
        if user_id is None:
            raise CommandError(
                f"{args.user_id!r} is not a user id: a user id is a number, such as 123456789"
            )
        who = (args.channel, user_id)
        async with sessions() as session, session.begin():
            repo = OrganiserRepository(session)
            if args.admins_command == "add":
                if who in configured or not await repo.add(*who, "cli", clock()):
                    print(f"{user_id} is already an organiser")
                else:
                    print(f"{user_id} is now an organiser")
                return 0
            if who in configured:
                raise CommandError(f"{user_id} is named in ADMIN_IDS: remove it there")
            if not await repo.remove(*who):
                raise CommandError(f"{user_id} is not an organiser")
            print(f"{user_id} is no longer an organiser")
            return 0

    return await _with_database(settings, work)

"""``ponte broadcast``: an announcement from the command line, sent by the running bot.

``ponte broadcast --segment area=energy event=CODE --text-it … --text-en … --text-zh …``
prints the recipient count and each language's preview (and any problem Telegram would
refuse it for), asks for confirmation unless ``--yes``, writes a delivery per recipient,
queues them into the outbox a chunk per transaction, then follows the running bot's sender
with a progress bar and prints the report. This process sends nothing itself: when no bot
is delivering, it says so after ``--idle`` seconds without progress and tells how to follow
it later (``ponte broadcast --report ID``). ``ponte broadcast --stop ID`` stops one being
sent, as the chat's "Stop sending" does: what is not on its way yet is not sent.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tqdm import tqdm

from bot.app import prepare_database
from bot.broadcasting import queue_without_core
from bot.clock import Clock, system_clock
from bot.config import Settings
from bot.events.commands import CommandError, Subcommands
from handlers.kernel.i18n import SUPPORTED_LOCALES, Translator, negotiate_locale, translator
from handlers.kernel.markup import to_plain_text
from handlers.organiser import segments
from handlers.organiser.broadcast_control import stop_sending, stoppable
from handlers.organiser.broadcast_texts import problem_text, problems, progress_text
from storage.broadcast_models import CANCELLED, DONE, DRAFT, SENDING, STOPPED, Broadcast
from storage.broadcasts import BroadcastRepository, Report
from storage.db import create_engine, create_sessionmaker, transaction_gate

POLL = 0.5  # seconds between two looks at the deliveries
IDLE = 30.0  # seconds without progress before saying that no bot seems to be sending
NOT_SENDING = {
    DRAFT: "was never confirmed",
    CANCELLED: "was cancelled before it was sent",
    DONE: "has already been sent in full",
    STOPPED: "was already stopped",
}

Ask = Callable[[str], str]
Sessions = async_sessionmaker[AsyncSession]


async def _with_database(settings: Settings, work: Callable[[Sessions], Awaitable[int]]) -> int:
    """Open and migrate the database, run ``work``; a user's mistake prints one line, exit 2."""
    engine = create_engine(settings.database_url)
    try:
        await prepare_database(engine, settings)
        return await work(create_sessionmaker(engine))
    except CommandError as exc:
        print(f"ponte: {exc}", file=sys.stderr)
        return 2
    finally:
        await engine.dispose()


def add_broadcast_parser(commands: Subcommands) -> None:
    """Add ``ponte broadcast`` to the top-level parser (it sets ``run``)."""
    parser = commands.add_parser(
        "broadcast", help="send an announcement to some or all participants"
    )
    parser.add_argument(
        "--segment", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
        help="who receives it, all conditions together: event=CODE country=IT type=startup "
        "area=energy lang=it|en|zh unconfirmed=yes (none, or 'all': everyone)",
    )  # fmt: skip
    parser.add_argument("--text-it", help="the Italian text (Telegram HTML)")
    parser.add_argument("--text-en", help="the English text; readers of other languages get it")
    parser.add_argument("--text-zh", help="the Chinese text")
    parser.add_argument("--yes", "-y", action="store_true", help="send without asking")
    parser.add_argument("--report", type=int, metavar="ID", help="only show broadcast ID's report")
    parser.add_argument(
        "--stop", type=int, metavar="ID", help="stop sending broadcast ID, then show its report"
    )
    parser.add_argument("--idle", type=float, default=IDLE, help=f"seconds (default {IDLE:g})")
    parser.add_argument("--lang", default="en", help="language of the previews and report")
    parser.set_defaults(run=run_broadcast)


async def run_broadcast(
    settings: Settings,
    args: argparse.Namespace,
    clock: Clock = system_clock,
    ask: Ask = input,
) -> int:
    """Preview, confirm, queue, follow and report (see the module's docstring)."""
    t = translator(negotiate_locale(args.lang))

    async def work(sessions: Sessions) -> int:
        if args.report is not None:
            return await _follow(sessions, args.report, t, args.idle)
        if args.stop is not None:
            await _stop(sessions, clock, args.stop)
            return await _follow(sessions, args.stop, t, args.idle)
        texts = {
            code: text
            for code, text in (
                ("it", args.text_it),
                ("en", args.text_en),
                ("zh_Hans", args.text_zh),
            )
            if text is not None
        }
        if not texts:
            raise CommandError(
                "give the text in at least one language: --text-it, --text-en or --text-zh"
            )
        spec = segments.parse_pairs(args.segment)
        if isinstance(spec, segments.SegmentError):
            raise CommandError(to_plain_text(spec.text(t)))
        async with sessions() as session:
            segment = await segments.resolve(session, spec)
            if isinstance(segment, segments.SegmentError):
                raise CommandError(to_plain_text(segment.text(t)))
            count = await BroadcastRepository(session).count(segment, clock())
            who = to_plain_text(await segments.describe(session, spec, t))
        print(t.gettext("Recipients: {who}").format(who=who))
        print(
            to_plain_text(
                t.ngettext("{n} participant", "{n} participants", count).format(n=t.number(count))
            )
        )
        wrong = problems(texts)
        for code in SUPPORTED_LOCALES:
            if code in texts:
                print(f"\n--- {t.language_name(code)} ---")
                print(
                    to_plain_text(problem_text(wrong[code], t))
                    if code in wrong
                    else to_plain_text(texts[code])
                )
        print()
        if wrong:
            raise CommandError("nothing was sent: correct the texts above")
        if count == 0:
            raise CommandError("nothing was sent: nobody matches these conditions")
        if not args.yes:
            if not sys.stdin.isatty() and ask is input:
                raise CommandError("nothing was sent: confirm with --yes when not at a terminal")
            if ask(f"Send to {count} participants? [y/N] ").strip().lower() not in segments.YES:
                print("nothing was sent")
                return 1
        async with sessions() as session, session.begin():
            repo = BroadcastRepository(session)
            broadcast = await repo.draft(None, texts, spec, clock())
            recipients = await repo.start(broadcast, segment, clock())
            broadcast_id = broadcast.id
        await queue_without_core(sessions, clock, broadcast_id)
        print(f"broadcast {broadcast_id}: {recipients} recipients queued")
        return await _follow(sessions, broadcast_id, t, args.idle)

    return await _with_database(settings, work)


async def _stop(sessions: Sessions, clock: Clock, broadcast_id: int) -> None:
    """Stop broadcast ``broadcast_id``; one that is not being sent is left as it is."""
    async with transaction_gate(sessions), sessions() as session, session.begin():
        broadcast = await BroadcastRepository(session).get(broadcast_id, for_update=True)
        if broadcast is None:
            raise CommandError(f"there is no broadcast {broadcast_id}")
        if await stoppable(session, broadcast) is None:
            state = DONE if broadcast.state == SENDING else broadcast.state  # all settled
            why = NOT_SENDING.get(state, f"is {state}")
            raise CommandError(f"broadcast {broadcast_id} {why}; nothing was changed")
        not_sent = await stop_sending(session, broadcast, clock())
    print(f"broadcast {broadcast_id} stopped: {not_sent} messages will not be sent")


async def _follow(sessions: Sessions, broadcast_id: int, t: Translator, idle: float) -> int:
    """A progress bar until every delivery is settled; then the report."""
    report, broadcast = await _report(sessions, broadcast_id)
    if broadcast.state == DRAFT:
        raise CommandError(f"broadcast {broadcast_id} was never confirmed")
    still = 0.0
    with tqdm(
        total=report.recipients, unit="msg", disable=report.pending == 0, file=sys.stderr
    ) as bar:
        while report.pending and broadcast.state in (SENDING, STOPPED):
            await asyncio.sleep(POLL)
            before = report.settled
            report, broadcast = await _report(sessions, broadcast_id)
            bar.update(report.settled - bar.n)
            still = 0.0 if report.settled > before else still + POLL
            if still >= idle:
                bar.close()
                print(
                    f"\nno message has gone out for {idle:g} s: is the bot running (ponte run)? "
                    f"It sends broadcast {broadcast_id} when it runs; follow it with "
                    f"`ponte broadcast --report {broadcast_id}`, or /broadcast in the chat.",
                    file=sys.stderr,
                )
                break
    stopped = broadcast.state == STOPPED
    print(to_plain_text(progress_text(report, t, finished=report.pending == 0, stopped=stopped)))
    return 0


async def _report(sessions: Sessions, broadcast_id: int) -> tuple[Report, Broadcast]:
    async with sessions() as session:
        repo = BroadcastRepository(session)
        broadcast = await repo.get(broadcast_id)
        if broadcast is None:
            raise CommandError(f"there is no broadcast {broadcast_id}")
        return await repo.report(broadcast), broadcast

"""``/stats [event code]``: who registered and how matchmaking goes, with a chart.

The numbers come from :class:`storage.statistics.StatisticsRepository`; this module words
them in the reader's language (numbers and percentages by ``babel.numbers``) and builds
the chart's data. ``ponte stats`` prints the same text.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from babel.dates import format_skeleton
from babel.numbers import format_percent

from handlers.kernel.context import Turn
from handlers.kernel.flow_router import FlowRouter, Outcome
from handlers.kernel.i18n import N_, Translator, event_name, translator
from handlers.kernel.markup import bold, escape, fmt
from handlers.kernel.replies import Document
from handlers.kernel.timefmt import zone
from handlers.organiser.chart import ChartData, cjk_font, needs_cjk, render_png
from handlers.organiser.rights import organisers_only
from handlers.organiser.scope import EventScope, find_scope
from handlers.participant.countries import country_name
from handlers.participant.form import ORG_TYPES
from storage.statistics import Statistics, StatisticsRepository

STATS = "stats"
TOP = 10
"""Rows shown per breakdown (in the text and each bar chart); the rest are summed up."""


async def on_stats(turn: Turn, args: str) -> Outcome:
    """``/stats`` (everyone) or ``/stats CODE`` (one event)."""
    words = args.split()
    if len(words) > 1:
        turn.say(turn.t.gettext("Use /stats for every event, or /stats followed by an event code."))
        return None
    scope = await find_scope(turn, words[0] if words else None)
    if scope is not None:
        await _send(turn, scope)
    return None


async def on_stats_button(turn: Turn, value: str) -> Outcome:
    """``stats|`` (everyone) or ``stats|EVENT_ID`` (re-checked)."""
    scope = await find_scope(turn, None, event_id=value)
    if scope is not None:
        await _send(turn, scope)
    return None


async def _send(turn: Turn, scope: EventScope) -> None:
    stats = await StatisticsRepository(turn.session).statistics(scope.event_id)
    t = turn.t
    turn.say(stats_text(stats, scope, t))
    if not stats.participants:
        return
    data = chart_data(stats, scope, t, turn.participant.time_zone, turn.now)
    filename = f"ponte-stats-{scope.code or 'all'}-{turn.now:%Y%m%d}.png"

    async def draw() -> None:
        # After the commit and off the event loop: drawing takes about a second, and other
        # users' updates (on SQLite, every other transaction) must not wait for it.
        png = await asyncio.to_thread(render_png, data)
        turn.say(escape(data.title), document=Document(filename, png, "image/png", photo=True))

    turn.defer(draw)


def _percent(part: int, whole: int, t: Translator) -> str:
    return format_percent(part / whole if whole else 0, locale=t.locale)


def _breakdown(title: str, items: Iterable[tuple[str, int]], t: Translator) -> list[str]:
    """A heading and its ``• label: number`` lines, the largest :data:`TOP` and the rest."""
    ordered = list(items)
    lines = [bold(escape(title))]
    lines += [f"• {escape(label)}: {t.number(count)}" for label, count in ordered[:TOP]]
    rest = sum(count for _label, count in ordered[TOP:])
    if rest:
        lines.append(fmt(t.gettext("• others: {count}"), count=t.number(rest)))
    return lines


def countries(stats: Statistics, t: Translator) -> list[tuple[str, int]]:
    """Participants by country name in the reader's language."""
    unknown = t.gettext("not given")
    return [(country_name(code, t) or unknown, n) for code, n in stats.by_country.items()]


def areas(stats: Statistics, t: Translator) -> list[tuple[str, int]]:
    """Participants by interest area name in the reader's language."""
    return [(event_name(a.names, t.code), a.count) for a in stats.by_area]


def stats_text(stats: Statistics, scope: EventScope, t: Translator) -> str:
    """The numbers, as markup in the reader's language."""
    n = t.number
    lines = [bold(escape(t.gettext("Statistics"))) + " · " + scope.heading(t), ""]
    lines.append(fmt(t.gettext("Registered participants: {count}"), count=n(stats.participants)))
    if not stats.participants:
        lines.append(t.gettext("Nobody has registered yet."))
    else:
        unknown = t.gettext("not given")
        types = [
            (t.gettext(ORG_TYPES[k]) if k in ORG_TYPES else (k or unknown), c)
            for k, c in stats.by_type.items()
        ]
        languages = [(t.language_name(k), c) for k, c in stats.by_locale.items()]
        for title, items in (
            (N_("By country"), countries(stats, t)),
            (N_("By type"), types),
            (N_("By language"), languages),
            (N_("By interest area"), areas(stats, t)),
        ):
            lines += ["", *_breakdown(t.gettext(title), items, t)]
        if scope.event_id is None and stats.by_event:
            events = [
                (f"{event_name(e.names, t.code)} ({e.code})", e.count) for e in stats.by_event
            ]
            lines += ["", *_breakdown(t.gettext("By event"), events, t)]
    lines += ["", bold(escape(t.gettext("Meetings")))]
    lines.append(fmt(t.gettext("Requested: {count}"), count=n(stats.requested)))
    lines.append(
        fmt(
            t.gettext("Accepted: {count} ({percent} of requests)"),
            count=n(stats.accepted),
            percent=_percent(stats.accepted, stats.requested, t),
        )
    )
    answered = stats.held + stats.missed
    lines.append(fmt(t.gettext("Held: {count}"), count=n(stats.held)))
    lines.append(fmt(t.gettext("Missed: {count}"), count=n(stats.missed)))
    if answered:
        lines.append(
            fmt(
                t.gettext("No-show rate: {percent} (of meetings with feedback)"),
                percent=_percent(stats.missed, answered, t),
            )
        )
    if stats.reminders_confirmed is not None:
        lines.append(
            fmt(
                t.gettext("Attendance confirmed after a reminder: {count}"),
                count=n(stats.reminders_confirmed),
            )
        )
    return "\n".join(lines)


def timeline(times: list[datetime], time_zone: str | None, now: datetime) -> list[tuple[date, int]]:
    """Participants registered by the end of each day (in ``time_zone``), with a zero the day
    before the first and today's total, so that even one day draws a step."""
    local = zone(time_zone)
    per_day = Counter(when.astimezone(local).date() for when in times)
    if not per_day:
        return []
    days = sorted(per_day)
    points = [(days[0] - timedelta(days=1), 0)]
    total = 0
    for day in days:
        total += per_day[day]
        points.append((day, total))
    today = now.astimezone(local).date()
    if today > days[-1]:
        points.append((today, total))
    return points


def chart_data(
    stats: Statistics, scope: EventScope, t: Translator, time_zone: str | None, now: datetime
) -> ChartData:
    """What the chart shows, labelled in the reader's language (in English when the reader
    reads Chinese but no Chinese font is installed)."""
    data = _chart_data(stats, scope, t, time_zone, now)
    texts = [data.title, *(label for label, _ in (*data.areas, *data.countries))]
    if needs_cjk(texts) and cjk_font() is None:
        data = _chart_data(stats, scope, translator("en"), time_zone, now)
    return data


def _chart_data(
    stats: Statistics, scope: EventScope, t: Translator, time_zone: str | None, now: datetime
) -> ChartData:
    title = t.gettext("Ponte statistics")
    if scope.event_id is not None:
        title = f"{event_name(scope.names, t.code)} ({scope.code})"
    return ChartData(
        title=title,
        timeline_title=t.gettext("Registered participants over time"),
        areas_title=t.gettext("Participants by interest area"),
        countries_title=t.gettext("Participants by country"),
        timeline=timeline(stats.registered_at, time_zone, now),
        areas=areas(stats, t)[:TOP],
        countries=countries(stats, t)[:TOP],
        format_day=lambda day: format_skeleton("MMMd", day, locale=t.locale),
        format_number=t.number,
    )


def setup() -> FlowRouter:
    """``/stats`` and its buttons, for organisers only."""
    router = FlowRouter("stats")
    router.command(STATS, organisers_only(on_stats))
    router.button(STATS, organisers_only(on_stats_button))
    return router

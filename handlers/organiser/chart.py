"""The ``/stats`` chart: registrations over time, participants by interest area and country.

Rendered with matplotlib's object API (``Figure`` with the Agg canvas, never ``pyplot``), so
nothing global is touched and no display is needed. matplotlib is imported on first use:
importing it costs about a second, which Ponte's start-up and every other command should
not pay. Chinese labels need a CJK font, which matplotlib does not ship; the chart uses the
first one installed (Noto Sans CJK is the Debian/Ubuntu package ``fonts-noto-cjk``), and
without one it is labelled in English rather than with empty boxes.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

log = logging.getLogger(__name__)

CJK_FAMILIES = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback", "AR PL UMing CN",
    "Microsoft YaHei", "PingFang SC", "Hiragino Sans GB", "Heiti SC", "SimHei",
    "Arial Unicode MS",
)  # fmt: skip
"""Fonts with Simplified Chinese glyphs, best first (Linux, Windows and macOS names)."""
BASE_FAMILY = "DejaVu Sans"  # matplotlib's own font: Latin, accents, the symbols used here
COLOUR = "#1f6f8b"
MAX_LABEL = 32  # characters of a bar's label that fit in the left margin
# matplotlib is not promised to be thread-safe; one chart at a time is plenty.
_RENDERING = threading.Lock()


@dataclass(frozen=True, slots=True)
class ChartData:
    """Everything the chart shows, already in the reader's language."""

    title: str
    timeline_title: str
    areas_title: str
    countries_title: str
    timeline: Sequence[tuple[date, int]]
    """(day, participants registered by the end of that day), in order."""
    areas: Sequence[tuple[str, int]]
    countries: Sequence[tuple[str, int]]
    format_day: Callable[[date], str]
    format_number: Callable[[int], str]


@cache
def cjk_font() -> str | None:
    """The family name of an installed font with Chinese glyphs, or ``None``."""
    from matplotlib import font_manager

    for family in CJK_FAMILIES:
        try:
            font_manager.findfont(
                font_manager.FontProperties(family=family), fallback_to_default=False
            )
        except ValueError:
            continue
        return family
    log.warning(
        "no font with Chinese characters is installed (e.g. the package fonts-noto-cjk): "
        "/stats charts for Chinese readers are labelled in English"
    )
    return None


def needs_cjk(texts: Sequence[str]) -> bool:
    """Whether any text holds CJK characters (which DejaVu Sans cannot draw)."""
    return any("\u2e80" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" for t in texts for ch in t)


def render_png(data: ChartData) -> bytes:
    """The chart as a PNG image (about 900×1100 pixels)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    cjk = cjk_font()
    families = [BASE_FAMILY, cjk] if cjk else [BASE_FAMILY]
    with _RENDERING:
        # Fixed margins: a layout engine doubled the time to draw (about a second here).
        figure = Figure(figsize=(9, 11), dpi=100)
        figure.subplots_adjust(left=0.34, right=0.95, top=0.92, bottom=0.04, hspace=0.32)
        figure.suptitle(data.title, fontsize=15, fontweight="bold", family=families)
        timeline, areas, countries = figure.subplots(3, 1, height_ratios=(1, 1.2, 1.2))
        days = [day.toordinal() for day, _count in data.timeline]  # whole days on the x axis
        counts = [count for _day, count in data.timeline]
        timeline.step(days, counts, where="post", color=COLOUR, linewidth=2)
        timeline.fill_between(days, counts, step="post", color=COLOUR, alpha=0.15)
        timeline.set_ylim(bottom=0)
        timeline.yaxis.set_major_locator(MaxNLocator(integer=True))
        timeline.xaxis.set_major_locator(MaxNLocator(6, integer=True))
        timeline.xaxis.set_major_formatter(
            FuncFormatter(lambda value, _pos: data.format_day(date.fromordinal(max(int(value), 1))))
        )
        timeline.yaxis.set_major_formatter(
            FuncFormatter(lambda value, _pos: data.format_number(int(value)))
        )
        _style(timeline, data.timeline_title, families)
        _bars(areas, data.areas, data.areas_title, families, data.format_number)
        _bars(countries, data.countries, data.countries_title, families, data.format_number)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _style(axes: Any, title: str, families: list[str]) -> None:
    axes.set_title(title, loc="left", fontsize=12, family=families)
    axes.spines[["top", "right"]].set_visible(False)
    for label in (*axes.get_xticklabels(), *axes.get_yticklabels()):
        label.set_family(families)


def _bars(
    axes: Any,
    items: Sequence[tuple[str, int]],
    title: str,
    families: list[str],
    format_number: Callable[[int], str],
) -> None:
    """Horizontal bars, largest at the top, each with its number."""
    from matplotlib.ticker import MaxNLocator

    labels = [_shortened(label) for label, _count in reversed(items)]
    values = [count for _label, count in reversed(items)]
    bars = axes.barh(range(len(values)), values, color=COLOUR)
    axes.set_yticks(range(len(values)), labels, family=families)
    axes.bar_label(bars, labels=[format_number(v) for v in values], padding=3, family=families)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlim(right=max(values, default=1) * 1.15 or 1)
    _style(axes, title, families)


def _shortened(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1].rstrip() + "…"

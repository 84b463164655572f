"""An in-memory index of an event's participants, so ranking partners stays fast.

Ranking needs, for every participant of an event, their country, interest areas and the
keywords of their offer and seek. Reading and scoring 20,000 rows per ``/partners`` would
cost far more than the 50 ms a reply may take, so each process keeps a per-event index,
rebuilt when older than ``ttl`` seconds or when this process changed something it holds.
Participants whose profile changed in another process show up within ``ttl``.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncSession

from storage.matchmaking import EventRepository

_WORD = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=65_536)
def keywords(text: str | None) -> frozenset[str]:
    """Words of 3+ letters, case-folded; for Chinese and Japanese, character pairs."""
    found: set[str] = set()
    for word in _WORD.findall((text or "").casefold()):
        if any(unicodedata.east_asian_width(ch) == "W" for ch in word):
            found.update(word[i : i + 2] for i in range(len(word) - 1))
        elif len(word) >= 3:
            found.add(word)
    return frozenset(found)


def searchable(*texts: str | None) -> str:
    """Text folded for a substring search: NFKC (full-width letters become ASCII) and
    case-folded (``È`` finds ``è``, ``STRASSE`` finds ``Straße``); Chinese is unchanged."""
    return unicodedata.normalize("NFKC", "\n".join(t or "" for t in texts)).casefold()


@dataclass(frozen=True, slots=True)
class Entry:
    """What ranking and filtering need to know about one participant."""

    participant_id: int
    country: str | None
    areas: frozenset[int]
    offer: frozenset[str]
    seek: frozenset[str]
    org_type: str | None = None
    text: str = ""
    """Organisation, offer and seek, folded by :func:`searchable`."""


@dataclass(frozen=True, slots=True)
class Ranked:
    """A suggested partner and why."""

    participant_id: int
    other_country: bool
    shared_areas: int
    fit: int

    @property
    def score(self) -> int:
        """Shared areas count twice; each keyword where an offer meets a seek once."""
        return 2 * self.shared_areas + self.fit


@dataclass
class EventIndex:
    """One event's participants, with an inverted index from area to participants."""

    entries: dict[int, Entry]
    by_area: dict[int, list[int]]
    built_at: float = field(default_factory=time.monotonic)

    def rank(
        self, me: Entry, limit: int, keep: Callable[[Entry], bool] | None = None
    ) -> list[Ranked]:
        """The best ``limit`` partners for ``me``: other country first, then score; only
        those ``keep`` accepts, when given (a filter)."""
        shared = Counter[int]()
        for area in me.areas:
            shared.update(self.by_area.get(area, ()))
        shared.pop(me.participant_id, None)
        if keep is not None:
            shared = Counter({pid: n for pid, n in shared.items() if keep(self.entries[pid])})
        # Offer/seek fit is scored for the most promising by shared areas only (twice the
        # page budget): scoring all 20,000 would cost more than the whole reply may.
        pool = sorted(
            shared,
            key=lambda pid: (self.entries[pid].country == me.country, -shared[pid], pid),
        )[: limit * 2]
        if len(pool) < limit:
            rest = (
                pid
                for pid, entry in self.entries.items()
                if pid not in shared and pid != me.participant_id and (keep is None or keep(entry))
            )
            pool += sorted(rest, key=lambda pid: (self.entries[pid].country == me.country, pid))[
                : limit * 2 - len(pool)
            ]
        ranked = [self._ranked(me, self.entries[pid], shared[pid]) for pid in pool]
        ranked.sort(key=lambda r: (not r.other_country, -r.score, r.participant_id))
        return ranked[:limit]

    @staticmethod
    def _ranked(me: Entry, other: Entry, shared: int) -> Ranked:
        fit = len(me.seek & other.offer) + len(me.offer & other.seek)
        return Ranked(other.participant_id, other.country != me.country, shared, fit)


class Directory:
    """Per-event indexes for this process."""

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._events: dict[int, EventIndex] = {}

    async def index(self, session: AsyncSession, event_id: int) -> EventIndex:
        """The event's index, rebuilt from the database when stale."""
        cached = self._events.get(event_id)
        if cached is not None and time.monotonic() - cached.built_at < self.ttl:
            return cached
        repo = EventRepository(session)
        areas: dict[int, set[int]] = {}
        by_area: dict[int, list[int]] = {}
        for participant_id, area_id in await repo.event_interests(event_id):
            areas.setdefault(participant_id, set()).add(area_id)
            by_area.setdefault(area_id, []).append(participant_id)
        entries = {
            p.id: Entry(
                p.id, p.country, frozenset(areas.get(p.id, ())), keywords(p.offer),
                keywords(p.seek), p.org_type, searchable(p.organisation, p.offer, p.seek),
            )
            for p in await repo.event_profiles(event_id)
        }  # fmt: skip
        index = EventIndex(
            entries, {a: [p for p in pids if p in entries] for a, pids in by_area.items()}
        )
        self._events[event_id] = index
        return index

    def forget(self, event_id: int) -> None:
        """Forget one event's index (it holds someone who is no longer there)."""
        self._events.pop(event_id, None)

    def invalidate(self) -> None:
        """Forget every index (something they hold changed in this process)."""
        self._events.clear()

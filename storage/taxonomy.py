"""The interest-area taxonomy: read from an editable TOML file and synchronised into the DB."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import InterestArea

DEFAULT_TAXONOMY_FILE = Path(__file__).parent / "data" / "interest_areas.toml"
REQUIRED_LOCALE = "en"
_CODE = re.compile(r"^[a-z0-9_]{1,64}$")


class TaxonomyError(ValueError):
    """The taxonomy file is malformed; the message names the entry and what to fix."""


@dataclass(frozen=True)
class AreaSpec:
    """One interest area as written in the taxonomy file."""

    code: str
    names: dict[str, str]


def read_taxonomy(path: Path = DEFAULT_TAXONOMY_FILE) -> list[AreaSpec]:
    """Parse and check the taxonomy file; raise :class:`TaxonomyError` on any problem."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TaxonomyError(f"cannot read interest areas from {path}: {exc}") from exc
    entries = document.get("area")
    if not isinstance(entries, list) or not entries:
        raise TaxonomyError(f"{path}: no [[area]] entries found")
    areas: list[AreaSpec] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries, start=1):
        code = entry.get("code")
        if not isinstance(code, str) or not _CODE.match(code):
            raise TaxonomyError(
                f"{path}: area #{index} needs a code of lower-case letters, digits and '_'"
            )
        if code in seen:
            raise TaxonomyError(f"{path}: area code {code!r} appears twice")
        seen.add(code)
        names = {k: v.strip() for k, v in entry.items() if k != "code" and isinstance(v, str)}
        if not names.get(REQUIRED_LOCALE):
            raise TaxonomyError(f"{path}: area {code!r} has no English name ('en = ...')")
        areas.append(AreaSpec(code=code, names=names))
    return areas


async def sync_taxonomy(session: AsyncSession, areas: list[AreaSpec]) -> None:
    """Make the database match ``areas``: add and rename; hide areas no longer listed.

    Areas are never deleted, so participants who chose a retired area keep it.
    """
    existing = {a.code: a for a in (await session.scalars(select(InterestArea))).all()}
    for position, spec in enumerate(areas):
        row = existing.pop(spec.code, None)
        if row is None:
            session.add(InterestArea(code=spec.code, names=spec.names, position=position))
        else:
            row.names, row.position, row.active = spec.names, position, True
    for retired in existing.values():
        retired.active = False

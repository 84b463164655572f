"""Event links and their QR codes: ``https://t.me/<bot>?start=<event-code>``.

Telegram hands the ``start`` parameter to the bot with ``/start <code>``; the parameter may
hold up to 64 letters, digits, ``_`` and ``-``, which is exactly what an event code may hold.
No chat framework is imported here, so links can be made offline (``ponte events qr``).
"""

from __future__ import annotations

import re
from pathlib import Path

import segno

from storage.event_spec import CODE_PATTERN

USERNAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{4,31}$")
DEFAULT_SCALE = 10


def normalise_username(username: str) -> str:
    """``@PonteBot``, ``t.me/PonteBot`` or ``PonteBot`` → ``PonteBot``; ValueError if invalid."""
    name = username.strip().removeprefix("https://").removeprefix("t.me/").lstrip("@")
    if not USERNAME_PATTERN.match(name):
        raise ValueError(
            f"{username!r} is not a Telegram bot username (5–32 letters, digits and '_', "
            "starting with a letter)"
        )
    return name


def deep_link(username: str, code: str) -> str:
    """The link that opens the bot and registers the user into the event ``code``."""
    if not CODE_PATTERN.match(code):
        raise ValueError(f"{code!r} is not a valid event code (1–64 letters, digits, '_', '-')")
    return f"https://t.me/{normalise_username(username)}?start={code}"


def write_qr_png(url: str, path: Path, *, scale: int = DEFAULT_SCALE) -> Path:
    """Write a PNG QR code of ``url`` to ``path`` (``scale`` pixels per module) and return it.

    Error correction is at least level M, so a slightly damaged print still scans; the quiet
    border is the standard four modules.
    """
    if scale < 1:
        raise ValueError("the scale must be at least 1 pixel per module")
    code = segno.make_qr(url, error="m")
    path.parent.mkdir(parents=True, exist_ok=True)
    code.save(str(path), kind="png", scale=scale, border=4)
    return path

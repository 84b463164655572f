"""The command menu and help text: what every flow may show."""

from __future__ import annotations

from collections.abc import Sequence

from handlers.kernel.context import Turn
from handlers.kernel.i18n import N_
from handlers.kernel.markup import bold

COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", N_("Start or continue registration")),
    ("partners", N_("Suggested partners at your event")),
    ("requests", N_("Meeting requests waiting for an answer")),
    ("agenda", N_("Your meetings")),
    ("events", N_("Events you joined")),
    ("profile", N_("See and edit your profile")),
    ("language", N_("Change language")),
    ("mydata", N_("Download your data")),
    ("deleteme", N_("Erase your data")),
    ("cancel", N_("Stop what you are doing")),
    ("help", N_("What Ponte can do")),
)
"""Every command with its description; channels build their command menus from this."""

BOT_SHORT_DESCRIPTION = N_(
    "Find partners for Italy–China science and technology cooperation, in your language."
)
BOT_DESCRIPTION = N_(
    "Ponte registers startups, companies, universities and research centres from Italy and "
    "China for matchmaking: your profile, what you offer and seek, your interest areas. "
    "In Italian, English or Chinese. Press Start to begin."
)


def help_text(turn: Turn, more: Sequence[tuple[str, str]] = ()) -> str:
    """The list of commands, in the reader's language; ``more`` (name, description) after
    them: the organiser's, for an organiser."""
    t = turn.t
    lines = [bold(t.gettext("Ponte: your bridge to Italy–China science and technology partners."))]
    line = t.gettext("{command}: {description}")  # Chinese writes a full-width colon
    lines += [
        line.format(command=f"/{name}", description=t.gettext(description))
        for name, description in (*COMMANDS, *more)
    ]
    return "\n".join(lines)

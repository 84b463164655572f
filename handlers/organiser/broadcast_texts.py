"""What a broadcast's readers and organiser see: the text for each reader, the preview's
problems, the progress and the final report, in the reader's language.

``ponte broadcast`` prints the same previews and reports (as plain text).
"""

from __future__ import annotations

from typing import Any

from handlers.kernel.i18n import N_, SUPPORTED_LOCALES, Translator
from handlers.kernel.markup import bold, escape, fmt
from handlers.kernel.notify import reply_to_payload
from handlers.kernel.replies import Reply
from handlers.organiser.telegram_html import MAX_LENGTH, Problem, check
from storage.broadcasts import Report

PROBLEMS: dict[str, str] = {
    "empty": N_("The text is empty."),
    "too_long": N_("The text is {detail} characters long; a message can have at most {limit}."),
    "unknown_tag": N_("Telegram does not accept the tag {tag}."),
    "unclosed": N_("The tag {tag} is opened but never closed."),
    "unopened": N_("The tag {closing} closes a tag that is not open there."),
    "attribute": N_("“{detail}” is not allowed here: a link is written {link}."),
    "bare_lt": N_("A “{lt}” that does not start a tag: write {entity} instead."),
    "entity": N_("Telegram does not know the entity {detail}: write the character itself."),
}
"""The preview's explanation of each :class:`Problem` kind (Telegram's allowed tags:
b, i, u, s, code, pre, a href, tg-spoiler, blockquote)."""
ALLOWED_TAGS = "<b>, <i>, <u>, <s>, <code>, <pre>, <a href>, <tg-spoiler>, <blockquote>"
BAR = 10


def text_for(texts: dict[str, str], locale: str) -> str:
    """The text a reader of ``locale`` receives: theirs, else English, else the first given."""
    if locale in texts:
        return texts[locale]
    if "en" in texts:
        return texts["en"]
    return next(texts[code] for code in SUPPORTED_LOCALES if code in texts)


def payloads(texts: dict[str, str]) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Outbox payloads by reader locale, and the one for any other locale."""
    by_locale = {code: reply_to_payload(Reply(text_for(texts, code))) for code in SUPPORTED_LOCALES}
    return by_locale, by_locale["en"] if "en" in texts else by_locale[_first(texts)]


def _first(texts: dict[str, str]) -> str:
    return next(code for code in SUPPORTED_LOCALES if code in texts)


def problem_text(problem: Problem, t: Translator) -> str:
    """What is wrong, in the reader's language, as markup."""
    detail = problem.detail
    values = {
        "detail": t.number(int(detail)) if problem.kind == "too_long" else detail,
        "limit": t.number(MAX_LENGTH),
        "tag": f"<{detail}>",
        "closing": f"</{detail}>",
        "link": '<a href="https://…">…</a>',
        "lt": "<",
        "entity": "&lt;",
    }
    message = fmt(t.gettext(PROBLEMS[problem.kind]), **values)
    if problem.kind in ("unknown_tag", "attribute"):
        message += "\n" + fmt(t.gettext("Allowed: {tags}."), tags=ALLOWED_TAGS)
    return message


def problems(texts: dict[str, str]) -> dict[str, Problem]:
    """The problem of each text that has one."""
    return {code: problem for code, text in texts.items() if (problem := check(text)) is not None}


def progress_text(report: Report, t: Translator, *, finished: bool, stopped: bool = False) -> str:
    """``Sending: 120 of 300 (40%)`` with a bar and the counts, or the final report.

    ``stopped``: the organiser stopped it; the messages not sent because of that are
    counted apart (and while those already in a sender's hands finish, it is "stopping").
    """
    whole = max(report.recipients, 1)
    done = report.settled
    filled = round(BAR * done / whole)
    if stopped:
        title = (
            t.gettext("Announcement stopped")
            if finished
            else t.gettext("Stopping the announcement")
        )
    else:
        title = (
            t.gettext("Announcement sent") if finished else t.gettext("Sending the announcement")
        )
    lines = [
        bold(escape(title)),
        "▓" * filled + "░" * (BAR - filled) + " "
        + fmt(t.gettext("{done} of {total}"), done=t.number(done), total=t.number(report.recipients)),
        fmt(t.gettext("Delivered: {n}"), n=t.number(report.delivered)),
        fmt(t.gettext("Blocked the bot: {n}"), n=t.number(report.blocked)),
        fmt(t.gettext("Failed: {n}"), n=t.number(report.failed)),
        fmt(t.gettext("Uncertain (may have arrived; not sent again): {n}"), n=t.number(report.uncertain)),
    ]  # fmt: skip
    if stopped or report.stopped:
        lines.append(fmt(t.gettext("Not sent (stopped): {n}"), n=t.number(report.stopped)))
    if not finished:
        lines.append(fmt(t.gettext("Still to send: {n}"), n=t.number(report.pending)))
    return "\n".join(lines)

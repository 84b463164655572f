"""Messages to other people (a partner, an invitee), written to the outbox in their language.

Replies are stored as JSON so any channel's sender can render them later, and they are
written in the same transaction as the change they report: both happen, or neither.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from handlers.kernel.context import Turn
from handlers.kernel.i18n import Translator, translator
from handlers.kernel.replies import Button, Document, Reply
from storage.models import Participant
from storage.outbox import OutboxRepository


def reply_to_payload(reply: Reply) -> dict[str, Any]:
    """A reply as JSON-ready data."""
    payload: dict[str, Any] = {
        "text": reply.text,
        "buttons": [[[b.label, b.payload] for b in row] for row in reply.buttons],
    }
    if reply.document is not None:
        payload["document"] = {
            "filename": reply.document.filename,
            "mime_type": reply.document.mime_type,
            "content": base64.b64encode(reply.document.content).decode("ascii"),
        }
        if reply.document.photo:
            payload["document"]["photo"] = True
    if reply.replaces is not None:
        payload["replaces"] = reply.replaces
    return payload


def payload_to_reply(payload: dict[str, Any]) -> Reply:
    """The reply stored by :func:`reply_to_payload`."""
    buttons = tuple(
        tuple(Button(label, data) for label, data in row) for row in payload.get("buttons", [])
    )
    document = None
    if "document" in payload:
        stored = payload["document"]
        document = Document(
            filename=stored["filename"],
            content=base64.b64decode(stored["content"]),
            mime_type=stored["mime_type"],
            photo=bool(stored.get("photo", False)),
        )
    replaces = payload.get("replaces")
    return Reply(
        text=payload["text"],
        buttons=buttons,
        document=document,
        replaces=str(replaces) if replaces is not None else None,
    )


def reader(participant: Participant) -> Translator:
    """The translator for a participant who is not the one acting."""
    return translator(participant.locale)


def notify(
    turn: Turn,
    recipient: Participant,
    reply: Reply,
    *,
    topic: str | None = None,
    not_before: datetime | None = None,
) -> None:
    """Queue ``reply`` (already written in the recipient's language) for ``recipient``."""
    queued = OutboxRepository(turn.session).queue(
        recipient, reply_to_payload(reply), turn.now, topic=topic, not_before=not_before
    )
    turn.outbox_written = turn.outbox_written or queued

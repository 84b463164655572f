"""The per-update context handed to every flow: who, where they stand, what to answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.i18n import Translator, translator
from handlers.kernel.replies import Button, Document, Notice, Reply, Response
from handlers.kernel.terms import DEMO_PRIVACY_TERMS, PrivacyTerms
from storage.models import ConversationState, Participant
from storage.repositories import ParticipantRepository, TaxonomyRepository

Rows = tuple[tuple[Button, ...], ...]

START_PAYLOAD = "start_payload"
PARTNER_FILTER = "partner_filter"
NOTE_DRAFT = "note_draft"
LASTING_KEYS = (START_PAYLOAD, PARTNER_FILTER, NOTE_DRAFT)
"""Scratch data kept across flows: a deep link's payload waits for registration to finish;
the filter on ``/partners`` holds until the user clears it; a meeting-request note that
could not be sent waits for the user to come back to it."""

OrganiserIds = Collection[tuple[str, str]]
"""Organisers named by the configuration (``ADMIN_IDS``), as ``(channel, user id)`` pairs
(the application passes the core a frozenset)."""


@dataclass(frozen=True, slots=True)
class AreaOption:
    """An interest area offered for selection: its code and its names by locale."""

    code: str
    names: dict[str, Any]
    id: int = 0


class Flows(Protocol):
    """What a flow may ask of the core that runs it, without knowing the other flows."""

    async def leave(self, turn: Turn) -> bool:
        """Leave the flow the user is in, if it must be left explicitly (editing a field).

        ``False`` when the user has to stay where they are (they were told why).
        """
        ...

    async def use_start_payload(self, turn: Turn) -> None:
        """Act on a kept ``/start`` payload: for a registered participant, now; for a
        newcomer, check it at once and keep it for when registration is complete."""
        ...

    async def before_erase(self, turn: Turn) -> None:
        """Let every module clean up what it holds about the participant being erased."""
        ...


@dataclass
class Turn:
    """One incoming message being handled, inside its database transaction."""

    session: AsyncSession
    participant: Participant
    state: ConversationState
    people: ParticipantRepository
    taxonomy: TaxonomyRepository
    now: datetime
    """The turn's one "now", from the core's clock: every time the turn writes or compares."""
    flows: Flows
    areas: tuple[AreaOption, ...] = ()
    privacy: PrivacyTerms = DEMO_PRIVACY_TERMS
    """Who controls the data and how long it is kept, as the privacy notice states."""
    response: Response = field(default_factory=Response)
    created: bool = False
    erased: bool = False
    outbox_written: bool = False
    schedule_changed: bool = False
    """Set when the turn changed what is due later (a meeting's reminders)."""
    profiles_changed: bool = False
    deferred: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Work the core runs once the transaction committed (see :meth:`defer`)."""
    organisers: OrganiserIds = frozenset()
    """Organisers named by the configuration; :mod:`handlers.organiser.rights` also asks the
    database for those added later."""
    message_ref: str | None = None
    """For a button press, the message the button is on, as its channel names it (``None``
    when the channel cannot edit it later): what an outbox message may replace."""

    @property
    def t(self) -> Translator:
        """The translator for the participant's current language."""
        return translator(self.participant.locale)

    def say(
        self,
        text: str,
        buttons: Rows = (),
        *,
        edit: bool = False,
        contact_button: str | None = None,
        remove_keyboard: bool = False,
        document: Document | None = None,
    ) -> None:
        """Queue a reply (``text`` is markup: escape user values with ``markup.fmt``)."""
        self.response.replies.append(
            Reply(
                text=text,
                buttons=buttons,
                edit=edit,
                contact_button=contact_button,
                remove_keyboard=remove_keyboard,
                document=document,
            )
        )

    def defer(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` after the transaction committed, still before the answer goes out.

        For slow work that needs no database (drawing a chart): done inside the transaction
        it would hold the database, and on SQLite every other user's update with it. It may
        add replies with :meth:`say`; it must not touch ``session``.
        """
        self.deferred.append(work)

    def notice(self, text: str) -> None:
        """A short note for the channel to flash to a button presser."""
        self.response.notice = Notice(text)

    def go(self, flow: str, step: str | None = None, **data: Any) -> None:
        """Move the participant to ``flow``/``step``, replacing the flow's scratch data.

        Keys in :data:`LASTING_KEYS` survive the move.
        """
        lasting = {key: self.state.data[key] for key in LASTING_KEYS if key in self.state.data}
        self.state.flow = flow
        self.state.step = step
        self.state.data = {**lasting, **data}

    @property
    def flow(self) -> str:
        """The flow the participant is in (``idle`` when none)."""
        return self.state.flow

    @property
    def registered(self) -> bool:
        """Whether the participant has completed registration."""
        return self.participant.registered_at is not None

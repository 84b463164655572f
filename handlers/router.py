"""The core's front door: one event in, one response out, inside one transaction.

Commands work at any step; button payloads are checked against where the user stands;
everything else goes to the question the user is on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers import (
    events_flow,
    meetings,
    menu,
    partners,
    privacy,
    profile,
    registration,
    requests,
)
from handlers.context import START_PAYLOAD, AreaOption, Turn
from handlers.directory import Directory
from handlers.events import (
    ButtonPress,
    CommandMessage,
    ContactShared,
    IncomingEvent,
    ReachabilityChanged,
    Sender,
    TextMessage,
    UnsupportedMessage,
)
from handlers.fields import Answer, Field, Outcome
from handlers.i18n import N_, negotiate_locale, translator
from handlers.markup import fmt
from handlers.ordering import KeyedLock
from handlers.prompts import (
    EDIT_FLOW,
    NAV_BACK,
    NAV_CANCEL,
    NAV_DONE,
    NAV_SKIP,
    REGISTRATION_FLOW,
    split_payload,
)
from handlers.replies import Reply, Response
from handlers.validation import Problem
from storage.db import is_transient_conflict, transaction_gate
from storage.repositories import ParticipantRepository, TaxonomyRepository

log = logging.getLogger(__name__)

APOLOGY = N_("Sorry, something went wrong on our side. Your answers are safe; please try again.")
TRANSACTION_ATTEMPTS = 4
STALE_BUTTON = N_("That button is from an earlier message and no longer works.")


class Core:
    """Channel-neutral conversation engine shared by every channel."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.areas: tuple[AreaOption, ...] = ()
        self._ordering = KeyedLock()
        self._gate = transaction_gate(sessions)
        self.directory = Directory()
        self.outbox_ready = asyncio.Event()
        """Set when messages for other people were queued; channel senders wait on it."""

    async def run_maintenance(self) -> int:
        """Time-driven work: let unanswered requests lapse (both sides are told).

        Returns how many requests lapsed. Safe to run from several processes at once.
        """
        async with (
            self._gate or contextlib.nullcontext(),
            self.sessions() as session,
            session.begin(),
        ):
            lapsed = await requests.expire_due(session, self.clock())
        if lapsed:
            self.outbox_ready.set()
        return lapsed

    async def load_taxonomy(self) -> None:
        """Cache the active interest areas (call again after the taxonomy changes)."""
        async with self.sessions() as session:
            areas = await TaxonomyRepository(session).active_areas()
        self.areas = tuple(AreaOption(a.code, dict(a.names), a.id) for a in areas)

    async def handle(self, event: IncomingEvent) -> Response:
        """Handle one event; a user's events are handled one at a time, in arrival order."""
        sender = event.sender
        async with self._ordering.hold((sender.channel, sender.user_id)):
            locale = negotiate_locale(sender.language_hint)
            for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
                try:
                    return await self._transaction(event)
                except Exception as exc:
                    if attempt < TRANSACTION_ATTEMPTS and is_transient_conflict(exc):
                        await asyncio.sleep(random.uniform(0.005, 0.05) * attempt)
                        continue
                    log.exception(
                        "event from %s:%s failed: %r", sender.channel, sender.user_id, event
                    )
                    break
            return Response(replies=[Reply(translator(locale).gettext(APOLOGY))], locale=locale)

    async def _transaction(self, event: IncomingEvent) -> Response:
        """The event's one transaction: all of it is stored, or none of it."""
        async with self._gate, self.sessions() as session, session.begin():
            if isinstance(event, ReachabilityChanged):
                await ParticipantRepository(session).set_reachable(
                    event.sender.channel, event.sender.user_id, event.reachable, self.clock()
                )
                return Response()
            turn = await self._open(session, event.sender)
            locale = turn.participant.locale
            await self._dispatch(turn, event)
            if not turn.erased:
                turn.response.locale = turn.participant.locale
                turn.response.language_changed = turn.participant.locale != locale
                _stamp_changes(turn)
        if turn.outbox_written:
            self.outbox_ready.set()  # committed: senders may deliver it now
        if turn.profiles_changed or turn.erased:
            self.directory.invalidate()
        return turn.response

    async def _open(self, session: AsyncSession, sender: Sender) -> Turn:
        people = ParticipantRepository(session)
        now = self.clock()
        participant, state, created = await people.open_conversation(
            sender.channel,
            sender.user_id,
            sender.chat_id,
            negotiate_locale(sender.language_hint),
            now,
        )
        if not participant.active:
            participant.active = True  # they are writing to us, so they can be reached again
        return Turn(
            session=session,
            participant=participant,
            state=state,
            people=people,
            taxonomy=TaxonomyRepository(session),
            areas=self.areas,
            now=now,
            created=created,
            directory=self.directory,
        )

    async def _dispatch(self, turn: Turn, event: IncomingEvent) -> None:
        match event:
            case CommandMessage(name=name, args=args):
                await self._command(turn, name, args)
            case ButtonPress(payload=payload):
                await self._button(turn, payload)
            case TextMessage(text=text):
                await self._text(turn, text)
            case ContactShared(phone=phone, contact_user_id=owner):
                await self._contact(turn, phone, owner in (None, event.sender.user_id))
            case ReachabilityChanged():
                pass  # handled before a turn is opened
            case UnsupportedMessage():
                turn.say(turn.t.gettext("I can only read text messages and button presses."))
                await self._ask_again(turn)

    # --- commands -------------------------------------------------------------------------

    async def _command(self, turn: Turn, name: str, args: str) -> None:
        handler = self._commands().get(name)
        if handler is None:
            turn.say(fmt(turn.t.gettext("I don't know the command /{name}."), name=name[:40]))
            turn.say(menu.help_text(turn))
            await self._ask_again(turn)
            return
        await handler(turn, args)

    def _commands(self) -> dict[str, Callable[[Turn, str], Awaitable[None]]]:
        return {
            "start": self._start,
            "help": self._help,
            "language": self._language,
            "cancel": self._cancel,
            "profile": self._profile,
            "mydata": self._mydata,
            "deleteme": self._deleteme,
            "partners": self._registered_only(partners.show_partners),
            "agenda": self._registered_only(meetings.agenda),
            "events": self._registered_only(events_flow.list_my_events),
        }

    def _registered_only(
        self, action: Callable[[Turn], Awaitable[None]]
    ) -> Callable[[Turn, str], Awaitable[None]]:
        async def command(turn: Turn, _args: str) -> None:
            if not turn.registered:
                turn.say(turn.t.gettext("Please finish registration first: send /start."))
                await self._ask_again(turn)
                return
            if turn.flow == requests.REQUEST_FLOW:
                turn.go("idle")
            await action(turn)

        return command

    async def _start(self, turn: Turn, args: str) -> None:
        if args:
            # Kept for the flows that use deep links (events); stored, never trusted.
            turn.state.data = {**turn.state.data, START_PAYLOAD: args[:64]}
        if not await profile.leave_editing(turn):
            return
        if turn.registered and turn.flow != "idle":
            turn.go("idle")
        if turn.registered and args:
            await events_flow.join_pending_event(turn)
            return
        await registration.start(turn, new=turn.created)

    async def _help(self, turn: Turn, _args: str) -> None:
        turn.say(menu.help_text(turn))
        await self._ask_again(turn)

    async def _language(self, turn: Turn, _args: str) -> None:
        menu.offer_languages(turn)

    async def _cancel(self, turn: Turn, _args: str) -> None:
        field = self._active_field(turn)
        if turn.flow == REGISTRATION_FLOW:
            registration.pause(turn)
        elif turn.flow == EDIT_FLOW and field is not None:
            await profile.finish_edit(turn, field, saved=False)
        elif turn.flow == privacy.ERASE_FLOW:
            if await privacy.confirm_erase(turn, "no"):
                await self._ask_again(turn)
        elif turn.flow == requests.REQUEST_FLOW:
            await requests.on_note_button(turn, "cancel")
        else:
            turn.say(turn.t.gettext("There is nothing to cancel."))
            if turn.flow != "idle":
                turn.go("idle")

    async def _profile(self, turn: Turn, _args: str) -> None:
        if not turn.registered:
            turn.say(turn.t.gettext("You can see your profile once registration is complete."))
            await registration.start(turn, new=False)
            return
        if (editing := profile.editing(turn)) is not None:
            await profile.finish_edit(turn, editing, saved=False)
            return
        turn.go("idle")
        await profile.profile_card(turn)

    async def _mydata(self, turn: Turn, _args: str) -> None:
        await privacy.send_my_data(turn)

    async def _deleteme(self, turn: Turn, _args: str) -> None:
        field = self._active_field(turn)
        await privacy.ask_to_erase(turn, keyboard=bool(field and field.contact_button(turn)))

    # --- buttons, text and other input ----------------------------------------------------

    async def _button(self, turn: Turn, payload: str) -> None:
        key, value = split_payload(payload)
        if key == menu.SET_LANGUAGE:
            if menu.set_language(turn, value):
                await self._ask_again(turn)
            else:
                await self._stale(turn)
            return
        if key == profile.EDIT:
            field = profile.editable_field(value)
            if field is None or not turn.registered:
                await self._stale(turn)
            else:
                await profile.start_edit(turn, field)
            return
        action = self._buttons().get(key)
        if action is not None:
            if key == partners.NEW_REQUEST and not await profile.leave_editing(turn):
                return
            if turn.registered:
                await action(turn, value)
            else:
                await self._stale(turn)
            return
        if key == requests.NOTE:
            if turn.flow == requests.REQUEST_FLOW:
                await requests.on_note_button(turn, value)
            else:
                await self._stale(turn)
            return
        if key == privacy.ERASE_FLOW:
            if turn.flow != privacy.ERASE_FLOW:
                await self._stale(turn)
            elif await privacy.confirm_erase(turn, value):
                await self._ask_again(turn)
            return
        field = self._active_field(turn)
        if field is None or key != field.key:
            await self._stale(turn)
            return
        await self._navigate(turn, field, value)

    def _buttons(self) -> dict[str, Callable[[Turn, str], Awaitable[None]]]:
        """Buttons that work whenever a registered user presses them (payloads re-checked)."""
        return {
            partners.PARTNERS: partners.on_partners_button,
            partners.NEW_REQUEST: requests.start_request,
            requests.ANSWER: requests.on_answer_button,
            meetings.MEETING: meetings.on_meeting_button,
            meetings.FEEDBACK: meetings.on_feedback_button,
        }

    async def _navigate(self, turn: Turn, field: Field, value: str) -> None:
        editing = turn.flow == EDIT_FLOW
        if value == NAV_BACK and not editing:
            await registration.go_back(turn, field)
        elif value == NAV_CANCEL and editing:
            await profile.finish_edit(turn, field, saved=False)
        elif value == NAV_SKIP and field.optional:
            await field.clear(turn)
            await self._answered(turn, field, Outcome.DONE, pressed=True)
        elif value == NAV_DONE and field.multi:
            await self._answered(turn, field, await field.finish(turn), pressed=True)
        else:
            await self._answered(turn, field, await field.on_choice(turn, value), pressed=True)

    async def _text(self, turn: Turn, text: str) -> None:
        field = self._active_field(turn)
        if field is not None:
            await self._answered(turn, field, await field.on_text(turn, text), pressed=False)
        elif turn.flow == privacy.ERASE_FLOW:
            turn.say(turn.t.gettext("Please choose one of the options below."))
            privacy.erase_prompt(turn)
        elif turn.flow == requests.REQUEST_FLOW:
            await requests.on_note_text(turn, text)
        elif not turn.registered:
            await registration.start(turn, new=turn.created)
        else:
            turn.say(turn.t.gettext("I didn't understand that. Here is what I can do:"))
            turn.say(menu.help_text(turn))

    async def _contact(self, turn: Turn, phone: str, own: bool) -> None:
        field = self._active_field(turn)
        if field is None:
            turn.say(turn.t.gettext("Thank you, but I did not ask for a phone number now."))
            return
        await self._answered(turn, field, await field.on_contact(turn, phone, own), pressed=False)

    async def _answered(self, turn: Turn, field: Field, answer: Answer, *, pressed: bool) -> None:
        if isinstance(answer, Problem):
            turn.say(answer.render(turn.t))
            await self._ask_again(turn)
        elif answer is Outcome.STAY:
            await self._ask_again(turn, edit=pressed)
        elif turn.flow == EDIT_FLOW:
            await profile.finish_edit(turn, field, saved=True)
        else:
            await registration.advance(turn, field)

    async def _stale(self, turn: Turn) -> None:
        turn.notice(turn.t.gettext(STALE_BUTTON))
        turn.say(turn.t.gettext(STALE_BUTTON))
        if not await self._ask_again(turn):
            turn.say(menu.help_text(turn))

    def _active_field(self, turn: Turn) -> Field | None:
        if turn.flow == REGISTRATION_FLOW:
            return registration.current_field(turn)
        if turn.flow == EDIT_FLOW and turn.state.step:
            return profile.editable_field(turn.state.step)
        return None

    async def _ask_again(self, turn: Turn, *, edit: bool = False) -> bool:
        """Repeat the question the user is on; ``False`` when they are on none."""
        field = self._active_field(turn)
        if field is not None and turn.flow == REGISTRATION_FLOW:
            await registration.ask_field(turn, field, edit=edit)
        elif field is not None:
            await profile.ask_edit(turn, field, edit=edit)
        elif turn.flow == privacy.ERASE_FLOW:
            privacy.erase_prompt(turn)
        elif turn.flow == requests.REQUEST_FLOW:
            await requests.ask_note_again(turn)
        else:
            return False
        return True


def _stamp_changes(turn: Turn) -> None:
    """Set ``updated_at`` of the participant and their state if the turn changed them."""
    for row in (turn.participant, turn.state):
        if turn.session.is_modified(row):
            row.updated_at = turn.now

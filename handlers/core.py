"""The core's front door: one incoming message in, one response out, in one transaction.

Commands work at any step; button payloads are checked against where the user stands;
everything else goes to the question the user is on. What each command, button and flow
does is declared by the flow modules' routers (:mod:`handlers.kernel.flow_router`); the core only
looks them up.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.flows import default_routers
from handlers.kernel.context import AreaOption, OrganiserIds, Turn
from handlers.kernel.flow_router import (
    STALE_BUTTON,
    After,
    ButtonRoute,
    CommandRoute,
    FlowRoute,
    FlowRouter,
    Outcome,
    TimedJob,
    claim_routes,
)
from handlers.kernel.i18n import N_, negotiate_locale, translator
from handlers.kernel.incoming import (
    ButtonPress,
    CommandMessage,
    ContactShared,
    Incoming,
    ReachabilityChanged,
    Sender,
    TextMessage,
    UnsupportedMessage,
)
from handlers.kernel.markup import fmt
from handlers.kernel.menu import help_text
from handlers.kernel.ordering import KeyedLock
from handlers.kernel.replies import Reply, Response, split_payload
from handlers.kernel.terms import DEMO_PRIVACY_TERMS, PrivacyTerms
from handlers.kernel.validation import clean_text
from handlers.organiser import rights
from storage.db import is_transient_conflict, transaction_gate
from storage.repositories import ParticipantRepository, TaxonomyRepository

log = logging.getLogger(__name__)

APOLOGY = N_("Sorry, something went wrong on our side. Your answers are safe; please try again.")
TRANSACTION_ATTEMPTS = 4


class Core:
    """Channel-neutral conversation engine shared by every channel.

    ``routers`` are the flows it runs (by default :func:`default_routers`); a command, a
    button prefix or a flow name may be claimed by one router only. ``privacy_terms`` names the
    data controller and the retention period the privacy notice states.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime],
        routers: Sequence[FlowRouter] | None = None,
        privacy_terms: PrivacyTerms = DEMO_PRIVACY_TERMS,
        organisers: OrganiserIds = frozenset(),
    ) -> None:
        self.sessions = sessions
        self.privacy_terms = privacy_terms
        self.clock = clock
        self.organisers = organisers
        """Organisers named by the configuration, as ``(channel, user id)`` pairs."""
        self.areas: tuple[AreaOption, ...] = ()
        self._ordering = KeyedLock()
        self._gate = transaction_gate(sessions)
        self.outbox_ready = asyncio.Event()
        """Set when messages for other people were queued; channel senders wait on it."""
        self.schedule_changed = asyncio.Event()
        """Set when a turn changed what is due later; the scheduler reloads on it."""
        self.routers = (self._own_router(), *(default_routers() if routers is None else routers))
        """The core's own router (``/help``, ``/cancel``) first, then the flows', in order."""
        self._commands: dict[str, CommandRoute] = {}
        self._buttons: dict[str, ButtonRoute] = {}
        self._flows: dict[str, FlowRoute] = {}
        self._timed: dict[str, TimedJob] = {}
        for router in self.routers:
            claim_routes(self._timed, router, router.timed_jobs)
            claim_routes(self._commands, router, {c.name: c for c in router.commands})
            claim_routes(self._buttons, router, {b.prefix: b for b in router.buttons})
            claim_routes(self._flows, router, {f.name: f for f in router.flows})

    def _own_router(self) -> FlowRouter:
        """``/help`` and ``/cancel``: they serve whatever flow the user is in."""
        router = FlowRouter("core")
        router.command("help", self._help)
        router.command("cancel", self._cancel)
        return router

    async def run_maintenance(self) -> int:
        """Every router's time-driven work, in one transaction (today: unanswered requests
        lapse and both sides are told).

        Returns how much was done (requests that lapsed). Safe to run from several processes
        at once.
        """
        done = 0
        async with (
            self._gate,
            self.sessions() as session,
            session.begin(),
        ):
            now = self.clock()
            for router in self.routers:
                for job in router.maintenance_jobs:
                    done += await job(session, now)
        if done:
            self.outbox_ready.set()
        return done

    @property
    def timed_jobs(self) -> tuple[str, ...]:
        """The names :meth:`run_timed` accepts."""
        return tuple(self._timed)

    async def run_timed(self, name: str, item_ids: Sequence[int]) -> bool:
        """Run the timed job ``name`` for ``item_ids`` in a transaction of its own.

        Returns whether it queued messages (senders are woken). Safe to run from several
        processes at once: the job claims its item.
        """
        job = self._timed[name]
        async with self._gate, self.sessions() as session, session.begin():
            queued = await job(session, self.clock(), item_ids)
        if queued:
            self.outbox_ready.set()
        return queued

    async def load_taxonomy(self) -> None:
        """Cache the active interest areas (call again after the taxonomy changes)."""
        async with self.sessions() as session:
            areas = await TaxonomyRepository(session).active_areas()
        self.areas = tuple(AreaOption(a.code, dict(a.names), a.id) for a in areas)

    async def handle(self, incoming: Incoming) -> Response:
        """Answer one incoming message; a user's are handled one at a time, in arrival order."""
        sender = incoming.sender
        async with self._ordering.hold((sender.channel, sender.user_id)):
            locale = negotiate_locale(sender.language_hint)
            for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
                try:
                    return await self._transaction(incoming)
                except Exception as exc:
                    if attempt < TRANSACTION_ATTEMPTS and is_transient_conflict(exc):
                        await asyncio.sleep(random.uniform(0.005, 0.05) * attempt)
                        continue
                    log.exception(
                        "update from %s:%s failed: %r", sender.channel, sender.user_id, incoming
                    )
                    break
            return Response(replies=[Reply(translator(locale).gettext(APOLOGY))], locale=locale)

    async def _transaction(self, incoming: Incoming) -> Response:
        """The update's one transaction: all of it is stored, or none of it."""
        async with self._gate, self.sessions() as session, session.begin():
            if isinstance(incoming, ReachabilityChanged):
                await ParticipantRepository(session).set_reachable(
                    incoming.sender.channel,
                    incoming.sender.user_id,
                    incoming.reachable,
                    self.clock(),
                )
                return Response()
            turn = await self.open_turn(session, incoming.sender)
            locale = turn.participant.locale
            await self._dispatch(turn, incoming)
            if not turn.erased:
                turn.response.locale = turn.participant.locale
                turn.response.language_changed = turn.participant.locale != locale
                if turn.response.language_changed and await rights.is_organiser(turn):
                    turn.response.organiser_menu = True
                _stamp_changes(turn)
        if turn.outbox_written:
            self.outbox_ready.set()  # committed: senders may deliver it now
        if turn.schedule_changed:
            self.schedule_changed.set()
        for router in self.routers:
            for hook in router.after_commit_hooks:
                hook(turn)
        for work in turn.deferred:
            await work()
        return turn.response

    async def open_turn(self, session: AsyncSession, sender: Sender) -> Turn:
        """The turn of ``sender`` (created as a new user if unknown) in ``session``."""
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
            flows=self,
            created=created,
            privacy=self.privacy_terms,
            organisers=self.organisers,
        )

    async def _dispatch(self, turn: Turn, incoming: Incoming) -> None:
        match incoming:
            case CommandMessage(name=name, args=args):
                await self._command(turn, name, args)
            case ButtonPress(payload=payload, message_ref=ref):
                turn.message_ref = ref
                await self._button(turn, payload)
            case TextMessage(text=text):
                await self._text(turn, text)
            case ContactShared(phone=phone, contact_user_id=owner):
                await self._contact(turn, phone, owner in (None, incoming.sender.user_id))
            case ReachabilityChanged():
                pass  # handled before a turn is opened
            case UnsupportedMessage():
                turn.say(turn.t.gettext("I can only read text messages and button presses."))
                await self._ask_again(turn)

    def _flow(self, turn: Turn) -> FlowRoute | None:
        return self._flows.get(turn.flow)

    async def _after(self, turn: Turn, outcome: Outcome) -> None:
        if outcome is After.ASK_AGAIN:
            await self._ask_again(turn)
        elif outcome is After.STALE:
            await self._stale(turn)

    # --- commands -------------------------------------------------------------------------

    async def _command(self, turn: Turn, name: str, args: str) -> None:
        route = self._commands.get(name)
        if route is None:
            await self._unknown_command(turn, name)
            return
        if route.registered:
            if not turn.registered:
                await self._registration_first(turn, name)
                return
            flow = self._flow(turn)
            if flow is not None and flow.ended_by_commands:
                turn.go("idle")
        outcome = await route.handler(turn, args)
        if outcome is After.DECLINED:  # not for this user (an organiser's command): as if unknown
            await self._unknown_command(turn, name)
            return
        await self._after(turn, outcome)

    async def _unknown_command(self, turn: Turn, name: str) -> None:
        turn.say(fmt(turn.t.gettext("I don't know the command /{name}."), name=name[:40]))
        turn.say(help_text(turn))
        await self._ask_again(turn)

    async def _registration_first(self, turn: Turn, name: str) -> None:
        """A command for participants, from someone still registering: one message, which
        says what to do next, and the question they are on (if they are on one)."""
        t = turn.t
        told = len(turn.response.replies)
        if await self._ask_again(turn):
            text = t.gettext(
                "/{name} works once registration is complete. Let's continue where you left off:"
            )
        else:
            text = t.gettext(
                "/{name} works once registration is complete: send /start to finish it."
            )
        turn.response.replies.insert(told, Reply(fmt(text, name=name)))

    async def _help(self, turn: Turn, _args: str) -> After:
        organiser = await rights.is_organiser(turn)
        turn.say(help_text(turn, rights.ORGANISER_COMMANDS[:1] if organiser else ()))
        return After.ASK_AGAIN

    async def _cancel(self, turn: Turn, _args: str) -> Outcome:
        flow = self._flow(turn)
        if flow is not None and flow.cancel is not None:
            outcome = await flow.cancel(turn)
            if outcome is not After.DECLINED:
                return outcome
        turn.say(turn.t.gettext("There is nothing to cancel."))
        if turn.flow != "idle":
            turn.go("idle")
        return None

    # --- buttons, text and other input ----------------------------------------------------

    async def _button(self, turn: Turn, payload: str) -> None:
        key, value = split_payload(payload)
        route = self._buttons.get(key)
        if route is not None:
            if (route.flow is not None and turn.flow != route.flow) or (
                route.registered and not turn.registered
            ):
                await self._stale(turn)
            else:
                outcome = await route.handler(turn, value)
                # DECLINED: not this user's button after all (an organiser's): as if unknown.
                await self._after(turn, After.STALE if outcome is After.DECLINED else outcome)
            return
        flow = self._flow(turn)
        if flow is None or flow.button is None:
            await self._stale(turn)
            return
        await self._after(turn, await flow.button(turn, payload))

    async def _text(self, turn: Turn, text: str) -> None:
        if not clean_text(text):
            return  # an empty line (or only invisible characters) asks for nothing
        flow = self._flow(turn)
        if flow is not None and flow.text is not None:
            outcome = await flow.text(turn, text)
            if outcome is not After.DECLINED:
                await self._after(turn, outcome)
                return
        for router in self.routers:
            for handler in router.idle_text:
                outcome = await handler(turn, text)
                if outcome is not After.DECLINED:
                    await self._after(turn, outcome)
                    return
        turn.say(turn.t.gettext("I didn't understand that. Here is what I can do:"))
        turn.say(help_text(turn))

    async def _contact(self, turn: Turn, phone: str, own: bool) -> None:
        flow = self._flow(turn)
        if flow is not None and flow.contact is not None:
            outcome = await flow.contact(turn, phone, own)
            if outcome is not After.DECLINED:
                await self._after(turn, outcome)
                return
        turn.say(turn.t.gettext("Thank you, but I did not ask for a phone number now."))

    async def _stale(self, turn: Turn) -> None:
        turn.notice(turn.t.gettext(STALE_BUTTON))
        turn.say(turn.t.gettext(STALE_BUTTON))
        if not await self._ask_again(turn):
            turn.say(help_text(turn))

    async def _ask_again(self, turn: Turn, *, edit: bool = False) -> bool:
        """Repeat the question the user is on; ``False`` when they are on none."""
        flow = self._flow(turn)
        if flow is None or flow.ask_again is None:
            return False
        return await flow.ask_again(turn, edit)

    # --- what flows may ask of the core (handlers.kernel.context.Flows) ---------------------------

    async def leave(self, turn: Turn) -> bool:
        """Leave the user's flow if it must be left explicitly; ``False``: they stay."""
        flow = self._flow(turn)
        return flow is None or flow.leave is None or await flow.leave(turn)

    async def use_start_payload(self, turn: Turn) -> None:
        """Let the flows that use deep links act on a kept ``/start`` payload."""
        for router in self.routers:
            for hook in router.start_payload_hooks:
                await hook(turn)

    async def before_erase(self, turn: Turn) -> None:
        """Let every module clean up what it holds about the participant being erased."""
        for router in self.routers:
            for hook in router.erase_hooks:
                await hook(turn)


def _stamp_changes(turn: Turn) -> None:
    """Set ``updated_at`` of the participant and their state if the turn changed them."""
    for row in (turn.participant, turn.state):
        if turn.session.is_modified(row):
            row.updated_at = turn.now

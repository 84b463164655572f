"""Direct column writes at the end of a turn: exactly what the unit of work would have stored."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import cast

import pytest
from sqlalchemy import delete, event, func, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.dml import Delete
from sqlalchemy.util import await_only

from bot.app import App
from storage.models import ConsentRecord, ConversationState, Participant
from storage.repositories import ParticipantRepository
from storage.writes import turn_transaction, write_column_changes

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


async def _person(app: App, external_id: str = "w1") -> int:
    """A participant with a conversation state, both last updated long ago."""
    async with app.sessions() as session, session.begin():
        people = ParticipantRepository(session)
        participant, state, _ = await people.open_conversation("test", external_id, "c1", "en")
        participant.updated_at = LONG_AGO
        state.updated_at = LONG_AGO
        await session.flush()
        return participant.id


async def _loaded(session: AsyncSession, participant_id: int) -> Participant:
    participant = await session.get(Participant, participant_id)
    assert participant is not None
    return participant


async def _delete_unseen(session: AsyncSession, statement: Delete) -> None:
    """Delete as another writer would: the session is not told which objects went."""
    await session.execute(statement.execution_options(synchronize_session=False))


async def _stored(app: App, participant_id: int) -> tuple[Participant, ConversationState]:
    async with app.sessions() as session:
        participant = await session.get(Participant, participant_id)
        state = await session.get(ConversationState, participant_id)
        assert participant is not None and state is not None
        return participant, state


async def test_changed_columns_are_written_once_and_nothing_is_left_to_flush(app: App) -> None:
    pid = await _person(app)
    async with app.sessions() as session, session.begin():
        participant, state, _ = await ParticipantRepository(session).open_conversation(
            "test", "w1", "c1", "en"
        )
        participant.name = "Acme & <Co>"
        participant.languages_spoken = ["it", "zh"]
        participant.locale = "en"  # the value it had: not a change
        state.data = {"step": 3, "名": "王"}
        state.step = "city"
        assert await write_column_changes(session) is True
        assert not session.dirty and not session.new
        assert inspect(participant).detached and inspect(state).detached
        assert participant.name == "Acme & <Co>"  # loaded values stay readable
    participant, state = await _stored(app, pid)
    assert participant.name == "Acme & <Co>"
    assert participant.languages_spoken == ["it", "zh"]
    assert participant.locale == "en" and participant.chat_id == "c1"
    assert state.data == {"step": 3, "名": "王"} and state.step == "city"
    # ``onupdate`` applies as in a flush: both rows' ``updated_at`` moved on.
    assert participant.updated_at > LONG_AGO and state.updated_at > LONG_AGO


async def test_a_new_row_leaves_everything_to_the_flush(app: App) -> None:
    pid = await _person(app)
    async with app.sessions() as session, session.begin():
        participant = await _loaded(session, pid)
        participant.city = "Milano"
        session.add(
            ConsentRecord(participant_id=pid, purpose="privacy", notice_version="1", locale="en")
        )
        assert await write_column_changes(session) is False
        assert participant in session.dirty  # untouched: the commit writes both
    participant, _ = await _stored(app, pid)
    assert participant.city == "Milano"
    async with app.sessions() as session:
        consents = await session.scalars(
            select(ConsentRecord).where(ConsentRecord.participant_id == pid)
        )
        assert len(consents.all()) == 1


async def test_a_relationship_change_leaves_everything_to_the_flush(app: App) -> None:
    pid = await _person(app)
    async with app.sessions() as session, session.begin():
        participant = await session.get(Participant, pid)
        state = await session.get(ConversationState, pid)
        assert participant is not None and state is not None
        await session.refresh(participant, ["consents"])
        state.step = "name"
        participant.consents = []  # a collection, not a column
        assert await write_column_changes(session) is False
        assert state in session.dirty
    _, state = await _stored(app, pid)
    assert state.step == "name"


async def test_a_row_deleted_meanwhile_fails_as_a_flush_would(app: App) -> None:
    pid = await _person(app)
    async with app.sessions() as session, session.begin():
        participant = await _loaded(session, pid)
        # As another writer would: a plain DELETE the session knows nothing about
        # (the conversation state goes with it, ON DELETE CASCADE).
        await _delete_unseen(session, delete(Participant).where(Participant.id == pid))
        participant.city = "Roma"
        with pytest.raises(StaleDataError):
            await write_column_changes(session)
        await session.rollback()
    participant, _ = await _stored(app, pid)
    assert participant.city is None


async def test_nothing_changed_writes_nothing(app: App) -> None:
    pid = await _person(app)
    async with app.sessions() as session, session.begin():
        participant = await _loaded(session, pid)
        assert await write_column_changes(session) is True
        assert not inspect(participant).detached  # nothing to write, nothing released
    participant, _ = await _stored(app, pid)
    assert participant.updated_at == LONG_AGO


async def test_a_value_changed_in_place_and_flagged_is_written(app: App) -> None:
    pid = await _person(app)
    async with app.sessions() as session, session.begin():
        state = await session.get(ConversationState, pid)
        assert state is not None
        state.data["answer"] = "in place"  # the same dict: only flag_modified tells the ORM
        flag_modified(state, "data")
        assert await write_column_changes(session) is True
    _, state = await _stored(app, pid)
    assert state.data == {"answer": "in place"}


async def test_a_sql_expression_is_left_to_the_flush(app: App) -> None:
    pid = await _person(app)
    async with app.sessions() as session, session.begin():
        participant = await _loaded(session, pid)
        participant.name = "abc"
        await session.flush()
        participant.name = func.upper(Participant.name)  # type: ignore[assignment]
        assert await write_column_changes(session) is False
    participant, _ = await _stored(app, pid)
    assert participant.name == "ABC"


async def test_a_written_object_carries_no_pending_change_out_of_the_session(app: App) -> None:
    pid = await _person(app)
    async with app.sessions() as session, session.begin():
        participant = await _loaded(session, pid)
        participant.city = "Roma"
        assert await write_column_changes(session) is True
    async with app.sessions() as session, session.begin():
        stored = await session.get(Participant, pid)
        assert stored is not None
        stored.city = "Milano"  # changed since by someone else
    async with app.sessions() as session, session.begin():
        session.add(participant)  # the old object back: nothing of it is pending any more
        assert not session.is_modified(participant)
    stored, _ = await _stored(app, pid)
    assert stored.city == "Milano"


# --- turn_transaction: one transaction per turn, committed or rolled back, always closed ---


class Boom(Exception):
    pass


def _checked_out(app: App) -> int:
    return cast(QueuePool, app.engine.sync_engine.pool).checkedout()


def _closed(session: AsyncSession, app: App) -> bool:
    """Closed, and its connection back in the pool."""
    return (
        not session.in_transaction() and len(session.identity_map) == 0 and _checked_out(app) == 0
    )


async def test_a_turn_transaction_commits_direct_writes_and_new_rows_and_closes(app: App) -> None:
    pid = await _person(app)
    async with turn_transaction(app.sessions) as session:
        participant = await _loaded(session, pid)
        participant.city = "Torino"
    assert _closed(session, app)
    async with turn_transaction(app.sessions) as session:
        participant = await _loaded(session, pid)
        participant.city = "Napoli"  # with a new row: written by the flush
        session.add(
            ConsentRecord(participant_id=pid, purpose="privacy", notice_version="1", locale="en")
        )
    assert _closed(session, app)
    participant, _ = await _stored(app, pid)
    assert participant.city == "Napoli"
    async with app.sessions() as check:
        consents = await check.scalar(select(func.count()).select_from(ConsentRecord))
    assert consents == 1


async def test_a_turn_that_raises_stores_nothing_and_closes(app: App) -> None:
    pid = await _person(app)
    with pytest.raises(Boom):
        async with turn_transaction(app.sessions) as session:
            participant = await _loaded(session, pid)
            participant.city = "Bari"
            await session.flush()  # already sent to the database: must be rolled back
            raise Boom
    assert _closed(session, app)
    participant, _ = await _stored(app, pid)
    assert participant.city is None


async def test_a_turn_whose_write_fails_stores_nothing_and_closes(app: App) -> None:
    pid = await _person(app)
    with pytest.raises(StaleDataError):
        async with turn_transaction(app.sessions) as session:
            participant = await _loaded(session, pid)
            state = await session.get(ConversationState, pid)
            assert state is not None
            await _delete_unseen(
                session, delete(ConversationState).where(ConversationState.participant_id == pid)
            )
            participant.city = "Roma"
            state.step = "city"  # its row is gone: this UPDATE fails
    assert _closed(session, app)
    participant, _ = await _stored(app, pid)  # the state's deletion was rolled back too
    assert participant.city is None


async def test_a_turn_that_returns_early_is_committed(app: App) -> None:
    pid = await _person(app)

    async def turn() -> str:
        async with turn_transaction(app.sessions) as session:
            participant = await _loaded(session, pid)
            participant.city = "Lecce"
            return "answered"

    assert await turn() == "answered"
    participant, _ = await _stored(app, pid)
    assert participant.city == "Lecce"


async def test_a_turn_whose_commit_is_refused_stores_nothing_and_closes(app: App) -> None:
    pid = await _person(app)
    with pytest.raises(IntegrityError):
        async with turn_transaction(app.sessions) as session:
            participant = await _loaded(session, pid)
            participant.city = "Pisa"
            # A new row: the commit's flush writes it, and the database refuses it.
            session.add(
                ConsentRecord(
                    participant_id=pid + 1000, purpose="privacy", notice_version="1", locale="en"
                )
            )
    assert _closed(session, app)
    participant, _ = await _stored(app, pid)
    assert participant.city is None


@pytest.mark.parametrize("hook", ["rollback", "commit"])
async def test_a_turn_cancelled_while_it_ends_still_returns_its_connection(
    app: App, hook: str
) -> None:
    """Cancelled (a shutdown, a time-out) during the final round trip to the database."""
    pid = await _person(app)
    reached = asyncio.Event()

    def slow_round_trip(_connection: object) -> None:
        reached.set()
        await_only(asyncio.sleep(0.2))

    event.listen(app.engine.sync_engine, hook, slow_round_trip)
    try:

        async def turn() -> None:
            async with turn_transaction(app.sessions) as session:
                participant = await _loaded(session, pid)
                participant.city = "Como"
                if hook == "rollback":
                    raise Boom

        task = asyncio.create_task(turn())
        await reached.wait()
        task.cancel()
        with pytest.raises((asyncio.CancelledError, Boom)):
            await task
        assert _checked_out(app) == 0
    finally:
        event.remove(app.engine.sync_engine, hook, slow_round_trip)

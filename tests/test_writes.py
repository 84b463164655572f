"""Direct column writes at the end of a turn: exactly what the unit of work would have stored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

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
        table = Participant.__table__
        await session.execute(delete(table).where(table.c.id == pid))
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


def _closed(session: AsyncSession) -> bool:
    return not session.in_transaction() and len(session.identity_map) == 0


async def test_a_turn_transaction_commits_direct_writes_and_new_rows_and_closes(app: App) -> None:
    pid = await _person(app)
    async with turn_transaction(app.sessions) as session:
        participant = await _loaded(session, pid)
        participant.city = "Torino"
    assert _closed(session)
    async with turn_transaction(app.sessions) as session:
        participant = await _loaded(session, pid)
        participant.city = "Napoli"  # with a new row: written by the flush
        session.add(
            ConsentRecord(participant_id=pid, purpose="privacy", notice_version="1", locale="en")
        )
    assert _closed(session)
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
    assert _closed(session)
    participant, _ = await _stored(app, pid)
    assert participant.city is None


async def test_a_turn_whose_write_fails_stores_nothing_and_closes(app: App) -> None:
    pid = await _person(app)
    with pytest.raises(StaleDataError):
        async with turn_transaction(app.sessions) as session:
            participant = await _loaded(session, pid)
            state = await session.get(ConversationState, pid)
            assert state is not None
            table = ConversationState.__table__  # behind the session's back, as above
            await session.execute(delete(table).where(table.c.participant_id == pid))
            participant.city = "Roma"
            state.step = "city"  # its row is gone: this UPDATE fails
    assert _closed(session)
    participant, _ = await _stored(app, pid)  # the state's deletion was rolled back too
    assert participant.city is None

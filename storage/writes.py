"""Writing an ordinary answer's changes without the ORM's unit of work.

Most updates change a few columns of rows the turn loaded — the participant and their
conversation state — and nothing else. The unit of work prepares a flush for the whole
mapped graph (dependency processors for every relationship, a topological sort) before it
emits those two UPDATEs; on SQLite that preparation cost more than the statements and was
the largest part of Ponte's CPU per update (docs/benchmarks.md). :func:`write_column_changes`
writes exactly those changed columns with one plain UPDATE per row instead, and hands
anything else — a new or deleted row, a changed relationship or key — to the usual flush.
:func:`turn_transaction` is the transaction a turn runs in, ending with those writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Column, Table, bindparam, inspect, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstanceState, LoaderCallableStatus, Mapper, Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.dml import Update

_KEY = "_pk"  # the bound parameter naming the row; never a column name
_NO_VALUE = LoaderCallableStatus.NO_VALUE
_STATEMENTS: dict[Table, Update] = {}
# Per mapper: attribute key → its column, for the attributes a direct write may change;
# ``None`` for a mapper whose rows never qualify.
_COLUMNS: dict[Mapper[Any], dict[str, Column[Any]] | None] = {}


async def write_column_changes(session: AsyncSession) -> bool:
    """At the end of a turn, write pending column changes of loaded rows directly.

    Returns ``False``, having written nothing, when some change is not a plain column change
    of a loaded row; the commit's flush then writes everything as usual. Otherwise each
    changed row gets one UPDATE and the session's objects leave it (their loaded values
    stay readable), so the commit has nothing left to flush. Column ``onupdate`` defaults (such
    as ``updated_at``) are applied by the UPDATE, as a flush would; the objects keep their
    old value of such a column. Call it last in a transaction: objects that left the session
    cannot load anything more.
    """
    return await session.run_sync(_write)


@asynccontextmanager
async def turn_transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A new session holding one transaction: committed when the block ends (changes
    written as :func:`write_column_changes` does), rolled back if it raises; closed either way.

    As ``async with sessions() as session, session.begin():``, but writing, committing and
    closing take one switch into SQLAlchemy's greenlet instead of three, and beginning none
    (the first statement begins the transaction). Each switch costs about 0.03 ms of CPU,
    paid on every update (docs/benchmarks.md).
    """
    session = sessions()
    try:
        yield session
        await session.run_sync(_write_commit_close)
    except BaseException:
        await _close_even_if_cancelled(session)
        raise


def _write_commit_close(session: Session) -> None:
    _write(session)
    session.commit()
    session.close()


async def _close_even_if_cancelled(session: AsyncSession) -> None:
    """Close (and so roll back) ``session``; a cancellation meanwhile waits for the close.

    Abandoned half-way, the close would leave its connection out of the pool. (The
    session's own context manager does the same, with a task per session, on every exit.)
    """
    closing = asyncio.ensure_future(session.close())
    cancelled = False
    while not closing.done():
        try:
            await asyncio.shield(closing)
        except asyncio.CancelledError:
            cancelled = True  # the caller was cancelled; the close goes on
    closing.result()  # the close's own error, if any
    if cancelled:
        raise asyncio.CancelledError


def _write(session: Session) -> bool:
    if session.new or session.deleted:
        return False
    writes: list[tuple[InstanceState[Any], Table, dict[str, Any]]] = []
    for instance in session.dirty:
        state: InstanceState[Any] = inspect(instance)
        planned = _plan(state)
        if planned is None:
            return False
        writes.append((state, *planned))
    for state, table, values in writes:
        if len(values) > 1:  # more than the row's key: something did change
            result = session.connection().execute(_statement(table), values)
            if result.rowcount != 1:  # as the unit of work would: the row is gone
                raise StaleDataError(f"UPDATE of {table.name} matched {result.rowcount} rows")
        # Recorded as stored, so the object carries no pending change out of the session.
        instance = state.obj()
        for key in list(state.committed_state):
            set_committed_value(instance, key, state.dict[key])
    if writes:
        # Nothing else is pending, so every object may leave the session (cheaper than one
        # by one, which follows each relationship); loaded values stay readable, only lazy
        # loads are impossible.
        session.expunge_all()
    return True


def _plan(state: InstanceState[Any]) -> tuple[Table, dict[str, Any]] | None:
    """The UPDATE's table and parameters, or ``None`` when the row's changes are not plain
    column changes."""
    mapper = state.mapper
    if mapper not in _COLUMNS:
        _COLUMNS[mapper] = _writable_columns(mapper)
    columns = _COLUMNS[mapper]
    identity = state.identity
    if columns is None or identity is None:
        return None
    values: dict[str, Any] = {}
    current = state.dict
    for key, original in state.committed_state.items():
        column = columns.get(key)
        if column is None:
            return None  # a relationship, a key, or something else the unit of work handles
        value = current.get(key, _NO_VALUE)
        if (
            value is _NO_VALUE
            or isinstance(value, ClauseElement)
            or hasattr(value, "__clause_element__")
        ):
            return None  # unloaded, or a SQL expression for the unit of work to render
        # Compared as the unit of work compares: by the column type's rule.
        if original is _NO_VALUE or not column.type.compare_values(value, original):
            values[column.key] = value
    values[_KEY] = identity[0]
    return mapper.local_table, values  # type: ignore[return-value]


def _writable_columns(mapper: Mapper[Any]) -> dict[str, Column[Any]] | None:
    """The mapper's plain, non-key columns by attribute key; ``None`` if it has no simple
    one-table, one-column primary key, or needs what only a flush does (a version counter,
    values the server sets on update, ``eager_defaults=True``)."""
    table = mapper.local_table
    if not isinstance(table, Table) or len(mapper.tables) != 1 or len(mapper.primary_key) != 1:
        return None
    if mapper.version_id_col is not None or mapper.eager_defaults is True:
        return None
    if any(column.server_onupdate is not None for column in table.columns):
        return None
    columns: dict[str, Column[Any]] = {}
    for prop in mapper.column_attrs:
        if len(prop.columns) == 1:
            column = prop.columns[0]
            if isinstance(column, Column) and column.table is table and not column.primary_key:
                columns[prop.key] = column
    return columns


def _statement(table: Table) -> Update:
    """``UPDATE table SET … WHERE pk = :_pk``; the SET list follows each call's parameters."""
    statement = _STATEMENTS.get(table)
    if statement is None:
        (key_column,) = table.primary_key.columns
        statement = _STATEMENTS[table] = update(table).where(key_column == bindparam(_KEY))
    return statement

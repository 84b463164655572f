"""Writing an ordinary answer's changes without the ORM's unit of work.

Most updates change a few columns of rows the turn loaded — the participant and their
conversation state — and nothing else. The unit of work prepares a flush for the whole
mapped graph (dependency processors for every relationship, a topological sort) before it
emits those two UPDATEs; on SQLite that preparation cost more than the statements and was
the largest part of Ponte's CPU per update (docs/benchmarks.md). :func:`write_column_changes`
writes exactly those changed columns with one plain UPDATE per row instead, and hands
anything else — a new or deleted row, a changed relationship or key — to the usual flush.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, bindparam, inspect, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstanceState
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.dml import Update

_KEY = "_pk"  # the bound parameter naming the row; never a column name
_STATEMENTS: dict[Table, Update] = {}


async def write_column_changes(session: AsyncSession) -> bool:
    """At the end of a turn, write pending column changes of loaded rows directly.

    Returns ``False``, having written nothing, when some change is not a plain column change
    of a loaded row; the commit's flush then writes everything as usual. Otherwise each
    changed row gets one UPDATE and its object leaves the session (its loaded values stay
    readable), so the commit has nothing left to flush. Column ``onupdate`` defaults (such
    as ``updated_at``) are applied by the UPDATE, as a flush would; the objects keep their
    old value of such a column. Call it last in a transaction: objects that left the session
    cannot load anything more.
    """
    sync = session.sync_session
    if sync.new or sync.deleted:
        return False
    writes: list[tuple[InstanceState[Any], Table, dict[str, Any]]] = []
    for instance in sync.dirty:
        state: InstanceState[Any] = inspect(instance)
        planned = _plan(state)
        if planned is None:
            return False
        writes.append((state, *planned))
    for _state, table, values in writes:
        if len(values) > 1:  # more than the row's key: something did change
            connection = await session.connection()
            result = await connection.execute(_statement(table), values)
            if result.rowcount != 1:  # as the unit of work would: the row is gone
                raise StaleDataError(f"UPDATE of {table.name} matched {result.rowcount} rows")
    for state, *_ in writes:
        # Written: the session must not write it again at commit. Leaving the session keeps
        # every loaded value readable; only lazy loads are no longer possible.
        sync.expunge(state.obj())
    return True


def _plan(state: InstanceState[Any]) -> tuple[Table, dict[str, Any]] | None:
    """The UPDATE's table and parameters, or ``None`` when the row's changes are not plain
    column changes."""
    mapper = state.mapper
    table = mapper.local_table
    if not isinstance(table, Table) or len(mapper.primary_key) != 1 or len(mapper.tables) != 1:
        return None
    values: dict[str, Any] = {}
    for key in state.committed_state:
        prop = mapper.attrs.get(key)
        if prop is None or key not in mapper.column_attrs:
            return None  # a relationship or something else the unit of work must handle
        columns = mapper.column_attrs[key].columns
        column = columns[0]
        if len(columns) != 1 or column.primary_key or column.table is not table:
            return None
        if state.attrs[key].history.has_changes():  # not merely set to the value it had
            values[column.key] = state.dict[key]
    identity = state.identity
    if identity is None:
        return None
    values[_KEY] = identity[0]
    return table, values


def _statement(table: Table) -> Update:
    """``UPDATE table SET … WHERE pk = :_pk``; the SET list follows each call's parameters."""
    statement = _STATEMENTS.get(table)
    if statement is None:
        (key_column,) = table.primary_key.columns
        statement = _STATEMENTS[table] = update(table).where(key_column == bindparam(_KEY))
    return statement

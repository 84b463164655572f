"""The statements a sender runs for every batch it takes and settles, built once.

At 1,000 messages a second, building a statement anew for each use (and SQLAlchemy working
out its cache key each time) cost more than running it (bench/broadcast_apart). These are
built once, with their values as bound parameters (``channel``, ``now``, ``priority``,
``count``, ``until``, ``ids``, ``busy``, ``chat_id``), so each use only binds and executes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Update,
    bindparam,
    exists,
    or_,
    select,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute, aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import FunctionElement

from storage.event_models import OUTBOX_DEADLINE, OutboxMessage


class unindexed(FunctionElement[Any]):
    """A column no index may serve a condition on: SQLite's unary ``+`` (elsewhere as is).

    Without statistics (SQLite has none unless someone runs ANALYZE) SQLite's planner takes
    the index that constrains most columns, which for the lease is the wrong one: the
    (channel, priority, due time) index, read for every candidate instead of the chat's
    few rows. SQLite's documented way to steer it is a ``+`` on the terms no index should
    serve; PostgreSQL plans from statistics and needs nothing.
    """

    inherit_cache = True

    def __init__(self, column: QueryableAttribute[Any]) -> None:
        super().__init__(column)
        self.type = column.expression.type


@compiles(unindexed)
def _as_is(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(unindexed, "sqlite")
def _unary_plus(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{compiler.process(element.clauses, **kw)}"


def deliverable(channel: Any) -> list[ColumnElement[bool]]:
    """Unsent messages for ``channel`` (a value or a bound parameter) that are next in their
    chat: none of the same or a higher priority waits before them for a retry."""
    earlier = aliased(OutboxMessage)
    retry_pending = exists().where(
        earlier.channel == OutboxMessage.channel,
        earlier.chat_id == OutboxMessage.chat_id,
        earlier.sent_at.is_(None),
        earlier.attempts > 0,
        earlier.id < OutboxMessage.id,
        unindexed(earlier.priority) <= OutboxMessage.priority,  # by the chat's index
    )
    return [OutboxMessage.channel == channel, OutboxMessage.sent_at.is_(None), ~retry_pending]


def _moment(name: str) -> Any:
    """A bound moment, stored as the outbox's own times are (in UTC)."""
    return bindparam(name, type_=OutboxMessage.not_before.type)


LEASED_COLUMNS = (
    OutboxMessage.id,
    OutboxMessage.chat_id,
    OutboxMessage.payload,
    OutboxMessage.attempts,
    OutboxMessage.priority,
    OutboxMessage.once,
    OutboxMessage.topic,
)

ABANDONED = select(OutboxMessage.id).where(
    OutboxMessage.leased_until.is_not(None),
    OutboxMessage.leased_until <= _moment("now"),
    OutboxMessage.once,
    OutboxMessage.sent_at.is_(None),
)
"""The ``once`` messages whose lease ran out unsettled."""


def priorities_due(priorities: Sequence[int], one_chat: bool) -> Select[Any]:
    """Whether each of ``priorities`` has anything due (one row of booleans): a look at the
    (channel, priority, not_before) index each."""

    def anything(priority: int) -> Any:
        query = select(OutboxMessage.id).where(
            OutboxMessage.channel == bindparam("channel"),
            OutboxMessage.priority == priority,
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.not_before <= _moment("now"),
        )
        if one_chat:
            query = query.where(OutboxMessage.chat_id == bindparam("chat_id"))
        return query.exists()

    return select(*map(anything, priorities))


def candidates(one_chat: bool, skipping: bool) -> Select[Any]:
    """The next ``count`` deliverable messages of ``priority`` due at ``now``, locked for the
    lease: of ``chat_id`` only (``one_chat``), or leaving the ``busy`` chats out
    (``skipping``)."""
    conditions = [
        *deliverable(bindparam("channel")),
        # Checked, not searched by: the order's index serves this query.
        unindexed(OutboxMessage.not_before) <= _moment("now"),
        OutboxMessage.priority == bindparam("priority"),
        # A ``once`` message whose lease ran out unsettled may have arrived: never taken
        # again, whether or not settle_abandoned has given it up yet.
        or_(~OutboxMessage.once, OutboxMessage.leased_until.is_(None)),
    ]
    if one_chat:
        conditions.append(OutboxMessage.chat_id == bindparam("chat_id"))
    if skipping:
        conditions.append(OutboxMessage.chat_id.not_in(bindparam("busy", expanding=True)))
    return (
        select(*LEASED_COLUMNS)
        .where(*conditions)
        .order_by(OUTBOX_DEADLINE, OutboxMessage.id)
        .limit(bindparam("count", type_=Integer))
        .with_for_update(skip_locked=True, of=OutboxMessage)
    )


def _by_ids() -> Update:
    return update(OutboxMessage).where(OutboxMessage.id.in_(bindparam("ids", expanding=True)))


TAKE = _by_ids().values(
    # A message queued before deadlines keeps its place in line: its deadline becomes the
    # due time the lease moves on.
    deadline=OUTBOX_DEADLINE,
    not_before=_moment("until"),
    leased_until=_moment("until"),
    attempts=OutboxMessage.attempts + 1,
)
"""Lease the messages ``ids`` ``until`` then."""

MARK_SENT = _by_ids().values(sent_at=_moment("now"), last_error=None, leased_until=None)
"""Record the messages ``ids`` delivered at ``now``."""
MARK_SENT_LEASED = MARK_SENT.where(OutboxMessage.leased_until.is_not(None))
"""The same, for those of them still leased."""


def by_id(message_id: int, leased: bool) -> list[ColumnElement[bool]]:
    """The message ``message_id``, and only while still leased if ``leased``."""
    conditions = [OutboxMessage.id == message_id]
    if leased:
        conditions.append(OutboxMessage.leased_until.is_not(None))
    return conditions
